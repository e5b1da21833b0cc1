package io.switchboard.monitor.incident;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.definition.CatalogView;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.history.ResultStore;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.monitor.notify.DeliveryLog;
import io.switchboard.monitor.notify.NotificationDispatcher;
import io.switchboard.monitor.report.IncidentReports;
import io.switchboard.monitor.support.Defs;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.platform.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A check that fails while its monitor is being paused: this node's view of the catalog still has
 * the monitor active when the result comes in, but the store has it paused. No incident is
 * opened (nothing is sent for a paused monitor), and the failing streak does not outlive the
 * pause: the stored state is not left DOWN without an incident, and after the resume the next
 * failure starts a streak of its own.
 */
class PausedWhileCheckingTest {
    static final Instant NOW = Instant.parse("2031-05-01T12:00:00Z");

    @TempDir
    Path dir;

    @Test
    void aResultTakenBeforeThePauseOpensNoIncidentAndLeavesNoStreak() throws Exception {
        try (Store store = Store.open(StoreSettings.sqliteIn(dir)); CapturedLog log = CapturedLog.of(IncidentTracker.class)) {
            store.migrate("platform");
            store.migrate("monitor");
            MutableClock clock = MutableClock.fixedAt(NOW);
            MonitorCatalog catalog = new MonitorCatalog(store.jdbi(), clock);
            MonitorDefinition shop = catalog.putMonitor(Defs.monitor("""
                    name: shop
                    type: tcp
                    target: 127.0.0.1:80
                    failureThreshold: 2
                    """)).value();
            CatalogView beforeThePause = CatalogView.of(catalog.revision(), catalog.load());
            catalog.setPaused("shop", true);

            MonitorMetrics metrics = new MonitorMetrics(new SimpleMeterRegistry(), clock);
            ResultWriter writer = new ResultWriter(store.jdbi(), metrics, 1000);
            writer.start();
            try {
                IncidentStore incidents = new IncidentStore(store.jdbi());
                NotificationDispatcher dispatcher = new NotificationDispatcher(Map.of(), new DeliveryLog(store.jdbi()), metrics,
                        clock, 1, Duration.ofMillis(10));
                IncidentTracker tracker = new IncidentTracker(incidents, writer, dispatcher, new IncidentReports(null, 1), metrics,
                        clock, ZoneOffset.UTC, Duration.ofHours(1), () -> beforeThePause);
                tracker.accept(shop, CheckResult.down(NOW.minusSeconds(60), 3, "connection refused", List.of(), Map.of()), 0);
                tracker.accept(shop, CheckResult.down(NOW, 3, "connection refused", List.of(), Map.of()), 0);

                assertThat(incidents.list(null, "shop", null, 10)).as("incidents of the paused monitor").isEmpty();
                assertThat(log.messages()).contains("no incident opened for shop: it was paused while its last check ran");
                assertThat(writer.flush(Duration.ofSeconds(5))).isTrue();
                StateSnapshot stored = new ResultStore(store.jdbi(), clock).state("shop").orElseThrow();
                assertThat(stored.status()).as("not DOWN without an incident").isEqualTo(MonitorStatus.UNKNOWN);
                assertThat(stored.consecutiveFailures()).isZero();
                assertThat(stored.streakStartedAt()).as("no streak carried over the pause").isNull();
            } finally {
                writer.close();
            }
        }
    }
}
