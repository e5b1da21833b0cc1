package io.switchboard.server.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.server.clients.PeerBinary;
import io.switchboard.server.dist.DistFiles;
import io.switchboard.server.telephony.SipWebSocketProbe;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dist/haproxy-tls.cfg, the HAProxy recipe of docs/tls.md, as shipped with only addresses, ports
 * and the certificate path replaced, in front of a node speaking plain HTTP: HTTPS with HSTS, the redirect
 * from plain HTTP, and SIP over wss:// through it.
 */
class HaproxyTlsTest {
    private static final PeerBinary HAPROXY = new PeerBinary("haproxy", "HAPROXY", "haproxy");
    private static final Identity CA = TestCertificates.authority("Switchboard Test CA");

    @TempDir
    Path dir;
    Node node;
    Process haproxy;

    @AfterEach
    void stop() throws Exception {
        if (haproxy != null) {
            haproxy.destroy();
            if (!haproxy.waitFor(10, TimeUnit.SECONDS)) {
                haproxy.destroyForcibly();
            }
        }
        if (node != null) {
            node.stop();
        }
    }

    /** The ```haproxy excerpt of docs/tls.md. */
    static String documentedExcerpt() throws IOException {
        String page = Files.readString(Path.of(System.getProperty("user.dir")).resolveSibling("docs").resolve("tls.md"));
        Matcher block = Pattern.compile("(?s)```haproxy\n(.*?)```").matcher(page);
        assertThat(block.find()).as("docs/tls.md has a ```haproxy block").isTrue();
        return block.group(1);
    }

    @Test
    void theExcerptInDocsIsTheDistFile() throws IOException {
        String dist = DistFiles.read("haproxy-tls.cfg");
        for (String line : documentedExcerpt().split("\n")) {
            if (!line.isBlank() && !line.strip().equals("...")) {
                assertThat(dist).as("docs/tls.md shows a line that dist/haproxy-tls.cfg does not have").contains(line);
            }
        }
    }

    @Test
    void theDocumentedRecipeTerminatesHttpsAndWssInFrontOfAPlainNode() throws Exception {
        HAPROXY.assumeAvailable();
        NodeConfig config = NodeAssembly.configLoader().load(null,
                // HAProxy's X-Forwarded-For is believed from it, as docs/cluster.md sets nodes up
                Map.of("SWITCHBOARD_PROXIES_TRUSTED", "127.0.0.1"), Map.of("dataDir", dir.resolve("node").toString(),
                "http", "127.0.0.1:0", "sip", "", "domain", "intercom.test"));
        node = NodeAssembly.create(config);
        node.start();

        Identity leaf = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        Path combined = dir.resolve("switchboard.pem");
        Files.writeString(combined, Files.readString(leaf.writeChain(dir.resolve("fullchain.pem")))
                + Files.readString(leaf.writeKey(dir.resolve("privkey.pem"), KeyFormat.PKCS8)));
        int https = freePort();
        int http = freePort();
        String cfg = DistFiles.read("haproxy-tls.cfg");
        cfg = DistFiles.replace(cfg, "bind :443 ssl crt /etc/haproxy/certs/switchboard.pem",
                "bind 127.0.0.1:" + https + " ssl crt " + combined);
        cfg = DistFiles.replace(cfg, "    bind :80\n", "    bind 127.0.0.1:" + http + "\n");
        cfg = DistFiles.replace(cfg, "    bind :5060\n", "    bind 127.0.0.1:" + freePort() + "\n");
        cfg = DistFiles.replace(cfg, "bind 127.0.0.1:8404", "bind 127.0.0.1:" + freePort());
        cfg = DistFiles.replace(cfg, "server node1 10.0.0.11:8080 check", "server node1 127.0.0.1:" + node.http().port() + " check");
        // this node has no SIP listener: the SIP backend's server is checked on the node's HTTP port and never used
        cfg = DistFiles.replace(cfg, "server node1 10.0.0.11:5060 check",
                "server node1 127.0.0.1:" + freePort() + " check port " + node.http().port());
        for (String other : List.of("server node2 10.0.0.12:8080", "server node3 10.0.0.13:8080",
                "server node2 10.0.0.12:5060", "server node3 10.0.0.13:5060")) {
            cfg = DistFiles.dropLine(cfg, other);
        }
        Path file = Files.writeString(dir.resolve("haproxy.cfg"), cfg);
        Process check = new ProcessBuilder(HAPROXY.path().toString(), "-c", "-f", file.toString()).redirectErrorStream(true).start();
        String checked = new String(check.getInputStream().readAllBytes());
        assertThat(check.waitFor()).as("haproxy -c: " + checked).isZero();
        haproxy = new ProcessBuilder(HAPROXY.path().toString(), "-db", "-f", file.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("haproxy.log").toFile()).start();

        HttpClient client = HttpClient.newBuilder().sslContext(CA.trustingContext()).connectTimeout(Duration.ofSeconds(5)).build();
        String base = "https://127.0.0.1:" + https;
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions().alias("haproxy serves /readyz over HTTPS").until(() ->
                client.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(), HttpResponse.BodyHandlers.ofString())
                        .statusCode() == 200);
        HttpResponse<String> ready = client.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(ready.headers().firstValue("Strict-Transport-Security")).hasValue("max-age=31536000");

        HttpResponse<String> plain = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + http + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(301);
        assertThat(plain.headers().firstValue("Strict-Transport-Security")).as("no HSTS over plain HTTP (RFC 6797 §7.2)").isEmpty();
        assertThat(plain.headers().firstValue("Location")).hasValue("https://127.0.0.1:" + http + "/readyz");

        try (SipWebSocketProbe probe = SipWebSocketProbe.open(client, URI.create("wss://127.0.0.1:" + https + "/sip"))) {
            assertThat(probe.options("intercom.test", "WSS")).startsWith("SIP/2.0 200");
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
