package io.switchboard.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.support.Defs;
import io.switchboard.platform.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Meters an alert watches exist at 0 from the start: increase() cannot see a first count on a series that appears with it. */
class MonitorMetricsTest {
    @Test
    void fencedWritesAreCountedFromZeroForEveryKind() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MonitorMetrics metrics = new MonitorMetrics(registry);
        for (String kind : new String[] {"result", "incident", "notification"}) {
            assertThat(registry.find("switchboard.monitor.fenced").tag("kind", kind).counter()).as(kind).isNotNull()
                    .extracting(counter -> counter.count()).isEqualTo(0.0);
        }
        metrics.fenced("notification", 2);
        assertThat(registry.get("switchboard.monitor.fenced").tag("kind", "notification").counter().count()).isEqualTo(2.0);
    }

    /**
     * A degraded monitor reads 1 on its degraded gauge (up says only that the check passed), and a
     * tls monitor's certificate has its time left, counted down between checks and kept while the
     * server is down; the monitor's gauges go with it.
     */
    @Test
    void degradedAndTheTimeLeftOnACertificateAreGauges() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MutableClock clock = MutableClock.fixedAt(Instant.parse("2030-01-01T00:00:00Z"));
        MonitorMetrics metrics = new MonitorMetrics(registry, clock);
        MonitorDefinition cert = Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:443\n");
        Map<String, Object> certificate = Map.of("notAfter", "2030-01-06T00:00:00Z", CheckResult.WARNING, "certificate-expiry");
        metrics.checked(cert, new CheckResult(CheckStatus.DEGRADED, clock.instant(), 5, "the certificate expires in 5 days",
                List.of(), certificate));
        assertThat(gauge(registry, "switchboard.monitor.up", "cert")).isEqualTo(1.0);
        assertThat(gauge(registry, "switchboard.monitor.degraded", "cert")).isEqualTo(1.0);
        assertThat(gauge(registry, "switchboard.monitor.certificate.expiry.seconds", "cert")).isEqualTo(5 * 86_400.0);
        clock.advance(Duration.ofDays(1));
        assertThat(gauge(registry, "switchboard.monitor.certificate.expiry.seconds", "cert")).isEqualTo(4 * 86_400.0);
        metrics.checked(cert, CheckResult.down(clock.instant(), 5, "nothing accepted the connection", List.of(), Map.of()));
        assertThat(gauge(registry, "switchboard.monitor.up", "cert")).isEqualTo(0.0);
        assertThat(gauge(registry, "switchboard.monitor.degraded", "cert")).isEqualTo(0.0);
        assertThat(gauge(registry, "switchboard.monitor.certificate.expiry.seconds", "cert")).isEqualTo(4 * 86_400.0);

        MonitorDefinition shop = Defs.monitor("name: shop\ntype: tcp\ntarget: 127.0.0.1:80\n");
        metrics.checked(shop, new CheckResult(CheckStatus.UP, clock.instant(), 5, null, List.of(), Map.of()));
        assertThat(gauge(registry, "switchboard.monitor.degraded", "shop")).isEqualTo(0.0);
        assertThat(registry.find("switchboard.monitor.certificate.expiry.seconds").tag("monitor", "shop").gauge()).isNull();

        metrics.forget("cert");
        assertThat(registry.find("switchboard.monitor.certificate.expiry.seconds").gauge()).isNull();
        assertThat(registry.find("switchboard.monitor.degraded").tag("monitor", "cert").gauge()).isNull();
    }

    /**
     * A tls result handled while its monitor is paused or removed: the watcher's forget() runs while
     * the result is being recorded. The certificate gauge must go with the others, not stay behind
     * counting down for a monitor that is gone, nor be handed back, stale, when it is resumed.
     */
    @Test
    void theCertificateGaugeGoesWithTheOthersWhenForgottenDuringACheck() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        AtomicBoolean armed = new AtomicBoolean(true);
        AtomicReference<MonitorMetrics> metrics = new AtomicReference<>();
        registry.config().meterFilter(new MeterFilter() {
            @Override
            public Meter.Id map(Meter.Id id) {
                if (id.getName().equals("switchboard.monitor.certificate.expiry.seconds") && armed.getAndSet(false)) {
                    // the monitor is paused now, on another thread, while this result is recorded
                    Thread forget = Thread.ofPlatform().start(() -> metrics.get().forget("cert"));
                    try {
                        forget.join(500);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return id;
            }
        });
        MutableClock clock = MutableClock.fixedAt(Instant.parse("2030-01-01T00:00:00Z"));
        metrics.set(new MonitorMetrics(registry, clock));
        MonitorDefinition cert = Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:443\n");
        metrics.get().checked(cert, new CheckResult(CheckStatus.UP, clock.instant(), 5, null, List.of(),
                Map.of("notAfter", "2030-01-06T00:00:00Z")));
        // the tracker sees the monitor is paused and forgets it again, as it does after every late result
        metrics.get().forget("cert");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(registry.find("switchboard.monitor.certificate.expiry.seconds").gauges()).isEmpty());
        assertThat(registry.getMeters()).noneMatch(m -> "cert".equals(m.getId().getTag("monitor")));

        // resumed: the gauge is the new check's, not a leftover
        metrics.get().checked(cert, new CheckResult(CheckStatus.UP, clock.instant(), 5, null, List.of(),
                Map.of("notAfter", "2030-01-31T00:00:00Z")));
        assertThat(gauge(registry, "switchboard.monitor.certificate.expiry.seconds", "cert")).isEqualTo(30 * 86_400.0);
    }

    /** A tls monitor's certificate gauge is NaN until a certificate is seen, as the others are until the first check. */
    @Test
    void theCertificateGaugeIsNaNUntilACertificateIsSeen() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        MonitorMetrics metrics = new MonitorMetrics(registry);
        MonitorDefinition cert = Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:443\n");
        metrics.checked(cert, CheckResult.down(Instant.now(), 5, "nothing accepted the connection", List.of(), Map.of()));
        assertThat(gauge(registry, "switchboard.monitor.certificate.expiry.seconds", "cert")).isNaN();
    }

    private static double gauge(SimpleMeterRegistry registry, String name, String monitor) {
        return registry.get(name).tag("monitor", monitor).gauge().value();
    }

    /**
     * Lateness percentiles are read from buckets whose value is the bucket's top, which can lie past
     * the slowest lateness recorded: every check 115.7 ms late read p99 above the max. They are kept
     * within it, and in order.
     */
    @Test
    void latenessPercentilesNeverExceedTheSlowestRecorded() {
        MonitorMetrics metrics = new MonitorMetrics(new SimpleMeterRegistry());
        for (int i = 0; i < 200; i++) {
            metrics.lateness(115_700_000L); // 115.7 ms
        }
        metrics.lateness(3_000_000L);
        Map<String, Object> summary = metrics.latenessSummary();
        double max = (Double) summary.get("maxMs");
        assertThat(max).isEqualTo(115.7);
        double p50 = (Double) summary.get("p50Ms");
        double p90 = (Double) summary.get("p90Ms");
        double p99 = (Double) summary.get("p99Ms");
        assertThat(p99).as("p99 of " + summary).isLessThanOrEqualTo(max);
        assertThat(p50).as("p50 of " + summary).isLessThanOrEqualTo(p90).isGreaterThan(100.0);
        assertThat(p90).as("p90 of " + summary).isLessThanOrEqualTo(p99);
        assertThat(summary.get("checksSinceStart")).isEqualTo(201L);
    }
}
