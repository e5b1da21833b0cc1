package io.switchboard.monitor;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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
}
