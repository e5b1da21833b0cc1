package io.switchboard.chat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;

/**
 * The chat meters at {@code /metrics}: connected streams ({@code switchboard_chat_streams}),
 * messages sent and delivered, the delivery latency histogram (commit to the frame written to the
 * person's connection), messages replayed to returning clients, gaps in a stream's live messages by
 * how they closed, and everything refused, by reason. Reasons and outcomes are fixed sets,
 * registered at zero.
 */
public final class ChatMetrics {
    public static final List<String> REJECT_REASONS = List.of("bad_request", "not_member", "too_large",
            "idempotency_conflict", "overloaded", "unauthorized", "bad_frame", "slow_consumer");
    private static final Duration[] LATENCY_BUCKETS = {
            Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5),
            Duration.ofSeconds(10)};

    private final Counter sent;
    private final Counter delivered;
    private final Counter replayed;
    private final Timer latency;
    private final Map<String, Counter> rejected = new ConcurrentHashMap<>();
    private final Counter gapsReordered;
    private final Counter gapsReplayed;
    private final Counter replayReads;
    private final Counter replayReadsShared;

    private final MeterRegistry registry;

    public ChatMetrics(MeterRegistry registry) {
        this.registry = registry;
        sent = Counter.builder("switchboard.chat.messages.sent")
                .description("Messages stored (retries with the same idempotency key not counted)").register(registry);
        delivered = Counter.builder("switchboard.chat.messages.delivered")
                .description("Messages written to people's streams, live or replayed").register(registry);
        replayed = Counter.builder("switchboard.chat.messages.replayed")
                .description("Messages sent to a stream from the store: missed while away, or to fill a gap")
                .register(registry);
        latency = Timer.builder("switchboard.chat.delivery.latency")
                .description("From a message's commit to its frame written to a stream (live deliveries)")
                .serviceLevelObjectives(LATENCY_BUCKETS)
                .register(registry);
        gapsReordered = gaps(registry, "reordered");
        gapsReplayed = gaps(registry, "replayed");
        replayReads = replayReads(registry, "read");
        replayReadsShared = replayReads(registry, "shared");
        for (String reason : REJECT_REASONS) {
            rejected.put(reason, Counter.builder("switchboard.chat.rejected")
                    .description("Requests and frames refused, by reason").tag("reason", reason).register(registry));
        }
    }

    private static Counter gaps(MeterRegistry registry, String outcome) {
        return Counter.builder("switchboard.chat.stream.gaps")
                .description("Gaps in a stream's live messages of a chat (a later message came first), by outcome:"
                        + " reordered (the missing one came within chat.streamReorderWait) or replayed (read from the store)")
                .tag("outcome", outcome).register(registry);
    }

    private static Counter replayReads(MeterRegistry registry, String outcome) {
        return Counter.builder("switchboard.chat.stream.replay.reads")
                .description("Pages of missed messages a replaying stream asked the store for, by outcome:"
                        + " read (a store query) or shared (the answer of the same query another stream of this node had under way)")
                .tag("outcome", outcome).register(registry);
    }

    /** Publishes the number of open streams as {@code switchboard_chat_streams}. */
    public void streams(IntSupplier open) {
        Gauge.builder("switchboard.chat.streams", open::getAsInt)
                .description("Open real-time streams (WebSocket connections at /api/v1/stream)")
                .strongReference(true).register(registry);
    }

    public void sent() {
        sent.increment();
    }

    public void delivered(long latencyMillis) {
        delivered.increment();
        if (latencyMillis >= 0) {
            latency.record(latencyMillis, TimeUnit.MILLISECONDS);
        }
    }

    public void replayed() {
        delivered.increment();
        replayed.increment();
    }

    /** A gap in a stream's live messages closed when the missing message arrived, without reading the store. */
    public void gapReordered() {
        gapsReordered.increment();
    }

    /** A gap in a stream's live messages went to a replay from the store. */
    public void gapReplayed() {
        gapsReplayed.increment();
    }

    /** A replay's page of missed messages: read from the store, or shared with a read under way. */
    public void replayRead(boolean shared) {
        (shared ? replayReadsShared : replayReads).increment();
    }

    public void rejected(String reason) {
        Counter counter = rejected.get(reason);
        if (counter == null) {
            throw new IllegalArgumentException("unknown reject reason " + reason);
        }
        counter.increment();
    }
}
