package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13 part 2, "one DOWN message per channel, whatever happens to the nodes", at its hardest
 * moment: the node holding a monitor is killed while its DOWN is on the wire. The receiver has
 * the request and has not answered, so the node took the claim and never stored how it went.
 * Whether a message in that state arrived is not knowable from the cluster; ended there, a node
 * killed just before the call would leave nobody told. The survivor that takes the monitor over
 * sends it again, marked as a possible repeat and under the same id (body {@code id} and
 * {@code Idempotency-Key}), which is what lets a receiver keep one DOWN.
 */
class NotificationFailoverTest {
    static final int PORT_BASE = 23080;
    static final String MONITOR = "killed-while-sending";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record Hook(JsonNode body, String idempotencyKey, long arrivedNanos) {
    }

    @Test
    void aDownWhoseNodeIsKilledWhileSendingItIsSentAgainByASurvivorMarkedAsARepeat() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        List<Hook> downs = new CopyOnWriteArrayList<>();
        CountDownLatch answerTheFirst = new CountDownLatch(1);
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        receiver.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        receiver.createContext("/", exchange -> {
            try (exchange) {
                String path = exchange.getRequestURI().getPath();
                byte[] body = exchange.getRequestBody().readAllBytes();
                if (path.equals("/hook")) {
                    JsonNode json = JSON.readTree(new String(body, StandardCharsets.UTF_8));
                    if (json.path("event").asText().equals("monitor.down")) {
                        downs.add(new Hook(json, exchange.getRequestHeaders().getFirst("Idempotency-Key"), System.nanoTime()));
                        if (downs.size() == 1) {
                            // the first DOWN is held unanswered until its node has been killed
                            answerTheFirst.await(120, TimeUnit.SECONDS);
                        }
                    }
                    exchange.sendResponseHeaders(200, -1);
                } else {
                    exchange.sendResponseHeaders(503, -1); // the monitored service is down
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        receiver.start();
        String base = "http://127.0.0.1:" + receiver.getAddress().getPort();
        // the held DOWN must not time out and be tried again (an unmarked copy) before its node is killed
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir, 2, PORT_BASE, Map.of("SWITCHBOARD_MONITOR_NOTIFY_TIMEOUT", "120s"),
                ClusterFailoverTest.NODE_JVM)) {
            cluster.start(Duration.ofSeconds(120));
            String token = cluster.adminToken();
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
            MonitorLoad.post(http, cluster.baseUrl(), token, "/api/v1/notification-channels",
                    Map.of("name", "hook", "type", "webhook", "url", base + "/hook"));
            MonitorLoad.post(http, cluster.baseUrl(), token, "/api/v1/monitors", Map.of("name", MONITOR, "type", "http", "target", base + "/down",
                    "interval", "2s", "timeout", "2s", "failureThreshold", 1, "channels", List.of("hook")));

            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (downs.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(downs).as("the first DOWN arrived" + cluster.logTails(20)).hasSize(1);
            String holder = cluster.leaseHolder("monitor:" + MONITOR);
            NodeProcess sending = cluster.nodeWithId(holder);
            sending.kill();
            long killed = System.nanoTime();
            answerTheFirst.countDown(); // its node is gone: nobody reads the answer

            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (downs.size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(downs).as("the DOWN sent again by the survivor\n" + cluster.logTails(30)).hasSize(2);
            Hook first = downs.get(0);
            Hook again = downs.get(1);
            System.out.printf("NotificationFailoverTest: DOWN sent again %.1f s after the kill of %s%n",
                    (again.arrivedNanos() - killed) / 1e9, sending);
            String id = first.body().path("id").asText();
            assertThat(id).isNotBlank();
            assertThat(first.idempotencyKey()).isEqualTo(id);
            assertThat(first.body().has("repeat")).isFalse();
            assertThat(again.body().path("id").asText()).as("the same message").isEqualTo(id);
            assertThat(again.idempotencyKey()).isEqualTo(id);
            assertThat(again.body().path("repeat").asBoolean()).isTrue();
            assertThat(again.body().path("text").asText()).startsWith("Sent again: the node that was sending this message stopped");
            assertThat(cluster.leaseHolder("monitor:" + MONITOR)).as("the monitor moved").isNotEqualTo(holder);

            HttpResponse<String> incident = http.send(HttpRequest.newBuilder(URI.create(cluster.baseUrl()
                            + "/api/v1/incidents/" + first.body().path("incident").path("id").asLong()))
                    .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + token).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(incident.body()).contains("notify_again").contains("node " + holder + " stopped while sending it");

            Thread.sleep(3_000); // more sweeps send nothing more
            assertThat(downs).hasSize(2);
        } finally {
            answerTheFirst.countDown();
            receiver.stop(0);
        }
    }
}
