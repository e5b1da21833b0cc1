package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.telephony.Telephony;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three nodes on one PostgreSQL database and one RabbitMQ exchange: each sees the others join,
 * die (heartbeats stopped without leaving) and leave, in the API and the meters; a survivor
 * closes the call records of the node that died.
 */
class ClusterPostgresTest {
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;
    @TempDir
    Path dirC;

    @Test
    void joinsDeathsAndLeavesAreSeenByEveryNode() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(),
                    "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange,
                    "SWITCHBOARD_CLUSTER_HEARTBEAT", "250ms", "SWITCHBOARD_CLUSTER_EXPIRY", "1500ms");
            // with telephony (no SIP listeners): its call records are closed for a node that died
            try (ClusterNode a = new ClusterNode(dirA, env, List.of(new Telephony()));
                 ClusterNode b = new ClusterNode(dirB, env, List.of(new Telephony()));
                 ClusterNode c = new ClusterNode(dirC, env, List.of(new Telephony()))) {
                String token = Files.readString(dirA.resolve("admin.token")).strip(); // one store, one token
                assertThat(List.of(a.id(), b.id(), c.id())).doesNotHaveDuplicates();
                for (ClusterNode n : List.of(a, b, c)) {
                    await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                            assertThat(n.cluster(token).get("alive").asLong()).isEqualTo(3));
                }
                assertThat(b.cluster(token).get("self").asText()).isEqualTo(b.id());

                // an answered call through c, as c's call records hold it
                String callOfC = UUID.randomUUID().toString();
                try (java.sql.Connection sql = java.sql.DriverManager.getConnection(database.settings().url(),
                        database.settings().user(), database.settings().password());
                     java.sql.PreparedStatement insert = sql.prepareStatement("INSERT INTO call_records (id, call_id,"
                             + " devices_rung, started_at, answered_at, status, node) VALUES (?, ?, '[]', ?, ?, 'answered', ?)")) {
                    long now = System.currentTimeMillis();
                    insert.setString(1, callOfC);
                    insert.setString(2, "call-through-c");
                    insert.setLong(3, now - 60_000);
                    insert.setLong(4, now - 55_000);
                    insert.setString(5, c.id());
                    insert.executeUpdate();
                }

                // c stops heartbeating without leaving, as a paused or cut-off node: dead for the others
                c.node.cluster().pauseHeartbeats(true);
                await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
                    assertThat(a.stateOf(token, c.id())).isEqualTo("dead");
                    assertThat(a.metric("switchboard_cluster_nodes{state=\"dead\"}")).isEqualTo(1);
                    assertThat(c.metric("switchboard_cluster_member")).isEqualTo(0);
                });
                // one of the survivors closes the calls c left open, without waiting for the longest call
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                    try (java.sql.Connection sql = java.sql.DriverManager.getConnection(database.settings().url(),
                            database.settings().user(), database.settings().password());
                         java.sql.PreparedStatement read = sql.prepareStatement(
                                 "SELECT status, ended_by FROM call_records WHERE id = ?")) {
                        read.setString(1, callOfC);
                        try (java.sql.ResultSet rs = read.executeQuery()) {
                            assertThat(rs.next()).isTrue();
                            assertThat(rs.getString(1) + " " + rs.getString(2)).isEqualTo("interrupted node");
                        }
                    }
                });
                c.node.cluster().pauseHeartbeats(false);
                await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(a.stateOf(token, c.id())).isEqualTo("alive"));

                // b stops gracefully: left, seen by the others well within the expiry
                long before = System.nanoTime();
                b.close();
                await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
                    assertThat(a.stateOf(token, b.id())).isEqualTo("left");
                    assertThat(c.node.cluster().view().liveIds()).containsExactlyInAnyOrder(a.id(), c.id());
                });
                assertThat(Duration.ofNanos(System.nanoTime() - before)).isLessThan(Duration.ofSeconds(10));
                assertThat(a.metric("switchboard_cluster_nodes{state=\"left\"}")).isEqualTo(1);
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    static void deleteExchange(String exchange) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(5672);
        try (Connection c = factory.newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
        }
    }
}
