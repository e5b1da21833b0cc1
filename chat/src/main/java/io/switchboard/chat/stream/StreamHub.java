package io.switchboard.chat.stream;

import io.switchboard.chat.ChatMetrics;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.chat.store.Message;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open streams of this node, by person, and the delivery of committed chat events to them.
 *
 * <p>Delivery runs on a few <i>lanes</i>, threads of their own, one per core: a person's streams
 * always go through the same lane (by a hash of the person), so each stream receives its events in
 * commit order, while different people's deliveries proceed in parallel and the thread that
 * committed the messages (the bus's caller) only hands them over. Writing a frame to a socket
 * happens on the lane (Jetty writes inline when the connection is idle). An event's frame is
 * written once and shared by every stream it goes to. Replays (reading missed messages from the
 * store) run on virtual threads, never on a lane.
 *
 * <p><b>Catching up.</b> {@link #catchUp()} is called when the bus may have lost events (it
 * reconnected): the newest sequence of every chat of every person with an open stream is read in
 * a few batched queries, and each stream replays what it is behind on, so a message lost in an
 * outage arrives within moments of the reconnection, not at its chat's next message. The same
 * runs now and then ({@code chat.streamCatchUp}) once the bus spans nodes, for events a node never
 * sent because it died while cut off from the broker ({@link #catchUpUnannounced}: what is still on
 * its way over the bus is given a moment to arrive). Calls while a reconnection's catch-up runs
 * make it run once more afterwards, never twice at once; the periodic check may run beside it,
 * which is safe (a chat already replaying on a stream is not replayed again). If the store cannot
 * be read (after a few tries) after a reconnection, the streams cannot know what they missed and
 * are closed with 1011, so their clients resume; a periodic check that cannot read it leaves them
 * open for the next.
 *
 * <p><b>Shared replay reads.</b> When a message reaches this node late, every stream here that
 * follows its chat sees the same gap at nearly the same moment, and each would read the same page
 * from the store. {@link #missedMessages} lets them share one read: a stream asking for the page
 * (chat, after sequence, size) that another stream's read is fetching waits for that answer
 * instead of querying again. A shared page may have been read a moment before this stream asked,
 * which a replay already allows for: it reads again until it reaches its mark.
 *
 * <p><b>Reorder wait.</b> A stream that sees a chat's messages out of order holds the later ones
 * for up to {@code chat.streamReorderWait} before it replays from the store (see
 * {@link StreamConnection}). The timers for that run on one daemon thread of the hub, never one
 * per stream; a timer only looks at its stream under the stream's lock and decides from the
 * stream's own deadline, so a late or stale timer does nothing.
 */
public final class StreamHub {
    private static final Logger log = LoggerFactory.getLogger(StreamHub.class);

    private final Map<String, Set<StreamConnection>> byPerson = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final ChatStore store;
    private final StreamFrames frames;
    private final ChatMetrics metrics;
    private final ExecutorService replays = Executors.newVirtualThreadPerTaskExecutor();
    private final ExecutorService[] lanes;
    private final AtomicBoolean catchUpWanted = new AtomicBoolean();
    /** The periodic check under way, completed when it is done; null when none is. */
    private final java.util.concurrent.atomic.AtomicReference<CompletableFuture<Void>> periodicCheck =
            new java.util.concurrent.atomic.AtomicReference<>();
    private final AtomicBoolean catchingUp = new AtomicBoolean();
    private static final int CATCH_UP_TRIES = 5;
    private static final long CATCH_UP_RETRY_MS = 500;
    /**
     * How late an event may come over the bus before the periodic check takes its message for
     * one that was never announced: far above the bus's latency under load (milliseconds), far
     * below {@code chat.streamCatchUp}.
     */
    static final Duration UNANNOUNCED_GRACE = Duration.ofSeconds(2);
    private final long reorderWaitNanos;
    private final ScheduledExecutorService reorderTimers;
    private final LongSupplier nanoTime;
    private final PageReader pages;
    private final Map<PageKey, CompletableFuture<List<Message>>> pagesUnderWay = new ConcurrentHashMap<>();

    /** Reads a page of a chat's messages after a sequence from the store (tests count and hold the reads). */
    interface PageReader {
        List<Message> read(String chatId, long after, int limit);
    }

    private record PageKey(String chatId, long after, int limit) {
    }

    StreamHub(ChatStore store, StreamFrames frames, ChatMetrics metrics, Duration reorderWait) {
        this(store, frames, metrics, reorderWait, Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("chat-stream-reorder").factory()), System::nanoTime);
    }

    /** With the reorder timers and their time source given (tests drive both by hand). */
    StreamHub(ChatStore store, StreamFrames frames, ChatMetrics metrics, Duration reorderWait,
              ScheduledExecutorService reorderTimers, LongSupplier nanoTime) {
        this(store, frames, metrics, reorderWait, reorderTimers, nanoTime,
                (chatId, after, limit) -> store.messages(chatId, after, null, limit));
    }

    /** With the store's page reads given as well. */
    StreamHub(ChatStore store, StreamFrames frames, ChatMetrics metrics, Duration reorderWait,
              ScheduledExecutorService reorderTimers, LongSupplier nanoTime, PageReader pages) {
        this.pages = pages;
        this.store = store;
        this.frames = frames;
        this.metrics = metrics;
        this.reorderWaitNanos = reorderWait.toNanos();
        this.reorderTimers = reorderTimers;
        this.nanoTime = nanoTime;
        this.lanes = new ExecutorService[Math.max(1, Runtime.getRuntime().availableProcessors())];
        for (int i = 0; i < lanes.length; i++) {
            // Bounded: if the lanes fall behind, the committing thread waits (back-pressure on the
            // writer) instead of memory filling with undelivered events.
            lanes[i] = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(50_000),
                    Thread.ofPlatform().daemon().name("chat-delivery-" + i).factory(), StreamHub::waitForRoom);
        }
    }

    /** Gives a committed event to every open stream of its recipients, through their lanes. */
    public void deliver(ChatEvent event) {
        List<List<String>> byLane = null;
        for (String recipient : event.recipients()) {
            if (!byPerson.containsKey(recipient)) {
                continue;
            }
            if (byLane == null) {
                byLane = new ArrayList<>(lanes.length);
                for (int i = 0; i < lanes.length; i++) {
                    byLane.add(null);
                }
            }
            int lane = Math.floorMod(recipient.hashCode(), lanes.length);
            if (byLane.get(lane) == null) {
                byLane.set(lane, new ArrayList<>());
            }
            byLane.get(lane).add(recipient);
        }
        if (byLane == null) {
            return; // nobody it concerns has a stream open on this node
        }
        String shared = event instanceof ChatEvent.MembersChanged ? null : frames.of(event, null);
        for (int lane = 0; lane < lanes.length; lane++) {
            List<String> recipients = byLane.get(lane);
            if (recipients != null) {
                lanes[lane].execute(() -> deliverTo(recipients, event, shared));
            }
        }
    }

    private void deliverTo(List<String> recipients, ChatEvent event, String shared) {
        for (String recipient : recipients) {
            Set<StreamConnection> streams = byPerson.get(recipient);
            if (streams == null) {
                continue;
            }
            String frame = shared != null ? shared : frames.of(event, recipient);
            for (StreamConnection stream : streams) {
                try {
                    stream.onEvent(event, frame);
                } catch (RuntimeException e) {
                    // One broken stream must not cost the others on this lane their event; this one
                    // cannot know what it missed, so it is closed and its client resumes.
                    log.warn("delivering to a stream of {} failed: {}", recipient, e.toString());
                    stream.close(1011, "delivery failed; reconnect and resume");
                }
            }
        }
    }

    private static void waitForRoom(Runnable task, ThreadPoolExecutor lane) {
        if (lane.isShutdown()) {
            return;
        }
        try {
            lane.getQueue().put(task);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    void register(StreamConnection stream) {
        byPerson.computeIfAbsent(stream.personId(), p -> ConcurrentHashMap.newKeySet()).add(stream);
        open.incrementAndGet();
    }

    void unregister(StreamConnection stream) {
        byPerson.computeIfPresent(stream.personId(), (person, streams) -> {
            if (streams.remove(stream)) {
                open.decrementAndGet();
            }
            return streams.isEmpty() ? null : streams;
        });
    }

    /** Open streams on this node. */
    public int streams() {
        return open.get();
    }

    void forEach(java.util.function.Consumer<StreamConnection> action) {
        byPerson.values().forEach(streams -> streams.forEach(action));
    }

    /**
     * Runs a replay for a stream on a virtual thread. If it fails (the store is unreachable), the
     * stream cannot know what it missed, so it is closed with 1011 and the client resumes later.
     */
    void replay(StreamConnection stream, Callable<Void> work) {
        replays.submit(() -> {
            try {
                work.call();
            } catch (Exception e) {
                log.warn("replaying missed chat events to a stream of {} failed: {}", stream.personId(), e.toString());
                stream.close(1011, "could not read missed messages; reconnect and resume");
            }
            return null;
        });
    }

    /**
     * Up to {@code limit} messages of a chat after sequence {@code after}, oldest first, for a
     * replay: from the store, or from the same read another stream of this node has under way
     * (see the class comment). A failed read fails every stream that shared it.
     */
    List<Message> missedMessages(String chatId, long after, int limit) {
        PageKey key = new PageKey(chatId, after, limit);
        CompletableFuture<List<Message>> mine = new CompletableFuture<>();
        CompletableFuture<List<Message>> underWay = pagesUnderWay.putIfAbsent(key, mine);
        if (underWay != null) {
            metrics.replayRead(true);
            try {
                return underWay.join();
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException cause ? cause : e;
            }
        }
        metrics.replayRead(false);
        try {
            List<Message> page = pages.read(chatId, after, limit);
            mine.complete(page);
            return page;
        } catch (Throwable e) {
            // an Error too: streams waiting for this read must not wait for ever
            mine.completeExceptionally(e);
            throw e;
        } finally {
            pagesUnderWay.remove(key, mine);
        }
    }

    /** Every open stream reads from the store what it has not delivered (see the class comment). */
    public void catchUp() {
        catchUpWanted.set(true);
        if (!catchingUp.compareAndSet(false, true)) {
            return; // the running one goes round once more
        }
        try {
            replays.submit(() -> {
                try {
                    while (catchUpWanted.getAndSet(false)) {
                        catchUpOnce();
                    }
                } finally {
                    catchingUp.set(false);
                }
                if (catchUpWanted.get()) {
                    catchUp(); // asked for between the last round and the release
                }
            });
        } catch (RejectedExecutionException e) {
            catchingUp.set(false); // shutting down
        }
    }

    /**
     * The periodic check ({@code chat.streamCatchUp}): the store's newest sequences are compared
     * with what the streams have delivered {@link #UNANNOUNCED_GRACE} later, so that messages
     * still on their way over the bus are not taken for missed ones and replayed (they were, with
     * a misleading "had missed messages" line, whenever the check fell under load). Runs beside a
     * reconnection's catch-up, which it never delays. Returns the check under way, done when it is.
     */
    public CompletableFuture<Void> catchUpUnannounced() {
        CompletableFuture<Void> mine = new CompletableFuture<>();
        CompletableFuture<Void> running = periodicCheck.compareAndExchange(null, mine);
        if (running != null) {
            return running; // one at a time (a check takes moments, the period is 30 s by default)
        }
        try {
            replays.submit(() -> {
                try {
                    catchUpOnce(UNANNOUNCED_GRACE);
                } finally {
                    periodicCheck.set(null);
                    mine.complete(null);
                }
            });
        } catch (RejectedExecutionException e) {
            periodicCheck.set(null); // shutting down
            mine.complete(null);
        }
        return mine;
    }

    private void catchUpOnce() {
        catchUpOnce(Duration.ZERO);
    }

    /** Reads the newest sequences, waits {@code grace}, and has every stream replay what it is still behind on. */
    private void catchUpOnce(Duration grace) {
        long start = System.nanoTime();
        List<String> people = List.copyOf(byPerson.keySet());
        if (people.isEmpty()) {
            return;
        }
        Map<String, Map<String, Long>> lastSeqs = null;
        for (int attempt = 1; lastSeqs == null; attempt++) {
            try {
                lastSeqs = store.lastSeqsOf(people);
            } catch (RuntimeException e) {
                if (attempt >= CATCH_UP_TRIES && !grace.isZero()) {
                    // the periodic check: nothing is known to be missing, and the next one tries again
                    log.warn("the periodic check of chat streams against the store failed ({}); the next one tries again", e.toString());
                    return;
                }
                if (attempt >= CATCH_UP_TRIES) {
                    log.warn("streams could not catch up after the bus reconnected ({}); closing them so their clients resume", e.toString());
                    for (String person : people) {
                        byPerson.getOrDefault(person, Set.of()).forEach(stream ->
                                stream.close(1011, "could not read missed messages; reconnect and resume"));
                    }
                    return;
                }
                try {
                    Thread.sleep(CATCH_UP_RETRY_MS);
                } catch (InterruptedException interrupted) {
                    return;
                }
            }
        }
        long readNanos = System.nanoTime() - start;
        if (!grace.isZero()) {
            try {
                Thread.sleep(grace);
            } catch (InterruptedException interrupted) {
                return;
            }
        }
        int streams = 0;
        int behind = 0;
        for (String person : people) {
            Map<String, Long> seqs = lastSeqs.getOrDefault(person, Map.of());
            for (StreamConnection stream : byPerson.getOrDefault(person, Set.of())) {
                streams++;
                if (stream.catchUp(seqs)) {
                    behind++;
                }
            }
        }
        if (behind > 0) {
            log.info("{} of {} chat streams had missed messages and replay them from the store ({} ms to read)",
                    behind, streams, TimeUnit.NANOSECONDS.toMillis(readNanos));
        } else {
            log.debug("{} chat streams checked against the store: none behind", streams);
        }
    }

    /** How long a stream holds messages that came ahead of a gap; 0: it replays at once. */
    long reorderWaitNanos() {
        return reorderWaitNanos;
    }

    /** The time the reorder deadlines are measured in ({@link System#nanoTime()} outside tests). */
    long nanoTime() {
        return nanoTime.getAsLong();
    }

    /**
     * Runs {@code check} on the reorder timer thread after {@code delayNanos}; false if the hub is
     * shutting down. A check that fails closes its stream, as a failed delivery does.
     */
    boolean scheduleReorderCheck(StreamConnection stream, Runnable check, long delayNanos) {
        try {
            reorderTimers.schedule(() -> {
                try {
                    check.run();
                } catch (RuntimeException e) {
                    log.warn("ending the reorder wait of a stream of {} failed: {}", stream.personId(), e.toString());
                    stream.close(1011, "delivery failed; reconnect and resume");
                }
            }, delayNanos, TimeUnit.NANOSECONDS);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    ChatStore store() {
        return store;
    }

    StreamFrames frames() {
        return frames;
    }

    ChatMetrics metrics() {
        return metrics;
    }

    void shutdown() {
        reorderTimers.shutdownNow();
        replays.shutdownNow();
        for (ExecutorService lane : lanes) {
            lane.shutdownNow();
        }
    }
}
