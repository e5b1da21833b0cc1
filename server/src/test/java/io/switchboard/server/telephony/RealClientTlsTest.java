package io.switchboard.server.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.server.browser.JsSipBrowser;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.clients.Linphonec;
import io.switchboard.server.clients.MediaProfile;
import io.switchboard.sip.transport.Transport;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients over TLS with a certificate from a test CA, each verifying it the way a user sets
 * it up (docs/sip-tls.md): linphonec and baresip register over SIP/TLS (RFC 3261 §26.2) trusting the
 * CA file, call each other, and stay registered while the certificate is renewed on disk; JsSIP in
 * Chromium registers over {@code wss://…/sip} on the node's HTTPS listener, trusting the leaf by
 * {@code --ignore-certificate-errors-spki-list} (and is refused without it), and calls another
 * browser and a baresip on TLS. Each test has its own node ({@code udp}, {@code tls} and
 * {@code https} on ephemeral ports) and its own certificate files.
 */
class RealClientTlsTest {
    /**
     * The SIP domain is the name in the node's certificate, as for a node at sip.example.org whose
     * phones use that name both as their domain and as their proxy: a phone's Route must name the
     * node by its domain or one of its addresses (RFC 3261 §16.4), and linphonec can only verify a
     * name (see {@link Linphonec#start(Path, String, String, String, InetSocketAddress,
     * Linphonec.Transport, boolean, MediaProfile, Path)}).
     */
    private static final String DOMAIN = "localhost";
    private static final Duration STEP = Duration.ofSeconds(20);
    private static final Identity CA = TestCertificates.authority("Switchboard Real Client Test CA");

    @TempDir
    Path dir;
    Path certs;
    Path caFile;
    Identity leaf;
    TelephonyNode node;
    JsSipBrowser browser;

    @BeforeEach
    void start() throws Exception {
        certs = Files.createDirectories(dir.resolve("certs"));
        // the first name is the subject CN: linphonec's TLS library matches DNS names and the CN only
        leaf = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        leaf.writeChain(certs.resolve("fullchain.pem"));
        leaf.writeKey(certs.resolve("privkey.pem"), KeyFormat.PKCS8);
        caFile = Files.writeString(dir.resolve("ca.pem"), TestCertificates.pem(CA.certificate()));
        node = new TelephonyNode(dir.resolve("node"),
                Map.of("sip", "udp:127.0.0.1:0,tls:127.0.0.1:0", "https", "127.0.0.1:0", "domain", DOMAIN),
                Map.of("SWITCHBOARD_TLS_CERTIFICATE", certs.resolve("fullchain.pem").toString(),
                        "SWITCHBOARD_TLS_KEY", certs.resolve("privkey.pem").toString()));
    }

    @AfterEach
    void stop() {
        if (browser != null) {
            browser.close();
            assertThat(browser.startedProcesses()).as("Chromium's processes after close")
                    .filteredOn(ProcessHandle::isAlive).extracting(p -> p.pid() + " " + p.info()).isEmpty();
        }
        if (node != null) {
            node.close();
        }
    }

    // ---------------------------------------------------------------- native phones

    /**
     * linphonec (liblinphone 5.1, mbedTLS) and baresip (OpenSSL) both verify the node's chain
     * against the CA file and its name, register over TLS, call each other both ways, and are
     * still reached over their connections after the certificate was renewed on disk, while a new
     * connection gets the new certificate.
     */
    @Test
    void linphonecAndBaresipRegisterOverTlsCallEachOtherAndStayThroughARenewal() throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        String bare = "bare-tls";
        String linphone = "linphone-tls";
        addAccount(bare);
        addAccount(linphone);
        int tlsPort = node.sipPort(Transport.TLS);

        Baresip baresip = null;
        Linphonec linphonec = null;
        try {
            baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN,
                    new InetSocketAddress("127.0.0.1", tlsPort), Baresip.Transport.TLS, true, MediaProfile.RTP, caFile);
            // by name: see Linphonec.start on what its TLS library checks
            linphonec = Linphonec.start(dir.resolve(linphone), linphone, linphone + "-secret", DOMAIN,
                    InetSocketAddress.createUnresolved("localhost", tlsPort), Linphonec.Transport.TLS, true,
                    MediaProfile.RTP, caFile);
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);
            assertRegisteredOverTls(bare);
            assertRegisteredOverTls(linphone);
            double handshakes = node.metric("switchboard_tls_handshakes_total{listener=\"sip-tls\"}");
            assertThat(handshakes).as("one handshake per phone at least").isGreaterThanOrEqualTo(2);

            // linphonec calls baresip, and hangs up
            int mark = linphonec.mark();
            linphonec.call("sip:" + bare + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(callLine(bare, "connected"), mark, STEP);
            linphonec.terminate();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(callLine(bare, "ended"), mark, STEP);
            awaitCompleted(linphone, bare, 1);

            // baresip calls linphonec, and hangs up: linphonec is reached over its own TLS connection
            mark = linphonec.mark();
            baresip.dial("sip:" + linphone + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(callLine(bare, "connected"), mark, STEP);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(callLine(bare, "ended"), mark, STEP);
            awaitCompleted(bare, linphone, 1);

            // the certificate is renewed the way certbot's deploy step or a copy would do it: each
            // file written beside its place and renamed over it; the node's watcher picks it up
            Identity renewed = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(180)), "localhost", "127.0.0.1");
            Path stagedKey = renewed.writeKey(certs.resolve("privkey.pem.new"), KeyFormat.PKCS8);
            Path stagedChain = renewed.writeChain(certs.resolve("fullchain.pem.new"));
            Files.move(stagedChain, certs.resolve("fullchain.pem"), StandardCopyOption.ATOMIC_MOVE);
            Files.move(stagedKey, certs.resolve("privkey.pem"), StandardCopyOption.ATOMIC_MOVE);
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                    .until(() -> serialOfNewConnection(tlsPort).equals(renewed.serial()));
            assertThat(renewed.serial()).isNotEqualTo(leaf.serial());

            // both phones kept their connections and are still reached over them
            mark = linphonec.mark();
            linphonec.call("sip:" + bare + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(callLine(bare, "connected"), mark, STEP);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(callLine(bare, "ended"), mark, STEP);
            awaitCompleted(linphone, bare, 2);
            assertRegisteredOverTls(bare);
            assertRegisteredOverTls(linphone);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + (baresip == null ? "" : baresip.describe())
                    + (linphonec == null ? "" : linphonec.describe()), e);
        } finally {
            if (baresip != null) {
                baresip.close();
            }
            if (linphonec != null) {
                linphonec.close();
            }
        }
        assertNothingMalformed();
    }

    /** linphonec given a CA that did not sign the node's certificate refuses it and never registers. */
    @Test
    void linphonecRefusesACertificateFromAnotherCa() throws Exception {
        Linphonec.BINARY.assumeAvailable();
        addAccount("linphone-wrong-ca");
        Identity other = TestCertificates.authority("Some Other CA");
        Path otherCa = Files.writeString(dir.resolve("other-ca.pem"), TestCertificates.pem(other.certificate()));
        double refused = orZero(node.metric(
                "switchboard_tls_handshake_failures_total{listener=\"sip-tls\",reason=\"certificate_refused\"}"));
        try (Linphonec linphonec = Linphonec.start(dir.resolve("wrong-ca"), "linphone-wrong-ca", "linphone-wrong-ca-secret",
                DOMAIN, InetSocketAddress.createUnresolved("localhost", node.sipPort(Transport.TLS)), Linphonec.Transport.TLS,
                false, MediaProfile.RTP, otherCa)) {
            // the client's alert reaches the node as a refused certificate
            await().atMost(STEP).untilAsserted(() -> assertThat(orZero(node.metric(
                    "switchboard_tls_handshake_failures_total{listener=\"sip-tls\",reason=\"certificate_refused\"}")))
                    .as(linphonec.describe()).isGreaterThan(refused));
            assertThat(bindingOf("linphone-wrong-ca")).isNull();
        }
    }

    // ---------------------------------------------------------------- a browser over WSS

    /**
     * JsSIP in Chromium over {@code wss://127.0.0.1:PORT/sip}: Chromium is told to accept the
     * node's leaf by its public key hash, nothing else; two browsers register with digest and call
     * each other, and a browser calls baresip registered over SIP/TLS (WSS ↔ TLS through the node).
     */
    @Test
    void jsSipOverWssTrustingTheLeafRegistersAndCallsABrowserAndABaresipOnTls() throws Exception {
        JsSipBrowser.assumeAvailable();
        Baresip.BINARY.assumeAvailable();
        String bare = "bare-webrtc-tls";
        for (String user : List.of("alice", "bob", bare)) {
            addAccount(user);
        }
        browser = JsSipBrowser.launch(List.of(JsSipBrowser.trustingSpki(leaf.certificate())));
        registerBrowser("alice");
        registerBrowser("bob");

        // 1. alice calls bob over WSS, bob answers, alice hangs up
        browser.answerCalls("bob", true);
        String call = browser.call("alice", "sip:bob@" + DOMAIN);
        expectCall("alice", call, "confirmed", "failed", "ended");
        expectCall("bob", call, "confirmed", "failed", "ended");
        browser.hangUp("alice", call);
        assertThat(expectCall("alice", call, "ended", "failed").path("originator").asText()).isEqualTo("local");
        assertThat(expectCall("bob", call, "ended", "failed").path("originator").asText()).isEqualTo("remote");
        awaitCompleted("alice", "bob", 1);

        // 2. alice calls baresip on SIP/TLS speaking a browser's media, and hangs up
        try (Baresip baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN,
                new InetSocketAddress("127.0.0.1", node.sipPort(Transport.TLS)), Baresip.Transport.TLS, true,
                MediaProfile.WEBRTC, caFile)) {
            try {
                baresip.awaitRegistered(STEP);
                assertRegisteredOverTls(bare);
                call = browser.call("alice", "sip:" + bare + "@" + DOMAIN);
                expectCall("alice", call, "confirmed", "failed", "ended");
                baresip.awaitEvent("CALL_ESTABLISHED", STEP);
                browser.hangUp("alice", call);
                assertThat(expectCall("alice", call, "ended", "failed").path("originator").asText()).isEqualTo("local");
                baresip.awaitEvent("CALL_CLOSED", STEP);
                awaitCompleted("alice", bare, 1);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError(e.getMessage() + "\n" + baresip.describe() + browser.diagnostics(), e);
            }
        }
        assertNothingMalformed();
    }

    /** The same Chromium without the SPKI flag does not trust the test CA: no connection, no registration. */
    @Test
    void chromiumWithoutTheSpkiHashRefusesTheTestCertificate() throws Exception {
        JsSipBrowser.assumeAvailable();
        addAccount("mallory");
        double refused = orZero(node.metric(
                "switchboard_tls_handshake_failures_total{listener=\"https\",reason=\"certificate_refused\"}"));
        browser = JsSipBrowser.launch();
        browser.phone("mallory", wssUrl(), "sip:mallory@" + DOMAIN, "mallory-secret");
        JsonNode outcome = browser.await("mallory", "registered", "registrationFailed", "disconnected");
        assertThat(outcome.path("type").asText()).as("%s\n%s", outcome, browser.diagnostics()).isEqualTo("disconnected");
        assertThat(bindingOf("mallory")).isNull();
        await().atMost(STEP).untilAsserted(() -> assertThat(orZero(node.metric(
                "switchboard_tls_handshake_failures_total{listener=\"https\",reason=\"certificate_refused\"}")))
                .isGreaterThan(refused));
    }

    // ---------------------------------------------------------------- helpers

    private String wssUrl() {
        return node.node.http().httpsBaseUrl().replaceFirst("^https", "wss") + "/sip";
    }

    private void registerBrowser(String user) throws Exception {
        browser.phone(user, wssUrl(), "sip:" + user + "@" + DOMAIN, user + "-secret");
        JsonNode registered = browser.await(user, "registered", "registrationFailed", "disconnected");
        assertThat(registered.path("type").asText()).as("%s: %s\n%s", user, registered, browser.diagnostics())
                .isEqualTo("registered");
        JsonNode binding = bindingOf(user);
        assertThat(binding).isNotNull();
        // RFC 7118 §5: a browser over a secure WebSocket is WSS in its Via and its registration
        assertThat(binding.path("transport").asText()).isEqualToIgnoringCase("WSS");
    }

    private JsonNode expectCall(String phone, String call, String expected, String... alternatives) {
        String[] types = new String[alternatives.length + 1];
        types[0] = expected;
        System.arraycopy(alternatives, 0, types, 1, alternatives.length);
        JsonNode event = browser.awaitCall(phone, call, types);
        assertThat(event.path("type").asText()).as("%s on %s: %s\nevents: %s\n%s", expected, phone, event,
                browser.events(phone), browser.diagnostics()).isEqualTo(expected);
        return event;
    }

    private void addAccount(String user) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + user + "-secret\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    private JsonNode bindingOf(String user) throws Exception {
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            if (r.path("aor").asText().equals("sip:" + user + "@" + DOMAIN)) {
                return r;
            }
        }
        return null;
    }

    private void assertRegisteredOverTls(String user) throws Exception {
        JsonNode binding = bindingOf(user);
        assertThat(binding).as(user + " registered").isNotNull();
        assertThat(binding.path("transport").asText()).as(binding.toString()).isEqualToIgnoringCase("TLS");
    }

    /** Waits until {@code count} completed calls from {@code caller} to {@code dialed} are recorded. */
    private void awaitCompleted(String caller, String dialed, int count) {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode records = node.json(node.api("GET", "/api/v1/call-records?limit=100", null)).path("records");
            int completed = 0;
            for (JsonNode r : records) {
                if (r.path("caller").asText().equals(caller) && r.path("dialed").asText().equals(dialed)
                        && r.path("status").asText().equals("completed") && r.path("finalCode").asInt() == 200) {
                    completed++;
                }
            }
            assertThat(completed).as(records.toString()).isEqualTo(count);
        });
    }

    /** linphonec's line for a call with {@code user}: "Call 2 with sip:bare-tls@localhost connected." */
    private static Pattern callLine(String user, String state) {
        return Pattern.compile("Call \\d+ with sip:" + Pattern.quote(user) + "@\\S+ " + state);
    }

    private static BigInteger serialOfNewConnection(int port) throws Exception {
        try (SSLSocket socket = (SSLSocket) CA.trustingContext().getSocketFactory()
                .createSocket(InetAddress.getLoopbackAddress(), port)) {
            socket.setSoTimeout(5000);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    private static double orZero(double value) {
        return Double.isNaN(value) ? 0 : value;
    }

    private void assertNothingMalformed() throws Exception {
        List<String> complaints = node.get("/metrics").body().lines()
                .filter(l -> l.startsWith("switchboard_sip_parse_errors_total") || l.startsWith("switchboard_sip_dropped_total"))
                .filter(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) != 0)
                .toList();
        assertThat(complaints).isEmpty();
    }
}
