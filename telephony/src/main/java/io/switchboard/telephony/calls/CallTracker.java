package io.switchboard.telephony.calls;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Follows the calls the proxy forwards: keeps the active ones in memory, counts them in
 * {@link CallMetrics}, and writes each change to {@link CallRecordStore}.
 * <p>
 * The proxy calls in from SIP I/O, worker and timer threads, so nothing here blocks: a change
 * updates the call under its own lock and queues a snapshot of the row, in that lock, so that
 * snapshots reach the single writer in the order the call changed (the last one queued is the
 * newest). Transitions are idempotent: a second answer, end or failure is ignored.
 * <p>
 * A sweep every few seconds ends calls whose end the proxy never saw (a BYE that took another
 * path, a device that vanished): answered calls after the maximum call duration, unanswered ones
 * after {@link #MAX_RINGING}.
 */
public final class CallTracker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CallTracker.class);
    /** An unanswered call older than this is over, whatever happened to its final response. */
    public static final Duration MAX_RINGING = Duration.ofMinutes(10);
    public static final Duration DEFAULT_MAX_DURATION = Duration.ofHours(12);
    private static final Duration SWEEP_INTERVAL = Duration.ofSeconds(5);
    /** Abandoned records of other nodes are looked for this often (and at start). */
    private static final Duration ABANDONED_CHECK_INTERVAL = Duration.ofHours(1);
    private static final long DROP_LOG_INTERVAL_MILLIS = 10_000;

    private final CallRecordStore store;
    private final CallMetrics metrics;
    private final Clock clock;
    private final String nodeId;
    private final Duration maxDuration;
    private final ConcurrentHashMap<String, ActiveCall> byId = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, ActiveCall> byCallId = new ConcurrentHashMap<>();
    private final AtomicLong lastDropLog = new AtomicLong();
    private final AtomicLong dropsSinceLog = new AtomicLong();
    private final ScheduledExecutorService sweeper;
    private volatile long nextAbandonedCheck;

    public CallTracker(CallRecordStore store, CallMetrics metrics, Clock clock, String nodeId) {
        this(store, metrics, clock, nodeId, DEFAULT_MAX_DURATION);
    }

    /** @param maxDuration answered calls still open after this long are ended with endedBy "timeout" */
    public CallTracker(CallRecordStore store, CallMetrics metrics, Clock clock, String nodeId, Duration maxDuration) {
        if (maxDuration.isNegative() || maxDuration.isZero()) {
            throw new IllegalArgumentException("maxDuration must be positive");
        }
        this.store = store;
        this.metrics = metrics;
        this.clock = clock;
        this.nodeId = nodeId;
        this.maxDuration = maxDuration;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "call-sweep");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Closes the records a previous run of this node left open (status "interrupted"), and those
     * of vanished nodes, then starts the writer and the sweep. Blocks on the database: call it from
     * the node's start, not from a SIP thread.
     */
    public void start() {
        long now = clock.millis();
        closeLeftOpen(now);
        store.start();
        sweeper.scheduleWithFixedDelay(this::sweepSafely, SWEEP_INTERVAL.toMillis(), SWEEP_INTERVAL.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * Closes the records left open, trying three times: another node's sweep may hold the same
     * rows (on PostgreSQL one of two crossing updates then fails as a deadlock, which is over at
     * once). Tidying, not a condition of starting: if it still fails, the node starts, and the
     * sweep closes such calls as abandoned once they are older than the longest call.
     */
    private void closeLeftOpen(long now) {
        triedThrice(() -> {
            int interrupted = store.markInterrupted(nodeId, now);
            if (interrupted > 0) {
                log.info("calls left open by the previous run of node {} marked interrupted: {}", nodeId, interrupted);
            }
            markAbandoned(now);
        }, "closing calls left open", "the sweep closes them as abandoned later");
    }

    /**
     * Runs {@code work} up to three times, 100 and 200 ms apart, for tidying that may cross another
     * node's on the same rows; the last failure is logged as "{@code what} failed (...); {@code then}".
     */
    private static void triedThrice(Runnable work, String what, String then) {
        for (int attempt = 1; ; attempt++) {
            try {
                work.run();
                return;
            } catch (RuntimeException e) {
                if (attempt == 3) {
                    log.warn("{} failed ({}); {}", what, e.toString(), then);
                    return;
                }
                try {
                    Thread.sleep(100L * attempt);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Stops the sweep, records calls still in progress as interrupted (the node no longer follows
     * them), and writes what is queued, waiting a few seconds at most.
     */
    @Override
    public void close() {
        sweeper.shutdownNow();
        Instant now = clock.instant();
        int open = 0;
        for (ActiveCall call : byId.values()) {
            synchronized (call) {
                if (!call.markEnded(now, "interrupted", null, "node")) {
                    continue;
                }
                write(call);
            }
            forget(call);
            metrics.abandoned();
            open++;
        }
        if (open > 0) {
            log.info("the node is stopping; calls in progress recorded as interrupted: {}", open);
        }
        store.close();
    }

    /** An initial INVITE was forwarded. {@code callId} = SIP Call-ID, {@code callerTag} = From tag; {@code devicesRung} = contacts forked to. */
    public ActiveCall started(String callId, String callerTag, String caller, String callee, String dialed,
                              List<String> devicesRung) {
        ActiveCall call = new ActiveCall(UUID.randomUUID().toString(), Objects.requireNonNullElse(callId, ""),
                callerTag, caller, callee, dialed, devicesRung == null ? List.of() : devicesRung, clock.instant(), nodeId);
        synchronized (call) {
            // queued before the call is visible, so no later snapshot can be queued ahead of it
            write(call);
            byId.put(call.id(), call);
            byCallId.put(call.callId(), call);
        }
        metrics.started();
        return call;
    }

    /** More devices added to a ringing call (a later branch). */
    public void rung(ActiveCall call, String device) {
        synchronized (call) {
            if (call.addDevice(device)) {
                write(call);
            }
        }
    }

    /** One device of a call sent nothing at all in time and was given up (ResponseContext): counted. */
    public void silentBranch() {
        metrics.silentBranch();
    }

    /** The first 180/183 (or the 200 when no ringing came first) ends setup; observed once per call. */
    public void ringing(ActiveCall call) {
        Instant now = clock.instant();
        synchronized (call) {
            if (!call.markRinging(now)) {
                return;
            }
            write(call);
        }
        metrics.setup(between(call.startedAt(), now));
    }

    /** A 2xx was forwarded to the caller; {@code answeredBy} is the answering device's contact URI. */
    public void answered(ActiveCall call, String answeredBy) {
        Instant now = clock.instant();
        boolean firstRing;
        synchronized (call) {
            firstRing = call.markRinging(now);
            if (!call.markAnswered(now, answeredBy)) {
                return;
            }
            write(call);
        }
        if (firstRing) {
            metrics.setup(between(call.startedAt(), now));
        }
        metrics.answered();
    }

    /**
     * How a BYE this node sent at {@code telephony.maxCallDuration} went ({@link CallMetrics#HANG_UP_RESULTS}):
     * counted, so an operator sees phones that kept talking after the record was closed.
     */
    public void hangUpSent(String result) {
        metrics.hangUp(result);
    }

    /** A final non-2xx was sent to the caller: the call ends unanswered. */
    public void failed(ActiveCall call, int status, String reason) {
        fail(call, status, statusFor(status), endedBy(status));
    }

    /**
     * Who ended an unanswered call, where a person did: a 487 reaches the caller only for its own
     * CANCEL (the proxy's own CANCELs answer 408, or the 6xx that caused them), and busy and decline
     * are the callee's (a resident refusing a door call); for the rest (nobody there, no answer,
     * errors) nobody did.
     */
    static String endedBy(int status) {
        return switch (status) {
            case 487 -> "caller";
            case 486, 600, 603 -> "callee";
            default -> null;
        };
    }

    /**
     * A BYE was seen after the answer; {@code endedBy} is "caller", "callee", "timeout" or "node".
     * Before the answer it counts as a cancelled call (487).
     */
    public void ended(ActiveCall call, String endedBy) {
        Instant now = clock.instant();
        Duration talk = null;
        synchronized (call) {
            switch (call.phase()) {
                case RINGING -> {
                    call.markEnded(now, "cancelled", 487, endedBy);
                    write(call);
                }
                case ANSWERED -> {
                    call.markEnded(now, "completed", null, endedBy);
                    write(call);
                    talk = between(call.answeredAt(), now);
                }
                case ENDED -> {
                    return;
                }
            }
        }
        forget(call);
        if (talk == null) {
            metrics.failed("cancelled");
        } else {
            metrics.completed(talk);
        }
    }

    private void fail(ActiveCall call, Integer code, String status, String endedBy) {
        Instant now = clock.instant();
        synchronized (call) {
            if (call.phase() != ActiveCall.Phase.RINGING) {
                return; // already answered or ended
            }
            call.markEnded(now, status, code, endedBy);
            write(call);
        }
        forget(call);
        metrics.failed(status);
    }

    /** An active call by its SIP Call-ID (the newest, if two calls share one). */
    public Optional<ActiveCall> find(String callId) {
        return callId == null ? Optional.empty() : Optional.ofNullable(byCallId.get(callId));
    }

    /** Calls in progress, oldest first. */
    public List<ActiveCall> active() {
        List<ActiveCall> calls = new ArrayList<>(byId.values());
        calls.sort(Comparator.comparing(ActiveCall::startedAt).thenComparing(ActiveCall::id));
        return calls;
    }

    public Duration maxDuration() {
        return maxDuration;
    }

    /**
     * The final status (and failure metric reason) for a final non-2xx response code.
     */
    public static String statusFor(int code) {
        return switch (code) {
            case 486, 600 -> "busy";
            case 487 -> "cancelled";
            case 404, 604 -> "not_found";
            case 480 -> "unavailable";
            case 408 -> "no_answer";
            case 401, 403, 407 -> "rejected";
            case 603 -> "declined"; // RFC 3261 §21.6.2: the person reached chose not to take the call
            default -> code >= 500 && code < 600 ? "error" : "failed";
        };
    }

    /** Ends calls whose end was never seen. Runs on the sweep thread; public for tests. */
    public void sweep() {
        Instant now = clock.instant();
        Instant answeredBefore = now.minus(maxDuration);
        Instant startedBefore = now.minus(MAX_RINGING);
        for (ActiveCall call : byId.values()) {
            ActiveCall.Phase phase = call.phase();
            if (phase == ActiveCall.Phase.ANSWERED) {
                Instant answeredAt = call.answeredAt();
                if (answeredAt != null && answeredAt.isBefore(answeredBefore)) {
                    ActiveCall.HangUp hangUp = call.hangUp();
                    log.info("{} ended after the maximum call duration {}{}", call, maxDuration,
                            hangUp == null ? " (its record only: no Contact or route to hang the phones up)"
                                    : ": hanging up both phones");
                    boolean sent = false;
                    if (hangUp != null) {
                        try {
                            sent = hangUp.hangUp();
                        } catch (RuntimeException e) {
                            log.warn("could not hang up {}: {}", call, e.toString());
                        }
                    }
                    if (!sent) {
                        // neither phone gets a BYE: both are counted, so the meter shows phones left talking
                        metrics.hangUp("unsent");
                        metrics.hangUp("unsent");
                    }
                    ended(call, "timeout");
                }
            } else if (phase == ActiveCall.Phase.RINGING && call.startedAt().isBefore(startedBefore)) {
                log.info("{} still unanswered after {}: ended as failed", call, MAX_RINGING);
                fail(call, null, "failed", "timeout");
            }
        }
        if (now.toEpochMilli() >= nextAbandonedCheck) {
            markAbandoned(now.toEpochMilli());
        }
    }

    private void sweepSafely() {
        try {
            sweep();
        } catch (RuntimeException e) {
            log.warn("call sweep failed: {}", e.toString());
        }
    }

    /**
     * Another node died (the cluster view counts it dead since {@code seenDeadAtMillis}) and this
     * node was chosen to close what it left: its open call records that started before then are
     * marked interrupted, on the sweep thread (the caller is the cluster's thread). Tried three
     * times, as at start; if it still fails, the hourly check of abandoned records closes them later.
     */
    public void nodeDied(String node, long seenDeadAtMillis) {
        try {
            sweeper.execute(() -> triedThrice(() -> {
                int closed = store.markInterrupted(node, seenDeadAtMillis, clock.millis());
                if (closed > 0) {
                    log.info("calls left open by node {}, which died, marked interrupted: {}", node, closed);
                }
            }, "closing the calls of node " + node + ", which died,", "they are closed as abandoned later"));
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // this node is stopping; the next start's check of abandoned records covers them
        }
    }

    /** Waits until the sweep thread has run what was queued on it before this call (for tests: it runs one task at a time, in order). */
    void awaitQueuedWork(java.time.Duration timeout) throws Exception {
        sweeper.submit(() -> { }).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Open records of any node older than any call can last: their node is gone. */
    private void markAbandoned(long now) {
        nextAbandonedCheck = now + ABANDONED_CHECK_INTERVAL.toMillis();
        long before = now - maxDuration.toMillis() - MAX_RINGING.toMillis() - ABANDONED_CHECK_INTERVAL.toMillis();
        int abandoned = store.markAbandoned(before, now);
        if (abandoned > 0) {
            log.info("calls left open by nodes that are gone marked interrupted: {}", abandoned);
        }
    }

    /** Queues the call's row; the caller holds the call's lock. */
    private void write(ActiveCall call) {
        if (store.submit(call.snapshot())) {
            return;
        }
        metrics.recordDropped();
        long dropped = dropsSinceLog.incrementAndGet();
        long now = System.currentTimeMillis();
        long last = lastDropLog.get();
        if (now - last >= DROP_LOG_INTERVAL_MILLIS && lastDropLog.compareAndSet(last, now)) {
            dropsSinceLog.addAndGet(-dropped);
            log.warn("call record store is full or stopped: {} record writes dropped (backlog {})", dropped,
                    store.backlog());
        }
    }

    private void forget(ActiveCall call) {
        byId.remove(call.id(), call);
        byCallId.remove(call.callId(), call);
    }

    private static Duration between(Instant from, Instant to) {
        Duration d = Duration.between(from, to);
        return d.isNegative() ? Duration.ZERO : d;
    }
}
