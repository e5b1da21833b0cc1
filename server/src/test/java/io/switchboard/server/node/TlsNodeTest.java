package io.switchboard.server.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.server.Main;
import io.switchboard.server.telephony.SipWebSocketProbe;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
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
import java.util.Map;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole node serving only HTTPS (plain HTTP off) with a certificate from a test CA: the API,
 * health, metrics and SIP over WSS on it, the certificate in {@code /api/v1/node}, a renewal on
 * disk picked up without a restart, and certificate mistakes refused at start with one line.
 */
class TlsNodeTest {
    private static final Identity CA = TestCertificates.authority("Switchboard Test CA");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dataDir;
    @TempDir
    static Path certs;
    static Identity first;
    static Node node;
    static HttpClient client;

    @BeforeAll
    static void startNode() {
        first = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        first.writeChain(certs.resolve("fullchain.pem"));
        first.writeKey(certs.resolve("privkey.pem"), KeyFormat.PKCS8);
        // The certificate comes from the environment, as a container or a systemd unit would give it.
        NodeConfig config = NodeAssembly.configLoader().load(null,
                Map.of("SWITCHBOARD_TLS_CERTIFICATE", certs.resolve("fullchain.pem").toString(),
                        "SWITCHBOARD_TLS_KEY", certs.resolve("privkey.pem").toString()),
                Map.of("dataDir", dataDir.toString(), "http", "none", "https", "127.0.0.1:0", "sip", "",
                        "domain", "intercom.test"));
        node = NodeAssembly.create(config);
        node.start();
        client = HttpClient.newBuilder().sslContext(CA.trustingContext()).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.stop();
        }
    }

    private static HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.http().httpsBaseUrl() + path))
                .timeout(Duration.ofSeconds(10));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthApiAndMetricsAnswerOverHttpsOnly() throws Exception {
        HttpResponse<String> ready = get("/readyz");
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000");
        assertThat(node.http().servesHttp()).isFalse();

        String token = Files.readString(dataDir.resolve("admin.token")).strip();
        HttpResponse<String> info = get("/api/v1/node", "Authorization", "Bearer " + token);
        assertThat(info.statusCode()).isEqualTo(200);
        JsonNode body = JSON.readTree(info.body());
        assertThat(body.get("http").asText()).isEqualTo("none");
        assertThat(body.get("https").asText()).isEqualTo("127.0.0.1:" + node.http().httpsPort());
        JsonNode tls = body.get("tls");
        assertThat(tls.get("names").toString()).isEqualTo("[\"localhost\",\"127.0.0.1\"]");
        assertThat(tls.get("issuer").asText()).isEqualTo("CN=Switchboard Test CA");
        assertThat(tls.get("notAfter").asText()).isNotBlank();
        // Another test here renews the certificate: compare with the one in use.
        var current = node.certificate().orElseThrow().current();
        assertThat(tls.get("serial").asText()).isEqualTo(current.serial());
        long left = Duration.between(Instant.now(), current.notAfter()).toSeconds();
        assertThat(tls.get("expiresInSeconds").asLong()).isBetween(left - 60, left + 1)
                .isGreaterThan(Duration.ofDays(89).toSeconds());
        assertThat(tls.get("sha256").asText()).matches("([0-9A-F]{2}:){31}[0-9A-F]{2}");
        assertThat(body.get("config").get("tls.certificate").asText()).isEqualTo(certs.resolve("fullchain.pem").toString());

        String metrics = get("/metrics").body();
        assertThat(metrics).contains("switchboard_tls_certificate_expiry_seconds ", "switchboard_tls_certificate_not_after_seconds ",
                "switchboard_tls_certificate_reloads_total{result=\"refused\"}", "switchboard_tls_certificate_pending_refused 0.0",
                "switchboard_tls_handshakes_total{listener=\"https\"}");
    }

    /** curl https://…/sip: the endpoint exists, and says how to reach it (wss://, the subprotocol), GET and HEAD alike. */
    @Test
    void aPlainRequestToSipIsToldToUpgradeOverWss() throws Exception {
        HttpResponse<String> told = get("/sip");
        assertThat(told.statusCode()).isEqualTo(426);
        assertThat(told.headers().firstValue("Upgrade")).hasValue("websocket");
        assertThat(told.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/problem+json"));
        assertThat(JSON.readTree(told.body()).get("detail").asText()).isEqualTo("This is a WebSocket endpoint: connect with"
                + " a WebSocket client, e.g. wss://<node>/sip, offering the subprotocol sip (RFC 7118 §4).");
        HttpResponse<String> head = client.send(HttpRequest.newBuilder(URI.create(node.http().httpsBaseUrl() + "/sip"))
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(head.statusCode()).isEqualTo(426);
        // and the stream's hint names wss:// here too
        assertThat(JSON.readTree(get("/api/v1/stream").body()).get("detail").asText()).contains("wss://<node>/api/v1/stream?");
    }

    /** A browser phone on wss://…/sip: SIP over a secure WebSocket is WSS in the node's eyes (RFC 7118 §5). */
    @Test
    void sipOverSecureWebSocket() throws Exception {
        try (SipWebSocketProbe probe = SipWebSocketProbe.open(client,
                URI.create(node.http().httpsBaseUrl().replace("https://", "wss://") + "/sip"))) {
            assertThat(probe.options("intercom.test", "WSS")).startsWith("SIP/2.0 200");

            probe.send("NOT SIP AT ALL\r\n\r\n");
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(get("/metrics").body()).contains("switchboard_sip_parse_errors_total{transport=\"wss\"} 1.0"));
        }
    }

    /**
     * A renewal writes new files while a client is connected: the watcher applies them without a
     * restart, a new connection gets the new certificate, the open one still works.
     */
    @Test
    void aCertificateReplacedOnDiskServesNewConnectionsWithoutARestart() throws Exception {
        try (SSLSocket open = connect()) {
            assertThat(exchange(open)).startsWith("HTTP/1.1 200");
            BigInteger before = serial(open);

            Identity renewed = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(180)), "localhost", "127.0.0.1");
            // As an ACME client without symlinks does it: each file written next to its place, then renamed over it.
            Path stagedKey = renewed.writeKey(certs.resolve("privkey.pem.tmp"), KeyFormat.TRADITIONAL);
            Path stagedChain = renewed.writeChain(certs.resolve("fullchain.pem.tmp"));
            Files.move(stagedChain, certs.resolve("fullchain.pem"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Files.move(stagedKey, certs.resolve("privkey.pem"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);

            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                try (SSLSocket fresh = connect()) {
                    assertThat(exchange(fresh)).startsWith("HTTP/1.1 200");
                    assertThat(serial(fresh)).isEqualTo(renewed.serial());
                }
            });
            assertThat(exchange(open)).startsWith("HTTP/1.1 200");
            assertThat(serial(open)).isEqualTo(before);
            assertThat(node.certificate().orElseThrow().current().certificate().getSerialNumber()).isEqualTo(renewed.serial());
        }
    }

    @Test
    void garbageAtTheHttpsPortDoesNotHurtTheNode() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", node.http().httpsPort())) {
            socket.setSoTimeout(5000);
            byte[] noise = new byte[4096];
            new java.util.Random(7).nextBytes(noise);
            socket.getOutputStream().write(noise);
            readToEnd(socket.getInputStream());
        }
        assertThat(get("/readyz").statusCode()).isEqualTo(200);
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Each certificate mistake: exit 2 and one line naming the key and the problem, before the node creates anything. */
    @Test
    void certificateMistakesAreOneLineAndExitCodeTwo() {
        // A mistake the node failed to catch would start it and block here: fail instead of hanging.
        assertTimeoutPreemptively(Duration.ofSeconds(90), this::certificateMistakes);
    }

    private void certificateMistakes() throws Exception {
        Identity good = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost");
        Identity other = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost");
        Identity expired = TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofDays(100)),
                Instant.now().minus(Duration.ofDays(10)), "localhost");
        Path goodCert = good.writeChain(certs.resolve("good.crt"));
        Path otherKey = other.writeKey(certs.resolve("other.key"), KeyFormat.PKCS8);
        Path expiredCert = expired.writeChain(certs.resolve("expired.crt"));
        Path expiredKey = expired.writeKey(certs.resolve("expired.key"), KeyFormat.PKCS8);
        Path goodKey = good.writeKey(certs.resolve("good.key"), KeyFormat.PKCS8);
        String[][] mistakes = {
                {goodCert.toString(), otherKey.toString(), "tls.key: " + otherKey + " is not the key of the certificate for localhost"},
                {expiredCert.toString(), expiredKey.toString(), "tls.certificate: " + expiredCert + ": the certificate for localhost expired on "},
                {certs.resolve("missing.crt").toString(), goodKey.toString(), "tls.certificate: file " + certs.resolve("missing.crt") + " does not exist"},
                {goodCert.toString(), certs.toString(), "tls.key: " + certs + " is a directory, not a PEM file"},
        };
        for (String[] mistake : mistakes) {
            Path fresh = dataDir.resolve("never-created-" + Math.abs(mistake[2].hashCode()));
            Path file = Files.writeString(certs.resolve("node.yaml"), "tls:\n  certificate: " + mistake[0] + "\n  key: " + mistake[1] + "\n");
            Run run = cli("run", "--config", file.toString(), "--data-dir", fresh.toString(), "--http", "none",
                    "--https", "127.0.0.1:0", "--sip", "");
            assertThat(run.exitCode()).as(mistake[2]).isEqualTo(2);
            assertThat(run.err().lines()).as(mistake[2]).singleElement().asString()
                    .startsWith("switchboard: invalid config: " + mistake[2]);
            assertThat(fresh).as("nothing created for " + mistake[2]).doesNotExist();
        }

        Run noCertificate = cli("run", "--data-dir", dataDir.resolve("never-created").toString(), "--https", "127.0.0.1:0",
                "--sip", "");
        assertThat(noCertificate.exitCode()).isEqualTo(2);
        assertThat(noCertificate.err()).isEqualTo("switchboard: invalid config: https: needs the node's certificate:"
                + " set tls.certificate and tls.key (PEM files; see docs/tls.md)" + System.lineSeparator());
        Run sipTlsWithoutCertificate = cli("run", "--data-dir", dataDir.resolve("never-created").toString(),
                "--http", "127.0.0.1:0", "--sip", "tls:127.0.0.1:0");
        assertThat(sipTlsWithoutCertificate.exitCode()).isEqualTo(2);
        assertThat(sipTlsWithoutCertificate.err()).isEqualTo("switchboard: invalid config: sip: a tls listener needs the node's"
                + " certificate: set tls.certificate and tls.key (PEM files; see docs/tls.md)" + System.lineSeparator());
        Run noListener = cli("run", "--data-dir", dataDir.resolve("never-created").toString(), "--http", "none", "--sip", "");
        assertThat(noListener.exitCode()).isEqualTo(2);
        assertThat(noListener.err()).startsWith("switchboard: invalid config: http: is none and https is not set");

        // The key itself where its path belongs (common with SWITCHBOARD_TLS_KEY in containers): refused, never repeated.
        String pemKey = TestCertificates.pemKey(good.key(), KeyFormat.PKCS8);
        String secret = pemKey.lines().skip(1).findFirst().orElseThrow();
        Path pasted = Files.writeString(certs.resolve("pasted.yaml"), "tls:\n  certificate: " + goodCert + "\n  key: |\n"
                + pemKey.lines().map(line -> "    " + line + "\n").reduce("", String::concat));
        Run pastedKey = cli("run", "--config", pasted.toString(), "--data-dir", dataDir.resolve("never-created").toString(),
                "--http", "none", "--https", "127.0.0.1:0", "--sip", "");
        assertThat(pastedKey.exitCode()).isEqualTo(2);
        assertThat(pastedKey.err()).startsWith("switchboard: invalid config: tls.key: holds PEM text, not a file path")
                .doesNotContain(secret);
        assertThat(pastedKey.out()).doesNotContain(secret);

        // tls.trust (the CAs of servers the node connects to over SIP TLS) is read at start too
        Path missingTrust = certs.resolve("missing-trust.pem");
        Path trustYaml = Files.writeString(certs.resolve("trust.yaml"), "tls:\n  trust: " + missingTrust + "\n");
        Run noTrust = cli("run", "--config", trustYaml.toString(), "--data-dir", dataDir.resolve("never-created").toString(),
                "--http", "127.0.0.1:0", "--sip", "");
        assertThat(noTrust.exitCode()).isEqualTo(2);
        assertThat(noTrust.err()).isEqualTo("switchboard: invalid config: tls.trust: file " + missingTrust + " does not exist"
                + " (from " + trustYaml + ", line 2)" + System.lineSeparator());
        assertThat(dataDir.resolve("never-created")).doesNotExist();
    }

    private static SSLSocket connect() throws IOException {
        SSLSocket socket = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", node.http().httpsPort());
        socket.setSoTimeout(5000);
        return socket;
    }

    private static BigInteger serial(SSLSocket socket) throws IOException {
        return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
    }

    private static String exchange(SSLSocket socket) throws IOException {
        socket.getOutputStream().write("GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
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

    private static void readToEnd(InputStream in) throws IOException {
        try {
            while (in.read(new byte[1024]) >= 0) {
                // drain until the node closes
            }
        } catch (java.net.SocketException e) {
            // reset: closed all the same
        }
    }
}
