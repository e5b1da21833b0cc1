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
 *       ({@code busy});</li>
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

    private final String kind;
    private final long failureMemoryNanos;
    private final Outcomes outcomes;
    /** Where failures are said once a minute per reason; null: only at debug (failures are normal there). */
    private final String warnedMetric;
    private final ConcurrentHashMap<String, OncePerMinute> warnings = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, StreamFlow> opened = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, CompletableFuture<SipFlow>> connecting = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, RecentFailure> recentFailures = new ConcurrentHashMap<>();
    private volatile Semaphore permits;

    /**
     * @param kind           what is opened, in messages ("TLS", "TCP")
     * @param failureMemory  how long a failed peer is not dialled again
     * @param maxPending     attempts under way at once, over all peers
     * @param warnedMetric   the metric named in the once-a-minute warning about failures, or null
     *                       to log failures at debug only
     */
    OutboundConnects(String kind, java.time.Duration failureMemory, int maxPending, Outcomes outcomes, String warnedMetric) {
        this.kind = kind;
        this.failureMemoryNanos = failureMemory.toNanos();
        this.outcomes = outcomes;
        this.warnedMetric = warnedMetric;
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
        Semaphore places = permits;
        if (!places.tryAcquire()) {
            outcomes.report("busy", remote);
            return CompletableFuture.failedFuture(new TransportFailure("busy", false,
                    "too many outgoing " + kind + " connections being opened at once", null));
        }
        // the attempt (fresh) and what callers wait on (visible): the bookkeeping is done before
        // any caller hears the outcome, so one that asks again at once sees it
        CompletableFuture<SipFlow> visible = new CompletableFuture<>();
        pending = connecting.putIfAbsent(key, visible);
        if (pending != null) {
            places.release();
            return pending;
        }
        CompletableFuture<SipFlow> fresh = new CompletableFuture<>();
        fresh.whenComplete((flow, error) -> {
            connecting.remove(key, visible);
            places.release();
            if (flow instanceof StreamFlow stream) {
                opened.put(key, stream);
                stream.channel().closeFuture().addListener(closed -> opened.remove(key, stream));
            }
            if (error instanceof TransportFailure failure) {
                remember(key, failure);
            }
            if (error != null) {
                visible.completeExceptionally(error);
            } else {
                visible.complete(flow);
            }
        });
        CompletableFuture.delayedExecutor(deadlineMillis, TimeUnit.MILLISECONDS).execute(() ->
                fail(fresh, remote, "deadline", true, kind + " connection to " + remote + " not open after "
                        + deadlineMillis + " ms", null));
        try {
            dial.start(fresh);
        } catch (RuntimeException e) {
            // RejectedExecutionException, anything unexpected: never a stuck key
            fail(fresh, remote, "other", false, "cannot connect to " + remote + ": " + TransportLayer.words(e), e);
        }
        return visible;
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

    /** Ends an attempt that failed (once: the deadline and a late outcome may both arrive). */
    void fail(CompletableFuture<SipFlow> attempt, InetSocketAddress remote, String reason, boolean timedOut,
              String message, Throwable cause) {
        if (attempt.isDone()) {
            return;
        }
        outcomes.report(reason, remote);
        OncePerMinute warning = warnedMetric == null ? null : warnings.computeIfAbsent(reason, r -> new OncePerMinute());
        if (warning != null && warning.due()) {
            // an untrusted or misnamed peer is a setting to fix (tls.trust, the phone's certificate):
            // said once a minute, every failure counted in the metric
            int alike = warning.turnedAwaySinceLast();
            log.warn("a {} connection this node opened failed ({}): {}{}", kind, reason, message,
                    alike == 0 ? "" : " (" + alike + " more failed the same way since the last such line, counted in "
                            + warnedMetric + ")");
        } else {
            log.debug("{}", message);
        }
        attempt.completeExceptionally(new TransportFailure(reason, timedOut, message, cause));
    }

    /** A connection that no longer carries requests (it lost framing): not reused. */
    void forget(StreamFlow flow) {
        opened.values().remove(flow);
    }
}
