package io.switchboard.monitor.history;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Percentiles read from the latency histogram lie within the fastest and slowest check: every
 * check at 100 ms falls in the bucket (98.7, 107.6], and interpolating inside it read a p50 of
 * 103.2 ms and a p95 of 107.2 ms, slower than any check.
 */
class LatencyPercentilesTest {
    private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");

    @TempDir
    Path dir;

    @Test
    void anAggregatesPercentilesStayWithinItsFastestAndSlowest() {
        Aggregate a = new Aggregate();
        a.add("up", LatencyHistogram.bucket(106), 99, 99 * 106, 106, 106);
        a.add("up", LatencyHistogram.bucket(107), 1, 107, 107, 107); // one bucket, (98.7, 107.6]
        assertThat(a.histogram().percentile(0.50)).as("the buckets alone").isLessThan(106.0);
        assertThat(a.histogram().percentile(0.95)).as("the buckets alone").isGreaterThan(107.0);
        assertThat(a.percentile(0.50)).isEqualTo(106.0);
        assertThat(a.percentile(0.95)).isEqualTo(107.0);
        assertThat(a.percentile(0.99)).isEqualTo(107.0);
        assertThat(new Aggregate().percentile(0.5)).isNull();

        Aggregate folded = new Aggregate(); // one part without bounds (folded before they were kept): none is assumed
        folded.add(a);
        Aggregate old = new Aggregate(LatencyHistogram.decode(a.histogram().encode()));
        old.checks = a.checks;
        old.boundsUnknown = true;
        folded.add(old);
        assertThat(folded.latencyMax()).isNull();
        assertThat(folded.percentile(0.95)).isEqualTo(folded.histogram().percentile(0.95));
    }

    @Test
    void windowsAndPeriodsStayWithinTheSlowestCheckFoldedOrNot() {
        Store store = Store.open(StoreSettings.sqliteIn(dir));
        try {
            store.migrate("platform");
            store.migrate("monitor");
            long now = NOW.toEpochMilli();
            store.jdbi().useHandle(h -> {
                for (int i = 0; i < 20; i++) { // three hours ago (folded) and in the current hour (raw)
                    for (long at : new long[] {now - Duration.ofHours(3).toMillis() + i * 1000L, now - 600_000L + i * 1000L}) {
                        h.execute("INSERT INTO monitor_results (monitor, started_at, status, latency_ms, latency_bucket,"
                                + " lateness_ms) VALUES ('web', ?, 'up', 100, ?, 0)", at, LatencyHistogram.bucket(100));
                    }
                }
            });
            Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
            HistoryFolder folder = new HistoryFolder(store.jdbi(), clock, Duration.ofDays(7), Duration.ofDays(30),
                    Duration.ofDays(400));
            assertThat(folder.runOnce().hoursFolded()).isPositive();
            ResultStore results = new ResultStore(store.jdbi(), clock);

            ResultStore.WindowSummary day = results.summary("web", Duration.ofHours(24));
            assertThat(day.checks()).isEqualTo(40);
            assertThat(List.of(day.p50Millis(), day.p95Millis())).containsExactly(100.0, 100.0);
            List<ResultStore.Period> hours = results.periods("web", "hour", NOW.minus(Duration.ofHours(4)), NOW.plusSeconds(3600));
            assertThat(hours).hasSize(2).allSatisfy(p -> assertThat(List.of(p.p50Millis(), p.p95Millis()))
                    .as("hour from " + p.start()).containsExactly(100.0, 100.0));
            List<ResultStore.Period> days = results.periods("web", "day", NOW.minus(Duration.ofDays(1)), NOW.plus(Duration.ofDays(1)));
            assertThat(days).singleElement().satisfies(p -> assertThat(p.p95Millis()).isEqualTo(100.0));
        } finally {
            store.close();
        }
    }
}
