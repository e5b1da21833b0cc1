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
 * started afterwards still refuses them; with the store poll slowed, the bus alone ends a signed-out
 * sign-in and its open stream at once, and carries a cleared lockout and failed sign-ins.
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
    void aRevocationOnOneNodeHoldsOnEveryNodeWithinASecondAndOnANodeStartedLater() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            try (ChatNode a = new ChatNode(dirA, cluster(database, exchange));
                 ChatNode b = new ChatNode(dirB, cluster(database, exchange))) {
                awaitBus(a, b);
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
                try (ChatNode c = new ChatNode(dirC, cluster(database, exchange))) {
                    assertThat(c.get("/api/v1/me", refreshedAccess).statusCode()).isEqualTo(401);
                    assertThat(c.get("/api/v1/me", otherSignIn.accessToken()).statusCode()).isEqualTo(200);
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    /**
     * The store poll slowed to an hour, so only the bus can carry a change: a sign-out on node A
     * ends that sign-in on node B and closes its open stream there at once (4001, not at the next
     * 20 s heartbeat), an unlock on A clears the lockout on B, and failures on both nodes add up to
     * one lockout on both. The waits are generous (the second path is an hour away, so they cannot
     * pass without the bus): on two busy cores a sign-in's hashing alone can take a good part of a
     * second.
     */
    @Test
    void withTheStorePollSlowedTheBusAloneEndsASignInClosesItsStreamsAndCarriesLockouts() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        Duration generous = Duration.ofSeconds(5);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = cluster(database, exchange);
            env.put("SWITCHBOARD_AUTH_REVISION_POLL", "1h");
            try (ChatNode a = new ChatNode(dirA, env); ChatNode b = new ChatNode(dirB, env)) {
                awaitBus(a, b);
                ChatNode.Person mila = a.signUp(ChatNode.uniqueName("mila"));
                String password = "pass-" + mila.username() + "-123";
                ChatNode.Person otherSignIn = signIn(b, mila.username(), password);
                try (StreamClient stream = StreamClient.connect(b.streamUri(mila.accessToken()));
                     StreamClient other = StreamClient.connect(b.streamUri(otherSignIn.accessToken()))) {
                    stream.next("ready");
                    other.next("ready");
                    long signedOutAt = System.nanoTime();
                    assertThat(post(a, "/api/v1/auth/sign-out", refreshBody(mila.refreshToken())).statusCode())
                            .isEqualTo(204);
                    assertThat(stream.awaitClose((int) generous.toSeconds())).isEqualTo(4001);
                    assertThat(Duration.ofNanos(System.nanoTime() - signedOutAt)).isLessThan(generous);
                    assertThat(b.get("/api/v1/me", mila.accessToken()).statusCode()).isEqualTo(401);
                    // the person's other sign-in goes on
                    assertThat(b.get("/api/v1/me", otherSignIn.accessToken()).statusCode()).isEqualTo(200);
                    other.send("{\"type\":\"ping\"}");
                    other.next("pong");
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
                // a locked-out attempt answers 429 before any hashing, so polling is cheap until the unlock lands
                await().atMost(generous).pollInterval(Duration.ofMillis(100)).until(() ->
                        post(b, "/api/v1/auth/sign-in", credentials(mila.username(), password)).statusCode() == 200);

                // one failure on each node (another person, whom no earlier failure can reach): the
                // lockout holds on both, since each counts the other's
                ChatNode.Person anton = a.signUp(ChatNode.uniqueName("anton"));
                String antonsPassword = "pass-" + anton.username() + "-123";
                assertThat(post(a, "/api/v1/auth/sign-in", credentials(anton.username(), "wrong password"))
                        .statusCode()).isEqualTo(401);
                assertThat(post(b, "/api/v1/auth/sign-in", credentials(anton.username(), "wrong password"))
                        .statusCode()).isEqualTo(401);
                await().atMost(generous).pollInterval(Duration.ofMillis(100)).until(() ->
                        post(a, "/api/v1/auth/sign-in", credentials(anton.username(), antonsPassword)).statusCode() == 429);
                assertThat(post(b, "/api/v1/auth/sign-in", credentials(anton.username(), antonsPassword)).statusCode())
                        .isEqualTo(429);
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    private static Map<String, String> cluster(PostgresTestDatabase database, String exchange) {
        return new HashMap<>(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                "SWITCHBOARD_STORE_USER", database.settings().user(),
                "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange,
                "SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_USER", "2"));
    }

    private static void awaitBus(ChatNode a, ChatNode b) {
        await().atMost(Duration.ofSeconds(20)).until(() ->
                a.metric("switchboard_bus_connected") == 1 && b.metric("switchboard_bus_connected") == 1);
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
