package io.switchboard.platform.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
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
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates made in the test: a CA, and leaf certificates it signs with chosen dates, names
 * and key types, written as PEM files the way certbot and OpenSSL write them.
 */
public final class TestCertificates {
    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());

    /** How a private key is written. */
    public enum KeyFormat {
        /** {@code BEGIN PRIVATE KEY}: certbot, {@code openssl genpkey}. */
        PKCS8,
        /** {@code BEGIN RSA PRIVATE KEY} or {@code BEGIN EC PRIVATE KEY}: {@code openssl genrsa}, {@code ecparam -genkey}. */
        TRADITIONAL
    }

    /** A key and its certificate chain (leaf first). */
    public record Identity(PrivateKey key, List<X509Certificate> chain) {
        public X509Certificate certificate() {
            return chain.getFirst();
        }

        public BigInteger serial() {
            return certificate().getSerialNumber();
        }

        /** Writes the chain (leaf first) as PEM. */
        public Path writeChain(Path file) {
            StringBuilder pem = new StringBuilder();
            for (X509Certificate certificate : chain) {
                pem.append(pem(certificate));
            }
            return write(file, pem.toString());
        }

        public Path writeKey(Path file, KeyFormat format) {
            return write(file, pemKey(key, format));
        }

        /**
         * A context presenting this identity (a test TLS server, or a client that presents a
         * certificate) and trusting certificates {@code trusted} signed, or nothing when null.
         */
        public SSLContext presentingContext(Identity trusted) {
            try {
                KeyStore own = KeyStore.getInstance("PKCS12");
                own.load(null, null);
                own.setKeyEntry("own", key, "test".toCharArray(), chain.toArray(new X509Certificate[0]));
                javax.net.ssl.KeyManagerFactory keys = javax.net.ssl.KeyManagerFactory.getInstance(
                        javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
                keys.init(own, "test".toCharArray());
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(keys.getKeyManagers(), trusted == null ? null
                        : trusted.trustingContextManagers(), null);
                return context;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException(e);
            }
        }

        private javax.net.ssl.TrustManager[] trustingContextManagers() throws GeneralSecurityException, IOException {
            KeyStore anchors = KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            anchors.setCertificateEntry("ca", certificate());
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(anchors);
            return trust.getTrustManagers();
        }

        /** A client context trusting only this identity's certificate (use it on a CA). */
        public SSLContext trustingContext() {
            try {
                KeyStore anchors = KeyStore.getInstance("PKCS12");
                anchors.load(null, null);
                anchors.setCertificateEntry("ca", certificate());
                TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                trust.init(anchors);
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(null, trust.getTrustManagers(), null);
                return context;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private TestCertificates() {
    }

    public static Identity authority(String name) {
        KeyPair pair = keyPair("EC");
        X509Certificate cert = build("CN=" + name, pair, "CN=" + name, pair.getPrivate(), Instant.now().minus(Duration.ofDays(1)),
                Instant.now().plus(Duration.ofDays(3650)), true, List.of());
        return new Identity(pair.getPrivate(), List.of(cert));
    }

    /** An EC leaf named only by its subject's CN, with no subjectAltName (as old tools made them). */
    public static Identity commonNameOnly(Identity ca, String commonName) {
        KeyPair pair = keyPair("EC");
        X509Certificate cert = build("CN=" + commonName, pair, ca.certificate().getSubjectX500Principal().getName(), ca.key(),
                Instant.now().minus(Duration.ofDays(1)), Instant.now().plus(Duration.ofDays(30)), false, List.of());
        List<X509Certificate> chain = new ArrayList<>(List.of(cert));
        chain.addAll(ca.chain());
        return new Identity(pair.getPrivate(), chain);
    }

    /**
     * An EC leaf for {@code names} (DNS names, IP addresses, or {@code sip:} URIs for SIP domain
     * identities), valid from a day ago until {@code notAfter}, signed by {@code ca}. */
    public static Identity server(Identity ca, Instant notAfter, String... names) {
        return server(ca, "EC", Instant.now().minus(Duration.ofDays(1)), notAfter, names);
    }

    /** A leaf with a key of {@code keyType} ({@code RSA} or {@code EC}) and chosen dates, signed by {@code ca}. */
    public static Identity server(Identity ca, String keyType, Instant notBefore, Instant notAfter, String... names) {
        KeyPair pair = keyPair(keyType);
        X509Certificate cert = build("CN=" + names[0], pair, ca.certificate().getSubjectX500Principal().getName(), ca.key(),
                notBefore, notAfter, false, List.of(names));
        List<X509Certificate> chain = new ArrayList<>(List.of(cert));
        chain.addAll(ca.chain());
        return new Identity(pair.getPrivate(), chain);
    }

    /**
     * A leaf with a key of {@code keyType} and {@code bits} (RSA modulus size or EC curve size),
     * signed by {@code ca} with {@code signature} ({@code SHA1withECDSA} for an old one).
     */
    public static Identity server(Identity ca, String keyType, int bits, String signature, String name) {
        KeyPair pair = keyPair(keyType, bits);
        X509Certificate cert = build("CN=" + name, pair, ca.certificate().getSubjectX500Principal().getName(), ca.key(),
                Instant.now().minus(Duration.ofDays(1)), Instant.now().plus(Duration.ofDays(90)), false, List.of(name), signature);
        List<X509Certificate> chain = new ArrayList<>(List.of(cert));
        chain.addAll(ca.chain());
        return new Identity(pair.getPrivate(), chain);
    }

    public static String pem(X509Certificate certificate) {
        return pemObject(certificate);
    }

    public static String pemKey(PrivateKey key, KeyFormat format) {
        try {
            if (format == KeyFormat.PKCS8) {
                return pemObject(new JcaPKCS8Generator(key, null));
            }
            if (key.getAlgorithm().equals("EC")) {
                // As OpenSSL writes it: the curve inside the SEC 1 structure (BouncyCastle's writer leaves it out).
                PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
                ECPrivateKey inner = ECPrivateKey.getInstance(info.parsePrivateKey());
                ECPrivateKey sec1 = new ECPrivateKey(256, inner.getKey(), inner.getPublicKey(),
                        info.getPrivateKeyAlgorithm().getParameters());
                return pemObject(new PemObject("EC PRIVATE KEY", sec1.getEncoded()));
            }
            return pemObject(key);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String pemObject(Object object) {
        StringWriter text = new StringWriter();
        try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
            writer.writeObject(object);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return text.toString();
    }

    static Path write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private static KeyPair keyPair(String type) {
        return keyPair(type, type.equals("RSA") ? 2048 : 256);
    }

    /** {@code bits} is not used for Ed25519 and Ed448, whose size is their name. */
    private static KeyPair keyPair(String type, int bits) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance(type);
            if (!type.startsWith("Ed")) {
                generator.initialize(bits);
            }
            return generator.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate build(String subject, KeyPair pair, String issuer, PrivateKey issuerKey, Instant notBefore,
                                         Instant notAfter, boolean ca, List<String> names) {
        return build(subject, pair, issuer, issuerKey, notBefore, notAfter, ca, names,
                issuerKey.getAlgorithm().equals("RSA") ? "SHA256withRSA" : "SHA256withECDSA");
    }

    private static X509Certificate build(String subject, KeyPair pair, String issuer, PrivateKey issuerKey, Instant notBefore,
                                         Instant notAfter, boolean ca, List<String> names, String algorithm) {
        try {
            X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(new X500Name(issuer),
                    BigInteger.valueOf(SERIAL.incrementAndGet()), Date.from(notBefore), Date.from(notAfter),
                    new X500Name(subject), pair.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(ca));
            if (ca) {
                builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            }
            if (!names.isEmpty()) {
                List<GeneralName> sans = new ArrayList<>();
                for (String n : names) {
                    if (n.startsWith("sip:") || n.startsWith("sips:")) {
                        // a SIP domain identity (RFC 5922 §7.1): a subjectAltName URI
                        sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, n));
                        continue;
                    }
                    boolean ip = n.matches("\\d{1,3}(\\.\\d{1,3}){3}") || n.contains(":");
                    sans.add(new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, n));
                }
                builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            return new JcaX509CertificateConverter().getCertificate(builder.build(
                    new JcaContentSignerBuilder(algorithm).build(issuerKey)));
        } catch (GeneralSecurityException | org.bouncycastle.operator.OperatorCreationException
                 | org.bouncycastle.cert.CertIOException e) {
            throw new IllegalStateException(e);
        }
    }
}
