package io.switchboard.monitor.incident;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.MonitorNode;
import io.switchboard.monitor.support.MutableClock;
import io.switchboard.monitor.support.ScriptedCheck;
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
        return new MonitorNode(dir, new Monitor(clock, new CheckRunner(clock).with(CheckType.TCP, check)), ENV);
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
        api("PUT", "/api/v1/monitors/" + name, "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"interval\":\"1s\","
                + "\"failureThreshold\":2" + extra + "}");
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

    private String status(String monitor) throws Exception {
        return api("GET", "/api/v1/monitors/" + monitor, null).path("state").path("status").asText();
    }

    @Test
    void downAfterTheThresholdThenRecoveredWithATimelineAndPlainWords() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "nothing accepted the connection on 127.0.0.1 port 1 (connection refused: no service listens there)");
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
        JsonNode incident = api("GET", "/api/v1/incidents/" + id, null);
        assertThat(incident.path("status").asText()).isEqualTo("resolved");
        assertThat(incident.path("recoveryReport").asText()).contains("It was down for");
        List<String> kinds = new ArrayList<>();
        incident.path("timeline").forEach(e -> kinds.add(e.path("kind").asText()));
        assertThat(kinds).containsSubsequence("first_failure", "opened", "report", "notified", "resolved", "notified");
        assertThat(incident.path("notifications")).extracting(n -> n.path("outcome").asText()).containsOnly("sent");
        assertThat(node.metric("switchboard_monitor_notifications_sent_total{channel=\"hook\",type=\"webhook\"}")).isEqualTo(2.0);
        assertThat(node.metric("switchboard_monitor_up{monitor=\"shop\",type=\"tcp\"}")).isEqualTo(1.0);
        assertThat(node.metric("switchboard_monitor_checks_failed_total{type=\"tcp\"}")).isGreaterThanOrEqualTo(2.0);
    }

    @Test
    void aFailingChannelIsRetriedAndRecordedWithoutHoldingUpTheOthersOrTheChecks() throws Exception {
        api("PUT", "/api/v1/notification-channels/broken", "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/broken") + "\"}");
        monitor("shop", ",\"channels\":[\"broken\",\"hook\"]");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        long id = api("GET", "/api/v1/incidents?status=open", null).path("incidents").get(0).path("id").asLong();
        await().atMost(WAIT).until(() -> api("GET", "/api/v1/notifications?incident=" + id + "&channel=broken", null)
                .path("notifications").size() == 3);
        JsonNode attempts = api("GET", "/api/v1/notifications?incident=" + id + "&channel=broken", null).path("notifications");
        assertThat(attempts).extracting(a -> a.path("outcome").asText()).containsOnly("failed");
        assertThat(attempts).extracting(a -> a.path("attempt").asInt()).containsExactly(3, 2, 1);
        assertThat(attempts.get(0).path("error").asText()).endsWith("answered HTTP 500");
        assertThat(receiver.received("/broken")).hasSize(3);
        await().atMost(WAIT).until(() -> node.metric(
                "switchboard_monitor_notifications_failed_total{channel=\"broken\",type=\"webhook\"}") == 1.0);
        int runs = check.runs("shop");
        await().atMost(WAIT).until(() -> check.runs("shop") >= runs + 2);
        JsonNode timeline = api("GET", "/api/v1/incidents/" + id, null).path("timeline");
        assertThat(timeline).anySatisfy(e -> assertThat(e.path("detail").asText())
                .isEqualTo("down message could not be sent to broken (webhook) after 3 attempts: the webhook "
                        + receiver.url("/broken") + " answered HTTP 500"));
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

        node.api("DELETE", "/api/v1/maintenance-windows/upgrade", null);
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        assertThat(api("GET", "/api/v1/incidents/" + id, null).path("timeline"))
                .anySatisfy(e -> assertThat(e.path("kind").asText()).isEqualTo("suppressed"));
    }

    @Test
    void remindersWhileDownAtTheConfiguredInterval() throws Exception {
        monitor("shop", ",\"channels\":[\"hook\"],\"reminderEvery\":\"10m\"");
        await().atMost(WAIT).until(() -> status("shop").equals("up"));
        check.fail("shop", "no answer");
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        clock.advance(Duration.ofMinutes(5));
        node.monitor.sweep();
        assertThat(hooks("monitor.reminder")).isEmpty();
        clock.advance(Duration.ofMinutes(6));
        await().atMost(WAIT).until(() -> hooks("monitor.reminder").size() == 1);
        assertThat(hooks("monitor.reminder").getFirst().path("subject").asText()).startsWith("shop is still DOWN (");
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
}
