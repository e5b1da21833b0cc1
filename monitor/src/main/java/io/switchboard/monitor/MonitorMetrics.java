package io.switchboard.monitor;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntSupplier;

/**
 * The monitor module's meters, {@code switchboard_monitor_*} at {@code /metrics}: per monitor its
 * last check's verdict (failed or not, degraded or not) and latency, and for a tls monitor the time
 * left on its certificate; overall checks run and failed by type, scheduling lateness,
 * notifications sent and failed by channel, and what was dropped.
 */
public final class MonitorMetrics {
    private final MeterRegistry registry;
    private final java.time.Clock clock;
    private final Timer lateness;
    private final Counter skipped;
    private final Counter resultsDropped;
    private final Map<CheckType, Counter> checks = new ConcurrentHashMap<>();
    private final Map<CheckType, Counter> failed = new ConcurrentHashMap<>();
    private final Map<String, PerMonitor> monitors = new ConcurrentHashMap<>();

    /** The values behind one monitor's gauges; NaN until its first check. */
    private static final class PerMonitor {
        static final long NONE = Long.MIN_VALUE;
        final AtomicLong up = new AtomicLong(Double.doubleToLongBits(Double.NaN));
        final AtomicLong degraded = new AtomicLong(Double.doubleToLongBits(Double.NaN));
        final AtomicLong latency = new AtomicLong(Double.doubleToLongBits(Double.NaN));
        /** When the certificate the last tls check saw expires (epoch ms); {@link #NONE} until one is seen. */
        final AtomicLong certificateNotAfter = new AtomicLong(NONE);
        final List<Gauge> gauges = new java.util.concurrent.CopyOnWriteArrayList<>();
    }

    public MonitorMetrics(MeterRegistry registry) {
        this(registry, java.time.Clock.systemUTC());
    }

    /** @param clock what the time left on a certificate is counted from, when scraped */
    public MonitorMetrics(MeterRegistry registry, java.time.Clock clock) {
        this.registry = registry;
        this.clock = clock;
        this.lateness = Timer.builder("switchboard.monitor.schedule.lateness")
                .description("How late checks start: actual start minus scheduled time")
                .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(50),
                        Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1),
                        Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10))
                .publishPercentiles(0.5, 0.9, 0.99)
                .distributionStatisticExpiry(Duration.ofMinutes(1))
                .register(registry);
        this.skipped = Counter.builder("switchboard.monitor.checks.skipped")
                .description("Checks not started because the monitor's previous check was still running")
                .register(registry);
        this.resultsDropped = Counter.builder("switchboard.monitor.results.dropped")
                .description("Check results not stored: the write queue was full or the store refused them")
                .register(registry);
        // at 0 from the start, as documented, so that an alert on increase() sees the first fenced write
        for (String kind : new String[] {"result", "incident", "notification"}) {
            fenced(kind, 0);
        }
    }

    public void bindGauges(IntSupplier scheduled, IntSupplier running, IntSupplier writeBacklog) {
        Gauge.builder("switchboard.monitor.monitors", scheduled, IntSupplier::getAsInt)
                .description("Monitors scheduled (not paused)").strongReference(true).register(registry);
        Gauge.builder("switchboard.monitor.checks.running", running, IntSupplier::getAsInt)
                .description("Checks in progress now").strongReference(true).register(registry);
        Gauge.builder("switchboard.monitor.results.backlog", writeBacklog, IntSupplier::getAsInt)
                .description("Check results waiting to be written").strongReference(true).register(registry);
    }

    /** Notifications queued on the channels' lanes, waiting for the messages ahead of them to be sent. */
    public void bindNotificationsWaiting(IntSupplier waiting) {
        Gauge.builder("switchboard.monitor.notifications.waiting", waiting, IntSupplier::getAsInt)
                .description("Notifications queued on their channels' lanes behind the ones being sent").strongReference(true)
                .register(registry);
    }

    /**
     * Scheduling lateness over the last minute or so, in milliseconds: p50, p90, p99, max, and checks
     * counted. The percentiles are read from the meter's buckets, whose value is the top of the bucket
     * and so can lie past the slowest sample in it (p99 117.4 with a max of 115.7); each is kept at or below the
     * slowest lateness recorded and at or above the percentile before it: p50 &lt;= p90 &lt;= p99 &lt;= max.
     */
    public Map<String, Object> latenessSummary() {
        return latenessSummary(lateness.takeSnapshot(), lateness.count());
    }

    static Map<String, Object> latenessSummary(io.micrometer.core.instrument.distribution.HistogramSnapshot snapshot,
                                               long count) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        double max = Math.round(snapshot.max(TimeUnit.MILLISECONDS) * 10) / 10.0;
        double floor = 0;
        io.micrometer.core.instrument.distribution.ValueAtPercentile[] percentiles = snapshot.percentileValues().clone();
        java.util.Arrays.sort(percentiles, java.util.Comparator.comparingDouble(
                io.micrometer.core.instrument.distribution.ValueAtPercentile::percentile));
        for (io.micrometer.core.instrument.distribution.ValueAtPercentile p : percentiles) {
            String name = "p" + Math.round(p.percentile() * 100) + "Ms";
            double value = Math.min(Math.max(Math.round(p.value(TimeUnit.MILLISECONDS) * 10) / 10.0, floor), max);
            out.put(name, value);
            floor = value;
        }
        out.put("maxMs", max);
        out.put("checksSinceStart", count);
        return out;
    }

    public double checksTotal() {
        return checks.values().stream().mapToDouble(Counter::count).sum();
    }

    public double checksFailedTotal() {
        return failed.values().stream().mapToDouble(Counter::count).sum();
    }

    public double skippedTotal() {
        return skipped.count();
    }

    public double resultsDroppedTotal() {
        return resultsDropped.count();
    }

    public void lateness(long nanos) {
        lateness.record(Math.max(0, nanos), TimeUnit.NANOSECONDS);
    }

    public void skipped() {
        skipped.increment();
    }

    /** Writes refused because the lease they were made under no longer holds ({@code kind}: result, incident, notification). */
    public void fenced(String kind, int count) {
        Counter.builder("switchboard.monitor.fenced")
                .description("Writes refused because this node no longer held the monitor's lease (another node took it over,"
                        + " or this node's membership expired)")
                .tag("kind", kind).register(registry).increment(count);
    }

    /** Check results refused by the fence. */
    public void resultsFenced(int count) {
        fenced("result", count);
    }

    /** Monitors whose checks this node runs (holds the lease of). */
    public void bindHeld(IntSupplier held) {
        Gauge.builder("switchboard.monitor.monitors.held", held, IntSupplier::getAsInt)
                .description("Monitors whose checks run on this node (it holds their lease)").strongReference(true).register(registry);
    }

    public void resultsDropped(int count) {
        resultsDropped.increment(count);
    }

    public void checked(MonitorDefinition monitor, CheckResult result) {
        checks.computeIfAbsent(monitor.type(), t -> Counter.builder("switchboard.monitor.checks")
                .description("Checks run, by type").tag("type", t.wireName()).register(registry)).increment();
        if (result.status() == CheckStatus.DOWN) {
            failed.computeIfAbsent(monitor.type(), t -> Counter.builder("switchboard.monitor.checks.failed")
                    .description("Checks that failed (DOWN), by type").tag("type", t.wireName()).register(registry)).increment();
        }
        PerMonitor gauges = monitors.computeIfAbsent(monitor.name(), name -> register(name, monitor.type()));
        gauges.up.set(Double.doubleToLongBits(result.status().passed() ? 1 : 0));
        gauges.degraded.set(Double.doubleToLongBits(result.status() == CheckStatus.DEGRADED ? 1 : 0));
        gauges.latency.set(Double.doubleToLongBits(result.latencyMillis() / 1000.0));
        Instant notAfter = certificateNotAfter(result);
        if (notAfter != null) {
            // kept while later checks see no certificate (the server is down): up says that, and an
            // expiry alert should not come and go with outages. Its gauge was registered with the
            // others: one registered here, late, could land on a set forget() had already dropped
            // (a result handled while the monitor was paused or removed) and stay in the registry.
            gauges.certificateNotAfter.set(notAfter.toEpochMilli());
        }
    }

    /** The certificate's end of validity in a tls check's details (TlsCheck: notAfter), or null. */
    private static Instant certificateNotAfter(CheckResult result) {
        if (!(result.details().get("notAfter") instanceof String text)) {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    private PerMonitor register(String name, CheckType type) {
        PerMonitor values = new PerMonitor();
        values.gauges.addAll(List.of(
                Gauge.builder("switchboard.monitor.up", values, v -> Double.longBitsToDouble(v.up.get()))
                        .description("1 when the monitor's last check passed (up or degraded), 0 when it failed")
                        .tags("monitor", name, "type", type.wireName()).strongReference(true).register(registry),
                Gauge.builder("switchboard.monitor.degraded", values, v -> Double.longBitsToDouble(v.degraded.get()))
                        .description("1 when the monitor's last check passed but degraded (slower than degradedAbove, or a"
                                + " warning such as a certificate near expiry), 0 otherwise")
                        .tags("monitor", name, "type", type.wireName()).strongReference(true).register(registry),
                Gauge.builder("switchboard.monitor.latency.seconds", values, v -> Double.longBitsToDouble(v.latency.get()))
                        .description("The monitor's last check latency")
                        .tags("monitor", name, "type", type.wireName()).strongReference(true).register(registry)));
        if (type == CheckType.TLS) {
            // NaN until the first certificate is seen, like the others until the first check
            values.gauges.add(Gauge.builder("switchboard.monitor.certificate.expiry.seconds", values, v -> {
                        long notAfter = v.certificateNotAfter.get();
                        return notAfter == PerMonitor.NONE ? Double.NaN : (notAfter - clock.millis()) / 1000.0;
                    })
                    .description("Time left until the certificate the monitor's last tls check saw expires; negative once it has")
                    .tags("monitor", name, "type", type.wireName()).strongReference(true).register(registry));
        }
        return values;
    }

    /** Drops a removed or retyped monitor's gauges. */
    public void forget(String monitor) {
        // the meters leave the registry before the name is free again: a result registering the
        // monitor's gauges meanwhile waits, rather than be handed back the meters being removed
        monitors.computeIfPresent(monitor, (name, values) -> {
            values.gauges.forEach(registry::remove);
            return null;
        });
    }

    public void notification(String channel, String channelType, boolean sent) {
        notifications(channel, channelType, sent).increment();
    }

    /**
     * A channel's test message (the API's "send a test"), counted apart: a broken channel someone
     * tests is not an incident nobody was told of, and must not fire the alert on failed
     * notifications (dist/prometheus, SwitchboardMonitorNotificationsFailing).
     */
    public void notificationTest(String channel, String channelType, boolean sent) {
        Counter.builder("switchboard.monitor.notification.tests")
                .description("Channel test messages sent on request, by channel and outcome (not in the notifications counters)")
                .tags("channel", channel, "type", channelType, "outcome", sent ? "sent" : "failed")
                .register(registry).increment();
    }

    /** A channel in the catalog: its counters exist at 0 from then on, so rate() sees the first failure. */
    public void channel(String channel, String channelType) {
        notifications(channel, channelType, true);
        notifications(channel, channelType, false);
    }

    private Counter notifications(String channel, String channelType, boolean sent) {
        return Counter.builder(sent ? "switchboard.monitor.notifications.sent" : "switchboard.monitor.notifications.failed")
                .description(sent ? "Notifications delivered, by channel" : "Notifications given up after every retry, by channel")
                .tags("channel", channel, "type", channelType)
                .register(registry);
    }
}
