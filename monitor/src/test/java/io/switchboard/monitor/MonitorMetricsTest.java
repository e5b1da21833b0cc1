package io.switchboard.monitor;

import static org.assertj.core.api.Assertions.assertThat;

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

    private static double gauge(SimpleMeterRegistry registry, String name, String monitor) {
        return registry.get(name).tag("monitor", monitor).gauge().value();
    }
}
