package io.switchboard.monitor.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.monitor.definition.CaFile;
import io.switchboard.monitor.definition.DefinitionReader;
import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.SwappableIdentity;
import io.switchboard.monitor.support.TestCertificates;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsCheckTest {
    static final TlsCheck check = new TlsCheck(new CertificateTrust(), Clock.systemUTC());
    static TestCertificates.Identity ca;
    @TempDir
    static Path dir;
    static Path caFile;

    @BeforeAll
    static void authority() throws Exception {
        ca = TestCertificates.authority("Monitor Test CA");
        caFile = TestCertificates.writePem(dir.resolve("ca.pem"), ca.certificate());
    }

    /** A TLS server presenting {@code identity}, doing handshakes until closed. */
    private static SSLServerSocket serve(TestCertificates.Identity identity) throws Exception {
        return serve(identity.serverContext());
    }

    private static SSLServerSocket serve(javax.net.ssl.SSLContext context, String... protocols) throws Exception {
        SSLServerSocket server = (SSLServerSocket) context.getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        if (protocols.length > 0) {
            server.setEnabledProtocols(protocols);
        }
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try {
                    SSLSocket socket = (SSLSocket) server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (socket) {
                            socket.startHandshake();
                            socket.getInputStream().read();
                        } catch (IOException e) {
                            // the check hangs up after the handshake
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        return server;
    }

    private static CheckResult check(SSLServerSocket server, String extra) throws Exception {
        return check.run(Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:" + server.getLocalPort()
                + "\ntimeout: 3s\nwarnDays: 14\ncriticalDays: 3\n" + extra));
    }

    @Test
    void aValidCertificateFarFromExpiryIsUp() throws Exception {
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "127.0.0.1"))) {
            CheckResult r = check(server, "caFile: " + caFile + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.UP);
            assertThat((Long) r.details().get("daysLeft")).isBetween(58L, 60L);
            assertThat(r.details()).containsEntry("chainValid", true).containsEntry("hostnameMatches", true);
            assertThat(r.worked()).contains("the certificate chain is trusted", "the certificate names 127.0.0.1");
        }
    }

    @Test
    void nearExpiryIsDegradedAndWithinTheCriticalDaysDown() throws Exception {
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(10)).plusSeconds(600),
                "127.0.0.1"))) {
            CheckResult r = check(server, "caFile: " + caFile + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.DEGRADED);
            assertThat(r.error()).startsWith("the certificate expires in 10 days");
        }
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(2)).plusSeconds(600),
                "127.0.0.1"))) {
            CheckResult r = check(server, "caFile: " + caFile + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(r.error()).startsWith("the certificate expires in 2 days").contains("within the critical 3 days");
        }
        // under two days the hours are said: "0 days" would read as expired
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofHours(23)).plusSeconds(600),
                "127.0.0.1"))) {
            CheckResult r = check(server, "caFile: " + caFile + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(r.error()).startsWith("the certificate expires in 23 hours (on ");
        }
    }

    @Test
    void timeLeftIsInDaysFromTwoDaysOnAndInHoursBelow() {
        assertThat(TlsCheck.timeLeft(Duration.ofDays(10).plusHours(23))).isEqualTo("10 days");
        assertThat(TlsCheck.timeLeft(Duration.ofDays(2))).isEqualTo("2 days");
        assertThat(TlsCheck.timeLeft(Duration.ofHours(47))).isEqualTo("47 hours");
        assertThat(TlsCheck.timeLeft(Duration.ofMinutes(90))).isEqualTo("1 hour");
        assertThat(TlsCheck.timeLeft(Duration.ofMinutes(59))).isEqualTo("less than an hour");
    }

    @Test
    void anExpiredCertificateIsDown() throws Exception {
        TestCertificates.Identity expired = TestCertificates.selfSigned(Instant.now().minus(Duration.ofDays(30)),
                Instant.now().minus(Duration.ofDays(2)), "127.0.0.1");
        Path pinned = TestCertificates.writePem(dir.resolve("expired.pem"), expired.certificate());
        try (SSLServerSocket server = serve(expired)) {
            CheckResult r = check(server, "caFile: " + pinned + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            // expired two days and a moment ago: two whole days, not three
            assertThat(r.error()).contains("the certificate expired on").contains("(2 days ago)");
        }
    }

    @Test
    void anotherHostNameIsDown() throws Exception {
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "shop.example.org",
                "*.shop.example.org"))) {
            CheckResult r = check(server, "caFile: " + caFile + "\n");
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(r.error()).isEqualTo("the certificate is for shop.example.org, *.shop.example.org, not for 127.0.0.1");
            CheckResult named = check(server, "caFile: " + caFile + "\nserverName: api.shop.example.org\n");
            assertThat(named.status()).isEqualTo(CheckStatus.UP);
        }
    }

    /**
     * A caFile that cannot be used says why in plain words, the path once (it used to say
     * "cannot read caFile /x/ca.pem: /x/ca.pem", the JDK's message being the path alone).
     */
    @Test
    void aCaFileThatCannotBeReadSaysWhy() throws Exception {
        Path missing = dir.resolve("nonexistent.pem");
        Path text = Files.writeString(dir.resolve("notes.pem"), "not a certificate\n");
        Path garbled = Files.writeString(dir.resolve("garbled.pem"),
                "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "127.0.0.1"))) {
            assertThat(check(server, "caFile: " + missing + "\n").error())
                    .isEqualTo("the chain could not be checked: cannot read caFile " + missing + ": no such file");
            assertThat(check(server, "caFile: " + dir + "\n").error())
                    .isEqualTo("the chain could not be checked: cannot read caFile " + dir + ": a directory, not a file of certificates");
            assertThat(check(server, "caFile: " + text + "\n").error())
                    .isEqualTo("the chain could not be checked: cannot read caFile " + text + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
            // a block the JDK cannot decode is a certificate it cannot read, with its reason (as the API says it)
            assertThat(check(server, "caFile: " + garbled + "\n").error())
                    .startsWith("the chain could not be checked: cannot read caFile " + garbled + ": holds a certificate that cannot be read (");
        }
        assertThat(CaFile.why(new java.nio.file.AccessDeniedException("/etc/ssl/private/ca.pem")))
                .isEqualTo("permission denied");
    }

    /**
     * The API (where a caFile is written) and the check (where it is used) describe a file that
     * cannot be used in the same words, a file with one good and one garbled certificate too (the
     * check said "holds no PEM certificate" of it, the API the JDK's reason).
     */
    @Test
    void theApiAndTheCheckDescribeACaFileInTheSameWords() throws Exception {
        String garbledBlock = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        Path mixed = Files.writeString(dir.resolve("mixed.pem"), Files.readString(caFile) + garbledBlock);
        Path garbled = Files.writeString(dir.resolve("garbled-only.pem"), garbledBlock);
        Path text = Files.writeString(dir.resolve("text.pem"), "not a certificate\n");
        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "127.0.0.1"))) {
            for (Path file : java.util.List.of(mixed, garbled, text, dir.resolve("missing.pem"), dir)) {
                String api = org.assertj.core.api.Assertions.catchThrowableOfType(io.switchboard.monitor.definition.DefinitionException.class,
                        () -> DefinitionReader.requireFilesHere(Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:443\ncaFile: "
                                + file + "\n"))).describe();
                assertThat(api).startsWith("caFile: " + file + ": ");
                String words = api.substring("caFile: ".length());
                assertThat(check(server, "caFile: " + file + "\n").error())
                        .isEqualTo("the chain could not be checked: cannot read caFile " + words);
            }
        }
        assertThat(catchCaFile(mixed)).startsWith(mixed + ": holds a certificate that cannot be read (");
        assertThat(catchCaFile(text)).isEqualTo(text + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    }

    /**
     * A private key given as a caFile (the server's key for the CA's certificate) is named as one:
     * the JDK reads every PEM block as a certificate, and the words were "holds a certificate that
     * cannot be read (signed fields invalid)". Other kinds of block are named too, and a file with
     * no PEM block at all (a PKCS12 keystore) holds no PEM certificate; the API and the check say
     * the same. A DER certificate and a PEM one among comments still read.
     */
    @Test
    void aPrivateKeyGivenAsCaFileIsCalledOne() throws Exception {
        String key = pemBlock("PRIVATE KEY", ca.key().getEncoded());
        Path pkcs8 = Files.writeString(dir.resolve("key.pem"), key);
        Path sec1 = Files.writeString(dir.resolve("ec-key.pem"), pemBlock("EC PRIVATE KEY", ca.key().getEncoded()));
        Path certAndKey = Files.writeString(dir.resolve("cert-and-key.pem"), Files.readString(caFile) + key);
        Path publicKey = Files.writeString(dir.resolve("public.pem"),
                pemBlock("PUBLIC KEY", ca.certificate().getPublicKey().getEncoded()));
        Path keystore = ca.writeKeyStore(dir.resolve("ca.p12"), "secret");
        String notCa = ", not a CA certificate; give the CA's certificate (PEM, -----BEGIN CERTIFICATE-----)";
        assertThat(catchCaFile(pkcs8)).isEqualTo(pkcs8 + ": holds a private key" + notCa);
        assertThat(catchCaFile(sec1)).isEqualTo(sec1 + ": holds a private key" + notCa);
        assertThat(catchCaFile(certAndKey)).isEqualTo(certAndKey + ": holds a private key beside its certificates;"
                + " a caFile holds only the CA's certificates (PEM, -----BEGIN CERTIFICATE-----)");
        assertThat(catchCaFile(publicKey)).isEqualTo(publicKey + ": holds a public key (-----BEGIN PUBLIC KEY-----)" + notCa);
        assertThat(catchCaFile(keystore)).isEqualTo(keystore + ": holds no PEM certificate (-----BEGIN CERTIFICATE-----)");

        try (SSLServerSocket server = serve(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "127.0.0.1"))) {
            for (Path file : java.util.List.of(pkcs8, certAndKey, keystore)) {
                String api = org.assertj.core.api.Assertions.catchThrowableOfType(io.switchboard.monitor.definition.DefinitionException.class,
                        () -> DefinitionReader.requireFilesHere(Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:443\ncaFile: "
                                + file + "\n"))).describe();
                assertThat(api).isEqualTo("caFile: " + catchCaFile(file));
                assertThat(check(server, "caFile: " + file + "\n").error())
                        .isEqualTo("the chain could not be checked: cannot read caFile " + catchCaFile(file));
            }
        }
        Path der = Files.write(dir.resolve("ca.der"), ca.certificate().getEncoded());
        Path commented = Files.writeString(dir.resolve("commented.pem"), "subject=CN=Monitor Test CA\n" + Files.readString(caFile) + "end\n");
        assertThat(CaFile.read(der.toString())).containsExactly(ca.certificate());
        assertThat(CaFile.read(commented.toString())).containsExactly(ca.certificate());
    }

    private static String pemBlock(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END " + label + "-----\n";
    }

    private static String catchCaFile(Path file) {
        return org.assertj.core.api.Assertions.catchThrowableOfType(CaFile.Unreadable.class, () -> CaFile.read(file.toString()))
                .getMessage();
    }

    @Test
    void aSelfSignedCertificateIsUntrustedUntilPinned() throws Exception {
        TestCertificates.Identity self = TestCertificates.selfSigned(Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(90)), "127.0.0.1");
        try (SSLServerSocket server = serve(self)) {
            CheckResult r = check(server, "");
            assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
            assertThat(r.error()).isEqualTo("the certificate is self-signed and not one this node trusts (set caFile to trust it)");
            assertThat(r.details()).containsEntry("chainValid", false);
            Path pinned = TestCertificates.writePem(dir.resolve("self.pem"), self.certificate());
            assertThat(check(server, "caFile: " + pinned + "\n").status()).isEqualTo(CheckStatus.UP);
        }
    }

    @Test
    void aRenewedCertificateOnTheSamePortIsSeenAtTheNextCheck() throws Exception {
        SwappableIdentity identity = new SwappableIdentity(TestCertificates.server(ca,
                Instant.now().plus(Duration.ofDays(10)).plusSeconds(600), "127.0.0.1"));
        // TLS 1.2: the server keeps sessions by id and resumes one the client offers (RFC 5246 §7.3)
        try (SSLServerSocket server = serve(identity.context(), "TLSv1.2")) {
            CheckResult old = check(server, "caFile: " + caFile + "\n");
            assertThat(old.status()).isEqualTo(CheckStatus.DEGRADED);
            assertThat(old.details()).containsEntry("daysLeft", 10L).containsEntry(CheckResult.WARNING, "certificate-expiry");
            // renewed: the same port now presents a certificate valid for 90 days; a resumed session
            // would still report the old one
            identity.swap(TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(90)).plusSeconds(600), "127.0.0.1"));
            CheckResult renewed = check(server, "caFile: " + caFile + "\n");
            assertThat(renewed.status()).isEqualTo(CheckStatus.UP);
            assertThat(renewed.details()).containsEntry("daysLeft", 90L).doesNotContainKey(CheckResult.WARNING);
        }
    }

    @Test
    void everyCheckIsAFullHandshakeNeverAResumedSession() throws Exception {
        java.util.List<String> sessions = new java.util.concurrent.CopyOnWriteArrayList<>();
        TestCertificates.Identity identity = TestCertificates.server(ca, Instant.now().plus(Duration.ofDays(60)), "127.0.0.1");
        // TLS 1.2, where a client resumes by session id (RFC 5246 §7.3) as soon as it has one
        SSLServerSocket server = (SSLServerSocket) identity.serverContext().getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        server.setEnabledProtocols(new String[]{"TLSv1.2"});
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try (SSLSocket socket = (SSLSocket) server.accept()) {
                    socket.startHandshake();
                    sessions.add(java.util.HexFormat.of().formatHex(socket.getSession().getId()));
                } catch (IOException e) {
                    // closed
                }
            }
        });
        try (server) {
            for (int i = 0; i < 3; i++) {
                assertThat(check(server, "caFile: " + caFile + "\n").status()).isEqualTo(CheckStatus.UP);
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> sessions.size() == 3);
            // a resumed handshake reuses the session (and shows its old certificate): every check must start anew
            assertThat(sessions).doesNotHaveDuplicates();
        }
    }

    @Test
    void aClosedPortIsDown() throws Exception {
        int port;
        try (var socket = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }
        CheckResult r = check.run(Defs.monitor("name: cert\ntype: tls\ntarget: 127.0.0.1:" + port + "\n"));
        assertThat(r.status()).isEqualTo(CheckStatus.DOWN);
        assertThat(r.error()).contains("connection refused");
    }
}
