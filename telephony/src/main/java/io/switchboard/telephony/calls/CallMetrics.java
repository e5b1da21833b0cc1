package io.switchboard.telephony.calls;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The call meters at /metrics (Prometheus names in brackets): calls in progress
 * ({@code switchboard_calls_active}), started ({@code switchboard_calls_started_total}),
 * answered ({@code switchboard_calls_answered_total}), ended unanswered by reason
 * ({@code switchboard_calls_failed_total{reason}}), talk time
 * ({@code switchboard_call_duration_seconds}) and time to ring
 * ({@code switchboard_call_setup_seconds}), and the BYEs the node sent at
 * {@code telephony.maxCallDuration} by how each went ({@code switchboard_call_hangups_total{result}}). Failure reasons are a fixed set (see
 * {@link CallTracker#statusFor(int)}), all registered at zero so dashboards see them from the start.
 */
public final class CallMetrics {
    /** Every failure reason the tracker reports. */
    static final List<String> FAILURE_REASONS = List.of("busy", "cancelled", "not_found", "unavailable", "no_answer",
            "rejected", "declined", "error", "failed");

    /** How a BYE the node sent at the duration limit went: a 2xx, another final answer, none, or never sent. */
    public static final List<String> HANG_UP_RESULTS = List.of("answered", "refused", "no_answer", "unsent");

    private static final Duration[] DURATION_BUCKETS = {
            Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30),
            Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(5), Duration.ofMinutes(10),
            Duration.ofMinutes(20), Duration.ofMinutes(30), Duration.ofHours(1), Duration.ofHours(2)};
    private static final Duration[] SETUP_BUCKETS = {
            Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2),
            Duration.ofSeconds(3), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(20),
            Duration.ofSeconds(30), Duration.ofSeconds(60)};

    private final AtomicInteger active = new AtomicInteger();
    private final Counter started;
    private final Counter answered;
    private final Counter recordsDropped;
    private final Counter silentBranches;
    private final Map<String, Counter> failed = new ConcurrentHashMap<>();
    private final Map<String, Counter> hangUps = new ConcurrentHashMap<>();
    private final Timer duration;
    private final Timer setup;

    public CallMetrics(MeterRegistry registry) {
        Gauge.builder("switchboard.calls.active", active, AtomicInteger::get)
                .description("Calls in progress (ringing or answered)").strongReference(true).register(registry);
        // Micrometer adds _total to counters in Prometheus output; the names here carry no suffix.
        started = Counter.builder("switchboard.calls.started")
                .description("Calls forwarded (initial INVITEs)").register(registry);
        answered = Counter.builder("switchboard.calls.answered")
                .description("Calls answered (a 2xx reached the caller)").register(registry);
        for (String reason : FAILURE_REASONS) {
            failed.put(reason, Counter.builder("switchboard.calls.failed")
                    .description("Calls that ended unanswered, by reason").tag("reason", reason).register(registry));
        }
        for (String result : HANG_UP_RESULTS) {
            hangUps.put(result, Counter.builder("switchboard.call.hangups")
                    .description("BYEs sent to phones at telephony.maxCallDuration, by how each went")
                    .tag("result", result).register(registry));
        }
        recordsDropped = Counter.builder("switchboard.call.records.dropped")
                .description("Call record writes refused because the store's queue was full or stopping")
                .register(registry);
        silentBranches = Counter.builder("switchboard.call.branches.silent")
                .description("INVITE branches given up because the device sent no response at all within"
                        + " telephony.branchResponseTimeout (counted as 408)")
                .register(registry);
        duration = Timer.builder("switchboard.call.duration")
                .description("Talk time of answered calls, answer to end")
                .serviceLevelObjectives(DURATION_BUCKETS)
                .register(registry);
        setup = Timer.builder("switchboard.call.setup")
                .description("Time from the forwarded INVITE to the first ringing (or the answer)")
                .serviceLevelObjectives(SETUP_BUCKETS)
                .register(registry);
    }

    void started() {
        active.incrementAndGet();
        started.increment();
    }

    void answered() {
        answered.increment();
    }

    void setup(Duration elapsed) {
        setup.record(elapsed);
    }

    /** An answered call ended normally. */
    void completed(Duration talk) {
        active.decrementAndGet();
        duration.record(talk);
    }

    void failed(String reason) {
        active.decrementAndGet();
        failed.get(FAILURE_REASONS.contains(reason) ? reason : "failed").increment();
    }

    /** A call the node stopped following (shutdown): no longer active, neither failed nor timed. */
    void abandoned() {
        active.decrementAndGet();
    }

    void hangUp(String result) {
        hangUps.get(HANG_UP_RESULTS.contains(result) ? result : "unsent").increment();
    }

    void silentBranch() {
        silentBranches.increment();
    }

    void recordDropped() {
        recordsDropped.increment();
    }

    /** Calls in progress. */
    public int active() {
        return active.get();
    }
}
