package io.switchboard.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * Monitors made through the API, checking a loopback HTTP server of the test's that writes down
 * when each check arrives: {@code /m/<name>} answers 200, {@code /fail/<name>} 503 (an outage that
 * lasts as long as the test), and {@code /hook} takes the webhook notifications. From the
 * arrival times it tells the longest gap between two checks of a monitor (does a monitor keep its
 * interval when its node dies?) and how many checks arrived per interval (is a check run once, by
 * one node, or by every node?).
 */
final class MonitorLoad implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String CHANNEL = "failover-hook";
    static final String OUTAGE = "failover-outage";

    private final HttpServer server;
    private final Map<String, List<Long>> arrivals = new ConcurrentHashMap<>();
    private final List<JsonNode> notifications = new CopyOnWriteArrayList<>();
    private final List<String> names = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    final Duration interval;

    MonitorLoad(Duration interval) throws IOException {
        this.interval = interval;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 256);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/", exchange -> {
            try (exchange) {
                long now = System.nanoTime();
                String path = exchange.getRequestURI().getPath();
                byte[] body = exchange.getRequestBody().readAllBytes();
                int status = 404;
                if (path.startsWith("/m/")) {
                    arrivals.computeIfAbsent(path.substring(3), k -> new CopyOnWriteArrayList<>()).add(now);
                    status = 200;
                } else if (path.startsWith("/fail/")) {
                    arrivals.computeIfAbsent(path.substring(6), k -> new CopyOnWriteArrayList<>()).add(now);
                    status = 503;
                } else if (path.equals("/hook")) {
                    try {
                        notifications.add(JSON.readTree(new String(body, StandardCharsets.UTF_8)));
                    } catch (IOException e) {
                        notifications.add(JSON.createObjectNode().put("unparsable", new String(body, StandardCharsets.UTF_8)));
                    }
                    status = 200;
                }
                exchange.sendResponseHeaders(status, -1);
            }
        });
        server.start();
    }

    private String url(String path) {
        return "http://127.0.0.1:" + server.getAddress().getPort() + path;
    }

    /**
     * Creates, through the balancer, a webhook channel, {@code count} monitors that stay up, and
     * one monitor whose target always fails (notifying the channel after 2 failed checks).
     */
    void create(String baseUrl, String adminToken, int count) throws Exception {
        post(baseUrl, adminToken, "/api/v1/notification-channels",
                Map.of("name", CHANNEL, "type", "webhook", "url", url("/hook")));
        String seconds = interval.toSeconds() + "s";
        for (int i = 0; i < count; i++) {
            String name = String.format("failover-%03d", i);
            post(baseUrl, adminToken, "/api/v1/monitors",
                    Map.of("name", name, "type", "http", "target", url("/m/" + name), "interval", seconds, "timeout", "3s"));
            names.add(name);
        }
        post(baseUrl, adminToken, "/api/v1/monitors", Map.of("name", OUTAGE, "type", "http", "target", url("/fail/" + OUTAGE),
                "interval", seconds, "timeout", "3s", "failureThreshold", 2, "channels", List.of(CHANNEL)));
    }

    private void post(String baseUrl, String token, String path, Map<String, Object> body) throws Exception {
        post(http, baseUrl, token, path, body);
    }

    /**
     * POSTs through the balancer, again (up to 5 times, 300 ms apart) when it refuses or answers
     * 5xx; a 409 after a failed attempt is that attempt's, stored though its answer was lost.
     */
    static void post(HttpClient http, String baseUrl, String token, String path, Map<String, Object> body) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(baseUrl + path))
                        .timeout(Duration.ofSeconds(10)).header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                        HttpResponse.BodyHandlers.ofString());
                // a 409 after a failed attempt: that attempt was stored though its answer was lost
                if (r.statusCode() == 201 || r.statusCode() == 200 || (r.statusCode() == 409 && attempt > 0)) {
                    return;
                }
                if (r.statusCode() < 500 || attempt >= 5) {
                    throw new AssertionError("POST " + path + " " + body + " answered " + r.statusCode() + ": " + r.body());
                }
            } catch (IOException e) {
                if (attempt >= 5) {
                    throw e;
                }
            }
            Thread.sleep(300);
        }
    }

    /** Waits until every monitor's check has arrived at least once. */
    void awaitAllChecked(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (names.stream().allMatch(arrivals::containsKey) && arrivals.containsKey(OUTAGE)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("monitors never checked within " + within + ": "
                + names.stream().filter(n -> !arrivals.containsKey(n)).limit(10).toList());
    }

    /** A monitor's longest silence within [from, to] (System.nanoTime()), counting the edges. */
    record Gap(String monitor, double seconds) {
    }

    Gap longestGap(long from, long to) {
        Gap worst = new Gap("-", 0);
        for (String name : names) {
            long previous = from;
            long longest = 0;
            for (long t : arrivals.getOrDefault(name, List.of())) {
                if (t < from || t > to) {
                    continue;
                }
                longest = Math.max(longest, t - previous);
                previous = t;
            }
            longest = Math.max(longest, to - previous);
            if (longest / 1e9 > worst.seconds()) {
                worst = new Gap(name, longest / 1e9);
            }
        }
        return worst;
    }

    /** The largest number of checks one monitor got within [from, to], divided by the intervals in it. */
    double mostChecksPerInterval(long from, long to) {
        double intervals = (to - from) / (double) interval.toNanos();
        long most = 0;
        for (String name : names) {
            most = Math.max(most, arrivals.getOrDefault(name, List.of()).stream().filter(t -> t >= from && t <= to).count());
        }
        return most / intervals;
    }

    /** Milliseconds from {@code since} until every monitor had a check after it, or -1 when some never did. */
    double msUntilAllCheckedAfter(long since) {
        long last = 0;
        for (String name : names) {
            long first = arrivals.getOrDefault(name, List.of()).stream().filter(t -> t > since).findFirst().orElse(-1L);
            if (first < 0) {
                return -1;
            }
            last = Math.max(last, first);
        }
        return (last - since) / 1e6;
    }

    /** The webhook notifications received for {@code event} ("monitor.down") about {@code monitor}. */
    List<JsonNode> notifications(String event, String monitor) {
        return notifications.stream().filter(n -> n.path("event").asText().equals(event))
                .filter(n -> n.toString().contains(monitor)).toList();
    }

    List<JsonNode> allNotifications() {
        return List.copyOf(notifications);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
