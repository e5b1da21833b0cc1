package io.switchboard.monitor.support;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** Certificates made in the test: a CA, and server certificates it signs or that sign themselves, with chosen dates and names. */
public final class TestCertificates {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    /** A key and its certificate chain (leaf first). */
    public record Identity(PrivateKey key, List<X509Certificate> chain) {
        public X509Certificate certificate() {
            return chain.getFirst();
        }

        /** A server-side SSL context presenting this identity. */
        public SSLContext serverContext() throws GeneralSecurityException, IOException {
            KeyStore store = keyStore("changeit");
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, "changeit".toCharArray());
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        }

        public KeyStore keyStore(String password) throws GeneralSecurityException, IOException {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("server", key, password.toCharArray(), chain.toArray(new X509Certificate[0]));
            return store;
        }

        /** Writes the keystore (PKCS12) to a file. */
        public Path writeKeyStore(Path file, String password) throws GeneralSecurityException, IOException {
            try (var out = Files.newOutputStream(file)) {
                keyStore(password).store(out, password.toCharArray());
            }
            return file;
        }
    }

    private TestCertificates() {
    }

    public static Identity authority(String name) throws GeneralSecurityException {
        KeyPair pair = keyPair();
        X509Certificate cert = build(name, pair, name, pair.getPrivate(), Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(3650)), true, List.of());
        return new Identity(pair.getPrivate(), List.of(cert));
    }

    /** A server certificate for {@code names} (host names or IP literals), valid from a day ago until {@code notAfter}, signed by {@code ca}. */
    public static Identity server(Identity ca, Instant notAfter, String... names) throws GeneralSecurityException {
        KeyPair pair = keyPair();
        X509Certificate cert = build(names[0], pair, ca.certificate().getSubjectX500Principal().getName(), ca.key(),
                Instant.now().minus(Duration.ofDays(1)), notAfter, false, List.of(names));
        List<X509Certificate> chain = new ArrayList<>(List.of(cert));
        chain.addAll(ca.chain());
        return new Identity(pair.getPrivate(), chain);
    }

    public static Identity selfSigned(Instant notBefore, Instant notAfter, String... names) throws GeneralSecurityException {
        KeyPair pair = keyPair();
        X509Certificate cert = build(names[0], pair, "CN=" + names[0], pair.getPrivate(), notBefore, notAfter, false, List.of(names));
        return new Identity(pair.getPrivate(), List.of(cert));
    }

    public static String pem(X509Certificate certificate) throws GeneralSecurityException {
        return "-----BEGIN CERTIFICATE-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(certificate.getEncoded())
                + "\n-----END CERTIFICATE-----\n";
    }

    public static Path writePem(Path file, X509Certificate certificate) throws IOException, GeneralSecurityException {
        Files.writeString(file, pem(certificate));
        return file;
    }

    private static KeyPair keyPair() throws GeneralSecurityException {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(256);
        return generator.generateKeyPair();
    }

    private static X509Certificate build(String subject, KeyPair pair, String issuer, PrivateKey issuerKey, Instant notBefore,
                                         Instant notAfter, boolean ca, List<String> names) throws GeneralSecurityException {
        try {
            X500Name subjectName = new X500Name(subject.startsWith("CN=") ? subject : "CN=" + subject);
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(new X500Name(issuer.startsWith("CN=") ? issuer
                    : "CN=" + issuer), BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
                    subjectName, pair.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (ca) {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            }
            if (!names.isEmpty()) {
                List<GeneralName> sans = new ArrayList<>();
                for (String n : names) {
                    boolean ip = n.matches("\\d{1,3}(\\.\\d{1,3}){3}") || n.contains(":");
                    sans.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n));
                }
                builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            return new JcaX509CertificateConverter().getCertificate(builder.build(
                    new JcaContentSignerBuilder("SHA256withECDSA").build(issuerKey)));
        } catch (org.bouncycastle.operator.OperatorCreationException | org.bouncycastle.cert.CertIOException e) {
            throw new GeneralSecurityException(e);
        }
    }
}
