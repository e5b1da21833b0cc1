package io.switchboard.sip.transport;

import io.netty.util.concurrent.FastThreadLocalThread;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keyed serial lanes: the threads that parse and handle datagrams, so that the messages of one
 * call are handled one after another, in the order they arrived, while different calls run in
 * parallel.
 * <p>
 * Why: UDP gives each message to the application on its own, and the event loops only read (a busy
 * peer would otherwise load one core, see {@link TransportLayer}). When a shared pool handled the
 * datagrams, two messages a phone sent back to back — an ACK and the BYE after it, a 180 and the
 * 200 after it — ran on two threads at once and the second could win: the proxy forwarded the BYE
 * before the ACK, or relayed the 200 and then dropped the 180 that came after the final answer
 * (RFC 3261 §16.7 step 5), or a BYE ended a call record that the 200's thread then marked answered.
 * RFC 3261 §17 does not require in-order delivery from the transport, and every layer copes with
 * reordering that the network causes; but a proxy must not add its own, because the peers' timers
 * (§17.1.1.2, §17.2.1) turn each late message into retransmissions and, at load, into lost calls.
 * <p>
 * How: each lane is one thread and one bounded FIFO. A datagram's lane is chosen from a hash of its
 * Call-ID ({@link io.switchboard.sip.codec.SipPeek}, read without parsing on the event loop), so a
 * request, its retransmissions, its responses (which carry the same Call-ID, §8.2.6.2) and every
 * other request of the dialog, from either end, land on the same lane. An event loop reads one
 * socket in order and appends in that order, so messages from one flow keep their order; messages
 * of one call arriving from two flows are handled in the order the event loops appended them.
 * Since every thread that sends for a call is the call's lane thread, and a lane always writes to
 * the same UDP socket ({@link #currentLane}), the messages the node sends for a call also leave in
 * the order it produced them.
 * <p>
 * Caveats:
 * <ul>
 *   <li>A message without a Call-ID the scan can see is keyed by its source address: it still goes
 *       to the parser on a lane, which rejects it as before.</li>
 *   <li>A lane's handler must not block: one slow message delays every call on its lane (head of
 *       line), where a pool would have let other threads go on. Handlers never block by contract
 *       ({@link InboundHandler}); work that waits (database commits) continues from callbacks.</li>
 *   <li>Calls spread over lanes by hash: one very busy Call-ID (a flood, a broken peer) fills its
 *       own lane only. The per-source rate limit sees such a peer first.</li>
 *   <li>A full lane refuses the datagram ({@link #offer} returns false) and the caller counts it as
 *       dropped ("overload"), as the pool's AbortPolicy did; UDP peers retransmit (§17). Nothing
 *       here ever blocks an event loop. Long before a lane is full, a lane that has fallen behind
 *       sheds new out-of-dialog requests, so the calls in progress on it keep moving
 *       ({@link #behind}).</li>
 *   <li>Stream transports do not use the lanes: a connection's messages are handled on its event
 *       loop, one after another, which already keeps their order (and a dropped TCP message would
 *       never be resent, §17.1.1.2). WebSocket frames are handed over one at a time by the HTTP
 *       server for the same reason.</li>
 * </ul>
 */
final class InboundLanes {
    private static final Logger log = LoggerFactory.getLogger(InboundLanes.class);
    private static final Runnable STOP = () -> {
    };

    private final Lane[] lanes;
    private final AtomicInteger roundRobin = new AtomicInteger();
    private volatile boolean stopping;

    /**
     * @param count    lanes (threads)
     * @param capacity datagrams each lane may hold waiting; beyond it {@link #offer} refuses
     */
    InboundLanes(int count, int capacity, String name) {
        if (count < 1 || capacity < 1) {
            throw new IllegalArgumentException("lanes need at least one thread and one slot");
        }
        lanes = new Lane[count];
        for (int i = 0; i < count; i++) {
            lanes[i] = new Lane(i, capacity, name + "-" + i);
        }
        for (Lane lane : lanes) {
            lane.start();
        }
    }

    int size() {
        return lanes.length;
    }

    /** The lane a key is handled on: a key from {@link io.switchboard.sip.codec.SipPeek#callIdHash} or any non-negative hash. */
    int laneOf(long key) {
        return (int) (key % lanes.length);
    }

    /** Queues a task on the lane of {@code key}; false when that lane is full or the lanes are stopping. */
    boolean offer(long key, Runnable task) {
        return !stopping && lanes[laneOf(key)].queue.offer(task);
    }

    /** Queues work that keeps no order with anything (a reply after a database commit) on the next lane. */
    boolean offerAny(Runnable task) {
        int i = Math.floorMod(roundRobin.getAndIncrement(), lanes.length);
        return !stopping && lanes[i].queue.offer(task);
    }

    /** Datagrams waiting in all lanes. */
    int queued() {
        int total = 0;
        for (Lane lane : lanes) {
            total += lane.queue.size();
        }
        return total;
    }

    /** The index of the lane the calling thread drains, or -1 on any other thread. */
    static int currentLane() {
        return Thread.currentThread() instanceof LaneThread lane ? lane.index : -1;
    }

    /** The delay a lane may carry: above it for {@link #INTERVAL_NANOS} the lane is behind. */
    static final long TARGET_NANOS = TimeUnit.MILLISECONDS.toNanos(150);
    /** How long the delay must stay above the target: longer than a garbage-collection pause lasts. */
    static final long INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(300);
    /** A wait past which a lane is behind at once: close to T1, when the sender retransmits anyway. */
    static final long LIMIT_NANOS = TimeUnit.MILLISECONDS.toNanos(400);

    /**
     * Whether the lane calling this is behind, told the wait of the datagram it is about to
     * handle ({@code now - readAt}); the caller then sheds that datagram if it starts new work.
     * <p>
     * Why: a lane falls behind when its thread gets less CPU than its traffic needs — a node just
     * started whose code is still interpreted, a machine busy with something else. Every message
     * it then takes on delays the responses, ACKs and BYEs of the calls in progress, and once they
     * wait near the peers' 500 ms timer (RFC 3261 §17.1.1.2, T1) each hop retransmits: more work
     * for the same lane, a spiral that ends in lost calls. Dropping new out-of-dialog requests
     * unread is the cheapest relief, and harmless: their senders retransmit them (Timer A, E) and
     * they are taken once the lane has caught up.
     * <p>
     * How, after CoDel (RFC 8289): a FIFO's wait is its standing delay; a lane is behind when the
     * waits of the datagrams it takes have stayed above {@link #TARGET_NANOS} for
     * {@link #INTERVAL_NANOS}, or one waited past {@link #LIMIT_NANOS}, and stops being behind at
     * the first one under the target. A short burst or a collection pause delays a few datagrams
     * but not for an interval, so at the rates a node sustains nothing is shed. The state belongs
     * to the lane's thread alone. Other threads (no lane) only apply the limit.
     */
    static boolean behind(long readAt, long now) {
        long wait = now - readAt;
        if (!(Thread.currentThread() instanceof LaneThread lane)) {
            return wait > LIMIT_NANOS;
        }
        if (wait < TARGET_NANOS) {
            lane.above = false;
            return false;
        }
        if (!lane.above) {
            lane.above = true;
            lane.aboveSince = now;
        }
        return wait > LIMIT_NANOS || now - lane.aboveSince >= INTERVAL_NANOS;
    }

    /** Lets the lanes finish what they hold, for at most {@code millis}, then stops their threads. */
    void stop(long millis) {
        stopping = true;
        for (Lane lane : lanes) {
            if (!lane.queue.offer(STOP)) {
                lane.interrupt();
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        for (Lane lane : lanes) {
            try {
                lane.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            if (lane.isAlive()) {
                lane.interrupt();
            }
        }
    }

    /** The lane threads carry their index, so what they send can go out through one socket per lane. */
    private static class LaneThread extends FastThreadLocalThread {
        final int index;
        /** Whether the datagrams this lane takes have waited over the target since {@link #aboveSince} ({@link #behind}). */
        boolean above;
        long aboveSince;

        LaneThread(int index, String name) {
            super(name);
            this.index = index;
            setDaemon(true);
        }
    }

    private final class Lane extends LaneThread {
        final ArrayBlockingQueue<Runnable> queue;

        Lane(int index, int capacity, String name) {
            super(index, name);
            this.queue = new ArrayBlockingQueue<>(capacity);
        }

        @Override
        public void run() {
            while (true) {
                Runnable task;
                try {
                    task = queue.take();
                } catch (InterruptedException e) {
                    if (stopping) {
                        return;
                    }
                    continue;
                }
                if (task == STOP) {
                    return;
                }
                try {
                    task.run();
                } catch (RuntimeException | StackOverflowError e) {
                    // one bad message must not take the lane, and every call hashed to it, down; a
                    // stack overflow is one message's (a pathological nesting), the thread's stack
                    // is whole again once it unwinds
                    log.error("SIP lane {} failed on a message", index, e);
                } catch (Error e) {
                    // the JVM itself is in trouble: out of memory (the launcher and the systemd unit
                    // run java with -XX:+ExitOnOutOfMemoryError, so the process ends and is
                    // restarted rather than limping on with a lane gone) or classes gone (the
                    // server's uncaught handler halts the process). Say so and let it propagate.
                    log.error("SIP lane {} stops: {}", index, e.toString(), e);
                    throw e;
                }
            }
        }
    }
}
