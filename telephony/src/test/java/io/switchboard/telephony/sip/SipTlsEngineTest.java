package io.switchboard.telephony.sip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslProvider;
import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.platform.tls.TlsSettings;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine behind {@code tls:} SIP listeners: BoringSSL where netty-tcnative loads (it does on
 * the Linux x86-64 machines the project is built and tested on), serving RSA and EC certificates
 * in either PEM key format, asking for client certificates with {@code tls.clientCa},
 * and counting refused handshakes by the same reasons as the JDK's engine, from BoringSSL's own
 * messages.
 */
class SipTlsEngineTest {
    private static final Identity CA = TestCertificates.authority("SIP TLS Engine Test CA");
    private static final Identity PANELS = TestCertificates.authority("Door Panels CA");

    @TempDir
    Path dir;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<SipMessage> received = new CopyOnWriteArrayList<>();
    private TransportLayer layer;

    /** The refusal log: an operator looking for why a phone cannot connect over TLS finds its lines. */
    private final CapturedLog refusalLog = CapturedLog.of(SipRefusals.class);

    @AfterEach
    void stop() {
        if (layer != null) {
            layer.stop();
        }
        refusalLog.close();
    }

    private List<String> refusalLines() {
        return refusalLog.messages();
    }

    private int start(Identity node, KeyFormat format, Identity clientCa) throws Exception {
        Path clientCas = null;
        if (clientCa != null) {
            clientCas = dir.resolve("clients.pem");
            Files.writeString(clientCas, TestCertificates.pem(clientCa.certificate()));
        }
        NodeCertificate certificate = NodeCertificate.load(new TlsSettings(node.writeChain(dir.resolve("n.crt")),
                node.writeKey(dir.resolve("n.key"), format), clientCas, Duration.ofSeconds(5), Duration.ofDays(365)), meters);
        SipMetrics sipMetrics = new SipMetrics(meters);
        layer = new TransportLayer(TransportSettings.defaults().withIoThreads(1), sipMetrics);
        layer.setTls(new SipTlsContexts(certificate, meters, sipMetrics).pipeline());
        layer.setInboundHandler((message, flow) -> received.add(message));
        return layer.start(List.of(new ListenPoint(Transport.TLS, "127.0.0.1", 0))).getFirst().port();
    }

    private static Identity node(String keyType) {
        return TestCertificates.server(CA, keyType, Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(30)), "127.0.0.1");
    }

    private static String options(int n) {
        return "OPTIONS sip:node@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-engine-" + n + ";rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:node@127.0.0.1>\r\n"
                + "Call-ID: engine-" + n + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    }

    /** Connects with {@code client}, sends one OPTIONS, and says whether the node took it. */
    private boolean sendsOptions(SSLContext client, int port, int n) throws InterruptedException {
        return sendsOptions(client, port, n, null);
    }

    /** As above, over {@code protocol} only ({@code TLSv1.2}), or what the client offers by default (null). */
    private boolean sendsOptions(SSLContext client, int port, int n, String protocol) throws InterruptedException {
        int before = received.size();
        try (SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
            tls.setSoTimeout(10_000);
            if (protocol != null) {
                tls.setEnabledProtocols(new String[] {protocol});
            }
            tls.startHandshake();
            tls.getOutputStream().write(options(n).getBytes(StandardCharsets.UTF_8));
            tls.getOutputStream().flush();
            // The node answers nothing here (no SIP core); a refusal after the handshake (TLS 1.3
            // checks the client certificate after the client finished) shows as the connection closing.
            tls.setSoTimeout(100);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (received.size() == before && System.nanoTime() < deadline) {
                try {
                    if (tls.getInputStream().read() < 0) {
                        return false;
                    }
                } catch (java.net.SocketTimeoutException stillOpen) {
                    // look again
                }
            }
            return received.size() > before;
        } catch (IOException refused) {
            return false;
        }
    }

    private double failures(String reason) {
        Counter counter = meters.find("switchboard.tls.handshake.failures").tag("listener", "sip-tls")
                .tag("reason", reason).counter();
        return counter == null ? 0 : counter.count();
    }

    private double succeeded() {
        return meters.get("switchboard.tls.handshakes").tag("listener", "sip-tls").counter().count();
    }

    @Test
    void boringSslServesTheNodeOnLinuxX8664() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch");
        assumeThat(os.startsWith("linux") && (arch.equals("amd64") || arch.equals("x86_64")))
                .as("the shipped native library covers this platform").isTrue();
        assertThat(OpenSsl.isAvailable()).as("netty-tcnative loads: " + OpenSsl.unavailabilityCause()).isTrue();
        assertThat(SipTlsContexts.PROVIDER).isEqualTo(SslProvider.OPENSSL);
    }

    @Test
    void rsaAndEcKeysInEitherPemFormatAreServed() throws Exception {
        int n = 0;
        for (String keyType : List.of("RSA", "EC")) {
            for (KeyFormat format : KeyFormat.values()) {
                stop();
                int port = start(node(keyType), format, null);
                assertThat(sendsOptions(CA.trustingContext(), port, ++n)).as(keyType + " " + format).isTrue();
            }
        }
        assertThat(received).hasSize(n);
    }

    /**
     * Ed25519 and Ed448 keys (tls.md lists Ed25519): BoringSSL through Netty never presented such a
     * certificate (every handshake failed with an internal error, the node having started without
     * a word) and cannot load Ed448, so the JDK's engine serves them, over TLS 1.3 and 1.2.
     */
    @Test
    void edwardsCurveKeysAreServedByTheJdksEngine() throws Exception {
        int n = 0;
        for (String keyType : List.of("Ed25519", "Ed448")) {
            for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
                stop();
                int port = start(node(keyType), KeyFormat.PKCS8, null);
                assertThat(sendsOptions(CA.trustingContext(), port, ++n, protocol)).as(keyType + " over " + protocol).isTrue();
            }
        }
        assertThat(received).hasSize(n);
    }

    /**
     * io.switchboard.platform.tls.CipherSuites.SIP: ChaCha20 for TLS 1.2, and still the CBC suites
     * an old phone may offer alone (with an RSA certificate, as such phones' servers have).
     */
    @Test
    void offersChaCha20AndStillWhatOldPhonesOffer() throws Exception {
        int port = start(node("EC"), KeyFormat.PKCS8, null);
        try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            tls.setSoTimeout(10_000);
            tls.setEnabledProtocols(new String[] {"TLSv1.2"});
            tls.setEnabledCipherSuites(new String[] {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"});
            tls.startHandshake();
            assertThat(tls.getSession().getCipherSuite()).isEqualTo("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
        }
        layer.stop();
        int rsa = start(node("RSA"), KeyFormat.PKCS8, null);
        try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", rsa)) {
            tls.setSoTimeout(10_000);
            tls.setEnabledProtocols(new String[] {"TLSv1.2"});
            tls.setEnabledCipherSuites(new String[] {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"});
            tls.startHandshake();
            assertThat(tls.getSession().getCipherSuite()).isEqualTo("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA");
        }
        // a client that offers both gets the node's choice: AES-GCM
        try (SSLSocket tls = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", rsa)) {
            tls.setSoTimeout(10_000);
            tls.setEnabledProtocols(new String[] {"TLSv1.2"});
            tls.setEnabledCipherSuites(new String[] {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"});
            tls.startHandshake();
            assertThat(tls.getSession().getCipherSuite()).isEqualTo("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        }
    }

    @Test
    void withClientCaOnlyPeersWithACertificateFromItGetIn() throws Exception {
        int port = start(node("EC"), KeyFormat.PKCS8, PANELS);
        Identity panel = TestCertificates.server(PANELS, Instant.now().plus(Duration.ofDays(30)), "panel-1.example.test");
        Identity stranger = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "stranger.example.test");

        assertThat(sendsOptions(panel.presentingContext(CA), port, 1)).as("a panel's certificate").isTrue();

        assertThat(sendsOptions(CA.trustingContext(), port, 2)).as("no certificate").isFalse();
        assertThat(sendsOptions(stranger.presentingContext(CA), port, 3)).as("a certificate from another CA").isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("client_certificate") == 2);
        assertThat(received).hasSize(1);
        assertThat(succeeded()).isEqualTo(1);
        assertThat(refusalLines()).hasSize(2).allSatisfy(line -> assertThat(line).startsWith("127.0.0.1:")
                .contains("TLS handshake refused (client_certificate): the client gave no client certificate"));
    }

    /**
     * A peer whose certificate tls.clientCa did not sign is told so by the alert unknown_ca, over
     * TLS 1.3 and 1.2 (BoringSSL sent internal_error, which read as the node failing).
     */
    @Test
    void aPeerWithACertificateFromAnotherCaIsToldUnknownCa() throws Exception {
        int port = start(node("EC"), KeyFormat.PKCS8, PANELS);
        Identity stranger = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "stranger.example.test");
        int attempts = 0;
        // every attempt reads the alert: the node reads what the client still sends after it
        // (RefusedHandshakeLinger) instead of resetting the connection under it
        for (String protocol : List.of("TLSv1.3", "TLSv1.2")) {
            for (int i = 0; i < 10; i++) {
                attempts++;
                assertThat(clientFailure(insistingOn(stranger), port, protocol, false)).as(protocol + ", attempt " + i)
                        .contains("unknown_ca").doesNotContain("internal_error");
            }
        }
        int made = attempts;
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("client_certificate") == made);
        assertThat(received).isEmpty();
    }

    @Test
    void aPhoneThatWritesAtOnceOverTls13StillReadsWhyItWasRefused() throws Exception {
        int port = start(node("EC"), KeyFormat.PKCS8, PANELS);
        Identity stranger = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "stranger.example.test");
        // over TLS 1.3 the client has finished its handshake before the node checks its certificate
        // (RFC 8446 §4.4.2), so a phone sends its REGISTER at once, and again while the node's alert
        // is on its way: those octets reach a node that has refused the connection, and must not
        // be answered with a reset that fails the phone's next write before it reads the alert
        for (int i = 0; i < 5; i++) {
            assertThat(clientFailure(insistingOn(stranger), port, "TLSv1.3", true)).as("attempt " + i)
                    .contains("unknown_ca");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("client_certificate") == 5);
        assertThat(received).isEmpty();
    }

    /**
     * A client that trusts {@link #CA} and presents {@code who}'s certificate whatever the node asks
     * for: the JDK's own key manager offers only one from a CA the node names, and sends none otherwise.
     */
    private static SSLContext insistingOn(Identity who) throws Exception {
        javax.net.ssl.X509ExtendedKeyManager always = new javax.net.ssl.X509ExtendedKeyManager() {
            @Override
            public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
                return new String[] {"own"};
            }

            @Override
            public String chooseClientAlias(String[] keyType, java.security.Principal[] issuers, java.net.Socket socket) {
                return "own";
            }

            @Override
            public String chooseEngineClientAlias(String[] keyType, java.security.Principal[] issuers, javax.net.ssl.SSLEngine engine) {
                return "own";
            }

            @Override
            public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
                return null;
            }

            @Override
            public String chooseServerAlias(String keyType, java.security.Principal[] issuers, java.net.Socket socket) {
                return null;
            }

            @Override
            public java.security.cert.X509Certificate[] getCertificateChain(String alias) {
                return who.chain().toArray(new java.security.cert.X509Certificate[0]);
            }

            @Override
            public java.security.PrivateKey getPrivateKey(String alias) {
                return who.key();
            }
        };
        java.security.KeyStore anchors = java.security.KeyStore.getInstance("PKCS12");
        anchors.load(null, null);
        anchors.setCertificateEntry("ca", CA.certificate());
        javax.net.ssl.TrustManagerFactory trust = javax.net.ssl.TrustManagerFactory.getInstance(
                javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        trust.init(anchors);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(new javax.net.ssl.KeyManager[] {always}, trust.getTrustManagers(), null);
        return context;
    }

    /**
     * What the client's TLS said when the node refused it (the message of its exception).
     * {@code writeFirst}: the client writes a REGISTER right after its handshake, and again twice
     * 300 ms apart, before it reads, as a phone retransmitting its request does.
     */
    private static String clientFailure(SSLContext client, int port, String protocol, boolean writeFirst) throws Exception {
        try (SSLSocket tls = (SSLSocket) client.getSocketFactory().createSocket("127.0.0.1", port)) {
            tls.setSoTimeout(10_000);
            tls.setEnabledProtocols(new String[] {protocol});
            tls.startHandshake();
            if (writeFirst) {
                byte[] register = ("REGISTER sip:example.test SIP/2.0\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
                tls.getOutputStream().write(register);
                tls.getOutputStream().flush();
                // by then a node that closed outright has answered the second with a reset, which the
                // third meets
                for (int again = 0; again < 2; again++) {
                    Thread.sleep(300);
                    tls.getOutputStream().write(register);
                    tls.getOutputStream().flush();
                }
            }
            // over TLS 1.3 the node checks the client's certificate after the client finished: its
            // alert comes on reading
            while (tls.getInputStream().read() >= 0) {
                // the node sends nothing before its alert
            }
            return "closed without an alert";
        } catch (IOException refused) {
            return String.valueOf(refused.getMessage());
        }
    }

    @Test
    void aClientThatDistrustsTheNodeIsCountedAsRefusingItsCertificate() throws Exception {
        int port = start(node("EC"), KeyFormat.PKCS8, null);
        assertThat(sendsOptions(TestCertificates.authority("Another CA").trustingContext(), port, 1)).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("certificate_refused") == 1);
        assertThat(received).isEmpty();
        assertThat(refusalLines()).singleElement().asString().startsWith("127.0.0.1:")
                .contains("TLS handshake refused (certificate_refused): the client refused the node's certificate")
                .as("not cut to fit").doesNotContain("...");
    }

    @Test
    void tlsBelowOnePointTwoAndPlainTextAreRefusedByReason() throws Exception {
        assumeThat(java.nio.file.Files.isExecutable(Path.of("/usr/bin/openssl")))
                .as("the openssl command (Debian package openssl) plays the old client").isTrue();
        int port = start(node("EC"), KeyFormat.PKCS8, null);
        // Debian's OpenSSL offers TLS 1.1 only at security level 0; the node must refuse it
        Process old = new ProcessBuilder("/usr/bin/openssl", "s_client", "-connect", "127.0.0.1:" + port, "-tls1_1",
                "-cipher", "DEFAULT@SECLEVEL=0").redirectErrorStream(true).start();
        old.getOutputStream().close();
        assertThat(old.waitFor(20, TimeUnit.SECONDS)).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("protocol") == 1);

        try (var plain = new java.net.Socket("127.0.0.1", port)) {
            plain.setSoTimeout(10_000);
            plain.getOutputStream().write(options(1).getBytes(StandardCharsets.UTF_8));
            assertThat(plain.getInputStream().read()).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("not_tls") == 1);
        assertThat(received).isEmpty();
        assertThat(refusalLines()).hasSize(2);
        assertThat(refusalLines().get(0)).contains("TLS handshake refused (protocol)");
        assertThat(refusalLines().get(1)).contains("TLS handshake refused (not_tls): the client sent no TLS to a tls port");

        // a connection that closes before its ClientHello (a balancer's health check) is counted, not logged
        new java.net.Socket("127.0.0.1", port).close();
        await().atMost(Duration.ofSeconds(10)).until(() -> failures("incomplete") == 1);
        assertThat(refusalLines()).hasSize(2);
    }
}
