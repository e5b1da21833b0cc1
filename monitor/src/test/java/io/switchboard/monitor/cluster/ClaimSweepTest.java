package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.MonitorNode;
import io.switchboard.monitor.support.ScriptedCheck;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.testing.MutableClock;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The holder of a monitor deals with the claims its last holder left: it sends a recovery claimed
 * in the transaction that resolved the incident (the node died before announcing it), and sends
 * again, marked as a possible repeat and with the same message id, the messages the node was
 * sending when it died (the channel may or may not have taken them). Each goes out once more at
 * most, however many sweeps run.
 */
class ClaimSweepTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Map<String, String> ENV = Map.of("SWITCHBOARD_MONITOR_NOTIFY_BACKOFF", "100ms",
            "SWITCHBOARD_MONITOR_NOTIFY_ATTEMPTS", "3", "SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "2s");

    @TempDir
    Path dir;
    LoopbackHttp receiver;
    MonitorNode node;
    PostgresTestDatabase postgres;

    @AfterEach
    void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        if (receiver != null) {
            receiver.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private List<JsonNode> hooks(String event) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (LoopbackHttp.Received r : receiver.received("/hook")) {
            JsonNode body = JSON.readTree(r.body());
            if (body.path("event").asText().equals(event)) {
                out.add(body);
            }
        }
        return out;
    }

    private void api(String method, String path, String body) throws Exception {
        var response = node.api(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isLessThan(300);
    }

    private String outcome(Jdbi jdbi, String table, String where) {
        return jdbi.withHandle(h -> h.createQuery("SELECT outcome FROM " + table + " WHERE " + where).mapTo(String.class)
                .findOne().orElse(null));
    }

    private void awaitShopUp() {
        await().atMost(Duration.ofSeconds(20)).until(() -> JSON.readTree(node.api("GET", "/api/v1/monitors/shop", null).body())
                .path("state").path("status").asText().equals("up"));
    }

    /** A resolved incident of "shop" as a node that died left it. */
    private static void resolvedIncident(Handle h, long id, long startedAt, long openedAt, long resolvedAt) {
        h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, resolved_at, failed_checks,"
                + " first_error, last_error, down_notified) VALUES (?, 'shop', 'resolved', ?, ?, ?, 3, 'refused', 'refused', 1)",
                id, startedAt, openedAt, resolvedAt);
    }

    /** An open incident of "shop", DOWN already claimed, as the holder that died left it. */
    private static void openIncident(Handle h, long id, long startedAt, long openedAt) {
        h.execute("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, failed_checks, first_error,"
                + " last_error, down_notified) VALUES (?, 'shop', 'open', ?, ?, 3, 'refused', 'refused', 1)", id, startedAt, openedAt);
    }

    /** A node whose checks of "shop" fail, on a clock the test moves; the store's handle. */
    private Jdbi startNodeWithShopDown(MutableClock clock) throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "");
        ScriptedCheck check = new ScriptedCheck();
        check.fail("shop", "refused");
        startNode(clock, check, ENV, null);
        return node.node.store().jdbi();
    }

    /** The recovery claim of {@code incident} for "hook", made by the dead node "gone"; being sent since {@code sendingAt} unless null. */
    private static void recoveryClaimOfTheDead(Handle h, long incident, long claimedAt, Long sendingAt) {
        recoveryClaimOfTheDead(h, incident, "hook", claimedAt, sendingAt);
    }

    private static void recoveryClaimOfTheDead(Handle h, long incident, String channel, long claimedAt, Long sendingAt) {
        h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                + " claimed_at, sending_at) VALUES (?, ?, 'recovered', 0, 'gone', 'gone-1', 1, ?, ?)", incident, channel, claimedAt, sendingAt);
    }

    /** The DOWN claim of {@code incident} for {@code channel} that the dead node "gone" sent {@code sentAt}. */
    private static void downSentByTheDead(Handle h, long incident, String channel, long sentAt) {
        h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                + " claimed_at, sending_at, sent_at, outcome) VALUES (?, ?, 'down', 0, 'gone', 'gone-1', 1, ?, ?, ?, 'sent')",
                incident, channel, sentAt - 1_000, sentAt - 1_000, sentAt);
    }

    /** A warning claim of "shop" for "hook", made by the dead node "gone"; being sent since {@code sendingAt} unless null. */
    private static void warningClaimOfTheDead(Handle h, long claimedAt, Long sendingAt) {
        h.execute("INSERT INTO monitor_warning_claims (monitor, channel, seq, event, status, subject, text, node_id,"
                + " incarnation, fence, claimed_at, sending_at) VALUES ('shop', 'hook', 1, 'warning', 'degraded',"
                + " 'shop needs attention', 'the certificate expires in 10 days', 'gone', 'gone-1', 1, ?, ?)", claimedAt, sendingAt);
    }

    /** A node with only the monitor module, checks scripted by {@code check}, and the webhook channel "hook". */
    private void startNode(Clock clock, ScriptedCheck check, Map<String, String> env, StoreSettings store) throws Exception {
        node = new MonitorNode(dir, new Monitor(clock, new CheckRunner(clock).with(CheckType.TCP, check)), env, store);
        api("PUT", "/api/v1/notification-channels/hook", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/hook") + "\"}");
    }

    /** The monitor "shop" notifying "hook" ({@code more}: further JSON fields), held by this node. */
    private void putShop(String more) throws Exception {
        putShopNotifying("\"hook\"", more);
    }

    /** As {@link #putShop}, notifying {@code channels} (a JSON list's items). */
    private void putShopNotifying(String channels, String more) throws Exception {
        api("PUT", "/api/v1/monitors/shop", "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"interval\":\"1s\",\"channels\":["
                + channels + "]" + more + "}");
        await().atMost(Duration.ofSeconds(20)).until(() -> node.metric("switchboard_monitor_monitors_held") == 1.0);
    }

    /** A receiver whose "/hook" counts calls and answers only once {@code release} is counted down (or after 30 s). */
    private static LoopbackHttp hangingReceiver(CountDownLatch release, AtomicInteger calls) throws Exception {
        return new LoopbackHttp().on("/hook", exchange -> {
            calls.incrementAndGet();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            LoopbackHttp.respond(exchange, 200, "");
        });
    }

    /**
     * A recovery claimed for a channel that was told of the outage and was taken off the monitor
     * since: the sweep sends it (it used to cancel every claim of a channel the monitor no longer names).
     */
    @Test
    void aRecoveryLeftForAChannelTakenOffTheMonitorIsStillSent() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "").answer("/old", 200, "");
        ScriptedCheck check = new ScriptedCheck();
        startNode(Clock.systemUTC(), check, ENV, null);
        api("PUT", "/api/v1/notification-channels/old", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/old") + "\"}");
        putShop(""); // "shop" names only "hook" now
        awaitShopUp();
        Jdbi jdbi = node.node.store().jdbi();
        long now = System.currentTimeMillis();
        jdbi.useHandle(h -> {
            resolvedIncident(h, 903, now - 60_000, now - 50_000, now - 1_000);
            downSentByTheDead(h, 903, "old", now - 49_000);
            recoveryClaimOfTheDead(h, 903, "old", now - 1_000, null);
        });
        await().atMost(Duration.ofSeconds(20)).until(() -> "sent".equals(outcome(jdbi, "monitor_notification_claims",
                "incident_id = 903 AND event = 'recovered'")));
        assertThat(receiver.received("/old")).hasSize(1);
        assertThat(JSON.readTree(receiver.received("/old").get(0).body()).path("event").asText()).isEqualTo("monitor.recovered");
    }

    @Test
    void claimsANodeThatDiedNeverTookAreSentAndThoseItWasSendingAreSentAgainAsRepeats() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "");
        ScriptedCheck check = new ScriptedCheck();
        // the warning still stands when this node sends it (a start whose warning is over is cancelled)
        check.warn("shop", "the certificate expires in 10 days");
        startNode(Clock.systemUTC(), check, ENV, null);

        // what a node that held "shop" and died left: a resolved incident whose DOWN went out and whose
        // recovery was claimed with the resolve but never taken; an older incident whose recovery, and
        // a warning, it was sending when it died
        Jdbi jdbi = node.node.store().jdbi();
        long now = System.currentTimeMillis();
        jdbi.useHandle(h -> {
            resolvedIncident(h, 900, now - 60_000, now - 50_000, now - 1_000);
            downSentByTheDead(h, 900, "hook", now - 49_000);
            recoveryClaimOfTheDead(h, 900, now - 1_000, null);
            warningClaimOfTheDead(h, now, now);
            resolvedIncident(h, 899, now - 90_000, now - 80_000, now - 70_000);
            recoveryClaimOfTheDead(h, 899, now - 70_000, now - 70_000);
        });
        putShop("");

        await().atMost(Duration.ofSeconds(20)).until(() -> hooks("monitor.recovered").size() == 2 && hooks("monitor.warning").size() == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> "sent".equals(outcome(jdbi, "monitor_notification_claims",
                "incident_id = 900 AND event = 'recovered'")) && "sent".equals(outcome(jdbi, "monitor_warning_claims", "seq = 1"))
                && "sent".equals(outcome(jdbi, "monitor_notification_claims", "incident_id = 899")));
        Thread.sleep(3_000); // several sweeps
        Map<Long, JsonNode> recoveries = new java.util.HashMap<>();
        hooks("monitor.recovered").forEach(r -> recoveries.put(r.path("incident").path("id").asLong(), r));
        assertThat(recoveries).containsOnlyKeys(900L, 899L);
        JsonNode fresh = recoveries.get(900L);
        assertThat(fresh.has("repeat")).as("never taken before: not a repeat").isFalse();
        assertThat(fresh.path("text").asText()).startsWith("shop is UP again");
        JsonNode repeated = recoveries.get(899L);
        assertThat(repeated.path("repeat").asBoolean()).isTrue();
        assertThat(repeated.path("subject").asText()).startsWith("Sent again: shop is UP again");
        assertThat(repeated.path("text").asText()).startsWith("Sent again: the node that was sending this message stopped");
        JsonNode warning = hooks("monitor.warning").getFirst();
        assertThat(warning.path("repeat").asBoolean()).isTrue();
        assertThat(warning.path("text").asText()).contains("the certificate expires in 10 days");
        // every message has its own id, the same in the body and as a header (kept by receivers that drop copies)
        assertThat(receiver.received("/hook")).allSatisfy(r -> assertThat(r.header("Idempotency-Key"))
                .isEqualTo(JSON.readTree(r.body()).path("id").asText()));
        assertThat(java.util.stream.Stream.of(fresh, repeated, warning).map(n -> n.path("id").asText()).distinct())
                .hasSize(3).allSatisfy(id -> assertThat(id).isNotBlank());
        assertThat(repeated.path("id").asText()).as("kept with the claim for its next delivery").isEqualTo(jdbi.withHandle(h -> h
                .createQuery("SELECT message_id FROM monitor_notification_claims WHERE incident_id = 899").mapTo(String.class).one()));
        assertThat(hooks("monitor.down")).isEmpty();
        JsonNode timeline = JSON.readTree(node.api("GET", "/api/v1/incidents/899", null).body());
        assertThat(timeline.toString()).contains("notify_again").contains("node gone stopped while sending it")
                .contains("again, marked as a possible repeat");
    }

    /**
     * A claim queued on a channel's lane stays pending in the store until the lane takes it: while
     * the channel is slow, the sweep must not queue it again every second (another Pending per sweep
     * on the same lane, until the lane is full and real messages are refused).
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void claimsQueuedOnASlowChannelAreNotQueuedAgainBySweeps(String database) throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        receiver = hangingReceiver(release, calls);
        ScriptedCheck check = new ScriptedCheck();
        // the warning still stands when this node sends it (a start whose warning is over is cancelled)
        check.warn("shop", "the certificate expires in 10 days");
        Map<String, String> env = new java.util.HashMap<>(ENV);
        env.put("SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "30s");
        if (database.equals("postgresql")) {
            postgres = PostgresTestDatabase.create();
        }
        startNode(Clock.systemUTC(), check, env, postgres == null ? null : postgres.settings());
        try {
            Jdbi jdbi = node.node.store().jdbi();
            long now = System.currentTimeMillis();
            jdbi.useHandle(h -> {
                resolvedIncident(h, 900, now - 60_000, now - 50_000, now - 1_000);
                recoveryClaimOfTheDead(h, 900, now - 1_000, null);
                warningClaimOfTheDead(h, now, null);
            });
            putShop("");
            // the first message is being delivered (the channel hangs); the other one waits behind it, or
            // is in the batch being handled when the lane found both waiting at once
            await().atMost(Duration.ofSeconds(20)).until(() -> calls.get() == 1);
            // the warning is sent once the monitor's first result shows it still stands: queued by the next sweep
            await().atMost(Duration.ofSeconds(20)).until(() -> JSON.readTree(node.api("GET", "/api/v1/monitors/shop", null).body())
                    .path("state").path("status").asText().equals("degraded"));
            node.monitor.sweep();
            Thread.sleep(500);
            double waiting = node.metric("switchboard_monitor_notifications_waiting");
            assertThat(waiting).isBetween(0.0, 1.0);
            for (int i = 0; i < 5; i++) {
                node.monitor.sweep();
            }
            Thread.sleep(2_500); // and the periodic sweeps
            assertThat(node.metric("switchboard_monitor_notifications_waiting")).isEqualTo(waiting);
        } finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> hooks("monitor.recovered").size() == 1 && hooks("monitor.warning").size() == 1);
        Thread.sleep(2_000);
        assertThat(receiver.received("/hook")).hasSize(2);
        assertThat(node.metric("switchboard_monitor_notifications_waiting")).isEqualTo(0.0);
    }

    /**
     * A claim this live node took and could not end (the store failed at every attempt to write
     * the outcome) would read as "being sent" by it for as long as it lives, and be sent again by
     * the next holder after it stops, maybe days later. The sweep ends it, as unknown, unsent.
     */
    @Test
    void aClaimThisNodeLeftBeingSentIsEndedAsUnknownBySweep() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "");
        ScriptedCheck check = new ScriptedCheck();
        startNode(Clock.systemUTC(), check, ENV, null);
        putShop("");
        Jdbi jdbi = node.node.store().jdbi();
        Map<String, Object> me = jdbi.withHandle(h -> h.createQuery("SELECT node_id, incarnation FROM platform_cluster_nodes")
                .mapToMap().one());
        long now = System.currentTimeMillis();
        jdbi.useHandle(h -> {
            resolvedIncident(h, 901, now - 7_200_000, now - 7_100_000, now - 3_600_000);
            h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                    + " claimed_at, sending_at) VALUES (901, 'hook', 'recovered', 0, ?, ?, 1, ?, ?)", me.get("node_id"),
                    me.get("incarnation"), now - 3_600_000, now - 3_600_000);
        });
        node.monitor.sweep();
        await().atMost(Duration.ofSeconds(10)).until(() -> "unknown".equals(outcome(jdbi, "monitor_notification_claims",
                "incident_id = 901")));
        Thread.sleep(2_000);
        assertThat(hooks("monitor.recovered")).isEmpty();
    }

    /**
     * A node killed while sending a DOWN (before the call, or after the receiver took it: which is
     * not known): the new holder sends it again at once, marked as a possible repeat under the
     * same id, and says so on the timeline; the reminders then come after the reminder interval.
     */
    @Test
    void aDownADeadNodeWasSendingIsSentAgainAsARepeatAndItsRemindersCome() throws Exception {
        MutableClock clock = MutableClock.running();
        Jdbi jdbi = startNodeWithShopDown(clock);
        // what the dead holder left: the open incident and its DOWN claim, taken, never ended
        long now = System.currentTimeMillis();
        jdbi.useHandle(h -> {
            openIncident(h, 905, now - 20_000, now - 10_000);
            h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                    + " claimed_at, sending_at) VALUES (905, 'hook', 'down', 0, 'gone', 'gone-1', 1, ?, ?)", now - 10_000, now - 9_000);
        });
        putShop(",\"reminderEvery\":\"1m\"");
        await().atMost(Duration.ofSeconds(20)).until(() -> "sent".equals(outcome(jdbi, "monitor_notification_claims",
                "incident_id = 905 AND event = 'down'")));
        Thread.sleep(1_500); // a sweep or more after the claim was ended
        assertThat(hooks("monitor.down")).hasSize(1);
        JsonNode down = hooks("monitor.down").getFirst();
        assertThat(down.path("id").asText()).isNotBlank();
        assertThat(down.path("repeat").asBoolean()).isTrue();
        assertThat(hooks("monitor.reminder")).as("not before the interval").isEmpty();
        clock.advance(Duration.ofMinutes(2));
        await().atMost(Duration.ofSeconds(20)).until(() -> !hooks("monitor.reminder").isEmpty());
        assertThat(hooks("monitor.reminder").getFirst().has("repeat")).as("a new message").isFalse();
        assertThat(hooks("monitor.down")).hasSize(1);
        JsonNode incident = JSON.readTree(node.api("GET", "/api/v1/incidents/905", null).body());
        assertThat(incident.toString()).contains("notify_again").contains("node gone stopped while sending it");
        assertThat(incident.path("status").asText()).isEqualTo("open");
    }

    /**
     * A node died while sending an incident's DOWN to "hook", after "old" had it. The new holder
     * sends it again written anew, with the error of now; the incident keeps what the DOWN that
     * went out said (monitor_incidents.down_error), and the recovery's "What was wrong" repeats
     * that, what people read first, not the resend's words.
     */
    @Test
    void theWordsOfADownThatWentOutAreKeptWhenItIsSentAgain() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "").answer("/old", 200, "");
        ScriptedCheck check = new ScriptedCheck();
        check.fail("shop", "the server answered HTTP 503");
        startNode(Clock.systemUTC(), check, ENV, null);
        api("PUT", "/api/v1/notification-channels/old", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/old") + "\"}");
        Jdbi jdbi = node.node.store().jdbi();
        long now = System.currentTimeMillis();
        jdbi.useHandle(h -> {
            openIncident(h, 907, now - 20_000, now - 10_000);
            h.execute("UPDATE monitor_incidents SET report = 'shop is DOWN.', report_source = 'template', down_error = 'refused',"
                    + " last_error = 'the server answered HTTP 503' WHERE id = 907");
            downSentByTheDead(h, 907, "old", now - 9_000);
            h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                    + " claimed_at, sending_at) VALUES (907, 'hook', 'down', 0, 'gone', 'gone-1', 1, ?, ?)", now - 10_000, now - 9_000);
        });
        putShopNotifying("\"hook\",\"old\"", "");
        await().atMost(Duration.ofSeconds(20)).until(() -> "sent".equals(outcome(jdbi, "monitor_notification_claims",
                "incident_id = 907 AND event = 'down' AND channel = 'hook'")));
        assertThat(hooks("monitor.down")).singleElement().satisfies(down -> assertThat(down.path("text").asText())
                .contains("What is wrong: The server answered HTTP 503."));
        String kept = jdbi.withHandle(h -> h.createQuery("SELECT down_error FROM monitor_incidents WHERE id = 907")
                .mapTo(String.class).one());
        assertThat(kept).isEqualTo("refused");

        check.pass("shop");
        await().atMost(Duration.ofSeconds(20)).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText()).contains("What was wrong: Refused.\n");
    }

    /**
     * A node that stops while a channel call is under way (the channel hangs): the call is cut
     * short after the grace time, and the receiver may have the message, so the claim ends as
     * unknown. Given back as pending, the next holder would send the DOWN a second time.
     */
    @Test
    void aDownCutShortByAStopAfterTheCallIsEndedAsUnknownNotGivenBack() throws Exception {
        CountDownLatch hang = new CountDownLatch(1);
        AtomicInteger calls = new AtomicInteger();
        receiver = hangingReceiver(hang, calls);
        ScriptedCheck check = new ScriptedCheck();
        Map<String, String> env = new java.util.HashMap<>(ENV);
        env.put("SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "30s");
        postgres = PostgresTestDatabase.create();
        startNode(Clock.systemUTC(), check, env, postgres.settings());
        try {
            putShop("");
            check.fail("shop", "refused");
            await().atMost(Duration.ofSeconds(20)).until(() -> calls.get() == 1);
            node.close(); // the call is interrupted after the grace time
            node = null;
        } finally {
            hang.countDown();
        }
        Jdbi jdbi = Jdbi.create(postgres.settings().url(), postgres.settings().user(), "");
        List<String> downs = jdbi.withHandle(h -> h.createQuery("SELECT outcome || '/' || (sending_at IS NOT NULL)"
                + " FROM monitor_notification_claims WHERE event = 'down'").mapTo(String.class).list());
        assertThat(downs).containsExactly("unknown/true");
        assertThat(calls.get()).as("not called again on the way out").isEqualTo(1);
    }

    /**
     * The new holder took the incident over while the old holder's DOWN was still going out: the
     * old holder stored its outcome (and so when reminders are due) after the new one had read the
     * incident. The new holder reads it from the store, or it would never remind.
     */
    @Test
    void remindersAreTimedFromADownOutcomeStoredAfterTheTakeover() throws Exception {
        MutableClock clock = MutableClock.running();
        Jdbi jdbi = startNodeWithShopDown(clock);
        long now = System.currentTimeMillis();
        // the old holder's DOWN is being sent when the new holder reads the incident
        jdbi.useHandle(h -> {
            openIncident(h, 906, now - 20_000, now - 10_000);
            h.execute("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id, incarnation, fence,"
                    + " claimed_at, sending_at, sent_at, outcome) VALUES (906, 'hook', 'down', 0, 'gone', 'gone-1', 1, ?, ?, ?, 'sent')",
                    now - 10_000, now - 9_000, now - 8_000);
        });
        putShop(",\"reminderEvery\":\"1m\"");
        Thread.sleep(1_500); // adopted, and swept: nothing due, nothing stored yet
        // then the old holder's end of that delivery lands
        jdbi.useHandle(h -> h.execute("UPDATE monitor_incidents SET last_notified_at = ? WHERE id = 906", System.currentTimeMillis()));
        clock.advance(Duration.ofMinutes(2));
        await().atMost(Duration.ofSeconds(20)).until(() -> !hooks("monitor.reminder").isEmpty());
        assertThat(hooks("monitor.down")).isEmpty();
    }
}
