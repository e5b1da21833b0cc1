package io.switchboard.sip.transport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The limits and the bookkeeping of one kind of connection the node opens itself (outgoing TLS;
 * TCP to a device whose own connection is gone), per peer key:
 * <ul>
 *   <li>the connection opened earlier for that key and still open, reused (only connections the
 *       node opened are kept here, never one a peer opened to it);</li>
 *   <li>the attempt under way, shared by every request for that peer meanwhile;</li>
 *   <li>recent failures, remembered for a while: a request for that peer meanwhile fails at once
 *       with the same outcome instead of dialling again (a dead device or trunk would otherwise be
 *       dialled for every request, a retry storm);</li>
 *   <li>a cap on the attempts under way over all peers: beyond it a request fails at once
 *       ({@code busy}), and, when set, a cap per host (address) so that one account's devices
 *       cannot take every place. An attempt over the host's cap waits for one of that host's
 *       attempts to end, within its own deadline: a flat's or an office's phones behind one NAT
 *       address, rung together, are all dialled, a few at a time. Only when even the host's line
 *       of waiting attempts is full, or the deadline passes in it, does the request fail
 *       ({@code busy_host}). A request that is not tried is said at WARN at most once a minute,
 *       since the node then did not even try the device;</li>
 *   <li>an overall deadline per attempt: whatever happens (a lookup that hangs, a callback that
 *       never runs), the key leaves the map of attempts and its waiters get an answer.</li>
 * </ul>
 * What an attempt is (a TCP connect; a TLS connect, handshake and name check) is the caller's
 * {@link Dial}, which ends the attempt with {@link #fail} or {@code attempt.complete(flow)}.
 */
final class OutboundConnects {
    private static final Logger log = LoggerFactory.getLogger(TransportLayer.class);
    /** Beyond this many remembered failures new ones are not remembered (the map stays bounded). */
    private static final int FAILURE_MEMORY_MAX = 10_000;

    /** Starts one attempt; it must end it, by {@link #fail} or by completing it with the open flow. */
    interface Dial {
        void start(CompletableFuture<SipFlow> attempt);
    }

    /** Told every outcome: "ok" or why not (the metric of this kind of connection). */
    interface Outcomes {
        void report(String outcome, InetSocketAddress remote);
    }

    private record RecentFailure(long untilNanos, String message) {
    }

    /** An attempt waiting for a place of its host; {@code visible} is already the key's attempt in {@code connecting}. */
    private record Waiting(String key, InetSocketAddress remote, long deadlineMillis, long deadlineNanos, Dial dial,
                           CompletableFuture<SipFlow> visible, String host) {
    }

    private final String kind;
    private final long failureMemoryNanos;
    private final Outcomes outcomes;
    /** The metric counting the outcomes, named in warnings. */
    private final String metric;
    /** Whether failed attempts are said once a minute per reason; else only at debug (failures are normal there). */
    private final boolean warnFailures;
    /** Attempts under way at once to one host (address); 0 for no such cap. */
    private final int maxPendingPerHost;
    /** Attempts waiting for a place of their host, at most; beyond it a request fails at once. */
    static final int MAX_WAITING_PER_HOST = 64;
    /**
     * Below this much of its deadline left when its place comes, an attempt from the line is not
     * started: a device on the far side of a NAT answers a connect in a round trip, well within it.
     */
    static final long MIN_TIME_LEFT_MILLIS = 500;
    /** Attempts under way per host, and those waiting for a place of their host, in order; under {@link #hostPlaces}. */
    private final java.util.Map<String, Integer> pendingPerHost = new java.util.HashMap<>();
    private final java.util.Map<String, java.util.ArrayDeque<Waiting>> waitingPerHost = new java.util.HashMap<>();
    private final Object hostPlaces = new Object();
    private final ConcurrentHashMap<String, OncePerMinute> warnings = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, StreamFlow> opened = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<SipFlow>> connecting = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, RecentFailure> recentFailures = new ConcurrentHashMap<>();
    private volatile Semaphore permits;

    /**
     * @param kind           what is opened, in messages ("TLS", "TCP")
     * @param failureMemory  how long a failed peer is not dialled again
     * @param maxPending     attempts under way at once, over all peers
     * @param maxPendingPerHost attempts under way at once to one host, 0 for no such cap
     * @param metric         the metric counting the outcomes, named in the once-a-minute warnings
     * @param warnFailures   whether failed attempts are warned about once a minute per reason
     *                       (else at debug only); attempts not made (busy) are always warned about
     */
    OutboundConnects(String kind, java.time.Duration failureMemory, int maxPending, int maxPendingPerHost,
                     Outcomes outcomes, String metric, boolean warnFailures) {
        this.kind = kind;
        this.failureMemoryNanos = failureMemory.toNanos();
        this.maxPendingPerHost = maxPendingPerHost;
        this.outcomes = outcomes;
        this.metric = metric;
        this.warnFailures = warnFailures;
        setMaxPending(maxPending);
    }

    void setMaxPending(int maxPending) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("maxPending must be at least 1: " + maxPending);
        }
        this.permits = new Semaphore(maxPending);
    }

    /**
     * The open connection of {@code key}, else the attempt under way for it, else a new attempt
     * ({@code dial}) unless the peer failed moments ago or too many attempts are under way. The
     * stage fails with a {@link TransportFailure}.
     */
    CompletionStage<SipFlow> open(String key, InetSocketAddress remote, long deadlineMillis, Dial dial) {
        StreamFlow existing = opened.get(key);
        if (existing != null && existing.isOpen()) {
            return CompletableFuture.completedFuture(existing);
        }
        CompletableFuture<SipFlow> pending = connecting.get(key);
        if (pending != null) {
            return pending;
        }
        RecentFailure recent = recentFailures.get(key);
        if (recent != null) {
            if (System.nanoTime() - recent.untilNanos() < 0) {
                // failed a moment ago: fail at once rather than dial again for every request
                outcomes.report("recent_failure", remote);
                return CompletableFuture.failedFuture(new TransportFailure("recent_failure", false,
                        recent.message() + " (failed less than " + TimeUnit.NANOSECONDS.toSeconds(failureMemoryNanos)
                                + " s ago, not tried again yet)", null));
            }
            recentFailures.remove(key, recent);
        }
        String host = remote.getAddress() != null ? io.netty.util.NetUtil.toAddressString(remote.getAddress())
                : remote.getHostString();
        // from here `visible` is the key's attempt: every way out completes it and takes it out of
        // `connecting`, so requests for the key meanwhile wait on it rather than dial again
        CompletableFuture<SipFlow> visible = new CompletableFuture<>();
        pending = connecting.putIfAbsent(key, visible);
        if (pending != null) {
            return pending;
        }
        long deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMillis);
        Waiting waiting = new Waiting(key, remote, deadlineMillis, deadlineNanos, dial, visible, host);
        switch (takeHostPlaceOrWait(waiting)) {
            case TAKEN -> begin(waiting, null);
            case WAITING -> CompletableFuture.delayedExecutor(deadlineMillis, TimeUnit.MILLISECONDS, Runnable::run).execute(() -> {
                if (stopWaiting(waiting)) {
                    notTried(waiting, "busy_host", "no place among the outgoing " + kind + " connections being opened to "
                            + host + " within " + deadlineMillis + " ms (at most " + maxPendingPerHost + " at once)");
                }
            });
            case FULL -> notTried(waiting, "busy_host", "too many outgoing " + kind + " connections being opened at once to "
                    + host + " (at most " + maxPendingPerHost + ", and " + MAX_WAITING_PER_HOST + " waiting)");
        }
        return visible;
    }

    /**
     * Starts the attempt of {@code waiting}, which holds a place of its host. {@code handedOver} is
     * the place among all attempts (a permit of {@link #permits}) when the attempt comes from its
     * host's line: it is handed over with the host's place by the attempt that ended, never put
     * back in between (another host's request could take it, and every attempt in the line
     * would then fail as {@code busy} one after the other). Null for a new request, which takes one.
     */
    private void begin(Waiting waiting, Semaphore handedOver) {
        String key = waiting.key();
        InetSocketAddress remote = waiting.remote();
        CompletableFuture<SipFlow> visible = waiting.visible();
        long deadlineMillis = TimeUnit.NANOSECONDS.toMillis(waiting.deadlineNanos() - System.nanoTime());
        if (handedOver != null && deadlineMillis < MIN_TIME_LEFT_MILLIS) {
            // so little of its time is left that even a device that answers could not be reached in
            // it: not tried (a failure would be remembered against a device never given a chance),
            // and the places go on to the next in the line
            notTried(waiting, "busy_host", "no place among the outgoing " + kind + " connections being opened to "
                    + waiting.host() + " in time (at most " + maxPendingPerHost + " at once)");
            passOn(waiting.host(), handedOver);
            return;
        }
        Semaphore places = handedOver;
        if (places == null) {
            places = permits;
            if (!places.tryAcquire()) {
                // the host's place is freed, not handed on: the next in its line would find no
                // permit either; the host's attempts under way hand theirs on as they end
                freeHostPlace(waiting.host());
                notTried(waiting, "busy", "too many outgoing " + kind + " connections being opened at once");
                return;
            }
        }
        Semaphore held = places;
        CompletableFuture<SipFlow> fresh = new CompletableFuture<>();
        fresh.whenComplete((flow, error) -> {
            // the connection or the failure is recorded before the attempt leaves the map: an
            // open() in between finds one or the other, never neither (it would dial again)
            if (flow instanceof StreamFlow stream) {
                opened.put(key, stream);
                stream.channel().closeFuture().addListener(closed -> opened.remove(key, stream));
            }
            if (error instanceof TransportFailure failure) {
                remember(key, failure);
                try {
                    told(failure, remote);
                } catch (RuntimeException e) {
                    // a meter or log that throws must not leave the key's attempt and places taken for good
                    log.warn("counting a failed {} connection to {} failed: {}", kind, remote, e.toString());
                }
            }
            connecting.remove(key, visible);
            // the places are passed on before the callers hear: one that asks again at once
            // finds a place (or the line it joins), never its own ended attempt's place still taken
            try {
                passOn(waiting.host(), held);
            } finally {
                if (error != null) {
                    visible.completeExceptionally(error);
                } else {
                    visible.complete(flow);
                }
            }
        });
        // run on the timer's own thread (short, nothing blocks): handed to the common pool, each
        // would start a thread of its own on a machine of two cores or fewer
        CompletableFuture.delayedExecutor(deadlineMillis, TimeUnit.MILLISECONDS, Runnable::run).execute(() ->
                fail(fresh, remote, "deadline", true, kind + " connection to " + remote + " not open "
                        + waiting.deadlineMillis() + " ms after it was asked for", null));
        try {
            waiting.dial().start(fresh);
        } catch (RuntimeException e) {
            // RejectedExecutionException, anything unexpected: never a stuck key
            fail(fresh, remote, "other", false, "cannot connect to " + remote + ": " + TransportLayer.words(e), e);
        }
    }

    /** An attempt to {@code host} ended: its places go to the first in the host's line, else are freed. */
    private void passOn(String host, Semaphore permit) {
        Waiting next = takeOverHostPlace(host);
        if (next != null) {
            begin(next, permit);
        } else {
            permit.release();
        }
    }

    /**
     * A request that finds no place for an attempt: its attempt fails without the device tried,
     * said once a minute.
     */
    private void notTried(Waiting waiting, String reason, String message) {
        outcomes.report(reason, waiting.remote());
        OncePerMinute warning = warnings.computeIfAbsent(reason, r -> new OncePerMinute());
        if (warning.due()) {
            int alike = warning.turnedAwaySinceLast();
            log.warn("{} to {}: not tried, the device is taken as unreachable{}", message, waiting.remote(),
                    alike == 0 ? "" : " (" + alike + " more since the last such line, counted in " + metric
                            + "{outcome=\"" + reason + "\"})");
        } else {
            log.debug("{} to {}: not tried", message, waiting.remote());
        }
        connecting.remove(waiting.key(), waiting.visible());
        waiting.visible().completeExceptionally(new TransportFailure(reason, false, message, null));
    }

    private enum HostPlace { TAKEN, WAITING, FULL }

    /** Takes a place of the attempt's host, or puts it in the host's line (if there is room). */
    private HostPlace takeHostPlaceOrWait(Waiting waiting) {
        if (maxPendingPerHost <= 0) {
            return HostPlace.TAKEN;
        }
        synchronized (hostPlaces) {
            int now = pendingPerHost.getOrDefault(waiting.host(), 0);
            if (now < maxPendingPerHost) {
                pendingPerHost.put(waiting.host(), now + 1);
                return HostPlace.TAKEN;
            }
            java.util.ArrayDeque<Waiting> line = waitingPerHost.computeIfAbsent(waiting.host(), h -> new java.util.ArrayDeque<>());
            if (line.size() >= MAX_WAITING_PER_HOST) {
                return HostPlace.FULL;
            }
            line.addLast(waiting);
            return HostPlace.WAITING;
        }
    }

    /** Takes {@code waiting} out of its host's line; false when it is no longer there (it was started). */
    private boolean stopWaiting(Waiting waiting) {
        synchronized (hostPlaces) {
            java.util.ArrayDeque<Waiting> line = waitingPerHost.get(waiting.host());
            if (line == null || !line.remove(waiting)) {
                return false;
            }
            if (line.isEmpty()) {
                waitingPerHost.remove(waiting.host());
            }
            return true;
        }
    }

    /**
     * The first attempt in {@code host}'s line, which takes the place of one that ended; null
     * when none waits, and the place is freed.
     */
    private Waiting takeOverHostPlace(String host) {
        if (maxPendingPerHost <= 0) {
            return null;
        }
        synchronized (hostPlaces) {
            java.util.ArrayDeque<Waiting> line = waitingPerHost.get(host);
            Waiting next = line == null ? null : line.pollFirst();
            if (line != null && line.isEmpty()) {
                waitingPerHost.remove(host);
            }
            if (next == null) {
                pendingPerHost.computeIfPresent(host, (h, n) -> n <= 1 ? null : n - 1);
            }
            return next;
        }
    }

    /** Frees a place of {@code host} without handing it to the line. */
    private void freeHostPlace(String host) {
        if (maxPendingPerHost <= 0) {
            return;
        }
        synchronized (hostPlaces) {
            pendingPerHost.computeIfPresent(host, (h, n) -> n <= 1 ? null : n - 1);
        }
    }

    private void remember(String key, TransportFailure failure) {
        if (recentFailures.size() >= FAILURE_MEMORY_MAX) {
            long now = System.nanoTime();
            recentFailures.values().removeIf(r -> now - r.untilNanos() >= 0);
            if (recentFailures.size() >= FAILURE_MEMORY_MAX) {
                return;
            }
        }
        recentFailures.put(key, new RecentFailure(System.nanoTime() + failureMemoryNanos, failure.getMessage()));
    }

    /**
     * Ends an attempt that failed, unless it already ended: the deadline and the connect's own
     * outcome may both arrive, on two threads, and only the one that ends the attempt is counted
     * and said (by {@link #told}, before the callers hear). Whether it is ended is decided by the
     * completion itself: a look at it first let both pass, counting one attempt twice, or as a
     * deadline and as "ok" at once.
     */
    void fail(CompletableFuture<SipFlow> attempt, InetSocketAddress remote, String reason, boolean timedOut,
              String message, Throwable cause) {
        attempt.completeExceptionally(new TransportFailure(reason, timedOut, message, cause));
    }

    /** Counts and says the failure that ended an attempt. */
    private void told(TransportFailure failure, InetSocketAddress remote) {
        String reason = failure.reason();
        String message = failure.getMessage();
        outcomes.report(reason, remote);
        OncePerMinute warning = !warnFailures ? null : warnings.computeIfAbsent(reason, r -> new OncePerMinute());
        if (warning != null && warning.due()) {
            // an untrusted or misnamed peer is a setting to fix (tls.trust, the phone's certificate):
            // said once a minute, every failure counted in the metric
            int alike = warning.turnedAwaySinceLast();
            log.warn("a {} connection this node opened failed ({}): {}{}", kind, reason, message,
                    alike == 0 ? "" : " (" + alike + " more failed the same way since the last such line, counted in "
                            + metric + ")");
        } else {
            log.debug("{}", message);
        }
    }

    /** A connection that no longer carries requests (it lost framing): not reused. */
    void forget(StreamFlow flow) {
        opened.values().remove(flow);
    }
}
