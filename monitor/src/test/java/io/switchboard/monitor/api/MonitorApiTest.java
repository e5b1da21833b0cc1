package io.switchboard.monitor.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.MonitorNode;
import io.switchboard.monitor.support.TestCertificates;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The monitor module's API over HTTP: every error answer is a problem document naming the field. */
class MonitorApiTest {
    static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static MonitorNode node;
    static LoopbackHttp target;
    static final String TELEGRAM_PATH = "/tg/bot123456:SECRET-token/sendMessage";

    @BeforeAll
    static void start() throws Exception {
        target = new LoopbackHttp().answer("/health", 200, "ok").answer("/fail", 500, "no")
                .answer(TELEGRAM_PATH, 500, "{\"ok\":false,\"error_code\":500,\"description\":\"oops\"}");
        node = new MonitorNode(dir, new Monitor(), Map.of("SWITCHBOARD_MONITOR_NOTIFY_ATTEMPTS", "1"));
    }

    @AfterAll
    static void stop() {
        node.close();
        target.close();
    }

    static void assertProblem(HttpResponse<String> response, int status, String detail) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        JsonNode problem = JSON.readTree(response.body());
        assertThat(problem.path("status").asInt()).isEqualTo(status);
        if (detail != null) {
            assertThat(problem.path("detail").asText()).isEqualTo(detail);
        }
    }

    @Test
    void withoutTheAdminTokenNothingIsShown() throws Exception {
        for (String path : new String[]{"/api/v1/monitors", "/api/v1/incidents", "/api/v1/notification-channels",
                "/api/v1/maintenance-windows", "/api/v1/notifications", "/api/v1/monitors/x/results"}) {
            HttpResponse<String> r = MonitorNode.HTTP.send(HttpRequest.newBuilder(URI.create(node.node.http().baseUrl() + path))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(path).isEqualTo(401);
            assertThat(r.headers().firstValue("WWW-Authenticate")).isPresent();
        }
    }

    @Test
    void createReadReplacePauseResumeDelete() throws Exception {
        HttpResponse<String> created = node.api("POST", "/api/v1/monitors", "{\"name\":\"web\",\"type\":\"http\",\"target\":\""
                + target.url("/health") + "\",\"interval\":\"1s\",\"headers\":{\"Authorization\":\"Bearer t0ken\"}}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.headers().firstValue("Location")).hasValue("/api/v1/monitors/web");
        JsonNode view = JSON.readTree(created.body());
        assertThat(view.path("headers").path("Authorization").asText()).isEqualTo("***");
        assertThat(view.path("interval").asText()).isEqualTo("1s");
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"web\",\"type\":\"tcp\",\"target\":\"127.0.0.1:1\"}"), 409,
                "'name': monitor web exists; PUT /api/v1/monitors/web replaces it");

        await().atMost(Duration.ofSeconds(20)).until(() -> node.json("GET", "/api/v1/monitors/web", null)
                .path("state").path("status").asText().equals("up"));
        // the state is in memory at once, the stored results follow through the writer: wait for them
        await().atMost(Duration.ofSeconds(20)).until(() -> node.json("GET", "/api/v1/monitors/web", null)
                .path("uptime").path("24h").path("uptimePercent").isNumber());
        JsonNode detail = node.json("GET", "/api/v1/monitors/web", null);
        assertThat(detail.path("uptime").path("24h").path("uptimePercent").asDouble()).isEqualTo(100.0);
        assertThat(detail.path("uptime").fieldNames()).toIterable().containsExactly("24h", "7d", "30d");
        await().atMost(Duration.ofSeconds(10)).until(() -> node.json("GET", "/api/v1/monitors/web/results?limit=5", null)
                .path("results").size() > 0);
        JsonNode results = node.json("GET", "/api/v1/monitors/web/results?limit=1000", null).path("results");
        assertThat(results.get(0).path("status").asText()).isEqualTo("up");
        // details are kept for the first result (a status change) and the first of each hour, not for every UP
        assertThat(results.get(results.size() - 1).path("details").path("phases").has("firstByteMs")).isTrue();
        // before: a time as written elsewhere, or the page's nextBefore in epoch milliseconds
        String newest = results.get(0).path("startedAt").asText();
        for (String before : java.util.List.of(newest, String.valueOf(java.time.Instant.parse(newest).toEpochMilli()))) {
            HttpResponse<String> page = node.api("GET", "/api/v1/monitors/web/results?before=" + before, null);
            assertThat(page.statusCode()).as(page.body()).isEqualTo(200);
            JsonNode older = JSON.readTree(page.body()).path("results");
            assertThat(older.isArray()).isTrue();
            older.forEach(r -> assertThat(java.time.Instant.parse(r.path("startedAt").asText())).isBefore(java.time.Instant.parse(newest)));
        }
        assertProblem(node.api("GET", "/api/v1/monitors/web/results?before=yesterday", null), 400,
                "'before' must be an ISO-8601 instant such as 2025-06-01T00:00:00Z or epoch milliseconds (got 'yesterday')");
        assertThat(node.json("GET", "/api/v1/monitors/web/uptime", null).path("7d").path("checks").asInt()).isPositive();
        assertThat(node.json("GET", "/api/v1/monitors/web/history?period=day", null).path("periods").isArray()).isTrue();
        JsonNode stats = node.json("GET", "/api/v1/monitor-stats", null);
        assertThat(stats.path("monitors").asInt()).isEqualTo(1);
        assertThat(stats.path("checks").asLong()).isPositive();
        assertThat(stats.path("lateness").has("p99Ms")).isTrue();

        // PUT replaces the whole definition; a masked header sent back keeps the stored value
        int before = target.received("/health").size();
        HttpResponse<String> replaced = node.api("PUT", "/api/v1/monitors/web", "{\"type\":\"http\",\"target\":\""
                + target.url("/health") + "\",\"interval\":\"5s\",\"headers\":{\"Authorization\":\"***\"}}");
        assertThat(replaced.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(replaced.body()).path("interval").asText()).isEqualTo("5s");
        await().atMost(Duration.ofSeconds(15)).until(() -> target.received("/health").stream().skip(before)
                .anyMatch(r -> "Bearer t0ken".equals(r.header("Authorization"))));

        // what a GET returned (state and uptime included) goes back as it is
        String shown = node.api("GET", "/api/v1/monitors/web", null).body();
        assertThat(JSON.readTree(shown).has("state")).isTrue();
        HttpResponse<String> putBack = node.api("PUT", "/api/v1/monitors/web", shown);
        assertThat(putBack.statusCode()).as(putBack.body()).isEqualTo(200);
        HttpResponse<String> typo = node.api("PUT", "/api/v1/monitors/web", shown.replaceFirst("\\{", "{\"stat\":1,"));
        assertThat(typo.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(typo.body()).path("detail").asText()).startsWith("'stat': unknown key");

        assertThat(node.json("POST", "/api/v1/monitors/web/pause", null).path("state").path("status").asText()).isEqualTo("paused");
        assertThat(node.json("GET", "/api/v1/monitors", null).path("monitors").get(0).path("paused").asBoolean()).isTrue();
        assertThat(node.json("POST", "/api/v1/monitors/web/resume", null).path("paused").asBoolean()).isFalse();
        assertThat(node.api("DELETE", "/api/v1/monitors/web", null).statusCode()).isEqualTo(204);
        assertProblem(node.api("GET", "/api/v1/monitors/web", null), 404, "no monitor web");
        assertProblem(node.api("DELETE", "/api/v1/monitors/web", null), 404, "no monitor web");
    }

    @Test
    void badBodiesNameTheField() throws Exception {
        assertProblem(node.api("POST", "/api/v1/monitors", "not json"), 400, null);
        assertProblem(node.api("POST", "/api/v1/monitors", "[1]"), 400, "The body must be a JSON object.");
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"x\",\"type\":\"http\",\"target\":\"http://a/\","
                + "\"interval\":\"0s\"}"), 400, "'interval': 0s is below the 1s minimum");
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"x y\",\"type\":\"tcp\",\"target\":\"a:1\"}"), 400,
                "'name': \"x y\" is not a name: 1-64 letters, digits, . _ -, starting with a letter or digit");
        // a long bad value is quoted by its start and length, not sent back whole
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"" + "n ".repeat(25_000) + "\",\"type\":\"tcp\","
                + "\"target\":\"a:1\"}"), 400, "'name': \"" + "n ".repeat(32) + "… (50000 characters)\" is not a name: 1-64"
                + " letters, digits, . _ -, starting with a letter or digit");
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"x\",\"type\":\"tcp\",\"target\":\"a:1\",\"port\":1}"), 400,
                null);
        // rules a stored monitor is not held to, but one written now is
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"x\",\"type\":\"http\",\"target\":\"http://a:0/\"}"),
                400, "'target': \"http://a:0/\": port 0 is outside 1-65535");
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"d\",\"type\":\"dns\",\"target\":\"shop.test\","
                + "\"expect\":[\"not an ip\"]}"), 400, "'expect[0]': \"not an ip\" is not an IPv4 address, which an A record holds"
                + " (e.g. 192.0.2.10)");
        assertProblem(node.api("PUT", "/api/v1/notification-channels/x", "{\"type\":\"webhook\",\"url\":\"http://a/\","
                + "\"headers\":{\"Host\":\"b\"}}"), 400, "'headers': \"Host\" is set by the node itself; leave it out");
        assertProblem(node.api("PUT", "/api/v1/monitors/x", "{\"name\":\"y\",\"type\":\"tcp\",\"target\":\"a:1\"}"), 400,
                "'name': the body says y but the URL says x; renaming is a DELETE and a POST");
        // a caFile is checked where it is written, instead of failing every check that reads it
        Path notPem = java.nio.file.Files.writeString(dir.resolve("not.pem"), "hello\n");
        Path ca = TestCertificates.writePem(dir.resolve("ca.pem"), TestCertificates.authority("Test CA").certificate());
        String tls = "{\"type\":\"tls\",\"target\":\"127.0.0.1:443\",\"caFile\":\"";
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + dir.resolve("missing.pem") + "\"}"), 400,
                "'caFile': " + dir.resolve("missing.pem") + ": no such file");
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + "ca.pem\"}"), 400, "'caFile': \"ca.pem\" is not an absolute path");
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + notPem + "\"}"), 400, "'caFile': " + notPem + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        Path key = java.nio.file.Files.writeString(dir.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\n"
                + java.util.Base64.getMimeEncoder().encodeToString(TestCertificates.authority("Test CA").key().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + key + "\"}"), 400, "'caFile': " + key + ": holds a private key,"
                + " not a CA certificate; give the CA's certificate (PEM, -----BEGIN CERTIFICATE-----)");
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + dir + "\"}"), 400, "'caFile': " + dir + ": a directory, not a file of certificates");
        Path huge = dir.resolve("huge.pem");
        try (var file = new java.io.RandomAccessFile(huge.toFile(), "rw")) {
            file.setLength(5L * 1024 * 1024); // sparse: no disk written
        }
        assertProblem(node.api("PUT", "/api/v1/monitors/t", tls + huge + "\"}"), 400, "'caFile': " + huge
                + ": over 4 MiB, too large for a file of certificates");
        assertProblem(node.api("PUT", "/api/v1/monitors/h", "{\"type\":\"http\",\"target\":\"https://a/\",\"caFile\":\"x\"}"), 400,
                "'caFile': \"x\" is not an absolute path");
        assertProblem(node.api("PUT", "/api/v1/notification-channels/m", "{\"type\":\"email\",\"host\":\"smtp.x\",\"from\":\"me@x.org\","
                + "\"to\":[\"ops@x.org\"],\"caFile\":\"" + notPem + "\"}"), 400, "'caFile': " + notPem + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        assertThat(node.api("PUT", "/api/v1/monitors/t", tls + ca + "\"}").statusCode()).isEqualTo(201);
        HttpResponse<String> deleted = node.api("DELETE", "/api/v1/monitors/t", null);
        assertThat(deleted.statusCode()).isEqualTo(204);
        assertThat(deleted.headers().firstValue("Content-Type")).as("no content, no type").isEmpty();
        HttpResponse<String> unknownChannel = node.api("PUT", "/api/v1/monitors/x",
                "{\"type\":\"tcp\",\"target\":\"a:1\",\"channels\":[\"pager\"]}");
        assertProblem(unknownChannel, 422, null);
        assertThat(JSON.readTree(unknownChannel.body()).path("detail").asText()).startsWith("'channels': no channel pager; ");
        assertProblem(node.api("GET", "/api/v1/monitors/x/results?limit=0", null), 404, "no monitor x");
        assertProblem(node.api("GET", "/api/v1/incidents?limit=9999", null), 400, "'limit' must be 1-500 (got 9999)");
        assertProblem(node.api("GET", "/api/v1/incidents?status=closed", null), 400,
                "'status' must be one of [open, resolved] (got 'closed')");
        assertProblem(node.api("GET", "/api/v1/incidents/abc", null), 400, "'id': an incident id is a number (got 'abc')");
        assertProblem(node.api("GET", "/api/v1/incidents/424242", null), 404, "no incident 424242");
        assertProblem(node.api("GET", "/api/v1/incidents?monitor=nosuch", null), 404,
                "no monitor nosuch, and no incidents of a removed monitor of that name");
        assertProblem(node.api("GET", "/api/v1/notifications?monitor=nosuch&channel=hook", null), 404,
                "no monitor nosuch, and no incidents or notifications of a removed monitor of that name");
        assertProblem(node.api("GET", "/api/v1/incidents?monitor=", null), 400, "'monitor' is empty; leave it out to list every monitor's");
        assertProblem(node.api("GET", "/api/v1/notifications?channel=nosuch", null), 404,
                "no channel nosuch, and no notifications to a removed channel of that name");
        assertProblem(node.api("GET", "/api/v1/notifications?channel=", null), 400, "'channel' is empty; leave it out to list every channel's");
        assertProblem(node.api("GET", "/api/v1/notifications?incident=424242", null), 404, "no incident 424242");
        assertProblem(node.api("GET", "/api/v1/notifications?before=yesterday", null), 400, null);
        // a misspelt query parameter is named, not passed over for a default page
        assertProblem(node.api("GET", "/api/v1/incidents?limt=1", null), 400,
                "query parameter 'limt' is not taken here; this endpoint takes before, limit, monitor, status");
        assertProblem(node.api("GET", "/api/v1/monitors?paused=true", null), 400,
                "query parameter 'paused' is not taken here; this endpoint takes none");
        assertProblem(node.api("GET", "/api/v1/monitor-stats?x=1", null), 400, null);
        assertThat(node.api("GET", "/api/v1/incidents?limit=1&", null).statusCode()).isEqualTo(200);
    }

    @Test
    void channelsHideTheirSecretsAndCannotBeRemovedWhileUsed() throws Exception {
        HttpResponse<String> created = node.api("PUT", "/api/v1/notification-channels/oncall",
                "{\"type\":\"telegram\",\"botToken\":\"123456:SECRET-token\",\"chatId\":\"-1001\",\"apiUrl\":\"" + target.url("/tg") + "\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(created.body()).doesNotContain("SECRET").contains("\"botToken\":\"***\"");
        assertThat(node.api("GET", "/api/v1/notification-channels", null).body()).doesNotContain("SECRET");
        // sending the mask back keeps the token
        assertThat(node.api("PUT", "/api/v1/notification-channels/oncall", "{\"type\":\"telegram\",\"botToken\":\"***\","
                + "\"chatId\":\"-1002\",\"apiUrl\":\"" + target.url("/tg") + "\"}").statusCode()).isEqualTo(200);
        node.api("PUT", "/api/v1/monitors/uses-oncall", "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"paused\":true,"
                + "\"channels\":[\"oncall\"]}");
        assertProblem(node.api("DELETE", "/api/v1/notification-channels/oncall", null), 409,
                "'name': channel oncall is used by monitor uses-oncall; take it out of them first");
        // the stand-in Bot API answers 500: the test message fails after one attempt (no retries while the
        // caller waits), says why, and hides the token
        int before = target.received(TELEGRAM_PATH).size();
        HttpResponse<String> test = node.api("POST", "/api/v1/notification-channels/oncall/test", null);
        assertProblem(test, 502, null);
        assertThat(test.body()).doesNotContain("SECRET").contains("the test message could not be delivered: Telegram: HTTP 500 (oops)");
        assertThat(target.received(TELEGRAM_PATH)).hasSize(before + 1);
        // a test tells nobody of an incident: not a failed notification (the alert on those would fire)
        assertThat(node.metric("switchboard_monitor_notifications_failed_total{channel=\"oncall\",type=\"telegram\"}"))
                .isEqualTo(0.0);
        assertThat(node.metric("switchboard_monitor_notification_tests_total{channel=\"oncall\",outcome=\"failed\","
                + "type=\"telegram\"}")).isEqualTo(1.0);
        assertThat(node.api("DELETE", "/api/v1/monitors/uses-oncall", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/notification-channels/oncall", null).statusCode()).isEqualTo(204);
        assertProblem(node.api("POST", "/api/v1/notification-channels", "{\"name\":\"m\",\"type\":\"email\",\"host\":\"smtp.x\","
                + "\"from\":\"me@x.org\",\"to\":[\"nobody\"]}"), 400, "'to[0]': \"nobody\" is not an e-mail address");
    }

    /**
     * A monitor a maintenance window names is not removed from under it: the window, left naming
     * no such monitor, could not be saved or imported again (an export failed to import back).
     */
    @Test
    void aMonitorNamedInAMaintenanceWindowCannotBeRemovedUntilTakenOut() throws Exception {
        node.api("PUT", "/api/v1/monitors/in-window", "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"paused\":true}");
        node.api("PUT", "/api/v1/monitors/other", "{\"type\":\"tcp\",\"target\":\"127.0.0.1:1\",\"paused\":true}");
        String window = "{\"start\":\"2026-01-01T02:00:00Z\",\"duration\":\"30m\",\"repeat\":\"daily\",\"monitors\":[%s]}";
        assertThat(node.api("PUT", "/api/v1/maintenance-windows/nightly", window.formatted("\"in-window\",\"other\"")).statusCode())
                .isEqualTo(201);
        assertThat(node.api("PUT", "/api/v1/maintenance-windows/upgrade", window.formatted("\"in-window\"")).statusCode())
                .isEqualTo(201);
        assertProblem(node.api("DELETE", "/api/v1/monitors/in-window", null), 409,
                "'name': monitor in-window is named in maintenance windows nightly, upgrade; take it out of them first");
        assertThat(node.api("GET", "/api/v1/monitors/in-window", null).statusCode()).isEqualTo(200);
        node.api("PUT", "/api/v1/maintenance-windows/nightly", window.formatted("\"other\""));
        assertThat(node.api("DELETE", "/api/v1/maintenance-windows/upgrade", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/monitors/in-window", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/maintenance-windows/nightly", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/monitors/other", null).statusCode()).isEqualTo(204);
    }

    @Test
    void aWebhookPutBackAsShownKeepsItsUrlAndCredentialHeaders() throws Exception {
        node.api("PUT", "/api/v1/notification-channels/slack", "{\"type\":\"webhook\",\"url\":\"" + target.url("/health")
                + "?key=k3y\",\"headers\":{\"Authorization\":\"Bearer hook-t0ken\",\"X-Team\":\"ops\"}}");
        HttpResponse<String> shown = node.api("GET", "/api/v1/notification-channels/slack", null);
        assertThat(shown.body()).doesNotContain("hook-t0ken").doesNotContain("/health").doesNotContain("k3y");
        JsonNode view = JSON.readTree(shown.body());
        assertThat(view.path("url").asText()).isEqualTo("http://127.0.0.1:" + target.port() + "/***");
        assertThat(view.path("headers").path("Authorization").asText()).isEqualTo("***");
        // PUT what GET returned: the stored URL and header stay, so a test message still carries them
        assertThat(node.api("PUT", "/api/v1/notification-channels/slack", shown.body()).statusCode()).isEqualTo(200);
        JsonNode sent = node.json("POST", "/api/v1/notification-channels/slack/test", null);
        assertThat(sent.path("sent").asBoolean()).isTrue();
        assertThat(target.received("/health").getLast().header("Authorization")).isEqualTo("Bearer hook-t0ken");
        assertThat(node.api("DELETE", "/api/v1/notification-channels/slack", null).statusCode()).isEqualTo(204);
    }

    /**
     * The user's walk through the docs: a webhook URL with a user and password is taken, shown
     * masked, and its test message carries them as Basic authentication; an Authorization header
     * beside them (also beside the masked URL sent back) is a 400 naming the header.
     */
    @Test
    void aUserAndPasswordInAUrlAreSentAndNotGivenTwice() throws Exception {
        String expected = "Basic " + java.util.Base64.getEncoder().encodeToString("user:pw".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        target.on("/basic", exchange -> LoopbackHttp.respond(exchange,
                expected.equals(exchange.getRequestHeaders().getFirst("Authorization")) ? 200 : 401, ""));
        String url = "http://user:pw@127.0.0.1:" + target.port() + "/basic";
        HttpResponse<String> created = node.api("PUT", "/api/v1/notification-channels/basic", "{\"type\":\"webhook\",\"url\":\""
                + url + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        HttpResponse<String> shown = node.api("GET", "/api/v1/notification-channels/basic", null);
        assertThat(JSON.readTree(shown.body()).path("url").asText()).isEqualTo("http://127.0.0.1:" + target.port() + "/***");
        JsonNode sent = node.json("POST", "/api/v1/notification-channels/basic/test", null);
        assertThat(sent.path("sent").asBoolean()).as(sent.toString()).isTrue();
        assertThat(target.received("/basic").getLast().header("Authorization")).isEqualTo(expected);

        String twice = "'headers.Authorization': credentials given twice: in the URL (user:password@) and in an Authorization"
                + " header; keep one";
        assertProblem(node.api("PUT", "/api/v1/notification-channels/basic2", "{\"type\":\"webhook\",\"url\":\"" + url
                + "\",\"headers\":{\"Authorization\":\"Bearer t\"}}"), 400, twice);
        assertProblem(node.api("PUT", "/api/v1/notification-channels/basic", "{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:"
                + target.port() + "/***\",\"headers\":{\"Authorization\":\"Bearer t\"}}"), 400, twice);
        assertProblem(node.api("POST", "/api/v1/monitors", "{\"name\":\"basic\",\"type\":\"http\",\"target\":\"http://ops:hunter2@"
                + "127.0.0.1:" + target.port() + "/basic\",\"headers\":{\"Authorization\":\"Bearer t\"}}"), 400, twice);
        assertThat(node.api("DELETE", "/api/v1/notification-channels/basic", null).statusCode()).isEqualTo(204);
    }

    /**
     * A caFile that is a FIFO (or a device) is refused without being opened: opening one blocks
     * until something writes to it, and the API reads the file on the request's thread.
     */
    @Test
    void aCaFileThatIsNotARegularFileIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("ca.fifo");
        org.junit.jupiter.api.Assumptions.assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0,
                "mkfifo is not available here");
        try {
            HttpResponse<String> refused = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(10),
                    () -> node.api("PUT", "/api/v1/monitors/t", "{\"type\":\"tls\",\"target\":\"127.0.0.1:443\",\"caFile\":\""
                            + fifo + "\"}"));
            assertProblem(refused, 400, "'caFile': " + fifo + ": not a regular file (a pipe, a device or a socket), not a file"
                    + " of certificates");
        } finally {
            // lets a reader stuck opening it go on, should one be (a daemon: it waits for none otherwise)
            Thread writer = new Thread(() -> {
                try (var out = java.nio.file.Files.newOutputStream(fifo)) {
                    out.flush();
                } catch (java.io.IOException e) {
                    // nothing was waiting
                }
            });
            writer.setDaemon(true);
            writer.start();
        }
    }

    @Test
    void aTestMessageToAWorkingWebhook() throws Exception {
        node.api("PUT", "/api/v1/notification-channels/hook", "{\"type\":\"webhook\",\"url\":\"" + target.url("/health") + "\"}");
        JsonNode sent = node.json("POST", "/api/v1/notification-channels/hook/test", null);
        assertThat(sent.path("sent").asBoolean()).isTrue();
        assertThat(JSON.readTree(target.received("/health").getLast().body()).path("event").asText()).isEqualTo("monitor.test");
        JsonNode recorded = node.json("GET", "/api/v1/notifications?channel=hook", null).path("notifications").get(0);
        assertThat(recorded.path("outcome").asText()).isEqualTo("sent");
        assertThat(recorded.path("event").asText()).isEqualTo("test");
        assertThat(recorded.path("monitor").isNull()).as("a channel test belongs to no monitor: %s", recorded).isTrue();
        // not listed as a monitor's: there is no monitor "test" and nothing sent for one
        assertProblem(node.api("GET", "/api/v1/notifications?monitor=test", null), 404, null);
        assertThat(node.metric("switchboard_monitor_notifications_sent_total{channel=\"hook\",type=\"webhook\"}")).isEqualTo(0.0);
        assertThat(node.metric("switchboard_monitor_notification_tests_total{channel=\"hook\",outcome=\"sent\",type=\"webhook\"}"))
                .isEqualTo(1.0);
        // a channel made but never used is known by its name (an empty list), and a removed channel's deliveries stay listed
        assertThat(node.api("PUT", "/api/v1/notification-channels/quiet", "{\"type\":\"webhook\",\"url\":\""
                + target.url("/q") + "\"}").statusCode()).isEqualTo(201);
        HttpResponse<String> quiet = node.api("GET", "/api/v1/notifications?channel=quiet", null);
        assertThat(quiet.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(quiet.body()).path("notifications").isArray()).isTrue();
        assertThat(JSON.readTree(quiet.body()).path("notifications").size()).isZero();
        assertThat(node.api("DELETE", "/api/v1/notification-channels/hook", null).statusCode()).isEqualTo(204);
        assertThat(node.json("GET", "/api/v1/notifications?channel=hook", null).path("notifications").get(0).path("event").asText())
                .isEqualTo("test");
        // an empty page of the removed channel (before its first delivery) is known by that history too
        HttpResponse<String> older = node.api("GET", "/api/v1/notifications?channel=hook&before=2000-01-01T00:00:00Z", null);
        assertThat(older.statusCode()).as(older.body()).isEqualTo(200);
        assertThat(JSON.readTree(older.body()).path("notifications").size()).isZero();
    }

    @Test
    void maintenanceWindows() throws Exception {
        HttpResponse<String> created = node.api("PUT", "/api/v1/maintenance-windows/nightly",
                "{\"start\":\"2025-06-01T02:00:00Z\",\"duration\":\"30m\",\"repeat\":\"daily\"}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertThat(JSON.readTree(created.body()).has("activeNow")).isTrue();
        assertThat(node.api("PUT", "/api/v1/maintenance-windows/nightly", created.body()).statusCode()).isEqualTo(200);
        assertProblem(node.api("PUT", "/api/v1/maintenance-windows/bad", "{\"start\":\"2025-06-01T02:00:00Z\",\"duration\":\"30m\","
                + "\"monitors\":[\"ghost\"]}"), 422, "'monitors': no monitor ghost");
        assertThat(node.api("DELETE", "/api/v1/maintenance-windows/nightly", null).statusCode()).isEqualTo(204);
        assertProblem(node.api("DELETE", "/api/v1/maintenance-windows/nightly", null), 404, "no maintenance window nightly");
    }
}
