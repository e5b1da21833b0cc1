package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sessions across two nodes on one PostgreSQL store and one RabbitMQ exchange: a refresh token
 * reused on one node ends that sign-in's access tokens on the other within a second, a node
 * started afterwards still refuses them, and a lockout cleared on one node is cleared on both.
 */
class SessionClusterTest {
    static final Duration WITHIN_A_SECOND = Duration.ofSeconds(1);
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;
    @TempDir
    Path dirC;

    @Test
    void aRevocationOrUnlockOnOneNodeHoldsOnEveryNodeWithinASecond() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> cluster = new HashMap<>(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(),
                    "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange,
                    "SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_USER", "2"));
            ChatNode a = new ChatNode(dirA, cluster);
            try (ChatNode b = new ChatNode(dirB, cluster)) {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        a.metric("switchboard_bus_connected") == 1 && b.metric("switchboard_bus_connected") == 1);
                ChatNode.Person mila = a.signUp(ChatNode.uniqueName("mila"));
                String password = "pass-" + mila.username() + "-123";
                JsonNode refreshed = ChatNode.json(post(a, "/api/v1/auth/refresh", refreshBody(mila.refreshToken())));
                String refreshedAccess = refreshed.get("accessToken").asText();
                assertThat(post(a, "/api/v1/auth/refresh", refreshBody(refreshed.get("refreshToken").asText()))
                        .statusCode()).isEqualTo(200);
                ChatNode.Person otherSignIn = signIn(b, mila.username(), password);
                assertThat(b.get("/api/v1/me", mila.accessToken()).statusCode()).isEqualTo(200);
                assertThat(b.get("/api/v1/me", refreshedAccess).statusCode()).isEqualTo(200);

                // the successor used (so the client did get its answer), then the first token again,
                // on node A: node B refuses that sign-in's access tokens within a second
                assertThat(post(a, "/api/v1/auth/refresh", refreshBody(mila.refreshToken())).statusCode()).isEqualTo(401);
                await().atMost(WITHIN_A_SECOND).pollInterval(Duration.ofMillis(20)).until(() ->
                        b.get("/api/v1/me", refreshedAccess).statusCode() == 401
                                && b.get("/api/v1/me", mila.accessToken()).statusCode() == 401);
                assertThat(b.get("/api/v1/me", otherSignIn.accessToken()).statusCode()).isEqualTo(200);

                // a node that starts later reads the revocation from the store
                try (ChatNode c = new ChatNode(dirC, cluster)) {
                    assertThat(c.get("/api/v1/me", refreshedAccess).statusCode()).isEqualTo(401);
                    assertThat(c.get("/api/v1/me", otherSignIn.accessToken()).statusCode()).isEqualTo(200);
                }

                // locked out on node B (two failures there), cleared through node A's API
                for (int i = 0; i < 2; i++) {
                    assertThat(post(b, "/api/v1/auth/sign-in", credentials(mila.username(), "wrong password"))
                            .statusCode()).isEqualTo(401);
                }
                assertThat(post(b, "/api/v1/auth/sign-in", credentials(mila.username(), password)).statusCode()).isEqualTo(429);
                String adminToken = Files.readString(dirA.resolve("admin.token")).strip();
                assertThat(a.call("POST", "/api/v1/users/" + mila.id() + "/unlock", adminToken, null, Map.of())
                        .statusCode()).isEqualTo(204);
                await().atMost(WITHIN_A_SECOND).pollInterval(Duration.ofMillis(50)).until(() ->
                        post(b, "/api/v1/auth/sign-in", credentials(mila.username(), password)).statusCode() == 200);
            } finally {
                a.close();
                deleteExchange(exchange);
            }
        }
    }

    private static ChatNode.Person signIn(ChatNode node, String username, String password) throws Exception {
        HttpResponse<String> response = post(node, "/api/v1/auth/sign-in", credentials(username, password));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode body = ChatNode.json(response);
        return new ChatNode.Person(body.at("/user/id").asText(), username, body.get("accessToken").asText(),
                body.get("refreshToken").asText());
    }

    private static HttpResponse<String> post(ChatNode node, String path, String body) throws Exception {
        return node.call("POST", path, null, body, Map.of());
    }

    private static String refreshBody(String refreshToken) {
        return "{\"refreshToken\":\"" + refreshToken + "\"}";
    }

    private static String credentials(String username, String password) {
        return "{\"username\":\"" + username + "\",\"password\":\"" + password + "\"}";
    }

    private static void deleteExchange(String exchange) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(5672);
        try (Connection c = factory.newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
        }
    }
}
