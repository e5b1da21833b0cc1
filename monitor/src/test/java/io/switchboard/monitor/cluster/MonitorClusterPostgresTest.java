package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.MonitorNode;
import io.switchboard.monitor.support.ScriptedCheck;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.platform.store.PostgresTestDatabase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Monitors on three nodes sharing one PostgreSQL database: checks spread over the nodes and run
 * once per interval; a node that stops heartbeating (paused, cut off) loses its monitors to the
 * others within 10 s and its late writes are refused by the fence; an outage that spans the loss
 * of the checking node is one incident and one DOWN message.
 */
class MonitorClusterPostgresTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Faster than the defaults (2 s / 6 s) to keep the test short; the 10 s takeover bound is asserted all the same. */
    static final Map<String, String> ENV = Map.of("SWITCHBOARD_CLUSTER_HEARTBEAT", "500ms", "SWITCHBOARD_CLUSTER_EXPIRY", "2s",
            "SWITCHBOARD_MONITOR_NOTIFY_BACKOFF", "100ms", "SWITCHBOARD_MONITOR_NOTIFY_ATTEMPTS", "3",
            "SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "2s");

    @TempDir
    Path dir;
    PostgresTestDatabase database;
    final List<MonitorNode> nodes = new ArrayList<>();
    final List<ScriptedCheck> checks = new ArrayList<>();
    LoopbackHttp receiver;

    @AfterEach
    void stop() throws Exception {
        for (MonitorNode node : nodes) {
            node.close();
        }
        if (receiver != null) {
            receiver.close();
        }
        if (database != null) {
            database.close();
        }
    }

    private void startNodes(int count) throws Exception {
        database = PostgresTestDatabase.create();
        for (int i = 0; i < count; i++) {
            ScriptedCheck check = new ScriptedCheck();
            checks.add(check);
            Path data = Files.createDirectories(dir.resolve("node" + i));
            Map<String, String> env = new HashMap<>(ENV);
            env.put("SWITCHBOARD_CLUSTER_NODEID", "node-" + i);
            nodes.add(new MonitorNode(data, new Monitor(Clock.systemUTC(), new CheckRunner(Clock.systemUTC()).with(CheckType.TCP, check)),
                    env, database.settings()));
        }
        for (MonitorNode node : nodes) {
            await().atMost(Duration.ofSeconds(20)).until(() -> node.node.cluster().view().liveIds().size() == count);
        }
    }

    private String token() throws Exception {
        return nodes.getFirst().token(); // one store, one admin token
    }

    private JsonNode api(MonitorNode node, String method, String path, String body) throws Exception {
        var request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(node.node.http().baseUrl() + path))
                .header("Authorization", "Bearer " + token())
                .method(method, body == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
                        : java.net.http.HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        var response = MonitorNode.HTTP.send(request.build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(method + " " + path + ": " + response.body()).isLessThan(300);
        return response.body().isEmpty() ? null : JSON.readTree(response.body());
    }

    private Jdbi jdbi() {
        return nodes.getFirst().node.store().jdbi();
    }

    private String holder(String monitor) {
        return jdbi().withHandle(h -> h.createQuery("SELECT holder FROM platform_leases WHERE name = :n")
                .bind("n", "monitor:" + monitor).mapTo(String.class).findOne().orElse(null));
    }

    private MonitorNode node(String id) {
        return nodes.stream().filter(n -> n.node.cluster().nodeId().equals(id)).findFirst().orElseThrow();
    }

    private int runsEverywhere(String monitor) {
        return checks.stream().mapToInt(c -> c.runs(monitor)).sum();
    }

    @Test
    void twoHundredMonitorsSpreadRunOnceAndMoveWhenANodeStopsHeartbeating() throws Exception {
        startNodes(3);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            String name = "m" + i;
            names.add(name);
            api(nodes.get(i % 3), "PUT", "/api/v1/monitors/" + name, "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"interval\":\"2s\"}");
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> {
            double total = 0;
            for (MonitorNode node : nodes) {
                double held = node.metric("switchboard_monitor_monitors_held");
                assertThat(held).as("monitors held by one node").isBetween(30.0, 110.0);
                total += held;
            }
            assertThat(total).isEqualTo(200);
        });

        // steady state: every monitor runs on exactly one node, once per interval
        Map<String, int[]> before = snapshot(names);
        Thread.sleep(8_000);
        Map<String, int[]> after = snapshot(names);
        for (String name : names) {
            int nodesRunning = 0;
            int runs = 0;
            for (int n = 0; n < 3; n++) {
                int delta = after.get(name)[n] - before.get(name)[n];
                runs += delta;
                if (delta > 0) {
                    nodesRunning++;
                }
            }
            assertThat(nodesRunning).as(name + " ran on one node").isEqualTo(1);
            assertThat(runs).as(name + " runs in 8 s at a 2 s interval").isBetween(3, 5);
        }

        // node-2 stops heartbeating without leaving (a pause): its monitors run elsewhere within 10 s
        MonitorNode paused = node("node-2");
        Set<String> itsMonitors = new TreeSet<>();
        for (String name : names) {
            if ("node-2".equals(holder(name))) {
                itsMonitors.add(name);
            }
        }
        assertThat(itsMonitors).isNotEmpty();
        String sample = itsMonitors.iterator().next();
        Lease oldLease = new Lease("monitor:" + sample, jdbi().withHandle(h -> h.createQuery(
                "SELECT fence FROM platform_leases WHERE name = :n").bind("n", "monitor:" + sample).mapTo(Long.class).one()));
        Map<String, Integer> othersBefore = new HashMap<>();
        for (String name : itsMonitors) {
            othersBefore.put(name, checks.get(0).runs(name) + checks.get(1).runs(name));
        }
        long pausedAt = System.nanoTime();
        paused.node.cluster().pauseHeartbeats(true);
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
            for (String name : itsMonitors) {
                assertThat(checks.get(0).runs(name) + checks.get(1).runs(name)).as(name + " taken over")
                        .isGreaterThan(othersBefore.get(name));
            }
        });
        assertThat(Duration.ofNanos(System.nanoTime() - pausedAt)).isLessThan(Duration.ofSeconds(10));
        assertThat(holder(sample)).isIn("node-0", "node-1");
        int pausedRuns = checks.get(2).runs(sample);
        Thread.sleep(3_000);
        assertThat(checks.get(2).runs(sample)).as("the paused node no longer checks").isEqualTo(pausedRuns);

        // its late writes, made under the lease it had, are refused in the store (the fence)
        Jdbi jdbi = paused.node.store().jdbi();
        IncidentStore late = new IncidentStore(jdbi);
        late.fenceWith(paused.node.cluster().leases()::holds);
        assertThatThrownBy(() -> late.open(sample, Instant.now(), Instant.now(), 1, "late", "late", null, List.of(), List.of(), oldLease))
                .isInstanceOf(LeaseLost.class);
        ResultWriter writer = new ResultWriter(jdbi, new io.switchboard.monitor.MonitorMetrics(
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry()), 10);
        writer.fenceWith(paused.node.cluster().leases()::holds);
        writer.start();
        Instant lateAt = Instant.parse("2001-01-01T00:00:00Z");
        writer.submit(new ResultWriter.ResultRow(sample, CheckResult.down(lateAt, 1, "late", List.of(), Map.of()), 0, true, oldLease));
        writer.flush(Duration.ofSeconds(10));
        writer.close();
        long lateRows = jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM monitor_results WHERE started_at = :t")
                .bind("t", lateAt.toEpochMilli()).mapTo(Long.class).one());
        assertThat(lateRows).isZero();

        // back from the pause: it rejoins and takes its share again
        paused.node.cluster().pauseHeartbeats(false);
        await().atMost(Duration.ofSeconds(20)).until(() -> paused.metric("switchboard_monitor_monitors_held") > 20);
    }

    private Map<String, int[]> snapshot(List<String> names) {
        Map<String, int[]> out = new HashMap<>();
        for (String name : names) {
            out.put(name, new int[] {checks.get(0).runs(name), checks.get(1).runs(name), checks.get(2).runs(name)});
        }
        return out;
    }

    @Test
    void anOutageSpanningTheLossOfItsCheckingNodeIsOneIncidentAndOneDownMessage() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 200, "");
        startNodes(3);
        api(nodes.getFirst(), "PUT", "/api/v1/notification-channels/hook",
                "{\"type\":\"webhook\",\"url\":\"" + receiver.url("/hook") + "\"}");
        for (ScriptedCheck check : checks) {
            check.fail("shop", "connection refused");
        }
        api(nodes.getFirst(), "PUT", "/api/v1/monitors/shop", "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"interval\":\"1s\","
                + "\"failureThreshold\":2,\"channels\":[\"hook\"]}");
        await().atMost(Duration.ofSeconds(20)).until(() -> hooks("monitor.down").size() == 1);
        String owner = holder("shop");
        MonitorNode checking = node(owner);

        // the checking node dies (stops heartbeating, then is stopped for good) during the outage
        checking.node.cluster().pauseHeartbeats(true);
        await().atMost(Duration.ofSeconds(10)).until(() -> holder("shop") != null && !owner.equals(holder("shop")));
        String next = holder("shop");
        int before = runsEverywhere("shop");
        await().atMost(Duration.ofSeconds(10)).until(() -> runsEverywhere("shop") >= before + 3); // still checked, still down
        checking.close();
        nodes.remove(checking);

        JsonNode incidents = api(node(next), "GET", "/api/v1/incidents?monitor=shop", null);
        assertThat(incidents.path("incidents")).hasSize(1);
        assertThat(incidents.path("incidents").get(0).path("status").asText()).isEqualTo("open");
        assertThat(hooks("monitor.down")).hasSize(1);

        // it recovers: the survivor that checks it now resolves the same incident and says so once
        for (ScriptedCheck check : checks) {
            check.pass("shop");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> hooks("monitor.recovered").size() == 1);
        Thread.sleep(2_000);
        assertThat(hooks("monitor.down")).hasSize(1);
        assertThat(hooks("monitor.recovered")).hasSize(1);
        JsonNode after = api(node(next), "GET", "/api/v1/incidents?monitor=shop", null);
        assertThat(after.path("incidents")).hasSize(1);
        assertThat(after.path("incidents").get(0).path("status").asText()).isEqualTo("resolved");
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
}
