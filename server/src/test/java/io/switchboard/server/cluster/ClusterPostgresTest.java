package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
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
 * die (heartbeats stopped without leaving) and leave, in the API and the meters.
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
            try (ClusterNode a = new ClusterNode(dirA, env, List.of());
                 ClusterNode b = new ClusterNode(dirB, env, List.of());
                 ClusterNode c = new ClusterNode(dirC, env, List.of())) {
                String token = Files.readString(dirA.resolve("admin.token")).strip(); // one store, one token
                assertThat(List.of(a.id(), b.id(), c.id())).doesNotHaveDuplicates();
                for (ClusterNode n : List.of(a, b, c)) {
                    await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                            assertThat(n.cluster(token).get("alive").asLong()).isEqualTo(3));
                }
                assertThat(b.cluster(token).get("self").asText()).isEqualTo(b.id());

                // c stops heartbeating without leaving, as a paused or cut-off node: dead for the others
                c.node.cluster().pauseHeartbeats(true);
                await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> {
                    assertThat(a.stateOf(token, c.id())).isEqualTo("dead");
                    assertThat(a.metric("switchboard_cluster_nodes{state=\"dead\"}")).isEqualTo(1);
                    assertThat(c.metric("switchboard_cluster_member")).isEqualTo(0);
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
