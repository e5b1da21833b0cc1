package io.switchboard.monitor.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Upgrading a database at monitor V1 that holds several open incidents of one monitor: V2's
 * unique index (one open incident per monitor) must not make the migration fail; all but the
 * newest open incident are closed first.
 */
class MonitorMigrationTest {
    @TempDir
    Path dir;
    private PostgresTestDatabase postgres;
    private Store store;

    @AfterEach
    void close() throws Exception {
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    /**
     * Opens {@link #store} on a database whose monitor schema is at {@code version}, as a node of
     * that release left it (Flyway configured as Store.migrate configures it), for a test to fill
     * before it migrates to this build's version.
     */
    private void openAtVersion(String database, String version) throws Exception {
        StoreSettings settings;
        if (database.equals("sqlite")) {
            settings = new StoreSettings("jdbc:sqlite:" + dir.resolve("switchboard.db"), null, null);
        } else {
            postgres = PostgresTestDatabase.create();
            settings = postgres.settings();
        }
        Flyway.configure(Store.class.getClassLoader())
                .dataSource(settings.url(), settings.user(), settings.password())
                .locations("classpath:db/migration/monitor")
                .table("flyway_monitor_history")
                .baselineOnMigrate(true).baselineVersion("0")
                .target(version)
                .load().migrate();
        store = Store.open(settings);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void duplicateOpenIncidentsAreClosedBeforeTheOneOpenIndex(String database) throws Exception {
        // the schema as a node of the previous release left it: monitor at V1, as Store.migrate configures Flyway
        openAtVersion(database, "1");
        store.jdbi().useHandle(h -> {
            // monitor "web": three open incidents (two with the same opened_at), one resolved; "db": one open
            insert(h, 1, "web", "open", 1_000, null, 2);
            insert(h, 2, "web", "open", 5_000, null, 1);
            insert(h, 3, "web", "open", 5_000, null, 0);
            insert(h, 4, "web", "resolved", 500, 900L, 3);
            insert(h, 5, "db", "open", 2_000, null, 0);
            h.execute("INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail) VALUES (1, 1000, 1, 'opened', 'x')");
        });

        assertThat(store.migrate("monitor")).isEqualTo("10"); // V2 closes the duplicates; V3-V10 change no incident's state

        List<Map<String, Object>> rows = store.jdbi().withHandle(h -> h.createQuery(
                "SELECT id, status, resolved_at, event_seq FROM monitor_incidents ORDER BY id").mapToMap().list());
        assertThat(rows).extracting(r -> ((Number) r.get("id")).longValue(), r -> r.get("status"),
                        r -> r.get("resolved_at") == null ? null : ((Number) r.get("resolved_at")).longValue(),
                        r -> ((Number) r.get("event_seq")).intValue())
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(1L, "resolved", 5_000L, 3),
                        org.assertj.core.groups.Tuple.tuple(2L, "resolved", 5_000L, 2),
                        org.assertj.core.groups.Tuple.tuple(3L, "open", null, 0),
                        org.assertj.core.groups.Tuple.tuple(4L, "resolved", 900L, 3),
                        org.assertj.core.groups.Tuple.tuple(5L, "open", null, 0));
        List<Map<String, Object>> events = store.jdbi().withHandle(h -> h.createQuery(
                "SELECT incident_id, seq, kind, at FROM monitor_incident_events ORDER BY incident_id, seq").mapToMap().list());
        assertThat(events).extracting(e -> ((Number) e.get("incident_id")).longValue(), e -> ((Number) e.get("seq")).intValue(),
                        e -> e.get("kind"), e -> ((Number) e.get("at")).longValue())
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(1L, 1, "opened", 1_000L),
                        org.assertj.core.groups.Tuple.tuple(1L, 3, "closed", 5_000L),
                        org.assertj.core.groups.Tuple.tuple(2L, 2, "closed", 5_000L));

        // and the index now holds: a second open incident of "web" is refused by the store
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> store.jdbi().useHandle(h ->
                insert(h, 6, "web", "open", 9_000, null, 0))).isInstanceOf(Exception.class);
    }

    private static void insert(org.jdbi.v3.core.Handle h, long id, String monitor, String status, long openedAt,
                               Long resolvedAt, int eventSeq) {
        h.createUpdate("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at, failed_checks,"
                        + " event_seq) VALUES (:id, :m, :s, :o, :o, :r, 3, :seq)")
                .bind("id", id).bind("m", monitor).bind("s", status).bind("o", openedAt).bind("r", resolvedAt)
                .bind("seq", eventSeq).execute();
    }

    /**
     * Upgrading from V2, where a claim got sent_at only when its channel took the message: the
     * claims left unsent (a delivery that failed for good, a node that died) must not become
     * pending ones that the holder sends now, hours late. Only the DOWN of an incident still open
     * stays to be sent.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void claimsLeftUnsentBeforeV3AreEndedNotSentLate(String database) throws Exception {
        openAtVersion(database, "2");
        store.jdbi().useHandle(h -> {
            insert(h, 1, "web", "resolved", 1_000, 9_000L, 0); // its recovery failed on "hook", went out on "mail"
            insert(h, 2, "db", "open", 2_000, null, 0); // its DOWN failed; a reminder failed too
            insert(h, 3, "dns", "open", 3_000, null, 0); // its DOWN went out
            claim(h, 1, "hook", "down", 0, 1_000, 1_100L);
            claim(h, 1, "hook", "recovered", 0, 9_000, null);
            claim(h, 1, "mail", "recovered", 0, 9_000, 9_100L);
            claim(h, 2, "hook", "down", 0, 2_000, null);
            claim(h, 2, "hook", "reminder", 2_000, 5_000, null);
            claim(h, 3, "hook", "down", 0, 3_000, 3_100L);
            // told before claims were kept (or its claims pruned): only its mark says so
            insert(h, 4, "old", "resolved", 500, 800L, 0);
            h.execute("UPDATE monitor_incidents SET down_notified = 1 WHERE id = 4");
            // marked as well, but it had no channel: its timeline says so
            insert(h, 5, "quiet", "resolved", 600, 900L, 1);
            h.execute("UPDATE monitor_incidents SET down_notified = 1 WHERE id = 5");
            h.execute("INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail)"
                    + " VALUES (5, 600, 1, 'notified', 'nobody to tell: quiet has no notification channels')");
        });

        assertThat(store.migrate("monitor")).isEqualTo("10"); // V4 (claims sent again), V5 and V10 only add columns; V6 fills told_at, V9 paused_at
        // V6: when people were first told, from the claims that went out, else from the old mark
        List<String> told = store.jdbi().withHandle(h -> h.createQuery("SELECT id, told_at FROM monitor_incidents ORDER BY id")
                .map((rs, ctx) -> rs.getLong("id") + ":" + rs.getString("told_at")).list());
        assertThat(told).containsExactly("1:1100", "2:null", "3:3100", "4:500", "5:null");

        List<Map<String, Object>> rows = store.jdbi().withHandle(h -> h.createQuery(
                "SELECT incident_id, channel, event, sent_at, outcome, sending_at FROM monitor_notification_claims"
                        + " ORDER BY incident_id, channel, event").mapToMap().list());
        assertThat(rows).extracting(r -> ((Number) r.get("incident_id")).longValue(), r -> r.get("channel"), r -> r.get("event"),
                        r -> r.get("sent_at") == null ? null : ((Number) r.get("sent_at")).longValue(), r -> r.get("outcome"),
                        r -> r.get("sending_at"))
                .containsExactly(
                        org.assertj.core.groups.Tuple.tuple(1L, "hook", "down", 1_100L, "sent", null),
                        org.assertj.core.groups.Tuple.tuple(1L, "hook", "recovered", 9_000L, "failed", null),
                        org.assertj.core.groups.Tuple.tuple(1L, "mail", "recovered", 9_100L, "sent", null),
                        org.assertj.core.groups.Tuple.tuple(2L, "hook", "down", null, null, null),
                        org.assertj.core.groups.Tuple.tuple(2L, "hook", "reminder", 5_000L, "failed", null),
                        org.assertj.core.groups.Tuple.tuple(3L, "hook", "down", 3_100L, "sent", null));
        // what the holder's sweep would send now: only the open incident's DOWN
        assertThat(new io.switchboard.monitor.incident.IncidentStore(store.jdbi()).pending())
                .extracting(p -> p.key().incidentId(), p -> p.key().event())
                .containsExactly(org.assertj.core.groups.Tuple.tuple(2L, "down"));
    }

    /**
     * Upgrading from V6 with failing streaks in progress: V7 finds where each began in the stored
     * results (one failure in a row: the last failure itself), so the incident opened at the
     * threshold after the upgrade starts there; a monitor that passes has no streak.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void failingStreaksInProgressKeepTheirStartAcrossTheUpgrade(String database) throws Exception {
        openAtVersion(database, "6");
        store.jdbi().useHandle(h -> {
            // "web": up at 1000, down at 2000 and 3000; "db": down once at 5000, its results pruned; "ok": up
            result(h, "web", 500, "down", "old outage");
            result(h, "web", 1_000, "up", null);
            result(h, "web", 2_000, "down", "refused first");
            result(h, "web", 3_000, "down", "refused again");
            state(h, "web", "pending", 2, 3_000L, 1_000L, 3_000L, "refused again");
            state(h, "db", "pending", 1, 5_000L, 100L, 5_000L, "timed out");
            state(h, "ok", "up", 0, 1_000L, 1_000L, 500L, null);
        });

        assertThat(store.migrate("monitor")).isEqualTo("10");
        List<String> streaks = store.jdbi().withHandle(h -> h.createQuery(
                        "SELECT monitor, streak_started_at, streak_first_error FROM monitor_state ORDER BY monitor")
                .map((rs, ctx) -> rs.getString(1) + ":" + rs.getString(2) + ":" + rs.getString(3)).list());
        assertThat(streaks).containsExactly("db:5000:timed out", "ok:null:null", "web:2000:refused first");
        assertThat(new io.switchboard.monitor.history.ResultStore(store.jdbi(), java.time.Clock.systemUTC()).state("web"))
                .hasValueSatisfying(s -> assertThat(s.streakStartedAt()).isEqualTo(2_000L));
    }

    private static void result(org.jdbi.v3.core.Handle h, String monitor, long at, String status, String error) {
        h.createUpdate("INSERT INTO monitor_results (monitor, started_at, status, latency_ms, latency_bucket, lateness_ms, error)"
                        + " VALUES (:m, :t, :s, 3, 0, 0, :e)")
                .bind("m", monitor).bind("t", at).bind("s", status).bind("e", error).execute();
    }

    private static void state(org.jdbi.v3.core.Handle h, String monitor, String status, int failures, Long checkedAt,
                              Long successAt, Long failureAt, String error) {
        h.createUpdate("INSERT INTO monitor_state (monitor, status, consecutive_failures, consecutive_successes, last_check_at,"
                        + " last_success_at, last_failure_at, last_error) VALUES (:m, :st, :f, 0, :c, :s, :fa, :e)")
                .bind("m", monitor).bind("st", status).bind("f", failures).bind("c", checkedAt).bind("s", successAt)
                .bind("fa", failureAt).bind("e", error).execute();
    }

    private static void claim(org.jdbi.v3.core.Handle h, long incident, String channel, String event, long seq, long claimedAt,
                              Long sentAt) {
        h.createUpdate("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, fence, claimed_at,"
                        + " sent_at) VALUES (:id, :c, :e, :s, 'old-node', 1, :t, :sent)")
                .bind("id", incident).bind("c", channel).bind("e", event).bind("s", seq).bind("t", claimedAt).bind("sent", sentAt)
                .execute();
    }
}
