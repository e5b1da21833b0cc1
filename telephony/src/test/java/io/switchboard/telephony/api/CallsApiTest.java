package io.switchboard.telephony.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.auth.AdminTokens;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.http.HttpServer;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.store.Store;
import io.switchboard.telephony.calls.ActiveCall;
import io.switchboard.telephony.calls.CallMetrics;
import io.switchboard.telephony.calls.CallRecordStore;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.platform.testing.MutableClock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The calls API through a real HTTP server, over a SQLite store. */
class CallsApiTest {
    // One server for the class: each stop waits about a second for the client's idle connections.
    private static final HttpClient client = HttpClient.newHttpClient();
    private static final ObjectMapper json = new ObjectMapper();
    private static final MutableClock clock = new MutableClock(Instant.parse("2031-05-01T12:00:00Z"));

    @TempDir
    static Path dir;
    private static Store store;
    private static Metrics metrics;
    private static HttpServer server;
    private static CallRecordStore records;
    private static CallTracker tracker;
    private static String token;

    @BeforeAll
    static void start() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("telephony");
        token = new AdminTokens(store.jdbi(), clock).create("test");
        metrics = new Metrics();
        records = new CallRecordStore(store.jdbi(), 10_000);
        tracker = new CallTracker(records, new CallMetrics(metrics.registry()), clock, "node-a");
        tracker.start();
        server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.addRoutes(new CallsApi(tracker, records, new AdminAuth(new AdminTokens(store.jdbi(), clock)),
                server.json(), clock)::register);
        server.start();
    }

    @AfterAll
    static void stop() {
        server.stop();
        tracker.close();
        metrics.close();
        store.close();
    }

    private HttpResponse<String> get(String path, boolean authorized) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.baseUrl() + path));
        if (authorized) {
            request.header("Authorization", "Bearer " + token);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode getJson(String path) throws Exception {
        HttpResponse<String> response = get(path, true);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return json.readTree(response.body());
    }

    private static String q(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    @Test
    void bothEndpointsNeedTheAdminToken() throws Exception {
        for (String path : List.of("/api/v1/calls", "/api/v1/call-records")) {
            HttpResponse<String> response = get(path, false);
            assertThat(response.statusCode()).isEqualTo(401);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("application/problem+json"));
            assertThat(response.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(
                    v -> assertThat(v).startsWith("Bearer"));
        }
        // admin tokens only here (no people): a wrong token is called what it is, not an expired session
        for (String wrong : List.of("wrongtoken", "sbat_made_up")) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/api/v1/calls"))
                    .header("Authorization", "Bearer " + wrong).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(401);
            assertThat(response.headers().firstValue("WWW-Authenticate")).hasValue(
                    "Bearer realm=\"switchboard\", error=\"invalid_token\"");
            String detail = json.readTree(response.body()).get("detail").asText();
            assertThat(detail).as(wrong).contains("not", "admin token", "admin.token", "switchboard admin token")
                    .doesNotContain("expired", "person");
        }
    }

    @Test
    void activeCallsShowTheirState() throws Exception {
        ActiveCall ringing = tracker.started("api-1", "t1", "sip:alice@example.test", "sip:bob@example.test", "100",
                List.of("sip:bob@192.0.2.1:5060"));
        ActiveCall answered = tracker.started("api-2", "t2", "sip:carol@example.test", "sip:dave@example.test", "200",
                List.of("sip:dave@192.0.2.2:5060"));
        try {
            tracker.answered(answered, "sip:dave@192.0.2.2:5060");
            clock.advance(Duration.ofMillis(42_250));

            JsonNode calls = getJson("/api/v1/calls").get("calls");
            JsonNode one = find(calls, ringing.id());
            assertThat(one.get("state").asText()).isEqualTo("ringing");
            assertThat(one.get("callId").asText()).isEqualTo("api-1");
            assertThat(one.get("caller").asText()).isEqualTo("sip:alice@example.test");
            assertThat(one.get("devicesRung").get(0).asText()).isEqualTo("sip:bob@192.0.2.1:5060");
            assertThat(one.get("elapsedSeconds").asLong()).isEqualTo(42);
            // the unit of a record's durationMs
            assertThat(one.get("elapsedMs").asLong()).isEqualTo(42_250);
            assertThat(one.get("durationMs").isNull()).as("not answered: no talk time").isTrue();
            assertThat(one.get("answeredAt").isNull()).isTrue();
            assertThat(Instant.parse(one.get("startedAt").asText())).isEqualTo(ringing.startedAt());

            JsonNode two = find(calls, answered.id());
            assertThat(two.get("state").asText()).isEqualTo("answered");
            assertThat(two.get("answeredBy").asText()).isEqualTo("sip:dave@192.0.2.2:5060");
            assertThat(two.get("talkSeconds").asLong()).isEqualTo(42);
            assertThat(two.get("durationMs").asLong()).isEqualTo(42_250);
        } finally {
            tracker.failed(ringing, 487, "Request Terminated");
            tracker.ended(answered, "caller");
        }
        JsonNode after = getJson("/api/v1/calls").get("calls");
        for (JsonNode call : after) {
            assertThat(call.get("id").asText()).isNotIn(ringing.id(), answered.id());
        }
    }

    private static JsonNode find(JsonNode calls, String id) {
        for (JsonNode call : calls) {
            if (call.get("id").asText().equals(id)) {
                return call;
            }
        }
        throw new AssertionError("no call " + id + " in " + calls);
    }

    @Test
    void historyPagesThroughAWindowNewestFirst() throws Exception {
        Instant windowStart = Instant.parse("2031-06-01T00:00:00Z");
        clock.set(windowStart);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ActiveCall call = tracker.started("h" + i, "t", "sip:alice@example.test", "sip:bob@example.test", "100",
                    List.of("sip:bob@192.0.2.1:5060"));
            ids.add(0, call.id());
            clock.advance(Duration.ofSeconds(1));
            tracker.answered(call, "sip:bob@192.0.2.1:5060");
            clock.advance(Duration.ofSeconds(30));
            tracker.ended(call, "callee");
        }
        Instant windowEnd = clock.instant();
        clock.advance(Duration.ofMinutes(1));
        tracker.failed(tracker.started("later", "t", "sip:x@example.test", "sip:y@example.test", null, List.of()),
                404, "Not Found");
        await().atMost(Duration.ofSeconds(10)).until(() -> records.list(windowStart.toEpochMilli(), null, null, 10)
                .records().stream().filter(r -> r.status().equals("completed")).count() == 5);

        // from as ISO-8601, to as epoch milliseconds
        String base = "/api/v1/call-records?from=" + q(windowStart.toString()) + "&to=" + windowEnd.toEpochMilli()
                + "&limit=2";
        List<String> seen = new ArrayList<>();
        String cursor = null;
        int pages = 0;
        do {
            JsonNode page = getJson(base + (cursor == null ? "" : "&cursor=" + q(cursor)));
            assertThat(page.has("nextCursor")).isTrue();
            for (JsonNode r : page.get("records")) {
                seen.add(r.get("id").asText());
                assertThat(r.get("status").asText()).isEqualTo("completed");
                assertThat(r.get("durationMs").asLong()).isEqualTo(30_000);
                assertThat(r.get("finalCode").asInt()).isEqualTo(200);
                assertThat(r.get("endedBy").asText()).isEqualTo("callee");
                assertThat(r.get("devicesRung").isArray()).isTrue();
                assertThat(Instant.parse(r.get("endedAt").asText()))
                        .isEqualTo(Instant.parse(r.get("answeredAt").asText()).plusSeconds(30));
            }
            cursor = page.get("nextCursor").isNull() ? null : page.get("nextCursor").asText();
            pages++;
        } while (cursor != null && pages < 10);
        assertThat(pages).isEqualTo(3);
        assertThat(seen).isEqualTo(ids);

        JsonNode defaults = getJson("/api/v1/call-records").get("records");
        assertThat(defaults.size()).isBetween(6, 50);
        boolean laterSeen = false;
        for (JsonNode r : defaults) {
            if (r.get("callId").asText().equals("later")) {
                laterSeen = true;
                assertThat(r.get("status").asText()).isEqualTo("not_found");
                assertThat(r.get("finalCode").asInt()).isEqualTo(404);
                assertThat(r.get("answeredAt").isNull()).isTrue();
            }
        }
        assertThat(laterSeen).isTrue();
    }

    @Test
    void badParametersAreNamedInA400() throws Exception {
        Map<String, String> cases = Map.of(
                "from=yesterday", "'from'",
                "to=2031-13-01T00:00:00Z", "'to'",
                "from=2031-05-01", "'from'",
                "limit=0", "'limit'",
                "limit=501", "'limit'",
                "limit=ten", "'limit'",
                "cursor=%21%21%21", "'cursor'",
                "cursor=YWJj", "'cursor'",
                "from=2031-05-02T00:00:00Z&to=2031-05-01T00:00:00Z", "'from'",
                "to=99999999999999999999999", "'to'");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResponse<String> response = get("/api/v1/call-records?" + c.getKey(), true);
            assertThat(response.statusCode()).as(c.getKey()).isEqualTo(400);
            assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                    type -> assertThat(type).startsWith("application/problem+json"));
            JsonNode problem = json.readTree(response.body());
            assertThat(problem.get("status").asInt()).isEqualTo(400);
            assertThat(problem.get("title").asText()).isEqualTo("Bad Request");
            assertThat(problem.get("detail").asText()).as(c.getKey()).contains(c.getValue());
        }
        assertThat(get("/api/v1/call-records?limit=500", true).statusCode()).isEqualTo(200);
        assertThat(get("/api/v1/call-records?limit=1&from=0", true).statusCode()).isEqualTo(200);
    }
}
