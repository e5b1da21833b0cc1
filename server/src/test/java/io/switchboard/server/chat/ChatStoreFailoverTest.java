package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.store.PostgresReplicaPair;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node on a multi-host store URL (a primary and its synchronous standby, clusters of this
 * machine's PostgreSQL made for the test) takes chat messages from several senders; the primary
 * is killed (immediate stop) and the standby promoted. The node carries on by itself: sends
 * answer 503 for a moment, then succeed against the new primary, and afterwards every message the
 * node acknowledged is in the store once, under the number it was acknowledged with. Senders
 * retry a message under its idempotency key until it is acknowledged, as clients do.
 */
class ChatStoreFailoverTest {
    private static final int SENDERS = 4;

    @TempDir
    Path dataDir;

    @Test
    void aPromotedStandbyTakesOverWithNothingAcknowledgedLostOrDuplicated() throws Exception {
        try (PostgresReplicaPair clusters = PostgresReplicaPair.start()) {
            String database = "sb_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
            clusters.createDatabase(database);
            String url = clusters.url(database) + "?connectTimeout=2&socketTimeout=5";
            ChatNode node = new ChatNode(dataDir, Map.of("SWITCHBOARD_STORE_URL", url, "SWITCHBOARD_STORE_USER", "postgres"));
            ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
            try {
                ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
                ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
                String chat = node.chat(anna, null, boris);

                Map<String, Long> acknowledged = new ConcurrentHashMap<>();
                List<String> wrongAnswers = new CopyOnWriteArrayList<>();
                AtomicBoolean sending = new AtomicBoolean(true);
                AtomicLong failedSends = new AtomicLong();
                List<Future<?>> senders = new ArrayList<>();
                for (int s = 0; s < SENDERS; s++) {
                    int sender = s;
                    senders.add(threads.submit(() -> {
                        // bounded: a sender stops when told, or after 60 s whatever happens
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                        int i = 0;
                        while (sending.get() && System.nanoTime() < deadline) {
                            String key = "m-" + sender + "-" + i;
                            HttpResponse<String> answer;
                            try {
                                answer = send(node, anna, chat, "message " + key, key);
                            } catch (Exception e) {
                                wrongAnswers.add("no answer: " + e);
                                continue;
                            }
                            if (answer.statusCode() == 201 || answer.statusCode() == 200) {
                                acknowledged.put(key, ChatNode.json(answer).get("seq").asLong());
                                i++;
                            } else if (answer.statusCode() == 503) {
                                failedSends.incrementAndGet();
                                Thread.sleep(50); // the same key again: a retry, not a new message
                            } else {
                                wrongAnswers.add(answer.statusCode() + " " + answer.body());
                                Thread.sleep(50);
                            }
                        }
                        return null;
                    }));
                }
                awaitAtLeast(acknowledged, 40, Duration.ofSeconds(30));

                long crashed = System.nanoTime();
                clusters.crashPrimary();
                clusters.promoteStandby();
                long promoted = System.nanoTime();
                int atPromotion = acknowledged.size();
                awaitAtLeast(acknowledged, atPromotion + 40, Duration.ofSeconds(30));
                long resumed = System.nanoTime();
                sending.set(false);
                for (Future<?> sender : senders) {
                    sender.get(90, TimeUnit.SECONDS);
                }
                System.out.printf("store failover: %d acknowledged, %d sends answered 503 meanwhile; promotion took %d ms,"
                                + " 40 more acknowledged %d ms after it%n", acknowledged.size(), failedSends.get(),
                        TimeUnit.NANOSECONDS.toMillis(promoted - crashed), TimeUnit.NANOSECONDS.toMillis(resumed - promoted));
                assertThat(wrongAnswers).isEmpty();
                assertThat(node.get("/readyz", null).statusCode()).isEqualTo(200);

                // straight from the new primary: every acknowledged message once, at its number
                Map<Long, String> stored = new HashMap<>();
                Map<String, Integer> copies = new HashMap<>();
                try (Connection c = PostgresReplicaPair.connect(clusters.standbyPort(), database);
                     ResultSet rs = c.createStatement().executeQuery("select seq, body from chat_messages where chat_id = '" + chat + "'")) {
                    while (rs.next()) {
                        stored.put(rs.getLong(1), rs.getString(2));
                        copies.merge(rs.getString(2), 1, Integer::sum);
                    }
                }
                acknowledged.forEach((key, seq) -> assertThat(stored.get(seq)).as(key).isEqualTo("message " + key));
                assertThat(copies).allSatisfy((text, n) -> assertThat(n).as(text).isEqualTo(1));
                // a message may be stored without its acknowledgement having arrived (the primary died
                // between commit and answer); its sender retried the key, so it is acknowledged too
                assertThat(stored).hasSize(acknowledged.size());
            } finally {
                threads.shutdownNow();
                node.close();
            }
        }
    }

    private static HttpResponse<String> send(ChatNode node, ChatNode.Person who, String chat, String text, String key) throws Exception {
        return ChatNode.HTTP.send(HttpRequest.newBuilder(URI.create(node.baseUrl() + "/api/v1/chats/" + chat + "/messages"))
                        .timeout(Duration.ofSeconds(30))
                        .header("Authorization", "Bearer " + who.accessToken())
                        .header("Content-Type", "application/json")
                        .header("Idempotency-Key", key)
                        .POST(HttpRequest.BodyPublishers.ofString(ChatNode.JSON.writeValueAsString(Map.of("text", text))))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static void awaitAtLeast(Map<String, Long> acknowledged, int count, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (acknowledged.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(acknowledged.size()).as("acknowledged messages").isGreaterThanOrEqualTo(count);
    }
}
