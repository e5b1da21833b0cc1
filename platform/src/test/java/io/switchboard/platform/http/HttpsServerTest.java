package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.platform.tls.TlsSettings;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * HTTPS beside plain HTTP on one server: the same routes and WebSockets over TLS with the node's
 * certificate, HSTS on HTTPS only, a renewed certificate for new connections while open ones go
 * on, and bad clients (garbage, half a handshake) costing nothing but their own socket.
 */
class HttpsServerTest {
    private static final Identity CA = TestCertificates.authority("Switchboard Test CA");
    private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(1);
    private static Path dir;
    private static Path certFile;
    private static Path keyFile;
    private static Identity first;
    private static Metrics metrics;
    private static NodeCertificate certificate;
    private static HttpServer server;
    private static HttpClient client;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("https-test");
        first = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        certFile = first.writeChain(dir.resolve("node.crt"));
        keyFile = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        metrics = new Metrics();
        certificate = NodeCertificate.load(new TlsSettings(certFile, keyFile, null, HANDSHAKE_TIMEOUT, Duration.ofDays(365)),
                metrics.registry());
        server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.serveHttps(new HostPort("127.0.0.1", 0), certificate);
        server.addRoutes(routes -> {
            routes.get("/api/v1/test/scheme", ctx -> ctx.json(Map.of("scheme", ctx.scheme())));
            routes.ws("/ws/test/echo", ws -> ws.onMessage(msg -> msg.send("echo: " + msg.message())));
            WebSocketUpgrades.answerPlainRequests(routes, "/ws/test/told", "?key=<key>", ", saying please");
            WebSocketUpgrades.register(routes, "/ws/test/told", ws -> ws.onMessage(msg -> msg.send(msg.message())));
        });
        server.start();
        client = HttpClient.newBuilder().sslContext(CA.trustingContext()).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        server.stop();
        metrics.close();
        try (var files = Files.list(dir)) {
            for (Path file : files.toList()) {
                Files.delete(file);
            }
        }
        Files.delete(dir);
    }

    @Test
    void aTrustedProxysForwardedClientIsTheRemoteAddressOverHttpAndHttps() throws Exception {
        HttpServer behind = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        behind.serveHttps(new HostPort("127.0.0.1", 0), certificate);
        behind.trustProxies(TrustedProxies.of(List.of("127.0.0.1", "::1")));
        behind.addRoutes(routes -> routes.get("/api/v1/test/ip", ctx -> ctx.result(ctx.ip())));
        behind.addRoutes(routes -> WebSocketUpgrades.answerPlainRequests(routes, "/ws/test/behind", "", ""));
        behind.start();
        try {
            // a balancer that ended TLS says so; the 426's example is then wss:// (only a trusted proxy's word counts)
            HttpResponse<String> told = client.send(HttpRequest.newBuilder(URI.create(behind.baseUrl() + "/ws/test/behind"))
                    .header("X-Forwarded-Proto", "https").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(told.statusCode()).isEqualTo(426);
            assertThat(told.body()).contains("wss://<node>/ws/test/behind");
            HttpResponse<String> untrusted = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/ws/test/told"))
                    .header("X-Forwarded-Proto", "https").build(), HttpResponse.BodyHandlers.ofString());
            assertThat(untrusted.body()).contains("ws://<node>/ws/test/told").doesNotContain("wss://");
            for (String base : List.of(behind.baseUrl(), behind.httpsBaseUrl())) {
                HttpResponse<String> forwarded = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/test/ip"))
                        .header("X-Forwarded-For", "203.0.113.9, 2001:db8::4").build(), HttpResponse.BodyHandlers.ofString());
                // Jetty writes an IPv6 remote address in brackets, as it does for an IPv6 peer
                assertThat(forwarded.body()).as(base).isEqualTo("[2001:db8:0:0:0:0:0:4]");
                HttpResponse<String> none = client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/test/ip")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(none.body()).as(base).isEqualTo("127.0.0.1");
            }
        } finally {
            behind.stop();
        }
    }

    @Test
    void servesTheSameRoutesOverHttpsWithHsts() throws Exception {
        HttpResponse<String> ready = client.send(HttpRequest.newBuilder(URI.create(server.httpsBaseUrl() + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000");
        HttpResponse<String> scheme = client.send(HttpRequest.newBuilder(URI.create(server.httpsBaseUrl()
                + "/api/v1/test/scheme")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(scheme.body()).isEqualTo("{\"scheme\":\"https\"}");
        assertThat(scheme.headers().firstValue("Strict-Transport-Security")).isPresent();
        // Problem answers from Jetty itself carry it too: it is added before any handler runs.
        HttpResponse<String> missing = client.send(HttpRequest.newBuilder(URI.create(server.httpsBaseUrl() + "/nothing/here"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.headers().firstValue("Strict-Transport-Security")).isPresent();

        // RFC 6797 §7.2: never over plain HTTP.
        HttpResponse<String> plain = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(plain.headers().firstValue("Strict-Transport-Security")).isEmpty();
        assertThat(server.listensOn(server.port())).isTrue();
        assertThat(server.listensOn(server.httpsPort())).isTrue();
    }

    @Test
    void aPlainRequestToAWebSocketEndpointIsToldToUpgradeWithTheSchemeItCameOver() throws Exception {
        for (String method : List.of("GET", "HEAD")) {
            for (String base : List.of(server.baseUrl(), server.httpsBaseUrl())) {
                HttpResponse<String> told = client.send(HttpRequest.newBuilder(URI.create(base + "/ws/test/told"))
                        .method(method, HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(told.statusCode()).as(method + " " + base).isEqualTo(426);
                assertThat(told.headers().firstValue("Upgrade")).hasValue("websocket");
                assertThat(told.headers().firstValue("Content-Type")).hasValueSatisfying(
                        type -> assertThat(type).startsWith("application/problem+json"));
                if (method.equals("GET")) {
                    String scheme = base.startsWith("https:") ? "wss" : "ws";
                    assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(told.body()).get("detail").asText())
                            .isEqualTo("This is a WebSocket endpoint: connect with a WebSocket client, e.g. " + scheme
                                    + "://<node>/ws/test/told?key=<key>, saying please.");
                }
            }
        }
        // the upgrade itself still reaches the endpoint
        CompletableFuture<String> echoed = new CompletableFuture<>();
        WebSocket socket = client.newWebSocketBuilder().buildAsync(URI.create(server.httpsBaseUrl().replace("https:", "wss:")
                + "/ws/test/told"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                        echoed.complete(data.toString());
                        return null;
                    }
                }).get(5, TimeUnit.SECONDS);
        socket.sendText("hi", true);
        assertThat(echoed.get(5, TimeUnit.SECONDS)).isEqualTo("hi");
        socket.abort();
    }

    @Test
    void negotiatesTls13OrTls12Only() throws Exception {
        // The JDK's defaults refuse TLS 1.1 today (jdk.tls.disabledAlgorithms), so no handshake shows
        // whether the factory does: it must name its protocols itself, whatever a JDK or an
        // operator's java.security enables.
        assertThat(server.httpsContextFactory().getIncludeProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        assertThat(server.httpsContextFactory().getSelectedProtocols()).containsExactlyInAnyOrder("TLSv1.3", "TLSv1.2");
        assertThat(server.httpsContextFactory().isRenegotiationAllowed()).isFalse();
        try (SSLSocket socket = connect(CA.trustingContext())) {
            assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.3");
        }
        try (SSLSocket socket = connect(CA.trustingContext())) {
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.startHandshake();
            assertThat(socket.getSession().getProtocol()).isEqualTo("TLSv1.2");
        }
    }

    /** io.switchboard.platform.tls.CipherSuites.HTTPS: ChaCha20 for TLS 1.2, no CBC. */
    @Test
    void offersAeadSuitesOnlyWithChaCha20() throws Exception {
        try (SSLSocket socket = connect(CA.trustingContext())) {
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.setEnabledCipherSuites(new String[] {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"});
            socket.startHandshake();
            assertThat(socket.getSession().getCipherSuite()).isEqualTo("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
        }
        try (SSLSocket socket = connect(CA.trustingContext())) {
            socket.setEnabledProtocols(new String[] {"TLSv1.2"});
            socket.setEnabledCipherSuites(new String[] {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"});
            org.assertj.core.api.Assertions.assertThatThrownBy(socket::startHandshake)
                    .isInstanceOf(javax.net.ssl.SSLException.class);
        }
    }

    @Test
    void webSocketsWorkOverWss() throws Exception {
        CompletableFuture<String> reply = new CompletableFuture<>();
        WebSocket socket = client.newWebSocketBuilder()
                .buildAsync(URI.create(server.httpsBaseUrl().replace("https://", "wss://") + "/ws/test/echo"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                        reply.complete(data.toString());
                        return null;
                    }
                }).get(5, TimeUnit.SECONDS);
        socket.sendText("over tls", true);
        assertThat(reply.get(5, TimeUnit.SECONDS)).isEqualTo("echo: over tls");
        socket.abort();
    }

    /**
     * The certificate files are replaced while a connection is open: a new connection gets the new
     * certificate, the open one goes on with the session it negotiated.
     */
    @Test
    void aRenewedCertificateServesNewConnectionsWhileOpenOnesGoOn() throws Exception {
        try (SSLSocket before = connect(CA.trustingContext())) {
            assertThat(exchange(before)).startsWith("HTTP/1.1 200");
            assertThat(serial(before)).isEqualTo(certificate.current().certificate().getSerialNumber());
            BigInteger old = serial(before);

            Identity renewed = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(180)), "localhost", "127.0.0.1");
            renewed.writeChain(certFile);
            renewed.writeKey(keyFile, KeyFormat.TRADITIONAL);
            assertThat(certificate.reloadIfChanged()).isTrue();

            // A new client (its own session cache: no resumption of the old session) sees the new certificate.
            try (SSLSocket after = connect(CA.trustingContext())) {
                assertThat(exchange(after)).startsWith("HTTP/1.1 200");
                assertThat(serial(after)).isEqualTo(renewed.serial());
            }
            // The connection opened before still works, on its old session.
            assertThat(exchange(before)).startsWith("HTTP/1.1 200");
            assertThat(serial(before)).isEqualTo(old);
        }
    }

    /**
     * Another TLS listener refuses the renewed pair: HTTPS, which had taken it, goes back to the
     * pair in use, and handshakes go on with it (never with an empty factory).
     */
    @Test
    void aPairAnotherListenerRefusesIsNotServed() throws Exception {
        BigInteger inUse = certificate.current().certificate().getSerialNumber();
        Runnable refusing = certificate.onChange(pair -> {
            throw new IllegalStateException("this listener cannot take it");
        });
        Identity renewed = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(200)), "localhost", "127.0.0.1");
        try {
            renewed.writeChain(certFile);
            renewed.writeKey(keyFile, KeyFormat.PKCS8);
            assertThat(certificate.reloadIfChanged()).isFalse();
            try (SSLSocket after = connect(CA.trustingContext())) {
                assertThat(exchange(after)).startsWith("HTTP/1.1 200");
                assertThat(serial(after)).isEqualTo(inUse);
            }
        } finally {
            refusing.run();
        }
        assertThat(certificate.reloadIfChanged()).isTrue();
        try (SSLSocket after = connect(CA.trustingContext())) {
            assertThat(exchange(after)).startsWith("HTTP/1.1 200");
            assertThat(serial(after)).isEqualTo(renewed.serial());
        }
    }

    /** Plain HTTP at the HTTPS port is answered in HTTP, in plain words, not with a TLS alert (curl: "HTTP/0.9"). */
    @Test
    void plainHttpAtTheHttpsPortIs400NamingTheHttpsUrlAndCounted() throws Exception {
        double before = failures("not_tls");
        String host = "127.0.0.1:" + server.httpsPort();
        try (Socket socket = new Socket("127.0.0.1", server.httpsPort())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(("GET /readyz HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: curl/8\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            RawHttp answer = RawHttp.read(socket.getInputStream());
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.headers()).containsEntry("content-type", "application/problem+json")
                    .containsEntry("connection", "close");
            assertThat(answer.body()).contains("\"detail\":\"This port speaks HTTPS; use https://" + host + "/readyz");
            assertThat(socket.getInputStream().read()).as("closed after the answer").isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> failures("not_tls") > before);
        assertThat(getReady()).as("TLS clients are served as before").isEqualTo(200);
    }

    @Test
    void garbageAtTheHttpsPortGetsTheSame400WithoutEchoingIt() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.httpsPort())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write("HELLO <script>\r\nHost: \"><b>\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            RawHttp answer = RawHttp.read(socket.getInputStream());
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.body()).contains("use https://<this host>:" + server.httpsPort() + "/ ").doesNotContain("script", "<b>");
        }
        // bytes that cannot start an HTTP request, with no blank line to wait for: answered at once.
        // Waiting for a blank line that never comes would end at the deadline (the handshake timeout
        // after accepting) with the connection closed unanswered, so the 400 itself shows it; the
        // read timeout is only a safety net, generous for a loaded machine.
        try (Socket socket = new Socket("127.0.0.1", server.httpsPort())) {
            socket.setSoTimeout(15_000);
            byte[] noise = new byte[4096];
            new java.util.Random(7).nextBytes(noise);
            noise[0] = 'G'; // not a TLS record
            socket.getOutputStream().write(noise);
            assertThat(RawHttp.read(socket.getInputStream()).status()).isEqualTo(400);
        }
    }

    /** Half a ClientHello, then silence: the connection is closed after the handshake timeout, not the 30 s idle timeout. */
    @Test
    void aHalfFinishedHandshakeIsClosedAfterTheHandshakeTimeout() throws Exception {
        double before = failures("incomplete");
        try (Socket stuck = new Socket("127.0.0.1", server.httpsPort())) {
            stuck.setSoTimeout(25_000);
            // A TLS handshake record header announcing 512 bytes, and only the first few of them.
            stuck.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, (byte) 0xfc, 0x03, 0x03});
            stuck.getOutputStream().flush();
            long start = System.nanoTime();
            // Meanwhile the server serves others.
            assertThat(getReady()).isEqualTo(200);
            readToEnd(stuck.getInputStream());
            Duration held = Duration.ofNanos(System.nanoTime() - start);
            // Well under Jetty's 30 s idle timeout, which is what it would take without the handshake
            // bound; generous above the 1 s timeout for a loaded machine.
            assertThat(held).isLessThan(Duration.ofSeconds(15));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> failures("incomplete") > before);
        MeterRegistry registry = metrics.registry();
        assertThat(registry.get("switchboard.tls.handshakes").tag("listener", "https").counter().count()).isPositive();
    }

    /** Connected and silent (a TCP health check, a stuck client): closed after the handshake timeout, not 30 s, and counted. */
    @Test
    void aSilentConnectionIsClosedAfterTheHandshakeTimeoutAndCounted() throws Exception {
        double before = failures("incomplete");
        try (Socket silent = new Socket("127.0.0.1", server.httpsPort())) {
            silent.setSoTimeout(25_000);
            long start = System.nanoTime();
            readToEnd(silent.getInputStream());
            Duration held = Duration.ofNanos(System.nanoTime() - start);
            // the connector's idle timeout is Jetty's 30 s here; the handshake timeout 1 s
            assertThat(held).isLessThan(Duration.ofSeconds(15));
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> failures("incomplete") > before);
    }

    /** A refused plain-HTTP client trickling bytes (before the blank line, or after the answer) is closed at the deadline. */
    @Test
    void aTricklingPlainHttpClientIsClosedAtTheDeadline() throws Exception {
        for (boolean afterAnswer : new boolean[] {false, true}) {
            try (Socket socket = new Socket("127.0.0.1", server.httpsPort())) {
                socket.setSoTimeout(10_000);
                long start = System.nanoTime();
                OutputStream out = socket.getOutputStream();
                out.write(("GET /readyz HTTP/1.1\r\nHost: x\r\n" + (afterAnswer ? "\r\n" : "")).getBytes(StandardCharsets.US_ASCII));
                out.flush();
                if (afterAnswer) {
                    assertThat(RawHttp.read(socket.getInputStream()).status()).isEqualTo(400);
                }
                // a byte every 200 ms, each well within the 1 s idle timeout: only a fixed deadline ends it
                Duration held = null;
                while (Duration.ofNanos(System.nanoTime() - start).compareTo(Duration.ofSeconds(20)) < 0) {
                    try {
                        out.write('X');
                        out.flush();
                    } catch (IOException closed) {
                        held = Duration.ofNanos(System.nanoTime() - start);
                        break;
                    }
                    Thread.sleep(200);
                }
                // the deadline is 1 s after accepting; generous above it for a loaded machine
                assertThat(held).as("closed while still trickling (after the answer: %s)", afterAnswer).isNotNull()
                        .isLessThan(Duration.ofSeconds(10));
            }
        }
    }

    @Test
    void anEstablishedConnectionKeepsTheUsualIdleTimeout() throws Exception {
        try (SSLSocket socket = connect(CA.trustingContext())) {
            assertThat(exchange(socket)).startsWith("HTTP/1.1 200");
            Thread.sleep(HANDSHAKE_TIMEOUT.toMillis() + 1000);
            assertThat(exchange(socket)).as("still open after the handshake timeout").startsWith("HTTP/1.1 200");
        }
    }

    @Test
    void plainHttpCanBeOff() throws Exception {
        HttpServer secureOnly = new HttpServer(null, metrics, new Readiness(), Duration.ofSeconds(1));
        secureOnly.serveHttps(new HostPort("127.0.0.1", 0), certificate);
        secureOnly.start();
        try {
            assertThat(secureOnly.servesHttp()).isFalse();
            assertThatThrownBy(secureOnly::port).isInstanceOf(IllegalStateException.class).hasMessageContaining("plain HTTP");
            HttpResponse<String> ready = client.send(HttpRequest.newBuilder(URI.create(secureOnly.httpsBaseUrl() + "/readyz"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ready.statusCode()).isEqualTo(200);
        } finally {
            secureOnly.stop();
        }
    }

    private static int getReady() throws Exception {
        HttpClient fresh = HttpClient.newBuilder().sslContext(CA.trustingContext()).connectTimeout(Duration.ofSeconds(5)).build();
        return fresh.send(HttpRequest.newBuilder(URI.create(server.httpsBaseUrl() + "/readyz")).timeout(Duration.ofSeconds(5))
                .build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    private static double failures(String reason) {
        return metrics.registry().get("switchboard.tls.handshake.failures").tag("listener", "https").tag("reason", reason)
                .counter().count();
    }

    private static SSLSocket connect(SSLContext context) throws IOException {
        SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", server.httpsPort());
        socket.setSoTimeout(5000);
        return socket;
    }

    private static BigInteger serial(SSLSocket socket) throws IOException {
        return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    /** One keep-alive GET /readyz on the socket; returns the response head and body. */
    private static String exchange(SSLSocket socket) throws IOException {
        OutputStream out = socket.getOutputStream();
        out.write("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head);
            }
            head.write(b);
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        int length = Integer.parseInt(text.replaceAll("(?is).*content-length:\\s*(\\d+).*", "$1"));
        return text + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    private static byte[] readToEnd(InputStream in) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buffer = new byte[1024];
        try {
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                all.write(buffer, 0, n);
            }
        } catch (java.net.SocketException e) {
            // reset by the server: closed all the same
        }
        return all.toByteArray();
    }
}
