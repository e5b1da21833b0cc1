package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.server.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A single node with SQLite is a cluster of one, with no configuration: API, meters, CLI, a kept id. */
class ClusterApiTest {
    @TempDir
    Path dataDir;

    record Run(int code, String out, String err) {
    }

    Run cli(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of(args));
        int code = Main.execute(env, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), all.toArray(String[]::new));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void aSingleNodeIsAClusterOfOneAndKeepsItsId() throws Exception {
        String id;
        try (ClusterNode node = new ClusterNode(dataDir, Map.of(), List.of())) {
            id = node.id();
            assertThat(Files.readString(dataDir.resolve("node-id")).strip()).isEqualTo(id);
            String token = Files.readString(dataDir.resolve("admin.token")).strip();
            assertThat(node.get("/api/v1/cluster", null).statusCode()).isEqualTo(401);

            JsonNode view = node.cluster(token);
            assertThat(view.get("self").asText()).isEqualTo(id);
            assertThat(view.get("member").asBoolean()).isTrue();
            assertThat(view.get("expiryMs").asLong()).isEqualTo(6000);
            JsonNode self = view.get("nodes").get(0);
            assertThat(view.get("nodes")).hasSize(1);
            assertThat(self.get("id").asText()).isEqualTo(id);
            assertThat(self.get("state").asText()).isEqualTo("alive");
            assertThat(self.get("self").asBoolean()).isTrue();
            // the bound port, not the configured 0
            assertThat(self.at("/addresses/http").asText()).isEqualTo(node.node.http().boundAddress().toString());
            assertThat(self.get("lastHeartbeatAgeMs").asLong()).isBetween(0L, 6000L);
            assertThat(self.has("started")).isTrue();
            assertThat(self.get("load").has("systemLoadAverage")).isTrue();
            assertThat(node.metric("switchboard_cluster_nodes{state=\"alive\"}")).isEqualTo(1);
            assertThat(node.metric("switchboard_cluster_nodes{state=\"dead\"}")).isEqualTo(0);
            assertThat(node.metric("switchboard_cluster_member")).isEqualTo(1);

            Run status = cli(Map.of(), "cluster", "status", "--data-dir", dataDir.toString());
            assertThat(status.code()).as(status.err()).isZero();
            assertThat(status.out()).contains("1 alive, 0 dead, 0 left").contains("NODE").contains("*" + id)
                    .contains("alive");
        }
        Run afterStop = cli(Map.of(), "cluster", "status", "--data-dir", dataDir.toString());
        assertThat(afterStop.out()).contains("0 alive, 0 dead, 1 left");

        try (ClusterNode again = new ClusterNode(dataDir, Map.of(), List.of())) {
            assertThat(again.id()).isEqualTo(id);
        }
        try (ClusterNode named = new ClusterNode(dataDir, Map.of("SWITCHBOARD_CLUSTER_NODEID", "gate-1"), List.of())) {
            assertThat(named.id()).isEqualTo("gate-1");
            // a node started with an id of its own keeps none in the data directory: the command is told it
            Run marked = cli(Map.of(), "cluster", "status", "--data-dir", dataDir.toString(), "--node-id", "gate-1");
            assertThat(marked.out()).contains("*gate-1").doesNotContain("*" + id);
            Run unknown = cli(Map.of(), "cluster", "status", "--data-dir", dataDir.toString(), "--node-id", "gate-9");
            assertThat(unknown.code()).isZero();
            assertThat(unknown.out()).doesNotContain("*").contains("(no node named gate-9 in this store)");
        }
    }

    @Test
    void badArgumentsAndConfigAreOneLineAndExitTwo() {
        Run bad = cli(Map.of(), "cluster", "status", "--bogus");
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().strip().lines()).hasSize(1);
        Run missing = cli(Map.of(), "cluster");
        assertThat(missing.code()).isEqualTo(2);
        Run expiry = cli(Map.of("SWITCHBOARD_CLUSTER_HEARTBEAT", "2s", "SWITCHBOARD_CLUSTER_EXPIRY", "3s"),
                "cluster", "status", "--data-dir", dataDir.toString());
        assertThat(expiry.code()).isEqualTo(2);
        assertThat(expiry.err().strip().lines()).hasSize(1);
        assertThat(expiry.err()).contains("cluster.expiry").contains("more than twice cluster.heartbeat");
        // nothing to read where no node ran: said in one line, and no store is created there
        Path empty = dataDir.resolve("never-ran");
        Run noStore = cli(Map.of(), "cluster", "status", "--data-dir", empty.toString());
        assertThat(noStore.code()).isEqualTo(2);
        assertThat(noStore.err().strip().lines()).hasSize(1);
        assertThat(noStore.err()).contains("no store at").contains("SWITCHBOARD_STORE_URL");
        // --data-dir was given: not "give the node's --data-dir", but what is missing
        assertThat(noStore.err()).doesNotContain("give the node's --data-dir")
                .contains("no node has run with this data dir").contains("the store settings the node runs with");
        assertThat(empty.resolve("switchboard.db")).doesNotExist();
    }

    /** A database where no node ran (a URL typed wrong): one line, exit 2, and no tables made in it. */
    @Test
    void statusOnAStoreWhereNoNodeRanMakesNoTables() throws Exception {
        Path emptyFile = Files.createFile(dataDir.resolve("switchboard.db"));
        Run sqlite = cli(Map.of(), "cluster", "status", "--data-dir", dataDir.toString());
        assertThat(sqlite.code()).as(sqlite.err()).isEqualTo(2);
        assertThat(sqlite.err().strip().lines()).hasSize(1);
        assertThat(sqlite.err()).contains("no Switchboard tables in the store at jdbc:sqlite:");
        assertThat(tables("jdbc:sqlite:" + emptyFile, null, "select count(*) from sqlite_master where type = 'table'"))
                .as("tables in the file after cluster status").isZero();

        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Run postgres = cli(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user()), "cluster", "status");
            assertThat(postgres.code()).as(postgres.err()).isEqualTo(2);
            assertThat(postgres.err().strip().lines()).hasSize(1);
            assertThat(postgres.err()).contains("no Switchboard tables in the store at jdbc:postgresql:");
            // nor do the commands that list or change what must already be there
            for (List<String> command : List.of(List.of("account", "list"), List.of("number", "list"),
                    List.of("user", "list"), List.of("admin", "token", "list"), List.of("account", "remove", "alice"))) {
                Run run = cli(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                        "SWITCHBOARD_STORE_USER", database.settings().user()), command.toArray(String[]::new));
                assertThat(run.code()).as(command + ": " + run.err()).isEqualTo(2);
                assertThat(run.err().strip().lines()).as(String.valueOf(command)).hasSize(1);
                assertThat(run.err()).contains("no Switchboard tables in the store at jdbc:postgresql:");
            }
            assertThat(tables(database.settings().url(), database.settings().user(),
                    "select count(*) from information_schema.tables where table_schema = 'public'"))
                    .as("tables in the database after cluster status and the lists").isZero();
        }
    }

    /**
     * A second node given the id of a live one (its own data directory and ports) refuses to start
     * with one line naming where the other runs; the live one stays ready. It used to take the
     * membership row, and the healthy node went 503 for good.
     */
    @Test
    void aSecondNodeUnderALiveNodesIdRefusesToStartAndTheFirstStaysReady() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(), "SWITCHBOARD_CLUSTER_NODE_ID", "gw-same",
                    "SWITCHBOARD_CLUSTER_HEARTBEAT", "250ms", "SWITCHBOARD_CLUSTER_EXPIRY", "1500ms");
            Path firstDir = Files.createDirectories(dataDir.resolve("first"));
            try (ClusterNode first = new ClusterNode(firstDir, env, List.of())) {
                Path secondDir = Files.createDirectories(dataDir.resolve("second"));
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> new ClusterNode(secondDir, env, List.of()).close())
                        .isInstanceOf(io.switchboard.platform.config.ConfigException.class)
                        .hasMessageStartingWith("cluster.nodeId: node gw-same is alive in this store")
                        .hasMessageContaining("runs from " + firstDir.toRealPath() + " on ")
                        .hasMessageContaining("give each node its own cluster.nodeId");
                Thread.sleep(1_000); // past heartbeats of the first: it would have found itself displaced
                assertThat(first.get("/readyz", null).statusCode()).isEqualTo(200);
                assertThat(first.node.cluster().displaced()).isFalse();
                assertThat(first.metric("switchboard_cluster_member")).isEqualTo(1);
            }
        }
    }

    /**
     * A node on the cluster's store without bus.url (the in-process bus) used to join quietly while
     * nothing on the bus (bindings, chat) reached it, with no bus meter for the documented alert to
     * watch. Alone it is fine; with another live node in its store it logs an error naming it and
     * switchboard_bus_connected is 0, until the other leaves. Both stay ready: each bus-less node
     * sees the other, and failing readiness would empty the balancer of the healthy one too.
     */
    @Test
    void aNodeWithTheInProcessBusSaysSoWhileOtherNodesShareItsStoreAndStaysReady() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create();
             io.switchboard.platform.testing.CapturedLog log = io.switchboard.platform.testing.CapturedLog.of(
                     "io.switchboard.platform.lifecycle")) {
            Map<String, String> store = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(),
                    "SWITCHBOARD_CLUSTER_HEARTBEAT", "250ms", "SWITCHBOARD_CLUSTER_EXPIRY", "1500ms");
            Map<String, String> envA = new java.util.HashMap<>(store);
            envA.put("SWITCHBOARD_CLUSTER_NODE_ID", "gw-a");
            Map<String, String> envB = new java.util.HashMap<>(store);
            envB.put("SWITCHBOARD_CLUSTER_NODE_ID", "gw-nobus");
            try (ClusterNode a = new ClusterNode(Files.createDirectories(dataDir.resolve("a")), envA, List.of())) {
                // one node alone on PostgreSQL without a bus is fine, and has the meter
                assertThat(a.get("/readyz", null).statusCode()).isEqualTo(200);
                assertThat(a.metric("switchboard_bus_connected")).isEqualTo(1);
                try (ClusterNode b = new ClusterNode(Files.createDirectories(dataDir.resolve("b")), envB, List.of())) {
                    assertThat(b.metric("switchboard_bus_connected")).isEqualTo(0);
                    assertThat(log.messagesAt(ch.qos.logback.classic.Level.ERROR)).anySatisfy(line -> assertThat(line)
                            .contains("in-process bus (no bus.url) but gw-a is alive in its store")
                            .contains("set bus.url (SWITCHBOARD_BUS_URL) to the cluster's RabbitMQ"));
                    // a, on the in-process bus too, sees b within a heartbeat: the same mistake from its side
                    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).untilAsserted(() ->
                            assertThat(a.metric("switchboard_bus_connected")).isEqualTo(0));
                    // both stay ready: failing readiness would take the healthy node out of the balancer too
                    assertThat(a.get("/readyz", null).statusCode()).isEqualTo(200);
                    assertThat(b.get("/readyz", null).statusCode()).isEqualTo(200);
                }
                // b left: a is alone again
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).untilAsserted(() ->
                        assertThat(a.metric("switchboard_bus_connected")).isEqualTo(1));
            }
        }
    }

    /**
     * A node on PostgreSQL started with --node-id, and not the first of its store, keeps neither
     * node-id nor admin.token in its data dir. A command given that dir without the store settings
     * made a throwaway SQLite store there ("account add" said "added", exit 0, and "cluster status"
     * then read "0 alive" from it). What the node does leave there counts: its node.lock (any
     * version), its data-dir-id (this one).
     */
    @Test
    void commandsOnTheDataDirOfANodeOnPostgresStartedWithAnIdRefuseToMakeAStore() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(), "SWITCHBOARD_CLUSTER_NODE_ID", "gw-b");
            Path dir = Files.createDirectories(dataDir.resolve("sb-b"));
            try (ClusterNode node = new ClusterNode(dir, env, List.of())) {
                Files.delete(dir.resolve("admin.token")); // only the first node of a store writes one
                assertThat(dir.resolve("node-id")).doesNotExist();
                Path lock = dir.resolve("node.lock");
                Path claim = dir.resolve(io.switchboard.platform.cluster.DataDirClaim.FILE);
                assertThat(lock).exists();
                assertThat(claim).exists();
                for (String left : List.of("both", "data-dir-id", "node.lock")) {
                    if (left.equals("data-dir-id")) {
                        Files.delete(lock);
                    } else if (left.equals("node.lock")) {
                        Files.delete(claim);
                        Files.createFile(lock); // as a node of an earlier version leaves it
                    }
                    for (List<String> command : List.of(List.of("account", "add", "1009", "--password", "x-secret-123"),
                            List.of("cluster", "status"), List.of("admin", "token", "--label", "ops"))) {
                        List<String> args = new ArrayList<>(command);
                        args.addAll(List.of("--data-dir", dir.toString()));
                        Run run = cli(Map.of(), args.toArray(String[]::new));
                        assertThat(run.code()).as(left + ": " + command + ": " + run.err()).isEqualTo(2);
                        assertThat(run.err().strip().lines()).as(left + ": " + command).hasSize(1);
                        assertThat(run.err()).as(left + ": " + command)
                                .startsWith("switchboard: a node ran with " + dir + " but its store is not there")
                                .contains(left.equals("both") ? "node.lock" : left).contains("--config");
                    }
                }
                assertThat(dir.resolve("switchboard.db")).doesNotExist();
            }
        }
    }

    /**
     * Two nodes on two databases given one bus exchange (a node pointed at the wrong store): each
     * names the other a stranger in /api/v1/cluster within seconds, and both stay ready.
     */
    @Test
    void nodesOnOneBusButTwoStoresNameEachOtherStrangers() throws Exception {
        String exchange = "sb_test_" + java.util.UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase one = PostgresTestDatabase.create(); PostgresTestDatabase two = PostgresTestDatabase.create()) {
            Map<String, String> bus = Map.of("SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange);
            Map<String, String> envA = new java.util.HashMap<>(bus);
            envA.putAll(Map.of("SWITCHBOARD_STORE_URL", one.settings().url(), "SWITCHBOARD_STORE_USER", one.settings().user(),
                    "SWITCHBOARD_CLUSTER_NODE_ID", "gw-a"));
            Map<String, String> envB = new java.util.HashMap<>(bus);
            envB.putAll(Map.of("SWITCHBOARD_STORE_URL", two.settings().url(), "SWITCHBOARD_STORE_USER", two.settings().user(),
                    "SWITCHBOARD_CLUSTER_NODE_ID", "gw-b"));
            try (ClusterNode a = new ClusterNode(Files.createDirectories(dataDir.resolve("a")), envA, List.of())) {
                org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                        a.node.bus() instanceof io.switchboard.platform.bus.RabbitBus rabbit && rabbit.isConnected());
                String tokenA = Files.readString(dataDir.resolve("a/admin.token")).strip();
                try (ClusterNode b = new ClusterNode(Files.createDirectories(dataDir.resolve("b")), envB, List.of())) {
                    String tokenB = Files.readString(dataDir.resolve("b/admin.token")).strip();
                    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).untilAsserted(() -> {
                        assertThat(a.cluster(tokenA).get("strangers")).extracting(n -> n.get("id").asText()).containsExactly("gw-b");
                        assertThat(b.cluster(tokenB).get("strangers")).extracting(n -> n.get("id").asText()).containsExactly("gw-a");
                    });
                    assertThat(a.cluster(tokenA).get("nodes")).extracting(n -> n.get("id").asText()).containsExactly("gw-a");
                    assertThat(a.get("/metrics", null).body()).contains("switchboard_cluster_strangers 1.0");
                    assertThat(a.get("/readyz", null).statusCode()).isEqualTo(200);
                    assertThat(b.get("/readyz", null).statusCode()).isEqualTo(200);
                }
            } finally {
                com.rabbitmq.client.ConnectionFactory factory = new com.rabbitmq.client.ConnectionFactory();
                factory.setHost("127.0.0.1");
                try (com.rabbitmq.client.Connection c = factory.newConnection(); com.rabbitmq.client.Channel ch = c.createChannel()) {
                    ch.exchangeDelete(exchange);
                }
            }
        }
    }

    /** A store older nodes ran (its tables a version behind this build): said in one line, and not migrated. */
    @Test
    void statusOnAStoreBehindThisVersionSaysSoAndMigratesNothing() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            org.flywaydb.core.Flyway.configure().dataSource(database.settings().url(), database.settings().user(), null)
                    .locations("classpath:db/migration/platform").table("flyway_platform_history")
                    .target("5").load().migrate();
            Run behind = cli(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user()), "cluster", "status");
            assertThat(behind.code()).as(behind.err()).isEqualTo(2);
            assertThat(behind.err().strip().lines()).hasSize(1);
            assertThat(behind.err()).contains("the platform tables in the store at jdbc:postgresql:").contains("are at version 5,")
                    .contains("start a node of this version");
            assertThat(tables(database.settings().url(), database.settings().user(),
                    "select max(version::int) from flyway_platform_history")).isEqualTo(5);
        }
    }

    private static int tables(String url, String user, String countQuery) throws Exception {
        try (Connection connection = DriverManager.getConnection(url, user, null);
                ResultSet count = connection.createStatement().executeQuery(countQuery)) {
            count.next();
            return count.getInt(1);
        }
    }
}
