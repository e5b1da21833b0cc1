package io.switchboard.platform.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import io.switchboard.platform.testing.CapturedLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeCertificateTest {
    private static final Identity CA = TestCertificates.authority("Switchboard Test CA");
    private static final Instant IN_A_YEAR = Instant.now().plus(Duration.ofDays(365));

    @TempDir
    Path dir;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    private TlsSettings settings(Path certificate, Path key) {
        return settings(certificate, key, null);
    }

    private TlsSettings settings(Path certificate, Path key, Path clientCa) {
        return new TlsSettings(certificate, key, clientCa, Duration.ofSeconds(10), Duration.ofDays(365));
    }

    private NodeCertificate load(TlsSettings settings) {
        return NodeCertificate.load(settings, Clock.systemUTC(), meters, Duration.ofMillis(100), Duration.ofHours(1));
    }

    @Test
    void readsRsaAndEcKeysInPkcs8Pkcs1AndSec1() throws Exception {
        for (String type : List.of("RSA", "EC")) {
            for (KeyFormat format : KeyFormat.values()) {
                Identity leaf = TestCertificates.server(CA, type, Instant.now().minusSeconds(60), IN_A_YEAR, "node.test");
                Path cert = leaf.writeChain(dir.resolve(type + format + ".crt"));
                Path key = leaf.writeKey(dir.resolve(type + format + ".key"), format);
                ServerCredentials loaded = load(settings(cert, key)).current();
                assertThat(loaded.certificate().getSerialNumber()).as(type + " " + format).isEqualTo(leaf.serial());
                assertThat(loaded.chain()).hasSize(2);
                assertThat(loaded.names()).containsExactly("node.test");
                assertThat(loaded.privateKey().getAlgorithm()).isEqualTo(type);
                assertThat(loaded.sslContext()).isNotNull();
            }
        }
        assertThat(Files.readString(dir.resolve("RSATRADITIONAL.key"))).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        assertThat(Files.readString(dir.resolve("ECTRADITIONAL.key"))).startsWith("-----BEGIN EC PRIVATE KEY-----");
        assertThat(Files.readString(dir.resolve("ECPKCS8.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
    }

    /** {@code openssl ecparam -genkey} may write the curve in a block of its own before a key that leaves it out. */
    @Test
    void readsAnEcKeyWhoseCurveIsInAnEcParametersBlock() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        org.bouncycastle.asn1.pkcs.PrivateKeyInfo info = org.bouncycastle.asn1.pkcs.PrivateKeyInfo.getInstance(leaf.key().getEncoded());
        byte[] curve = info.getPrivateKeyAlgorithm().getParameters().toASN1Primitive().getEncoded();
        byte[] sec1WithoutCurve = info.parsePrivateKey().toASN1Primitive().getEncoded();
        String parameters = pem("EC PARAMETERS", curve);
        String key = pem("EC PRIVATE KEY", sec1WithoutCurve);
        Path withBlock = TestCertificates.write(dir.resolve("with-block.key"), parameters + key);
        assertThat(load(settings(cert, withBlock)).current().privateKey().getAlgorithm()).isEqualTo("EC");
        Path without = TestCertificates.write(dir.resolve("without.key"), key);
        assertThatThrownBy(() -> load(settings(cert, without))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("does not say its curve");
    }

    /**
     * An EC key on a curve TLS does not use (secp256k1, the Bitcoin curve, which openssl makes on
     * request): the JDK reads it but cannot sign with it, and it was refused as not the
     * certificate's key, which it was.
     */
    @Test
    void anEcKeyOnACurveTlsDoesNotUseIsRefusedAsSuch() throws Exception {
        org.bouncycastle.asn1.x9.X9ECParameters k1 = org.bouncycastle.asn1.sec.SECNamedCurves.getByName("secp256k1");
        org.bouncycastle.crypto.generators.ECKeyPairGenerator generator = new org.bouncycastle.crypto.generators.ECKeyPairGenerator();
        generator.init(new org.bouncycastle.crypto.params.ECKeyGenerationParameters(new org.bouncycastle.crypto.params.ECNamedDomainParameters(
                org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp256k1, k1), new java.security.SecureRandom()));
        org.bouncycastle.crypto.AsymmetricCipherKeyPair pair = generator.generateKeyPair();
        byte[] pkcs8 = org.bouncycastle.crypto.util.PrivateKeyInfoFactory.createPrivateKeyInfo(pair.getPrivate()).getEncoded();
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("k1.crt"));
        Path key = TestCertificates.write(dir.resolve("k1.key"), pem("PRIVATE KEY", pkcs8));
        assertThatThrownBy(() -> load(settings(cert, key)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.key");
                    assertThat(e.problem()).isEqualTo(key + ": the EC key is on the curve secp256k1, which TLS does not use;"
                            + " use P-256, P-384 or P-521 (RFC 8446 §4.2.7)");
                });
        // the curves TLS uses are read as before
        Identity p384 = TestCertificates.server(CA, "EC", 384, "SHA256withECDSA", "node.test");
        assertThat(load(settings(p384.writeChain(dir.resolve("p384.crt")), p384.writeKey(dir.resolve("p384.key"),
                KeyFormat.PKCS8))).current().privateKey().getAlgorithm()).isEqualTo("EC");
    }

    private static String pem(String type, byte[] der) throws Exception {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(new org.bouncycastle.util.io.pem.PemObject(type, der));
        }
        return text.toString();
    }

    @Test
    void readsCertificateAndKeyFromOneFile() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path both = dir.resolve("both.pem");
        Files.writeString(both, TestCertificates.pemKey(leaf.key(), KeyFormat.TRADITIONAL)
                + TestCertificates.pem(leaf.certificate()) + TestCertificates.pem(CA.certificate()));
        // as openssl x509 -serial prints it: the integer's bytes (no sign byte), so whole bytes with
        // a leading 0 where the first is below 0x10 (the test serials, 11 hex digits, have one)
        byte[] bytes = leaf.serial().toByteArray();
        if (bytes.length > 1 && bytes[0] == 0) {
            bytes = java.util.Arrays.copyOfRange(bytes, 1, bytes.length);
        }
        assertThat(load(settings(both, both)).current().serial())
                .isEqualTo(java.util.HexFormat.of().withUpperCase().formatHex(bytes));
    }

    @Test
    void refusesAKeyThatIsNotTheCertificates() {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Identity other = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        Path key = other.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        assertThatThrownBy(() -> load(settings(cert, key)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.key");
                    assertThat(e.problem()).isEqualTo(key + " is not the key of the certificate for node.test in " + cert);
                });
        // An RSA key for an EC certificate is as wrong, not a crash.
        Identity rsa = TestCertificates.server(CA, "RSA", Instant.now().minusSeconds(60), IN_A_YEAR, "node.test");
        Path rsaKey = rsa.writeKey(dir.resolve("rsa.key"), KeyFormat.TRADITIONAL);
        assertThatThrownBy(() -> load(settings(cert, rsaKey))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("is not the key of the certificate");
    }

    @Test
    void saysWhenTheChainIsInTheWrongOrder() {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = TestCertificates.write(dir.resolve("reversed.crt"),
                TestCertificates.pem(CA.certificate()) + TestCertificates.pem(leaf.certificate()));
        Path key = leaf.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        assertThatThrownBy(() -> load(settings(cert, key)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.certificate");
                    assertThat(e.problem()).contains("belongs to certificate #2 (node.test)")
                            .contains("must come first");
                });
    }

    @Test
    void aChainWhoseIssuersAreInAnOddOrderIsServedInOrder() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Identity stranger = TestCertificates.authority("Unrelated CA");
        // the leaf first, then a certificate that issued nothing here, then the leaf's issuer
        Path cert = TestCertificates.write(dir.resolve("odd.crt"), TestCertificates.pem(leaf.certificate())
                + TestCertificates.pem(stranger.certificate()) + TestCertificates.pem(CA.certificate()));
        Path key = leaf.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        ServerCredentials credentials = load(settings(cert, key)).current();
        // a key store (SIP over TLS, outgoing TLS) takes the chain only in issuing order: it used to fail the start
        java.security.KeyStore store = credentials.keyStore();
        java.security.cert.Certificate[] served = store.getCertificateChain(store.aliases().nextElement());
        assertThat(served).containsExactly(leaf.certificate(), CA.certificate());
        assertThat(credentials.chainInOrder()).containsExactly(leaf.certificate(), CA.certificate());
        // the warning says how it is served and what it left out, not that clients may fail
        assertThat(credentials.warnings()).singleElement().asString()
                .contains("not in issuing order").contains("served as node.test → Switchboard Test CA")
                .contains("left out, as they issued none of these: Unrelated CA");
    }

    @Test
    void refusesAnExpiredOrNotYetValidCertificate() {
        Identity expired = TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofDays(90)),
                Instant.now().minus(Duration.ofDays(1)), "old.test");
        Path cert = expired.writeChain(dir.resolve("old.crt"));
        Path key = expired.writeKey(dir.resolve("old.key"), KeyFormat.PKCS8);
        assertThatThrownBy(() -> load(settings(cert, key)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.certificate");
                    assertThat(e.problem()).startsWith(cert + ": the certificate for old.test expired on ");
                });

        Identity future = TestCertificates.server(CA, "EC", Instant.now().plus(Duration.ofDays(2)), IN_A_YEAR, "new.test");
        Path futureCert = future.writeChain(dir.resolve("new.crt"));
        Path futureKey = future.writeKey(dir.resolve("new.key"), KeyFormat.PKCS8);
        assertThatThrownBy(() -> load(settings(futureCert, futureKey))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("is not valid until").hasMessageContaining("clock");
    }

    @Test
    void refusesMissingUnreadableAndNonPemFiles() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        Path key = leaf.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);

        assertThatThrownBy(() -> load(settings(dir.resolve("missing.crt"), key)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.certificate");
                    assertThat(e.problem()).isEqualTo("file " + dir.resolve("missing.crt") + " does not exist");
                });
        assertThatThrownBy(() -> load(settings(cert, dir)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.key");
                    assertThat(e.problem()).isEqualTo(dir + " is a directory, not a PEM file");
                });
        Path der = dir.resolve("node.der");
        Files.write(der, leaf.certificate().getEncoded());
        assertThatThrownBy(() -> load(settings(der, key))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("holds no PEM certificate").hasMessageContaining("openssl x509 -inform der");
        Path garbage = TestCertificates.write(dir.resolve("garbage.key"),
                "-----BEGIN PRIVATE KEY-----\nnot base64 at all!!\n-----END PRIVATE KEY-----\n");
        assertThatThrownBy(() -> load(settings(cert, garbage)))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.key"));
        assertThatThrownBy(() -> load(settings(cert, cert))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("holds no PEM private key");
    }

    @Test
    void refusesAnEncryptedKeyWithTheCommandThatDecryptsIt() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(new JcaPKCS8Generator(leaf.key(),
                    new JceOpenSSLPKCS8EncryptorBuilder(JcaPKCS8Generator.AES_256_CBC).setPassword("secret".toCharArray())
                            .setProvider(new org.bouncycastle.jce.provider.BouncyCastleProvider()).build()));
        }
        Path key = TestCertificates.write(dir.resolve("encrypted.key"), text.toString());
        assertThatThrownBy(() -> load(settings(cert, key))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("the key is encrypted").hasMessageContaining("openssl pkey");
    }

    @Test
    void readsTheClientCaSkippingExpiredOnesAndRefusesOnlyExpiredOnes() {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        Path key = leaf.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        Identity panels = TestCertificates.authority("Panels CA");
        Path clientCa = TestCertificates.write(dir.resolve("clients.pem"), TestCertificates.pem(panels.certificate()));
        ServerCredentials loaded = load(settings(cert, key, clientCa)).current();
        assertThat(loaded.clientCas()).containsExactly(panels.certificate());
        assertThat(loaded.clientTrust()).isPresent();

        Identity old = TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofDays(9)),
                Instant.now().minus(Duration.ofDays(1)), "old-ca");
        // An expired CA beside a valid one is skipped with a warning: the node starts and renews.
        Path bundle = TestCertificates.write(dir.resolve("bundle.pem"),
                TestCertificates.pem(old.certificate()) + TestCertificates.pem(panels.certificate()));
        ServerCredentials withBundle = load(settings(cert, key, bundle)).current();
        assertThat(withBundle.clientCas()).containsExactly(panels.certificate());
        assertThat(withBundle.warnings()).anySatisfy(warning -> assertThat(warning)
                .contains(bundle + ": certificate #1 (old-ca) expired on"));
        // Only expired ones: no peer could be accepted, so that is refused.
        Path expiredCa = TestCertificates.write(dir.resolve("old-ca.pem"), TestCertificates.pem(old.certificate()));
        assertThatThrownBy(() -> load(settings(cert, key, expiredCa)))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.clientCa");
                    assertThat(e.problem()).contains("every CA certificate in it has expired").contains("old-ca");
                });
        assertThatThrownBy(() -> load(settings(cert, key, dir.resolve("none.pem"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.clientCa"));
    }

    /** A key pasted into tls.key (SWITCHBOARD_TLS_KEY=\"$(cat key.pem)\" in a container) is refused without being repeated. */
    @Test
    void pemTextGivenForAPathIsRefusedWithoutRepeatingIt() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        String pemKey = TestCertificates.pemKey(leaf.key(), KeyFormat.PKCS8);
        String secret = pemKey.lines().skip(1).findFirst().orElseThrow();
        for (String value : List.of(pemKey, pemKey.strip(), "-----BEGIN PRIVATE KEY----- " + secret, "node.key\n" + secret)) {
            assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("certificate", "node.crt", "key", value))))
                    .isInstanceOfSatisfying(ConfigException.class, e -> {
                        assertThat(e.key()).isEqualTo("tls.key");
                        assertThat(e.problem()).contains("holds PEM text, not a file path");
                        assertThat(e.getMessage()).doesNotContain(secret).doesNotContain("-----BEGIN");
                    });
        }
        // Settings made in code with such a "path" get the same answer from the loader.
        Path cert = leaf.writeChain(dir.resolve("node.crt"));
        assertThatThrownBy(() -> load(settings(cert, Path.of(pemKey.strip()))))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.key");
                    assertThat(e.getMessage()).contains("holds PEM text").doesNotContain(secret);
                });
        // And the start-up log of the effective configuration masks it.
        io.switchboard.platform.config.NodeConfig config = new io.switchboard.platform.config.NodeConfigLoader(List.of())
                .load(null, Map.of("SWITCHBOARD_TLS_KEY", pemKey, "SWITCHBOARD_DATA_DIR", dir.toString()), Map.of());
        assertThat(config.describe().get("tls.key")).isEqualTo("*** (PEM text)");
    }

    @Test
    void refusesKeysTlsWillNotUseAndWarnsAboutWeakOnes() {
        Identity rsaCa = rsaAuthority();
        Identity tiny = TestCertificates.server(rsaCa, "RSA", 768, "SHA256withRSA", "tiny.test");
        assertThatThrownBy(() -> load(settings(tiny.writeChain(dir.resolve("tiny.crt")),
                tiny.writeKey(dir.resolve("tiny.key"), KeyFormat.PKCS8))))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.key");
                    assertThat(e.problem()).contains("the RSA key has 768 bits").contains("under 1024");
                });
        Identity weak = TestCertificates.server(rsaCa, "RSA", 1024, "SHA256withRSA", "weak.test");
        ServerCredentials loaded = load(settings(weak.writeChain(dir.resolve("weak.crt")),
                weak.writeKey(dir.resolve("weak.key"), KeyFormat.PKCS8))).current();
        assertThat(loaded.warnings()).anySatisfy(w -> assertThat(w).contains("the RSA key has 1024 bits"));
        Identity sha1 = TestCertificates.server(CA, "EC", 256, "SHA1withECDSA", "sha1.test");
        ServerCredentials old = load(settings(sha1.writeChain(dir.resolve("sha1.crt")),
                sha1.writeKey(dir.resolve("sha1.key"), KeyFormat.PKCS8))).current();
        assertThat(old.warnings()).anySatisfy(w -> assertThat(w).contains("signed with SHA1withECDSA"));
        Identity cnOnly = TestCertificates.commonNameOnly(CA, "cn-only.test");
        ServerCredentials unnamed = load(settings(cnOnly.writeChain(dir.resolve("cn.crt")),
                cnOnly.writeKey(dir.resolve("cn.key"), KeyFormat.PKCS8))).current();
        assertThat(unnamed.warnings()).singleElement().asString().contains("the certificate has no subjectAltName, only its"
                + " subject (CN=cn-only.test)").contains("-addext subjectAltName=DNS:<host>");
        Identity good = TestCertificates.server(rsaCa, "RSA", 2048, "SHA256withRSA", "good.test");
        assertThat(load(settings(good.writeChain(dir.resolve("good.crt")), good.writeKey(dir.resolve("good.key"),
                KeyFormat.PKCS8))).current().warnings()).isEmpty();
    }

    private static Identity rsaAuthority() {
        Identity ec = TestCertificates.authority("RSA Test CA");
        Identity rsa = TestCertificates.server(ec, "RSA", 2048, "SHA256withECDSA", "RSA Test CA");
        return new Identity(rsa.key(), List.of(rsa.certificate())); // an issuer by subject and key is all a leaf needs here
    }

    /** Without tls.clientCa the node's contexts trust no client certificate, not the JDK's public CAs. */
    @Test
    void withoutAClientCaNoClientCertificateIsTrusted() throws Exception {
        Identity leaf = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        ServerCredentials loaded = load(settings(leaf.writeChain(dir.resolve("node.crt")),
                leaf.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8))).current();
        assertThatThrownBy(() -> ServerCredentials.TRUST_NO_CLIENT.checkClientTrusted(
                new java.security.cert.X509Certificate[] {leaf.certificate()}, "ECDHE_ECDSA"))
                .isInstanceOf(java.security.cert.CertificateException.class);
        assertThat(ServerCredentials.TRUST_NO_CLIENT.getAcceptedIssuers()).isEmpty();

        // The JDK's default trust store stands in for the public CAs: the test CA is put in it, so a
        // context falling back to the default would accept this client; the node's must not.
        Path trustStore = dir.resolve("default-cas.p12");
        java.security.KeyStore anchors = java.security.KeyStore.getInstance("PKCS12");
        anchors.load(null, null);
        anchors.setCertificateEntry("public-ca", CA.certificate());
        try (var out = Files.newOutputStream(trustStore)) {
            anchors.store(out, "changeit".toCharArray());
        }
        Map<String, String> properties = Map.of("javax.net.ssl.trustStore", trustStore.toString(),
                "javax.net.ssl.trustStoreType", "PKCS12", "javax.net.ssl.trustStorePassword", "changeit");
        Map<String, String> saved = new java.util.HashMap<>();
        properties.keySet().forEach(name -> saved.put(name, System.getProperty(name)));
        try {
            properties.forEach(System::setProperty);
            Identity client = TestCertificates.server(CA, IN_A_YEAR, "client.test");
            javax.net.ssl.SSLContext clientContext = clientContext(client);
            // The check itself: a context made with the default trust managers accepts this client...
            javax.net.ssl.SSLContext withDefault = javax.net.ssl.SSLContext.getInstance("TLS");
            withDefault.init(loaded.keyManagerFactory().getKeyManagers(), null, null);
            handshake(clientContext.createSSLEngine("node.test", 5061), needingClientCertificate(withDefault));
            // ...the node's does not.
            assertThatThrownBy(() -> handshake(clientContext.createSSLEngine("node.test", 5061),
                    needingClientCertificate(loaded.sslContext())))
                    .isInstanceOf(javax.net.ssl.SSLException.class);
        } finally {
            saved.forEach((name, value) -> {
                if (value == null) {
                    System.clearProperty(name);
                } else {
                    System.setProperty(name, value);
                }
            });
        }
    }

    private static javax.net.ssl.SSLEngine needingClientCertificate(javax.net.ssl.SSLContext context) {
        javax.net.ssl.SSLEngine server = context.createSSLEngine();
        server.setUseClientMode(false);
        server.setNeedClientAuth(true);
        return server;
    }

    private static javax.net.ssl.SSLContext clientContext(Identity identity) throws Exception {
        java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setKeyEntry("client", identity.key(), "x".toCharArray(), identity.chain().toArray(new java.security.cert.X509Certificate[0]));
        javax.net.ssl.KeyManagerFactory keys = javax.net.ssl.KeyManagerFactory.getInstance("PKIX");
        keys.init(store, "x".toCharArray());
        javax.net.ssl.SSLContext context = javax.net.ssl.SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), trustAll(), null);
        return context;
    }

    private static javax.net.ssl.TrustManager[] trustAll() {
        return new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
            public void checkClientTrusted(java.security.cert.X509Certificate[] c, String a) { }
            public void checkServerTrusted(java.security.cert.X509Certificate[] c, String a) { }
            public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                return new java.security.cert.X509Certificate[0];
            }
        }};
    }

    /** Runs a handshake between two engines in memory. */
    private static void handshake(javax.net.ssl.SSLEngine client, javax.net.ssl.SSLEngine server) throws Exception {
        client.setUseClientMode(true);
        java.nio.ByteBuffer empty = java.nio.ByteBuffer.allocate(0);
        java.nio.ByteBuffer toServer = java.nio.ByteBuffer.allocate(1 << 16);
        java.nio.ByteBuffer toClient = java.nio.ByteBuffer.allocate(1 << 16);
        java.nio.ByteBuffer sink = java.nio.ByteBuffer.allocate(1 << 16);
        client.beginHandshake();
        server.beginHandshake();
        for (int round = 0; round < 100; round++) {
            runTasks(client);
            client.wrap(empty, toServer);
            toServer.flip();
            runTasks(server);
            server.unwrap(toServer, sink);
            runTasks(server);
            toServer.compact();
            server.wrap(empty, toClient);
            toClient.flip();
            client.unwrap(toClient, sink);
            runTasks(client);
            toClient.compact();
            sink.clear();
            if (client.getHandshakeStatus() == javax.net.ssl.SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
                    && server.getHandshakeStatus() == javax.net.ssl.SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING) {
                return;
            }
        }
        throw new AssertionError("the handshake neither finished nor failed");
    }

    private static void runTasks(javax.net.ssl.SSLEngine engine) {
        for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) {
            task.run();
        }
    }

    @Test
    void settingsNeedBothFilesAndKnowTheirKeys() {
        assertThat(TlsSettings.from(ConfigSection.empty("tls"))).isEmpty();
        assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("certificate", "/etc/node.crt"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.key"));
        assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("key", "/etc/node.key"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.certificate"));
        assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("certificat", "/etc/node.crt"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.certificat"));
        assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("clientCa", "/etc/ca.pem"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.key()).isEqualTo("tls.clientCa"));
        assertThatThrownBy(() -> TlsSettings.from(ConfigSection.of("tls", Map.of("certificate", "node.crt", "key", "node.key",
                "hstsMaxAge", "500ms"))))
                .isInstanceOfSatisfying(ConfigException.class, e -> {
                    assertThat(e.key()).isEqualTo("tls.hstsMaxAge");
                    assertThat(e.problem()).contains("at least 1s");
                });
        assertThat(TlsSettings.from(ConfigSection.of("tls", Map.of("certificate", "node.crt", "key", "node.key",
                "hstsMaxAge", "0s"))).orElseThrow().hstsMaxAge()).isZero();
        TlsSettings settings = TlsSettings.from(ConfigSection.of("tls", Map.of("certificate", "node.crt", "key", "node.key",
                "handshakeTimeout", "3s", "hstsMaxAge", "1d"))).orElseThrow();
        assertThat(settings.certificate()).isAbsolute();
        assertThat(settings.handshakeTimeout()).isEqualTo(Duration.ofSeconds(3));
        assertThat(settings.hstsMaxAge()).isEqualTo(Duration.ofDays(1));
    }

    /**
     * certbot's renewal: new files in archive/, then the symlinks in live/ are replaced (each by a
     * rename, so a reader sees the old or the new link, never none). The watcher sees the live/
     * directory change, waits for it to settle, and applies the new pair.
     */
    @Test
    void followsARenewalBySymlinkSwap() throws Exception {
        Path archive = Files.createDirectories(dir.resolve("archive"));
        Path live = Files.createDirectories(dir.resolve("live"));
        Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        first.writeChain(archive.resolve("fullchain1.pem"));
        first.writeKey(archive.resolve("privkey1.pem"), KeyFormat.PKCS8);
        Files.createSymbolicLink(live.resolve("fullchain.pem"), Path.of("../archive/fullchain1.pem"));
        Files.createSymbolicLink(live.resolve("privkey.pem"), Path.of("../archive/privkey1.pem"));
        NodeCertificate certificate = load(settings(live.resolve("fullchain.pem"), live.resolve("privkey.pem")));
        List<ServerCredentials> seen = new CopyOnWriteArrayList<>();
        certificate.onChange(seen::add);
        certificate.start();
        try {
            assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(first.serial());
            double notAfter = meters.get("switchboard.tls.certificate.not.after").gauge().value();
            assertThat((long) notAfter).isEqualTo(first.certificate().getNotAfter().toInstant().getEpochSecond());
            assertThat(meters.get("switchboard.tls.certificate.expiry").gauge().value())
                    .isBetween((double) Duration.ofDays(364).toSeconds(), (double) Duration.ofDays(366).toSeconds());

            Identity second = TestCertificates.server(CA, IN_A_YEAR.plus(Duration.ofDays(30)), "node.test");
            second.writeChain(archive.resolve("fullchain2.pem"));
            second.writeKey(archive.resolve("privkey2.pem"), KeyFormat.PKCS8);
            swapLink(live.resolve("fullchain.pem"), Path.of("../archive/fullchain2.pem"));
            swapLink(live.resolve("privkey.pem"), Path.of("../archive/privkey2.pem"));

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(second.serial()));
            assertThat(seen).hasSize(1);
            assertThat(seen.getFirst().certificate().getSerialNumber()).isEqualTo(second.serial());
            assertThat(meters.get("switchboard.tls.certificate.reloads").tag("result", "applied").counter().count()).isEqualTo(1);
            assertThat((long) meters.get("switchboard.tls.certificate.not.after").gauge().value())
                    .isEqualTo(second.certificate().getNotAfter().toInstant().getEpochSecond());
        } finally {
            certificate.stop();
        }
    }

    /** A certificate written without its key (or with a wrong one) is refused and the old pair kept; the key arriving later completes it. */
    @Test
    void keepsTheOldPairUntilTheNewOneIsWhole() throws Exception {
        Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = first.writeChain(dir.resolve("node.crt"));
        Path key = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        NodeCertificate certificate = load(settings(cert, key));
        certificate.start();
        try {
            Identity second = TestCertificates.server(CA, IN_A_YEAR, "node.test");
            Path staged = second.writeChain(dir.resolve("node.crt.new"));
            Files.move(staged, cert, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                    meters.get("switchboard.tls.certificate.reloads").tag("result", "refused").counter().count()).isEqualTo(1));
            assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(first.serial());
            assertThat(certificate.reloadIfChanged()).as("the same bad pair is not tried again").isFalse();
            assertThat(meters.get("switchboard.tls.certificate.reloads").tag("result", "refused").counter().count()).isEqualTo(1);

            second.writeKey(key, KeyFormat.PKCS8);
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                    assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(second.serial()));
        } finally {
            certificate.stop();
        }
    }

    /**
     * A listener that cannot take the new pair (Jetty failing to load it) refuses it: the pair in
     * use stays current, the listeners that took it are given the old one back, the refusal is
     * counted once and shown by the pending gauge, and the next check tries again.
     */
    @Test
    void aListenerThatCannotTakeThePairRefusesItForAllAndItIsTriedAgain() throws Exception {
        Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = first.writeChain(dir.resolve("node.crt"));
        Path key = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        NodeCertificate certificate = load(settings(cert, key));
        List<BigInteger> took = new CopyOnWriteArrayList<>();
        certificate.onChange(pair -> took.add(pair.certificate().getSerialNumber()));
        java.util.concurrent.atomic.AtomicBoolean failing = new java.util.concurrent.atomic.AtomicBoolean(true);
        certificate.onChange(pair -> {
            if (failing.get()) {
                throw new IllegalStateException("cannot load it");
            }
        });
        assertThat(pending()).isZero();

        Identity second = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        second.writeChain(cert);
        second.writeKey(key, KeyFormat.PKCS8);
        assertThat(certificate.reloadIfChanged()).isFalse();
        assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(first.serial());
        assertThat(took).containsExactly(second.serial(), first.serial());
        assertThat(reloads("refused")).isEqualTo(1);
        assertThat(reloads("applied")).isZero();
        assertThat(pending()).isEqualTo(1);

        assertThat(certificate.reloadIfChanged()).as("tried again, counted once").isFalse();
        assertThat(reloads("refused")).isEqualTo(1);

        failing.set(false);
        assertThat(certificate.reloadIfChanged()).isTrue();
        assertThat(certificate.current().certificate().getSerialNumber()).isEqualTo(second.serial());
        assertThat(reloads("applied")).isEqualTo(1);
        assertThat(pending()).isZero();
    }

    /** The pending gauge clears as soon as the files on disk are usable again (a renewal written in two steps). */
    @Test
    void thePendingGaugeClearsWhenTheFilesAreGoodAgain() throws Exception {
        Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = first.writeChain(dir.resolve("node.crt"));
        Path key = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        NodeCertificate certificate = load(settings(cert, key));
        Identity second = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        second.writeChain(cert);
        assertThat(certificate.reloadIfChanged()).isFalse();
        assertThat(pending()).isEqualTo(1);
        first.writeChain(cert); // undone: the files are the pair in use again
        assertThat(certificate.reloadIfChanged()).isFalse();
        assertThat(pending()).isZero();
        second.writeChain(cert);
        second.writeKey(key, KeyFormat.PKCS8);
        assertThat(certificate.reloadIfChanged()).isTrue();
        assertThat(pending()).isZero();
        assertThat(reloads("refused")).isEqualTo(1);
    }

    /**
     * Each applied change says what it changed, also when the certificate stays the same (a chain
     * cut down, client CAs replaced), warns of an older certificate put back, and a refused change
     * that is undone is said to be over.
     */
    @Test
    void theLogSaysWhatEachChangeChanged() throws Exception {
        try (CapturedLog log = CapturedLog.of(NodeCertificate.class)) {
            Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
            Path cert = first.writeChain(dir.resolve("node.crt"));
            Path key = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
            Identity panels = TestCertificates.authority("Panels CA");
            Path clientCa = TestCertificates.write(dir.resolve("clients.pem"), TestCertificates.pem(panels.certificate()));
            NodeCertificate certificate = load(settings(cert, key, clientCa));
            log.clear();

            TestCertificates.write(cert, TestCertificates.pem(first.certificate())); // the CA left out
            assertThat(certificate.reloadIfChanged()).isTrue();
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).startsWith("INFO TLS files changed, same certificate")
                    .contains("the chain served is now 1 certificate(s), was 2"));

            Identity doors = TestCertificates.authority("Doors CA");
            TestCertificates.write(clientCa, TestCertificates.pem(panels.certificate()) + TestCertificates.pem(doors.certificate()));
            assertThat(certificate.reloadIfChanged()).isTrue();
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).contains("tls.clientCa now holds 2 CA(s), was 1"));

            log.clear();
            // a shorter-lived certificate issued later is a renewal, not a step back
            Identity shorter = TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofHours(1)),
                    Instant.now().plus(Duration.ofDays(45)), "node.test");
            shorter.writeChain(cert);
            shorter.writeKey(key, KeyFormat.PKCS8);
            assertThat(certificate.reloadIfChanged()).isTrue();
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).startsWith("INFO TLS certificate replaced: serial"))
                    .noneSatisfy(line -> assertThat(line).startsWith("WARN"));

            log.clear();
            Identity older = TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofDays(30)),
                    Instant.now().plus(Duration.ofDays(60)), "node.test");
            older.writeChain(cert);
            older.writeKey(key, KeyFormat.PKCS8);
            assertThat(certificate.reloadIfChanged()).isTrue();
            assertThat(log.lines()).anySatisfy(line -> assertThat(line).startsWith("WARN the new TLS certificate was issued on")
                    .contains("before the one it replaced"));

            log.clear();
            Path moved = dir.resolve("node.crt.away");
            Files.move(cert, moved);
            assertThat(certificate.reloadIfChanged()).isFalse();
            Files.move(moved, cert);
            assertThat(certificate.reloadIfChanged()).isFalse();
            assertThat(log.lines()).hasSize(2);
            assertThat(log.lines().get(0)).startsWith("WARN TLS certificate files changed but cannot be used");
            assertThat(log.lines().get(1)).startsWith("INFO TLS certificate files are back to the certificate in use");
        }
    }

    private double pending() {
        return meters.get("switchboard.tls.certificate.pending.refused").gauge().value();
    }

    private double reloads(String result) {
        return meters.get("switchboard.tls.certificate.reloads").tag("result", result).counter().count();
    }

    @Test
    void touchingTheFilesReloadsNothing() throws Exception {
        Identity first = TestCertificates.server(CA, IN_A_YEAR, "node.test");
        Path cert = first.writeChain(dir.resolve("node.crt"));
        Path key = first.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        NodeCertificate certificate = load(settings(cert, key));
        Files.setLastModifiedTime(cert, java.nio.file.attribute.FileTime.from(Instant.now()));
        Files.writeString(cert, Files.readString(cert));
        assertThat(certificate.reloadIfChanged()).isFalse();
        assertThat(meters.get("switchboard.tls.certificate.reloads").tag("result", "applied").counter().count()).isZero();
    }

    @Test
    void classifiesHandshakeFailures() {
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLException("Unsupported or unrecognized SSL message"))).isEqualTo("not_tls");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException(
                "Client requested protocol TLSv1.1 is not enabled or supported in server context"))).isEqualTo("protocol");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException("no cipher suites in common"))).isEqualTo("cipher");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException("Received fatal alert: certificate_unknown")))
                .isEqualTo("certificate_refused");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException("Empty client certificate chain")))
                .isEqualTo("client_certificate");
        assertThat(TlsHandshakeMeter.reason(new java.nio.channels.ClosedChannelException())).isEqualTo("incomplete");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException("Received fatal alert: decode_error")))
                .isEqualTo("alert");
        // the messages of Netty's NotSslRecordException and SslHandshakeTimeoutException (SIP over TLS)
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLException("not an SSL/TLS record: 5245474953"))).isEqualTo("not_tls");
        assertThat(TlsHandshakeMeter.reason(new javax.net.ssl.SSLHandshakeException("handshake timed out after 10000ms")))
                .isEqualTo("incomplete");
        assertThat(TlsHandshakeMeter.reason(new RuntimeException((String) null))).isEqualTo("other");
    }

    private static void swapLink(Path link, Path target) throws Exception {
        Path staged = link.resolveSibling(link.getFileName() + ".new");
        Files.createSymbolicLink(staged, target);
        Files.move(staged, link, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
