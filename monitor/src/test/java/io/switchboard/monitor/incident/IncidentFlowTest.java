package io.switchboard.monitor.incident;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.MonitorNode;
import io.switchboard.monitor.support.ScriptedCheck;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Incidents from open to resolved on a running node: thresholds, reports, notifications with
 * retries, maintenance windows, reminders, and a restart in the middle. Checks are scripted; the
 * webhook receiver is a real loopback HTTP server.
 */
class IncidentFlowTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration WAIT = Duration.ofSeconds(20);
    static final Map<String, String> ENV = Map.of("SWITCHBOARD_MONITOR_NOTIFY_BACKOFF", "100ms",
            "SWITCHBOARD_MONITOR_NOTIFY_ATTEMPTS", "3", "SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "2s");

    @TempDir
    Path dir;
    LoopbackHttp receiver;
    ScriptedCheck check;
    MutableClock clock;
    MonitorNode node;

    @BeforeEach
    void start() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "").answer("/broken", 500, "down for maintenance");
        check = new ScriptedCheck();
        clock = MutableClock.running();
        node = startNode();
        api("PUT", "/api/v1/notification-channels/hook", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/hook") + "\"}");
    }

    private MonitorNode startNode() {
        return new MonitorNode(dir, new Monitor(clock, new CheckRunner(clock).with(CheckType.TCP, check)
                .with(CheckType.HTTP, check).with(CheckType.TLS, check)), ENV);
    }

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
        receiver.close();
    }

    private JsonNode api(String method, String path, String body) throws Exception {
        var response = node.api(method, path, body);
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isLessThan(300);
        return response.body().isEmpty() ? null : JSON.readTree(response.body());
    }

    private void monitor(String name, String extra) throws Exception {
        // a JSON object names each field once: extra may set its own threshold
        api("PUT", "/api/v1/monitors/" + name, "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"interval\":\"1s\""
                + (extra.contains("\"failureThreshold\"") ? "" : ",\"failureThreshold\":2") + extra + "}");
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

    private List<String> kinds(long incident) throws Exception {
        List<String> kinds = new ArrayList<>();
        api("GET", "/api/v1/incidents/" + incident, null).path("timeline").forEach(e -> kinds.add(e.path("kind").asText()));
        return kinds;
    }

    private String status(String monitor) throws Exception {
        return api("GET", "/api/v1/monitors/" + monitor, null).path("state").path("status").asText();
    }

    @Test
    void downAfterTheThresholdThenRecoveredWithATimelineAndPlainWords() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer within 10 s",
                "nothing accepted the connection on 127.0.0.1 port 1 (connection refused: no service listens there)");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        JsonNode down = hooks("monitor.down").getFirst();
        assertThat(down.path("incident").path("failedChecks").asInt()).isEqualTo(2);
        assertThat(down.path("text").asText()).startsWith("shop is DOWN.\nWhat is wrong: Nothing accepted the connection")
                .contains("2 checks in a row failed").contains("What still works: The name resolved.").contains("Last success: ");
        assertThat(status("shop")).isEqualTo("down");
        JsonNode open = api("GET", "/api/v1/incidents?status=open", null).path("incidents");
        assertThat(open).hasSize(1);
        long id = open.get(0).path("id").asLong();
        assertThat(open.get(0).path("report").asText()).isEqualTo(down.path("text").asText());
        assertThat(api("GET", "/api/v1/monitors/shop", null).path("state").path("openIncident").asLong()).isEqualTo(id);

        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText()).startsWith("shop is UP again: the check passed in");
        // the receiver has the message before the node records the delivery: wait for the record
        await().atMost(WAIT).until(() -> kinds(id).lastIndexOf("notified") > kinds(id).indexOf("resolved"));
        JsonNode incident = api("GET", "/api/v1/incidents/" + id, null);
        assertThat(incident.path("status").asText()).isEqualTo("resolved");
        assertThat(incident.path("recoveryReport").asText()).contains("It was down for");
        assertThat(incident.path("reportSource").asText()).isEqualTo("template");
        assertThat(incident.path("recoveryReportSource").asText()).isEqualTo("template");
        assertThat(kinds(id)).containsSubsequence("first_failure", "opened", "report", "notified", "resolved", "notified");
        // the first failed check's error, not the one that crossed the threshold
        assertThat(incident.path("firstError").asText()).isEqualTo("no answer within 10 s");
        assertThat(incident.path("timeline").get(0).path("detail").asText()).isEqualTo("first failed check: no answer within 10 s");
        assertThat(incident.path("lastError").asText()).startsWith("nothing accepted the connection");
        assertThat(incident.path("notifications")).extracting(n -> n.path("outcome").asText()).containsOnly("sent");
        await().atMost(WAIT).until(() -> node.metric(
                "switchboard_monitor_notifications_sent_total{channel=\"hook\",type=\"webhook\"}") == 2.0);
        assertThat(node.metric("switchboard_monitor_up{monitor=\"shop\",type=\"tcp\"}")).isEqualTo(1.0);
        assertThat(node.metric("switchboard_monitor_checks_failed_total{type=\"tcp\"}")).isGreaterThanOrEqualTo(2.0);
    }

    /**
     * A monitor paused while down: its incident stays open, and its timeline says when checks were
     * paused and when they resumed; the recovery counts the paused time in "down for" and says how
     * much of it was paused (it read as two hours of outage nobody checked).
     */
    @Test
    void aPauseDuringAnIncidentIsOnItsTimelineAndInTheRecovery() throws Exception {
        pausedForTwoHoursWhileDown(false);
    }

    /** As above, with a restart while paused: the pause is on the timeline, where the recovery reads it. */
    @Test
    void aPauseDuringAnIncidentOutlivesARestart() throws Exception {
        pausedForTwoHoursWhileDown(true);
    }

    /**
     * Paused by the CLI while the only node is stopped: the pause is on the incident's timeline all
     * the same (written with the flag), "resumed" is stamped when it is resumed, not when a check
     * next runs, and the recovery counts the two hours paused and not the hour checked after.
     */
    @Test
    void aPauseMadeWhileNoNodeRunsIsOnTheTimelineAndCounted() throws Exception {
        monitor("shop", ",\"failureThreshold\":1,\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        node.close();
        node = null;
        Instant pausedAt;
        try (Store store = Store.open(StoreSettings.sqliteIn(dir))) {
            pausedAt = clock.instant();
            new MonitorCatalog(store.jdbi(), clock).setPaused("shop", true);
        }
        clock.advance(Duration.ofHours(2));
        node = startNode();
        Instant resumedAt = clock.instant();
        api("POST", "/api/v1/monitors/shop/resume", null);
        JsonNode timeline = api("GET", "/api/v1/incidents/" + id, null).path("timeline");
        assertThat(kinds(id)).containsSubsequence("opened", "paused", "resumed");
        for (JsonNode e : timeline) {
            Instant at = Instant.parse(e.path("at").asText());
            if (e.path("kind").asText().equals("paused")) {
                assertThat(at).isBetween(pausedAt, pausedAt.plusSeconds(5));
            } else if (e.path("kind").asText().equals("resumed")) {
                assertThat(at).isBetween(resumedAt, resumedAt.plusSeconds(5));
                assertThat(e.path("detail").asText()).isEqualTo("checks resumed after a pause of 2 h");
            }
        }
        // checked, still down, for an hour after the resume: that hour is outage, not pause
        clock.advance(Duration.ofHours(1));
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("subject").asText())
                .isEqualTo("shop is UP again after 3 h (paused, not checked, for 2 h of it)");
    }

    private void pausedForTwoHoursWhileDown(boolean restartWhilePaused) throws Exception {
        monitor("shop", ",\"failureThreshold\":1,\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        api("POST", "/api/v1/monitors/shop/pause", null);
        await().atMost(WAIT).until(() -> kinds(id).contains("paused"));
        if (restartWhilePaused) {
            node.close();
            node = startNode();
        }
        clock.advance(Duration.ofHours(2));
        check.pass("shop");
        api("POST", "/api/v1/monitors/shop/resume", null);
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        JsonNode recovered = hooks("monitor.recovered").getFirst();
        assertThat(recovered.path("subject").asText()).isEqualTo("shop is UP again after 2 h (paused, not checked, for 2 h of it)");
        assertThat(recovered.path("text").asText()).contains("It was down for 2 h (paused, not checked, for 2 h of it), from ");
        assertThat(kinds(id)).containsSubsequence("opened", "paused", "resumed", "resolved");
        JsonNode timeline = api("GET", "/api/v1/incidents/" + id, null).path("timeline");
        assertThat(timeline).anySatisfy(e -> assertThat(e.path("detail").asText()).isEqualTo("checks resumed after a pause of 2 h"));
    }

    @Test
    void aPausedMonitorHasNoGaugesUntilItIsResumed() throws Exception {
        monitor("shop", "");
        String up = "switchboard_monitor_up{monitor=\"shop\",type=\"tcp\"}";
        await().atMost(WAIT).until(() -> node.metric(up) == 1.0);
        api("POST", "/api/v1/monitors/shop/pause", null);
        // a paused monitor is not checked: its last result would read as a live "up" to an alert
        await().during(Duration.ofSeconds(2)).atMost(WAIT).until(() -> Double.isNaN(node.metric(up))
                && Double.isNaN(node.metric("switchboard_monitor_latency_seconds{monitor=\"shop\",type=\"tcp\"}")));
        api("POST", "/api/v1/monitors/shop/resume", null);
        await().atMost(WAIT).until(() -> node.metric(up) == 1.0);
    }

    @Test
    void aFailingChannelIsRetriedAndRecordedWithoutHoldingUpTheOthersOrTheChecks() throws Exception {
        api("PUT", "/api/v1/notification-channels/broken", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/broken") + "\"}");
        monitor("shop", ",\"channels\":[\"broken\",\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        // the channel's counters exist at 0 before anything failed, so an alert's rate() sees the first failure
        assertThat(node.metric("switchboard_monitor_notifications_failed_total{channel=\"broken\",type=\"webhook\"}")).isZero();
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?incident=" + id + "&channel=broken", null)
                .path("notifications").size() == 3);
        JsonNode attempts = api("GET", "/api/v1/notifications?incident=" + id + "&channel=broken", null).path("notifications");
        assertThat(attempts).extracting(a -> a.path("outcome").asText()).containsOnly("failed");
        assertThat(attempts).extracting(a -> a.path("attempt").asInt()).containsExactly(3, 2, 1);
        assertThat(attempts.get(0).path("error").asText()).endsWith("answered HTTP 500")
                .doesNotContain("/broken"); // a webhook URL's path may be its credential: only its masked form is shown
        assertThat(receiver.received("/broken")).hasSize(3);
        List<String> brokenIds = receiver.received("/broken").stream().map(r -> r.header("Idempotency-Key")).distinct().toList();
        assertThat(brokenIds).as("the retries of one message keep its id").hasSize(1);
        assertThat(brokenIds.getFirst()).as("each channel's message has an id of its own: a receiver behind both that"
                + " drops ids it has seen must get both").isNotEqualTo(hooks("monitor.down").getFirst().path("id").asText());
        await().atMost(WAIT).until(() -> node.metric(
                "switchboard_monitor_notifications_failed_total{channel=\"broken\",type=\"webhook\"}") == 1.0);
        int runs = check.runs("shop");
        await().atMost(WAIT).until(() -> check.runs("shop") >= runs + 2);
        JsonNode timeline = api("GET", "/api/v1/incidents/" + id, null).path("timeline");
        assertThat(timeline).anySatisfy(e -> assertThat(e.path("detail").asText())
                .isEqualTo("down message could not be sent to broken (webhook) after 3 attempts: the webhook "
                        + receiver.url("/***") + " answered HTTP 500"));
    }

    /**
     * A recovery goes to the channels that were told of the outage: not to one whose DOWN failed on
     * every attempt, and still to one taken off the monitor while it was down; not to one added since.
     */
    @Test
    void theRecoveryGoesToThoseToldOfTheOutageWhateverTheMonitorsChannelsAreNow() throws Exception {
        receiver.answer("/other", 200, "");
        api("PUT", "/api/v1/notification-channels/broken", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/broken") + "\"}");
        api("PUT", "/api/v1/notification-channels/other", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/other") + "\"}");
        monitor("shop", ",\"channels\":[\"hook\",\"broken\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1 && receiver.received("/broken").size() == 3);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> kinds(id).contains("notify_failed"));

        monitor("shop", ",\"channels\":[\"other\"]"); // edited while down
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        Thread.sleep(1000); // room for messages that must not come
        assertThat(receiver.received("/broken")).as("its DOWN never got through").hasSize(3);
        assertThat(receiver.received("/other")).as("it never heard of the outage").isEmpty();
    }

    /** "What still works" names the other checks of the host that pass, not those that fail too. */
    @Test
    void whatStillWorksNamesOnlyTheOtherChecksOfTheHostThatPass() throws Exception {
        monitor("cache", "");
        monitor("db", "");
        monitor("shop", ",\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("cache").equals("up") && status("db").equals("up") && status("shop").equals("up"));
        check.fail("db", "no answer");
        await().atMost(WAIT).until(() -> status("db").equals("down"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        String report = hooks("monitor.down").getFirst().path("text").asText();
        assertThat(report).contains("What still works:").contains("the tcp check cache of the same host is up")
                .doesNotContain("check db");
    }

    @Test
    void aMaintenanceWindowHoldsTheMessageUntilItEnds() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        api("PUT", "/api/v1/maintenance-windows/upgrade", "{\"start\":\"" + Instant.now().minusSeconds(60)
                + "\",\"duration\":\"1h\",\"monitors\":[\"shop\"]}");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open", null).path("incidents").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?incident=" + id, null).path("notifications").size() == 1);
        assertThat(api("GET", "/api/v1/notifications?incident=" + id, null).path("notifications").get(0).path("outcome").asText())
                .isEqualTo("suppressed");
        assertThat(hooks("monitor.down")).isEmpty();
        assertThat(api("GET", "/api/v1/incidents/" + id, null).path("notified").asBoolean()).as("held back: nobody told yet").isFalse();
        assertThat(api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("notified").asBoolean()).isFalse();

        node.api("DELETE", "/api/v1/maintenance-windows/upgrade", null);
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        // the receiver has the message before the node records the delivery
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents/" + id, null).path("notified").asBoolean());
        assertThat(api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("notified").asBoolean()).isTrue();
        assertThat(api("GET", "/api/v1/incidents/" + id, null).path("timeline"))
                .anySatisfy(e -> assertThat(e.path("kind").asText()).isEqualTo("suppressed"));
    }

    @Test
    void anIncidentWithNoChannelToldNobody() throws Exception {
        monitor("quiet", "");
        await().atMost(WAIT).until(() -> status("quiet").equals("up"));
        check.fail("quiet", "no answer");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open&monitor=quiet", null).path("incidents").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open&monitor=quiet", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> kinds(id).contains("notified")); // "nobody to tell"
        assertThat(api("GET", "/api/v1/incidents/" + id, null).path("notified").asBoolean()).as("no channel: nobody told").isFalse();
    }

    @Test
    void remindersWhileDownAtTheConfiguredInterval() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"],\"reminderEvery\":\"10m\"");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        clock.advance(Duration.ofMinutes(5));
        node.monitor.sweep();
        // the sweep decides and records a reminder before it is sent: none is due yet
        assertThat(kinds(id)).doesNotContain("reminder");
        clock.advance(Duration.ofMinutes(6));
        await().atMost(WAIT).until(() -> hooks("monitor.reminder").size() == 1);
        assertThat(hooks("monitor.reminder").getFirst().path("subject").asText()).startsWith("shop is still DOWN (");
        assertThat(kinds(id)).containsOnlyOnce("reminder");
        assertThat(api("GET", "/api/v1/incidents/" + id, null).path("timeline")).anySatisfy(e -> {
            assertThat(e.path("kind").asText()).isEqualTo("reminder");
            assertThat(e.path("detail").asText()).startsWith("still down after 11 min");
        });
    }

    @Test
    void aDownThatFailedOnEveryChannelIsRetriedByTheReminders() throws Exception {
        api("PUT", "/api/v1/notification-channels/broken", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/broken") + "\"}");
        monitor("shop", ",\"channels\":[\"broken\"],\"reminderEvery\":\"10m\"");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open", null).path("incidents").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> kinds(id).contains("notify_failed"));
        assertThat(receiver.received("/broken")).hasSize(3); // the DOWN, tried 3 times
        // stored too, so a node that takes the monitor over reminds at the same time
        await().atMost(WAIT).until(() -> node.node.store().jdbi().withHandle(h -> h.createQuery(
                "SELECT last_notified_at FROM monitor_incidents WHERE id = :id").bind("id", id).mapTo(Long.class).findOne())
                .isPresent());
        clock.advance(Duration.ofMinutes(11));
        await().atMost(WAIT).until(() -> receiver.received("/broken").stream()
                .anyMatch(r -> r.body().contains("\"monitor.reminder\"")));
        assertThat(kinds(id)).containsOnlyOnce("reminder");
    }

    @Test
    void recoveryNeedsTheRecoveryThreshold() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"],\"recoveryThreshold\":5");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        check.pass("shop");
        int runs = check.runs("shop");
        await().atMost(WAIT).until(() -> check.runs("shop") >= runs + 2);
        assertThat(hooks("monitor.recovered")).isEmpty();
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(api("GET", "/api/v1/incidents", null).path("incidents").get(0).path("status").asText()).isEqualTo("resolved");
    }

    /**
     * A DOWN the channel refused (HTTP 503) until the node was stopped gracefully, between two
     * attempts: the channel certainly does not have it, so the restarted node sends it, once.
     * (It used to end as "whether it arrived is not known; not sent again": never sent.)
     */
    @Test
    void aDownRefusedUntilAGracefulStopIsSentOnceAfterTheRestart() throws Exception {
        node.close();
        Map<String, String> slowRetries = new java.util.HashMap<>(ENV);
        // the stop comes while waiting to try again, longer than the stop waits for deliveries: it interrupts the wait
        slowRetries.put("SWITCHBOARD_MONITOR_NOTIFY_BACKOFF", "30s");
        node = new MonitorNode(dir, new Monitor(clock, new CheckRunner(clock).with(CheckType.TCP, check)), slowRetries);
        receiver.answer("/flaky", 503, "busy");
        api("PUT", "/api/v1/notification-channels/flaky", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/flaky") + "\"}");
        monitor("shop", ",\"channels\":[\"flaky\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> receiver.received("/flaky").size() == 1);
        node.close();

        receiver.answer("/flaky", 200, "");
        node = startNode();
        await().atMost(WAIT).until(() -> receiver.received("/flaky").size() == 2);
        JsonNode down = JSON.readTree(receiver.received("/flaky").get(1).body());
        assertThat(down.path("event").asText()).isEqualTo("monitor.down");
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> kinds(id).contains("notified"));
        assertThat(kinds(id)).doesNotContain("notify_unknown", "notify_failed");
        Thread.sleep(1500); // room for a second copy that must not come
        assertThat(receiver.received("/flaky")).hasSize(2);
    }

    @Test
    void anOpenIncidentSurvivesARestartAndIsResolvedAfter() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        node.close();
        node = startNode();
        assertThat(status("shop")).isEqualTo("down");
        assertThat(api("GET", "/api/v1/incidents?status=open", null).path("incidents")).hasSize(1);
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.down")).hasSize(1);
        assertThat(api("GET", "/api/v1/incidents?status=open", null).path("incidents")).isEmpty();
    }

    /**
     * A restart between the first failure and the threshold: the incident still starts at the
     * streak's first failure, with its error (it used to start at the first failure after the
     * restart: "Since: just now").
     */
    @Test
    void anIncidentStartsAtTheStreaksFirstFailureAcrossARestart() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"],\"failureThreshold\":3");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "refused before the restart", "refused after the restart");
        await().atMost(WAIT).until(() -> status("shop").equals("pending"));
        node.close();
        node = null;
        Thread.sleep(1500); // the failures after the restart are seconds later
        node = startNode();
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        String firstFailure = null;
        for (JsonNode r : api("GET", "/api/v1/monitors/shop/results?limit=100", null).path("results")) {
            if (r.path("status").asText().equals("down")) {
                firstFailure = r.path("startedAt").asText(); // newest first: the last one seen is the oldest
            }
        }
        JsonNode incident = api("GET", "/api/v1/incidents?monitor=shop", null).path("incidents").get(0);
        assertThat(incident.path("startedAt").asText()).isEqualTo(firstFailure);
        assertThat(incident.path("firstError").asText()).isEqualTo("refused before the restart");
        assertThat(api("GET", "/api/v1/incidents/" + incident.path("id").asLong(), null).path("timeline").get(0)
                .path("detail").asText()).isEqualTo("first failed check: refused before the restart");
    }

    /** The recovery says why the monitor went down, not only the blip just before it passed (it said only the blip). */
    @Test
    void theRecoverySaysWhyItWentDownAndTheLastFailureToo() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "the certificate expires in 2 days", "the certificate expires in 2 days",
                "nothing accepted the connection");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        int runs = check.runs("shop");
        await().atMost(WAIT).until(() -> check.runs("shop") >= runs + 2);
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText())
                .contains("What was wrong: The certificate expires in 2 days.\nThe last failed check: Nothing accepted the connection.");
    }

    /**
     * The recovery's "What was wrong" is what the DOWN said: the error of the check that crossed the
     * threshold, not the streak's first (it said the first, which nobody had been told).
     */
    @Test
    void theRecoveryRepeatsWhatTheDownSaidWasWrong() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"],\"failureThreshold\":3");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer within 10 s", "the server answered HTTP 503", "the server answered HTTP 503");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        assertThat(hooks("monitor.down").getFirst().path("text").asText())
                .contains("What is wrong: The server answered HTTP 503.");
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText())
                .contains("What was wrong: The server answered HTTP 503.\n")
                .doesNotContain("No answer within 10 s").doesNotContain("The last failed check");
        JsonNode incident = api("GET", "/api/v1/incidents?monitor=shop", null).path("incidents").get(0);
        assertThat(incident.path("firstError").asText()).isEqualTo("no answer within 10 s");
    }

    /**
     * A DOWN held back by a window goes out after it written anew, saying the error of then: the
     * recovery repeats that one, what people read, not the one the incident opened with.
     */
    @Test
    void theRecoveryRepeatsWhatAHeldBackDownSaidWhenItWentOut() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        api("PUT", "/api/v1/maintenance-windows/upgrade", "{\"start\":\"" + Instant.now().minusSeconds(60)
                + "\",\"duration\":\"1h\",\"monitors\":[\"shop\"]}");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer within 10 s");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open", null).path("incidents").size() == 1);
        check.fail("shop", "the server answered HTTP 503");
        int runs = check.runs("shop");
        await().atMost(WAIT).until(() -> check.runs("shop") >= runs + 2);
        node.api("DELETE", "/api/v1/maintenance-windows/upgrade", null);
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        assertThat(hooks("monitor.down").getFirst().path("text").asText()).contains("What is wrong: The server answered HTTP 503.");
        check.pass("shop");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText())
                .contains("What was wrong: The server answered HTTP 503.\n").doesNotContain("No answer within 10 s");
    }

    @Test
    void aCertificateWarningIsToldOnceAndItsEndOnce() throws Exception {
        api("PUT", "/api/v1/monitors/cert", "{\"type\":\"tls\",\"target\":\"127.0.0.1:443\",\"interval\":\"1s\","
                + "\"channels\":[\"hook\"]}");
        await().atMost(WAIT).until(() -> status("cert").equals("up"));
        check.warn("cert", "the certificate expires in 10 days (on 2030-01-01T00:00:00Z); renew it before 3 days are left");
        await().atMost(WAIT).until(() -> hooks("monitor.warning").size() == 1);
        JsonNode warning = hooks("monitor.warning").getFirst();
        assertThat(warning.path("subject").asText()).startsWith("cert needs attention: the certificate expires in 10 days");
        assertThat(warning.path("text").asText()).contains("What needs attention: The certificate expires in 10 days");
        assertThat(warning.has("incident")).isFalse();
        int runs = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= runs + 3);
        assertThat(hooks("monitor.warning")).hasSize(1);
        assertThat(status("cert")).isEqualTo("degraded");
        assertThat(api("GET", "/api/v1/incidents", null).path("incidents")).isEmpty();
        // an alert sees both: the check passes, degraded, and how long the certificate has left
        assertThat(node.metric("switchboard_monitor_up{monitor=\"cert\",type=\"tls\"}")).isEqualTo(1.0);
        assertThat(node.metric("switchboard_monitor_degraded{monitor=\"cert\",type=\"tls\"}")).isEqualTo(1.0);
        assertThat(node.metric("switchboard_monitor_certificate_expiry_seconds{monitor=\"cert\",type=\"tls\"}"))
                .isCloseTo(Duration.between(Instant.now(), Instant.parse("2030-01-01T00:00:00Z")).toSeconds(),
                        org.assertj.core.data.Offset.offset(60.0));

        check.pass("cert");
        await().atMost(WAIT).until(() -> hooks("monitor.warning_ended").size() == 1);
        assertThat(hooks("monitor.warning_ended").getFirst().path("text").asText())
                .contains("The warning was: The certificate expires in 10 days");
        int later = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= later + 2);
        assertThat(hooks("monitor.warning")).hasSize(1);
        assertThat(hooks("monitor.warning_ended")).hasSize(1);
    }

    /**
     * A tls monitor "cert" ({@code settings} added to its definition) that passes, a maintenance
     * window "certwin" over it from now on for an hour, and then a certificate warning.
     */
    private void certificateWarningInsideAWindow(String settings) throws Exception {
        api("PUT", "/api/v1/monitors/cert", "{\"type\":\"tls\",\"target\":\"127.0.0.1:443\",\"interval\":\"1s\","
                + settings + "\"channels\":[\"hook\"]}");
        await().atMost(WAIT).until(() -> status("cert").equals("up"));
        api("PUT", "/api/v1/maintenance-windows/certwin", "{\"start\":\"" + Instant.now().minusSeconds(60)
                + "\",\"duration\":\"1h\",\"monitors\":[\"cert\"]}");
        check.warn("cert", "the certificate expires in 5 days (on 2030-01-01T00:00:00Z); renew it before 7 days are left");
    }

    /**
     * A warning that starts inside a maintenance window is held back, as a DOWN is, and sent when
     * the window is over if it still stands, also after a restart meanwhile (it used to be
     * recorded as suppressed and never told).
     */
    @Test
    void aWarningHeldBackByAWindowIsToldWhenTheWindowEnds() throws Exception {
        certificateWarningInsideAWindow("");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?monitor=cert", null).path("notifications").size() == 1);
        assertThat(api("GET", "/api/v1/notifications?monitor=cert", null).path("notifications").get(0).path("outcome").asText())
                .isEqualTo("suppressed");
        node.close();
        node = startNode();
        int runs = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= runs + 2);
        assertThat(hooks("monitor.warning")).as("held back while the window lasts").isEmpty();

        node.api("DELETE", "/api/v1/maintenance-windows/certwin", null);
        await().atMost(WAIT).until(() -> hooks("monitor.warning").size() == 1);
        assertThat(hooks("monitor.warning").getFirst().path("subject").asText()).startsWith("cert needs attention");
        // written when the window held it back: it says when that was
        assertThat(hooks("monitor.warning").getFirst().path("text").asText()).containsPattern("\nAs of \\d{4}-\\d{2}-\\d{2} ");
        int later = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= later + 2);
        assertThat(hooks("monitor.warning")).hasSize(1);
        assertThat(hooks("monitor.warning_ended")).isEmpty();
    }

    /**
     * A warning held back by a window whose monitor goes DOWN before the window ends: once the
     * window is over the DOWN goes out and the warning does not (it went out too, with the text
     * written while the certificate was the only worry).
     */
    @Test
    void aWarningHeldBackIsNotSentWhenTheMonitorWentDownMeanwhile() throws Exception {
        certificateWarningInsideAWindow("\"failureThreshold\":2,");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?monitor=cert", null).path("notifications").size() == 1);
        check.fail("cert", "the certificate expired");
        await().atMost(WAIT).until(() -> status("cert").equals("down"));
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open", null).path("incidents").size() == 1);

        node.api("DELETE", "/api/v1/maintenance-windows/certwin", null);
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        int runs = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= runs + 3);
        assertThat(hooks("monitor.warning")).isEmpty();
        assertThat(hooks("monitor.down")).hasSize(1);
    }

    /**
     * A start a node died while sending (made pending again, as IncidentStore.resendOrphaned leaves
     * it) held back by a window, whose monitor goes DOWN before the window ends: the start is not
     * sent, and ends as unknown, not cancelled, as the channel may have it; so the warning's end is
     * still told when it comes (a cancelled start is one nobody was told of, and gets no end).
     */
    @Test
    void aHeldBackWarningANodeDiedSendingEndsAsUnknownAndItsEndIsStillTold() throws Exception {
        certificateWarningInsideAWindow("\"failureThreshold\":2,");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?monitor=cert", null).path("notifications").size() == 1);
        var jdbi = node.node.store().jdbi();
        jdbi.useHandle(h -> h.execute("UPDATE monitor_warning_claims SET repeats = 1 WHERE monitor = 'cert' AND event = 'warning'"));
        check.fail("cert", "the certificate expired");
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/incidents?status=open", null).path("incidents").size() == 1);

        node.api("DELETE", "/api/v1/maintenance-windows/certwin", null);
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        java.util.concurrent.Callable<String> startOutcome = () -> jdbi.withHandle(h -> h.createQuery("SELECT outcome"
                + " FROM monitor_warning_claims WHERE monitor = 'cert' AND event = 'warning'").mapTo(String.class).one());
        await().atMost(WAIT).until(() -> startOutcome.call() != null);
        assertThat(startOutcome.call()).isEqualTo("unknown");
        assertThat(hooks("monitor.warning")).as("not sent: the monitor is down").isEmpty();

        // it recovers still warning (the recovery says so), then the warning ends
        check.warn("cert", "the certificate expires in 5 days (on 2030-01-01T00:00:00Z); renew it before 7 days are left");
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        check.pass("cert");
        await().atMost(WAIT).until(() -> hooks("monitor.warning_ended").size() == 1);
        assertThat(hooks("monitor.warning")).isEmpty();
    }

    /** A warning that starts and ends inside a window is never told, neither its start nor its end. */
    @Test
    void aWarningOverBeforeItsWindowEndsIsNeverTold() throws Exception {
        certificateWarningInsideAWindow("");
        await().atMost(WAIT).until(() -> status("cert").equals("degraded"));
        check.pass("cert");
        await().atMost(WAIT).until(() -> status("cert").equals("up"));
        node.api("DELETE", "/api/v1/maintenance-windows/certwin", null);
        int runs = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= runs + 3);
        assertThat(hooks("monitor.warning")).isEmpty();
        assertThat(hooks("monitor.warning_ended")).isEmpty();

        // the next warning, after the window, is told as usual
        check.warn("cert", "the certificate expires in 4 days (on 2030-01-01T00:00:00Z); renew it before 7 days are left");
        await().atMost(WAIT).until(() -> hooks("monitor.warning").size() == 1);
    }

    /**
     * A warning held back by a window whose monitor fails a check below the threshold as the
     * window ends (services restart in windows): the start waits for the next results instead of
     * being cancelled, and goes out once the monitor warns again; it used to be lost for good.
     */
    @Test
    void aWarningHeldBackOutlivesAFailureBelowTheThresholdAsTheWindowEnds() throws Exception {
        certificateWarningInsideAWindow("\"failureThreshold\":20,");
        await().atMost(WAIT).until(() -> status("cert").equals("degraded"));
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?monitor=cert", null).path("notifications").size() == 1);
        check.fail("cert", "the connection was reset");
        await().atMost(WAIT).until(() -> status("cert").equals("pending"));
        node.api("DELETE", "/api/v1/maintenance-windows/certwin", null);
        node.monitor.sweep();
        int runs = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= runs + 2);
        node.monitor.sweep();
        assertThat(hooks("monitor.warning")).as("not while it fails").isEmpty();

        check.warn("cert", "the certificate expires in 5 days (on 2030-01-01T00:00:00Z); renew it before 7 days are left");
        await().atMost(WAIT).until(() -> hooks("monitor.warning").size() == 1);
        int later = check.runs("cert");
        await().atMost(WAIT).until(() -> check.runs("cert") >= later + 2);
        assertThat(hooks("monitor.warning")).hasSize(1);
    }

    @Test
    void aPasswordInTheTargetIsNeverSent() throws Exception {
        api("PUT", "/api/v1/monitors/shop", "{\"type\":\"http\",\"target\":\"http://ops:s3cret-pw@127.0.0.1:1/health\","
                + "\"interval\":\"1s\",\"failureThreshold\":1,\"channels\":[\"hook\"]}");
        JsonNode shown = api("GET", "/api/v1/monitors/shop", null);
        assertThat(shown.path("target").asText()).isEqualTo("http://ops:***@127.0.0.1:1/health");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        String sent = receiver.received("/hook").getLast().body();
        assertThat(sent).doesNotContain("s3cret-pw").contains("http://ops:***@127.0.0.1:1/health");
        assertThat(api("GET", "/api/v1/incidents", null).toString()).doesNotContain("s3cret-pw");
    }

    /** A removed monitor's incidents and deliveries are still listed by its name; a name never used is a 404. */
    @Test
    void aRemovedMonitorsHistoryIsStillListedByItsName() throws Exception {
        monitor("shop", ",\"failureThreshold\":1,\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        await().atMost(WAIT).until(() -> !api("GET", "/api/v1/notifications?monitor=shop", null).path("notifications").isEmpty());
        api("DELETE", "/api/v1/monitors/shop", null);
        assertThat(api("GET", "/api/v1/incidents?monitor=shop", null).path("incidents")).hasSize(1);
        assertThat(api("GET", "/api/v1/incidents?monitor=shop&status=open", null).path("incidents")).as("closed").isEmpty();
        assertThat(api("GET", "/api/v1/notifications?monitor=shop", null).path("notifications")).isNotEmpty();
        assertThat(node.api("GET", "/api/v1/incidents?monitor=shopp", null).statusCode()).isEqualTo(404);

        // one that had incidents but no channel to tell: no notifications, which is an answer, not a 404
        monitor("quiet", ",\"failureThreshold\":1");
        await().atMost(WAIT).until(() -> status("quiet").equals("up"));
        check.fail("quiet", "no answer");
        await().atMost(WAIT).until(() -> status("quiet").equals("down"));
        api("DELETE", "/api/v1/monitors/quiet", null);
        assertThat(api("GET", "/api/v1/incidents?monitor=quiet", null).path("incidents")).hasSize(1);
        assertThat(api("GET", "/api/v1/notifications?monitor=quiet", null).path("notifications")).isEmpty();
        assertThat(node.api("GET", "/api/v1/notifications?monitor=quiett", null).statusCode()).isEqualTo(404);
    }

    @Test
    void aCheckRunningWhenItsMonitorIsDeletedLeavesNothingBehind() throws Exception {
        monitor("gone", ",\"failureThreshold\":1,\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("gone").equals("up"));
        check.fail("gone", "no answer");
        check.hold("gone");
        await().atMost(WAIT).until(() -> check.inFlight("gone") == 1);
        assertThat(node.api("DELETE", "/api/v1/monitors/gone", null).statusCode()).isEqualTo(204);
        check.release("gone");
        await().atMost(WAIT).until(() -> check.inFlight("gone") == 0);
        // the failed result came after the delete: no incident, no state, no gauge
        await().during(Duration.ofSeconds(2)).atMost(WAIT).until(() ->
                node.api("GET", "/api/v1/incidents?monitor=gone", null).statusCode() == 404 // no monitor, no incident
                        && Double.isNaN(node.metric("switchboard_monitor_up{monitor=\"gone\",type=\"tcp\"}")));
        assertThat(hooks("monitor.down")).isEmpty();
        // a monitor of the same name made again starts afresh
        monitor("gone", ",\"failureThreshold\":1,\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
    }

    /**
     * A monitor made under a removed one's name starts without its results, uptime or state (it
     * showed the removed one's failures in its uptime and results); the removed one's incidents
     * stay listed under the name.
     */
    @Test
    void aMonitorMadeUnderARemovedOnesNameStartsWithoutItsChecks() throws Exception {
        monitor("reused", ",\"failureThreshold\":1");
        await().atMost(WAIT).until(() -> status("reused").equals("up"));
        check.fail("reused", "refused by the old one");
        await().atMost(WAIT).until(() -> status("reused").equals("down"));
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/monitors/reused/results", null).toString().contains("refused by the old one"));
        api("DELETE", "/api/v1/monitors/reused", null);
        check.pass("reused");
        monitor("reused", ",\"failureThreshold\":1");
        await().atMost(WAIT).until(() -> status("reused").equals("up")
                && api("GET", "/api/v1/monitors/reused/results", null).toString().contains("\"up\""));
        assertThat(api("GET", "/api/v1/monitors/reused/results", null).toString()).doesNotContain("refused by the old one");
        JsonNode uptime = api("GET", "/api/v1/monitors/reused", null).path("uptime");
        assertThat(uptime.size()).isPositive();
        uptime.forEach(window -> assertThat(window.path("down").asLong()).as("uptime " + uptime).isZero());
        assertThat(api("GET", "/api/v1/monitors/reused", null).path("state").path("consecutiveFailures").asInt()).isZero();
        assertThat(api("GET", "/api/v1/incidents?monitor=reused", null).path("incidents")).hasSize(1);
    }

    /** A paused monitor's state says since when it is paused (it said since when it was up before). */
    @Test
    void aPausedMonitorIsPausedSinceItsPause() throws Exception {
        monitor("resting", "");
        await().atMost(WAIT).until(() -> status("resting").equals("up"));
        java.time.Instant upSince = java.time.Instant.parse(api("GET", "/api/v1/monitors/resting", null).path("state").path("since").asText());
        Thread.sleep(1_100);
        java.time.Instant asked = java.time.Instant.now();
        api("POST", "/api/v1/monitors/resting/pause", null);
        JsonNode state = api("GET", "/api/v1/monitors/resting", null).path("state");
        assertThat(state.path("status").asText()).isEqualTo("paused");
        java.time.Instant since = java.time.Instant.parse(state.path("since").asText());
        assertThat(since).isAfter(upSince).isBetween(asked.minusMillis(50), java.time.Instant.now());
        api("POST", "/api/v1/monitors/resting/resume", null);
        assertThat(api("GET", "/api/v1/monitors/resting", null).path("state").path("since").asText()).isNotEqualTo(state.path("since").asText());
    }

    @Test
    void manyMessagesWaitingForOneChannelGoAsADigest() throws Exception {
        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        receiver.on("/held", exchange -> {
            try {
                held.await(30, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            LoopbackHttp.respond(exchange, 200, "");
        });
        api("PUT", "/api/v1/notification-channels/held", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/held") + "\"}");
        int count = 12;
        for (int i = 0; i < count; i++) {
            monitor("m" + i, ",\"failureThreshold\":1,\"channels\":[\"held\"]");
        }
        for (int i = 0; i < count; i++) {
            int n = i;
            await().atMost(WAIT).until(() -> status("m" + n).equals("up"));
        }
        for (int i = 0; i < count; i++) {
            check.fail("m" + i, "no answer");
        }
        // every DOWN message was handed to the channel (its report is recorded just before)
        await().atMost(WAIT).until(() -> {
            JsonNode open = api("GET", "/api/v1/incidents?status=open", null).path("incidents");
            if (open.size() < count) {
                return false;
            }
            for (JsonNode incident : open) {
                if (!kinds(incident.path("id").asLong()).contains("report")) {
                    return false;
                }
            }
            return true;
        });
        held.countDown();
        await().atMost(WAIT).until(() -> {
            int covered = 0;
            for (LoopbackHttp.Received r : receiver.received("/held")) {
                JsonNode body = JSON.readTree(r.body());
                covered += body.path("event").asText().equals("monitor.digest") ? body.path("items").size() : 1;
            }
            return covered == count;
        });
        List<JsonNode> digests = new ArrayList<>();
        for (LoopbackHttp.Received r : receiver.received("/held")) {
            JsonNode body = JSON.readTree(r.body());
            if (body.path("event").asText().equals("monitor.digest")) {
                digests.add(body);
            }
        }
        assertThat(digests).singleElement().satisfies(d -> {
            assertThat(d.path("count").asInt()).isGreaterThanOrEqualTo(10);
            assertThat(d.path("subject").asText()).endsWith("monitor messages at once: " + d.path("count").asInt() + " DOWN");
            assertThat(d.path("items").get(0).path("event").asText()).isEqualTo("monitor.down");
            assertThat(d.path("items").get(0).path("incident").path("id").isNumber()).isTrue();
        });
        // each incident records that its message went out in the digest
        JsonNode open = api("GET", "/api/v1/incidents?status=open", null).path("incidents");
        for (JsonNode incident : open) {
            long id = incident.path("id").asLong();
            await().atMost(WAIT).until(() -> kinds(id).contains("notified"));
        }
    }
}
