package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two nodes on one PostgreSQL database and one RabbitMQ exchange, as behind a balancer: people on
 * different nodes talk in real time, and when a node dies its people reconnect to the other and
 * resume without losing anything.
 */
class ChatClusterTest {
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;

    @Test
    void peopleOnDifferentNodesTalkAndSurviveANodeDying() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> cluster = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(),
                    "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange);
            ChatNode a = new ChatNode(dirA, cluster);
            try (ChatNode b = new ChatNode(dirB, cluster)) {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        a.metric("switchboard_bus_connected") == 1 && b.metric("switchboard_bus_connected") == 1);
                ChatNode.Person anna = a.signUp(ChatNode.uniqueName("anna"));
                ChatNode.Person boris = b.signUp(ChatNode.uniqueName("boris"));
                // tokens of one node are good on the other: the signing key is in the shared store
                assertThat(b.get("/api/v1/me", anna.accessToken()).statusCode()).isEqualTo(200);
                String chat = a.chat(anna, null, boris);

                long annaSeen;
                try (StreamClient annaOnA = StreamClient.connect(a.streamUri(anna.accessToken()));
                     StreamClient borisOnB = StreamClient.connect(b.streamUri(boris.accessToken()))) {
                    annaOnA.send("{\"type\":\"hello\"}");
                    borisOnB.send("{\"type\":\"hello\"}");
                    annaOnA.next("synced");
                    borisOnB.next("synced");

                    a.send(anna, chat, "sent through node A");
                    JsonNode atB = borisOnB.next("message");
                    assertThat(atB.get("text").asText()).isEqualTo("sent through node A");
                    b.send(boris, chat, "answered through node B");
                    List<JsonNode> atA = annaOnA.messagesUntil(chat, 2, 20);
                    assertThat(atA.getLast().get("text").asText()).isEqualTo("answered through node B");
                    annaSeen = 2;
                }
                // node A dies; Boris keeps writing on B; Anna's client reconnects (to B) and resumes
                a.close();
                b.send(boris, chat, "are you still there?");
                b.send(boris, chat, "node A went away");
                try (StreamClient annaOnB = StreamClient.connect(b.streamUri(anna.accessToken()))) {
                    annaOnB.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":" + annaSeen + "}}");
                    List<JsonNode> missed = annaOnB.messagesUntil(chat, 4, 20);
                    assertThat(missed).extracting(f -> f.get("text").asText())
                            .containsExactly("are you still there?", "node A went away");
                }
            } finally {
                a.close();
                deleteExchange(exchange);
            }
        }
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
