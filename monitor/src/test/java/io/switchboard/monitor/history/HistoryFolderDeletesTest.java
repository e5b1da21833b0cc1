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
import java.util.concurrent.CopyOnWriteArrayList;
import org.jdbi.v3.core.statement.SqlLogger;
import org.jdbi.v3.core.statement.StatementContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Expired hours, days, delivery attempts and resolved incidents are deleted in bounded batches:
 * after a backlog one unbounded DELETE could outlast the store's socket timeout and be rolled back
 * on every run.
 */
class HistoryFolderDeletesTest {
    private static final Instant NOW = Instant.parse("2026-03-01T12:00:00Z");
    private static final long DAY = Duration.ofDays(1).toMillis();
    private static final int BATCH = 10;

    @TempDir
    Path dir;
    Store store;
    final List<String> statements = new CopyOnWriteArrayList<>();

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("monitor");
        store.jdbi().setSqlLogger(new SqlLogger() {
            @Override
            public void logAfterExecution(StatementContext context) {
                statements.add(context.getRenderedSql());
            }
        });
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void everyExpiredKindIsDeletedABatchAtATime() {
        long now = NOW.toEpochMilli();
        int expired = 35;
        store.jdbi().useHandle(h -> {
            // nothing to fold: only the deletes run
            h.execute("INSERT INTO monitor_fold_progress (period, folded_until) VALUES ('hour', ?), ('day', ?)",
                    HistoryFolder.floorHour(now), HistoryFolder.floorDay(now));
            for (int i = 0; i < expired + 3; i++) {
                long hour = i < expired ? now - 40 * DAY - i * 3_600_000L : now - i * 3_600_000L;
                long day = i < expired ? now - 400 * DAY - i * DAY : now - i * DAY;
                h.execute("INSERT INTO monitor_hourly (monitor, period_start, checks, up, degraded, down, latency_sum, histogram)"
                        + " VALUES ('web', ?, 1, 1, 0, 0, 5, '')", hour);
                h.execute("INSERT INTO monitor_daily (monitor, period_start, checks, up, degraded, down, latency_sum, histogram)"
                        + " VALUES ('web', ?, 1, 1, 0, 0, 5, '')", day);
                h.execute("INSERT INTO monitor_notifications (at, incident_id, monitor, channel, channel_type, event,"
                        + " attempt, outcome, duration_ms) VALUES (?, ?, 'web', 'ops', 'email', 'down', 1, 'sent', 3)", hour, i);
                h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at,"
                        + " failed_checks) VALUES (?, 'web', 'resolved', ?, ?, ?, 3)", i, day, day, day);
                h.execute("INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail) VALUES (?, ?, 1, 'opened', '')",
                        i, day);
            }
            h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, failed_checks)"
                    + " VALUES (1000, 'web', 'open', ?, ?, 3)", now - 500 * DAY, now - 500 * DAY);
        });
        HistoryFolder folder = new HistoryFolder(store.jdbi(), Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofDays(2),
                Duration.ofDays(31), Duration.ofDays(365), BATCH);

        HistoryFolder.Run run = folder.runOnce();

        assertThat(run.hourlyDeleted()).isEqualTo(expired);
        assertThat(run.dailyDeleted()).isEqualTo(expired);
        assertThat(count("monitor_hourly")).isEqualTo(3);
        assertThat(count("monitor_daily")).isEqualTo(3);
        assertThat(count("monitor_notifications")).isEqualTo(3);
        assertThat(count("monitor_incidents")).as("3 recent resolved, 1 open").isEqualTo(4);
        assertThat(count("monitor_incident_events")).isEqualTo(3);
        int batches = (expired + BATCH - 1) / BATCH;
        for (String table : List.of("monitor_hourly", "monitor_daily", "monitor_notifications", "monitor_incidents",
                "monitor_incident_events")) {
            assertThat(statements.stream().filter(sql -> sql.startsWith("DELETE FROM " + table + " ")).count())
                    .as("DELETE statements on %s", table).isGreaterThanOrEqualTo(batches);
        }
    }

    /** Two days of hours waiting to be folded into days; hours themselves all folded. */
    private HistoryFolder backlogOfTwoDays() {
        long now = NOW.toEpochMilli();
        store.jdbi().useHandle(h -> {
            h.execute("INSERT INTO monitor_fold_progress (period, folded_until) VALUES ('hour', ?), ('day', ?)",
                    HistoryFolder.floorHour(now), HistoryFolder.floorDay(now) - 2 * DAY);
            for (int d = 1; d <= 2; d++) {
                h.execute("INSERT INTO monitor_hourly (monitor, period_start, checks, up, degraded, down, latency_sum, histogram)"
                        + " VALUES ('web', ?, 1, 1, 0, 0, 5, '')", HistoryFolder.floorDay(now) - d * DAY + 3_600_000L);
            }
        });
        return new HistoryFolder(store.jdbi(), Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofDays(2),
                Duration.ofDays(31), Duration.ofDays(365), BATCH);
    }

    private long dayBoundary() {
        return store.jdbi().withHandle(h -> HistoryFolder.foldedUntil(h, "day").orElseThrow());
    }

    @Test
    void aFoldIsWrittenOnlyUnderTheFenceAndOnlyForward() {
        HistoryFolder folder = backlogOfTwoDays();
        long before = dayBoundary();

        // the job's lease lost mid-run: the fold's own transaction refuses, nothing written
        folder.fence(h -> false);
        org.assertj.core.api.Assertions.assertThatThrownBy(folder::runOnce)
                .isInstanceOf(HistoryFolder.FoldSuperseded.class).hasMessageContaining("lease");
        assertThat(count("monitor_daily")).isZero();
        assertThat(dayBoundary()).isEqualTo(before);

        // another node moved the boundary past this day just before this fold's transaction: rolled back whole
        folder.fence(h -> {
            h.execute("UPDATE monitor_fold_progress SET folded_until = ? WHERE period = 'day'", before + 5 * DAY);
            return true;
        });
        org.assertj.core.api.Assertions.assertThatThrownBy(folder::runOnce)
                .isInstanceOf(HistoryFolder.FoldSuperseded.class).hasMessageContaining("folded elsewhere");
        assertThat(count("monitor_daily")).isZero();

        // holding the lease: both days folded, the boundary moved on by them
        folder.fence(h -> true);
        HistoryFolder.Run run = folder.runOnce();
        assertThat(run.daysFolded()).isEqualTo(2);
        assertThat(count("monitor_daily")).isEqualTo(2);
        assertThat(dayBoundary()).isEqualTo(before + 2 * DAY);
    }

    @Test
    void claimsOfLongResolvedIncidentsAndLeasesOfRemovedMonitorsArePruned() {
        long now = NOW.toEpochMilli();
        long old = now - 40 * DAY; // past the delivery log's 31 days, within the incidents' 365
        new io.switchboard.platform.cluster.ClusterTable(store.jdbi(), true).register("node-a", "inc-a", java.util.Map.of(), "test",
                null, Duration.ofSeconds(1), Duration.ofSeconds(3));
        store.jdbi().useHandle(h -> {
            h.execute("INSERT INTO monitor_fold_progress (period, folded_until) VALUES ('hour', ?), ('day', ?)",
                    HistoryFolder.floorHour(now), HistoryFolder.floorDay(now));
            h.execute("INSERT INTO monitor_monitors (name, type, definition, created_at, updated_at) VALUES ('web', 'tcp', '{}', 0, 0)");
            h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at, failed_checks)"
                    + " VALUES (1, 'web', 'resolved', ?, ?, ?, 3)", old, old, old);
            h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at, failed_checks)"
                    + " VALUES (2, 'web', 'resolved', ?, ?, ?, 3)", now - DAY, now - DAY, now - DAY);
            h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, failed_checks)"
                    + " VALUES (3, 'web', 'open', ?, ?, 3)", old, old);
            for (long id = 1; id <= 4; id++) { // 4: an incident already deleted
                h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, fence, claimed_at,"
                        + " sent_at, outcome) VALUES (?, 'hook', 'down', 0, 'node-a', 1, ?, ?, 'sent')", id, old, old);
            }
            // 5: its only DOWN failed on every try; nobody was told
            h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at, failed_checks)"
                    + " VALUES (5, 'web', 'resolved', ?, ?, ?, 3)", old, old, old);
            h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, fence, claimed_at,"
                    + " sent_at, outcome) VALUES (5, 'hook', 'down', 0, 'node-a', 1, ?, ?, 'failed')", old, old);
            for (long seq = 1; seq <= 3; seq++) {
                h.execute("INSERT INTO monitor_warning_claims (monitor, channel, seq, event, status, subject, text, node_id, fence,"
                        + " claimed_at, sent_at, outcome) VALUES ('web', 'hook', ?, ?, 'degraded', 's', 't', 'node-a', 1, ?, ?, 'sent')",
                        seq, seq % 2 == 1 ? "warning" : "warning_ended", old, old);
            }
            h.execute("INSERT INTO monitor_warning_claims (monitor, channel, seq, event, status, subject, text, node_id, fence,"
                    + " claimed_at) VALUES ('gone', 'hook', 1, 'warning', 'degraded', 's', 't', 'node-a', 1, ?)", now);
            h.execute("INSERT INTO platform_leases (name, holder, incarnation, fence, acquired_at) VALUES"
                    + " ('monitor:web', NULL, NULL, 4, 0), ('monitor:gone', NULL, NULL, 2, 0),"
                    + " ('monitor:gone-dead-holder', 'node-z', 'inc-z', 2, 0), ('monitor:gone-held', 'node-a', 'inc-a', 2, 0),"
                    + " ('monitor.job:history', NULL, NULL, 3, 0)");
        });
        HistoryFolder folder = new HistoryFolder(store.jdbi(), Clock.fixed(NOW, ZoneOffset.UTC), Duration.ofDays(2),
                Duration.ofDays(31), Duration.ofDays(365), BATCH);

        folder.runOnce();

        List<Long> claims = store.jdbi().withHandle(h -> h.createQuery("SELECT incident_id FROM monitor_notification_claims ORDER BY 1")
                .mapTo(Long.class).list());
        List<String> warnings = store.jdbi().withHandle(h -> h.createQuery("SELECT monitor || ':' || seq FROM monitor_warning_claims"
                + " ORDER BY 1").mapTo(String.class).list());
        List<String> leases = store.jdbi().withHandle(h -> h.createQuery("SELECT name FROM platform_leases ORDER BY name")
                .mapTo(String.class).list());
        assertThat(claims).as("claims of the recent and the open incident").containsExactly(2L, 3L);
        // the claims of 1 were written by an older node (no told_at): what they said is kept on the incident
        List<String> told = store.jdbi().withHandle(h -> h.createQuery("SELECT id || ':' || COALESCE(told_at, 'untold')"
                + " FROM monitor_incidents WHERE id IN (1, 5) ORDER BY id").mapTo(String.class).list());
        assertThat(told).containsExactly("1:" + old, "5:untold");
        assertThat(warnings).as("the latest warning claim says whether a warning stands").containsExactly("web:3");
        assertThat(leases).as("leases of existing monitors keep their fence; a live holder lets go first")
                .containsExactly("monitor.job:history", "monitor:gone-held", "monitor:web");
    }

    private long count(String table) {
        return store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM " + table).mapTo(Long.class).one());
    }
}
