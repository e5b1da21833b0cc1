package io.switchboard.monitor.notify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.support.LoopbackHttp;
import io.switchboard.monitor.support.TestCertificates;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class NotifierWebhookTest {
    static LoopbackHttp receiver;
    static final NotifierWebhook notifier = new NotifierWebhook(HttpClient.newHttpClient(), Duration.ofSeconds(2));
    static final Notification DOWN = new Notification(Notification.Event.DOWN, "shop", "http", "http://127.0.0.1:8000/health",
            7L, "down", Instant.parse("2025-06-01T10:00:00Z"), 3, "shop is DOWN", "shop is DOWN.\nWhat is wrong: …",
            Instant.parse("2025-06-01T10:00:05Z"));

    @BeforeAll
    static void start() throws Exception {
        receiver = new LoopbackHttp().answer("/hook", 204, "").answer("/fail", 500, "oops").answer("/gone", 410, "gone")
                .on("/endless", exchange -> {
                    exchange.sendResponseHeaders(200, 0);
                    byte[] chunk = new byte[8192];
                    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    try (var out = exchange.getResponseBody()) {
                        while (System.nanoTime() < until) {
                            out.write(chunk);
                        }
                    } catch (java.io.IOException e) {
                        // the notifier hung up after reading what it keeps
                    }
                })
                .on("/slow", exchange -> {
                    try {
                        Thread.sleep(4000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    LoopbackHttp.respond(exchange, 200, "");
                });
    }

    @AfterAll
    static void stop() {
        receiver.close();
    }

    @Test
    void postsJsonSignedWithTheSecret() throws Exception {
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/hook")
                + "\nsecret: hook-secret\nheaders: {X-Team: ops}\n"), DOWN);
        LoopbackHttp.Received r = receiver.received("/hook").getLast();
        JsonNode body = new ObjectMapper().readTree(r.body());
        assertThat(body.path("event").asText()).isEqualTo("monitor.down");
        assertThat(body.path("monitor").path("name").asText()).isEqualTo("shop");
        assertThat(body.path("incident").path("id").asLong()).isEqualTo(7);
        assertThat(body.path("text").asText()).startsWith("shop is DOWN.");
        assertThat(r.header("X-Team")).isEqualTo("ops");
        String timestamp = r.header(NotifierWebhook.TIMESTAMP_HEADER);
        assertThat(timestamp).isEqualTo(Long.toString(DOWN.at().getEpochSecond()));
        // the receiver's side of RFC 2104: recompute over "timestamp.body" with the shared secret
        assertThat(r.header(NotifierWebhook.SIGNATURE_HEADER))
                .isEqualTo("sha256=" + NotifierWebhook.sign("hook-secret", timestamp + "." + r.body()));
    }

    @Test
    void withoutASecretNothingIsSigned() throws Exception {
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/hook") + "\n"), DOWN);
        assertThat(receiver.received("/hook").getLast().header(NotifierWebhook.SIGNATURE_HEADER)).isNull();
    }

    @Test
    void serverErrorsAreRetryableClientErrorsNot() {
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/fail") + "\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isTrue();
                    assertThat(e.getMessage()).endsWith("answered HTTP 500");
                });
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/gone") + "\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.retryable()).isFalse());
    }

    @Test
    void anEndlessAnswerIsReadOnlyInPart() throws Exception {
        long begin = System.nanoTime();
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/endless") + "\n"), DOWN);
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(10));
    }

    @Test
    void errorsShowTheUrlMasked() {
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/fail")
                + "?token=abc\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage())
                        .isEqualTo("the webhook " + receiver.url("/***") + " answered HTTP 500"));
    }

    /**
     * A user and password in the URL are sent as Basic authentication (RFC 7617), percent-decoded
     * (%40 is @), the request itself without them; a wrong one is the receiver's 401. The node's
     * client follows no redirect, so they never reach another host.
     */
    @Test
    void aUserAndPasswordInTheUrlAreSentAsBasicAuthentication() throws Exception {
        String expected = "Basic " + java.util.Base64.getEncoder().encodeToString("hook:p@ss".getBytes(StandardCharsets.UTF_8));
        java.util.List<String> requestLines = new java.util.concurrent.CopyOnWriteArrayList<>();
        receiver.on("/private", exchange -> {
            requestLines.add(exchange.getRequestURI().toString());
            LoopbackHttp.respond(exchange, expected.equals(exchange.getRequestHeaders().getFirst("Authorization")) ? 204 : 401, "");
        });
        String at = "127.0.0.1:" + receiver.port();
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: http://hook:p%40ss@" + at + "/private\n"), DOWN);
        assertThat(receiver.received("/private").getLast().header("Authorization")).isEqualTo(expected);
        assertThat(requestLines.getLast()).isEqualTo("/private");
        // through a proxy (a JVM's http.proxyHost) the request line is the whole URL: without the user information
        NotifierWebhook proxied = new NotifierWebhook(HttpClient.newBuilder().proxy(java.net.ProxySelector.of(
                new java.net.InetSocketAddress("127.0.0.1", receiver.port()))).build(), Duration.ofSeconds(2));
        proxied.send(Defs.channel("name: hook\ntype: webhook\nurl: http://hook:p%40ss@" + at + "/private\n"), DOWN);
        assertThat(requestLines.getLast()).isEqualTo("http://" + at + "/private");
        assertThat(receiver.received("/private").getLast().header("Authorization")).isEqualTo(expected);

        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: http://hook:wrong@" + at
                + "/private\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("the webhook http://" + at + "/*** answered HTTP 401");
                    assertThat(e.retryable()).isFalse();
                });

        // as Monitor builds it: a redirect is the answer, not followed to the host it names
        NotifierWebhook node = new NotifierWebhook(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER).build(), Duration.ofSeconds(2));
        try (LoopbackHttp elsewhere = new LoopbackHttp().answer("/hook", 204, "")) {
            receiver.redirect("/moved", 307, elsewhere.url("/hook"));
            assertThatThrownBy(() -> node.send(Defs.channel("name: hook\ntype: webhook\nurl: http://hook:p%40ss@" + at
                    + "/moved\n"), DOWN)).isInstanceOfSatisfying(DeliveryException.class,
                    e -> assertThat(e.getMessage()).endsWith("answered HTTP 307"));
            assertThat(receiver.received("/moved").getLast().header("Authorization")).isEqualTo(expected);
            assertThat(elsewhere.received()).isEmpty();
        }
    }

    @Test
    void aMessageCarriesItsIdInTheBodyAndAsIdempotencyKeyAndARepeatSaysSo() throws Exception {
        ChannelDefinition hook = Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/hook") + "\n");
        notifier.send(hook, DOWN.identified("incident-7-down", false));
        LoopbackHttp.Received first = receiver.received("/hook").getLast();
        JsonNode body = new ObjectMapper().readTree(first.body());
        assertThat(body.path("id").asText()).isEqualTo("incident-7-down");
        assertThat(body.has("repeat")).isFalse();
        assertThat(first.header(NotifierWebhook.IDEMPOTENCY_HEADER)).isEqualTo("incident-7-down");

        notifier.send(hook, DOWN.identified("incident-7-down", true));
        LoopbackHttp.Received again = receiver.received("/hook").getLast();
        JsonNode repeated = new ObjectMapper().readTree(again.body());
        assertThat(again.header(NotifierWebhook.IDEMPOTENCY_HEADER)).isEqualTo("incident-7-down");
        assertThat(repeated.path("id").asText()).isEqualTo("incident-7-down");
        assertThat(repeated.path("repeat").asBoolean()).isTrue();
        assertThat(repeated.path("text").asText()).startsWith(Notification.REPEAT_LINE + "\n\nshop is DOWN.");
        assertThat(repeated.path("subject").asText()).isEqualTo("Sent again: " + body.path("subject").asText());
        // marked twice, said once
        assertThat(DOWN.identified("x", true).identified("x", true)).isEqualTo(DOWN.identified("x", true));
    }

    @Test
    void aKeyTheChannelSetsItselfIsNotSentTwice() throws Exception {
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/hook")
                + "\nheaders: {idempotency-key: fixed}\n"), DOWN.identified("incident-7-down", false));
        assertThat(receiver.received("/hook").getLast().headers().entrySet().stream()
                .filter(e -> e.getKey().equalsIgnoreCase(NotifierWebhook.IDEMPOTENCY_HEADER))
                .flatMap(e -> e.getValue().stream()).toList()).containsExactly("fixed");
    }

    @Test
    void aDigestCarriesItsMessages() throws Exception {
        Notification digest = NotificationDispatcher.digest(java.util.List.of(DOWN, DOWN), DOWN.at());
        notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/hook") + "\n"), digest);
        JsonNode body = new ObjectMapper().readTree(receiver.received("/hook").getLast().body());
        assertThat(body.path("event").asText()).isEqualTo("monitor.digest");
        assertThat(body.path("count").asInt()).isEqualTo(2);
        assertThat(body.path("subject").asText()).isEqualTo("2 monitor messages at once: 2 DOWN");
        assertThat(body.path("items")).hasSize(2);
        assertThat(body.path("items").get(1).path("monitor").path("name").asText()).isEqualTo("shop");
        assertThat(receiver.received("/hook").getLast().header(NotifierWebhook.IDEMPOTENCY_HEADER)).as("a digest has no id").isNull();
        assertThat(body.path("text").asText()).contains("- shop is DOWN");
    }

    @Test
    void aHangingReceiverTimesOut() {
        long begin = System.nanoTime();
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + receiver.url("/slow") + "\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage()).isEqualTo(
                        "delivering to the webhook " + receiver.url("/***") + " failed: timed out after 2 s waiting for 127.0.0.1 port "
                                + receiver.port() + " to answer"));
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofMillis(3900));
    }

    @Test
    void nothingListeningIsSaidPlainly() throws Exception {
        int port;
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = closed.getLocalPort();
        }
        int closedPort = port;
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: http://127.0.0.1:" + closedPort
                + "/hooks/T000/B000/secret-path\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isTrue();
                    assertThat(e.getMessage()).isEqualTo("delivering to the webhook http://127.0.0.1:" + closedPort
                            + "/*** failed: connection refused: nothing listens at 127.0.0.1 port " + closedPort);
                });
    }

    @Test
    void anIpv6ReceiverIsNamedWithoutBrackets() throws Exception {
        int port;
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getByName("::1"))) {
            port = closed.getLocalPort();
        }
        int closedPort = port;
        assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: 'http://[::1]:" + closedPort
                + "/hook'\n"), DOWN))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage()).isEqualTo(
                        "delivering to the webhook http://[::1]:" + closedPort + "/*** failed: connection refused: nothing listens at ::1 port "
                                + closedPort));
    }

    @Test
    void aReceiverThatHangsUpIsSaidPlainly() throws Exception {
        try (ServerSocket hangsUp = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = hangsUp.accept()) {
                    s.getInputStream().read(new byte[512]);
                } catch (IOException ignored) {
                    // closed by the test
                }
            });
            assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: http://127.0.0.1:"
                    + hangsUp.getLocalPort() + "/hook\n"), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage()).isEqualTo(
                            "delivering to the webhook http://127.0.0.1:" + hangsUp.getLocalPort() + "/*** failed: 127.0.0.1 port "
                                    + hangsUp.getLocalPort() + " closed the connection without answering"));
        }
    }

    @Test
    void anUntrustedCertificateIsSaidPlainly() throws Exception {
        TestCertificates.Identity ca = TestCertificates.authority("Private Hook CA");
        TestCertificates.Identity server = TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1", "localhost");
        try (LoopbackHttp https = new LoopbackHttp(server.serverContext()).answer("/hook", 204, "")) {
            assertThatThrownBy(() -> notifier.send(Defs.channel("name: hook\ntype: webhook\nurl: " + https.url("/hook") + "\n"), DOWN))
                    .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage()).isEqualTo(
                            "delivering to the webhook " + https.url("/***") + " failed: TLS: its certificate is not trusted"
                                    + " (no authority this node trusts signed it)"));
        }
    }
}
