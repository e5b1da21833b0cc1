package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.TcpRelay;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PostgreSQL goes silent under a node that is taking messages (a relay between them keeps
 * connections open and forwards nothing), then comes back. Meanwhile every API answer is a 503
 * with Retry-After within a bounded time, never a 500 or a hang; afterwards sends succeed again
 * without a restart, and every message that was acknowledged is in the history.
 */
class ChatStoreOutageTest {
    /** socketTimeout (2 s) or the pool's 5 s wait, plus the work around them; a hang would be 20 s. */
    private static final Duration ANSWER_BOUND = Duration.ofSeconds(12);

    @TempDir
    Path dataDir;
    PostgresTestDatabase database;
    TcpRelay relay;
    ChatNode node;

    @AfterEach
    void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        if (relay != null) {
            relay.close();
        }
        if (database != null) {
            database.close();
        }
    }

    @Test
    void aSilentDatabaseGives503sAndChatRecoversWithoutLosingAnAcknowledgedMessage() throws Exception {
        database = PostgresTestDatabase.create();
        relay = new TcpRelay("127.0.0.1", 5432);
        String url = "jdbc:postgresql://127.0.0.1:" + relay.port() + "/" + database.name()
                + "?socketTimeout=2&connectTimeout=2&loginTimeout=2";
        node = new ChatNode(dataDir, Map.of("SWITCHBOARD_STORE_URL", url, "SWITCHBOARD_STORE_USER", "postgres"));
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        String probeChat = node.chat(boris, "probe", anna, node.signUp(ChatNode.uniqueName("clara")));

        // anna keeps sending, each message under its own key, retrying a key until it is acknowledged
        Map<String, Long> acknowledged = new ConcurrentHashMap<>();
        List<String> wrongAnswers = new CopyOnWriteArrayList<>();
        AtomicBoolean sending = new AtomicBoolean(true);
        AtomicLong lastAckNanos = new AtomicLong();
        ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
        Future<?> sender = threads.submit(() -> {
            int i = 0;
            while (sending.get()) {
                String key = "m-" + i;
                String text = "message " + i;
                HttpResponse<String> answer = timed(() -> send(anna, chat, text, key), wrongAnswers);
                if (answer == null) {
                    continue;
                }
                if (answer.statusCode() == 201 || answer.statusCode() == 200) {
                    acknowledged.put(key, ChatNode.json(answer).get("seq").asLong());
                    lastAckNanos.set(System.nanoTime());
                    i++;
                } else if (answer.statusCode() == 503 && answer.headers().firstValue("Retry-After").isPresent()) {
                    Thread.sleep(200);
                } else {
                    wrongAnswers.add("send: " + answer.statusCode() + " " + answer.headers().map() + " " + answer.body());
                    Thread.sleep(200);
                }
            }
            return null;
        });
        awaitAcknowledged(acknowledged, 5);

        relay.goSilent();
        // reads, a send and the chat list, at once: each a 503 with Retry-After within the bound
        List<Future<HttpResponse<String>>> probes = new ArrayList<>();
        probes.add(threads.submit(() -> timed(() -> node.get("/api/v1/chats/" + chat + "/messages", anna.accessToken()), wrongAnswers)));
        probes.add(threads.submit(() -> timed(() -> node.get("/api/v1/chats", boris.accessToken()), wrongAnswers)));
        probes.add(threads.submit(() -> timed(() -> node.get("/api/v1/chats/" + chat, boris.accessToken()), wrongAnswers)));
        probes.add(threads.submit(() -> timed(() -> send(boris, probeChat, "during the outage", "probe-1"), wrongAnswers)));
        for (Future<HttpResponse<String>> probe : probes) {
            HttpResponse<String> answer = probe.get(30, TimeUnit.SECONDS);
            assertThat(answer).as("an answer within %s; wrong answers: %s", ANSWER_BOUND, wrongAnswers).isNotNull();
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(503);
            assertThat(answer.headers().firstValue("Content-Type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("application/problem+json"));
            assertThat(answer.headers().firstValue("Retry-After")).isPresent();
        }
        HttpResponse<String> ready = node.get("/readyz", null);
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.body()).contains("store");
        int acknowledgedBeforeHealing = acknowledged.size();

        relay.heal();
        long healed = System.nanoTime();
        long deadline = healed + Duration.ofSeconds(20).toNanos();
        while (acknowledged.size() < acknowledgedBeforeHealing + 5 && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertThat(acknowledged.size()).as("sends acknowledged after the database came back; wrong answers: %s", wrongAnswers)
                .isGreaterThanOrEqualTo(acknowledgedBeforeHealing + 5);
        sending.set(false);
        sender.get(30, TimeUnit.SECONDS);
        threads.shutdown();
        assertThat(wrongAnswers).isEmpty();
        assertThat(node.get("/readyz", null).statusCode()).isEqualTo(200);

        // every acknowledged message is there, under the number it was acknowledged with, and nothing else
        // (page through them all: the sender ran unbounded between the heal and its stop)
        Map<Long, String> stored = new java.util.HashMap<>();
        long after = 0;
        while (true) {
            JsonNode page = ChatNode.json(node.get("/api/v1/chats/" + chat + "/messages?limit=200&after=" + after,
                    anna.accessToken()));
            for (JsonNode message : page.get("messages")) {
                stored.put(message.get("seq").asLong(), message.get("text").asText());
                after = Math.max(after, message.get("seq").asLong());
            }
            if (page.get("messages").isEmpty() || !page.path("newerCursor").isNumber()) {
                break;
            }
        }
        acknowledged.forEach((key, seq) -> assertThat(stored.get(seq)).as(key).isEqualTo("message " + key.substring(2)));
        assertThat(stored).hasSize(acknowledged.size());
    }

    private HttpResponse<String> send(ChatNode.Person who, String chat, String text, String key) throws Exception {
        return ChatNode.HTTP.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/api/v1/chats/" + chat + "/messages"))
                        .timeout(Duration.ofSeconds(30))
                        .header("Authorization", "Bearer " + who.accessToken())
                        .header("Content-Type", "application/json")
                        .header("Idempotency-Key", key)
                        .POST(HttpRequest.BodyPublishers.ofString(ChatNode.JSON.writeValueAsString(Map.of("text", text))))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private interface Call {
        HttpResponse<String> run() throws Exception;
    }

    /** The answer, or null (and a note in {@code wrong}) when it took longer than the bound or failed. */
    private static HttpResponse<String> timed(Call call, List<String> wrong) {
        long begin = System.nanoTime();
        try {
            HttpResponse<String> answer = call.run();
            Duration took = Duration.ofNanos(System.nanoTime() - begin);
            if (took.compareTo(ANSWER_BOUND) > 0) {
                wrong.add(answer.request().uri().getPath() + " answered " + answer.statusCode() + " after " + took);
            }
            return answer;
        } catch (Exception e) {
            wrong.add("no answer after " + Duration.ofNanos(System.nanoTime() - begin) + ": " + e);
            return null;
        }
    }

    private static void awaitAcknowledged(Map<String, Long> acknowledged, int count) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (acknowledged.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(acknowledged.size()).isGreaterThanOrEqualTo(count);
    }
}
