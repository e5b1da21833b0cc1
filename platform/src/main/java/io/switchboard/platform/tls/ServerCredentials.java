package io.switchboard.platform.tls;

import io.switchboard.platform.RootCause;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.edec.EdECObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x9.X9ObjectIdentifiers;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * The node's certificate chain and private key as read from PEM files, checked to belong
 * together and to be valid now, with the CA certificates for peers' certificates if any. Immutable:
 * a renewal makes a new one ({@link NodeCertificate} swaps them).
 *
 * <p>Hands out what TLS stacks take: a {@link KeyStore} (Jetty's {@code SslContextFactory}), a
 * {@link KeyManagerFactory} and {@link #clientTrust()} (Netty's {@code SslContextBuilder.forServer}
 * and {@code trustManager}), the key and chain themselves, or a whole {@link SSLContext}.
 *
 * <p>PEM is parsed with BouncyCastle's PEMParser (bcpkix): one reader for PKCS#8, PKCS#1 RSA and
 * SEC 1 EC keys, for the optional {@code EC PARAMETERS} block OpenSSL writes before an EC key, and
 * for a certificate and key in one file. Keys are then made by the JDK's own KeyFactory, so no
 * security provider is registered.
 */
public final class ServerCredentials {
    /** The password of the in-memory key store; it is never written anywhere, so it guards nothing. */
    public static final String KEY_STORE_PASSWORD = "in-memory";
    private static final String ALIAS = "node";
    private static final Map<ASN1ObjectIdentifier, String> KEY_ALGORITHMS = Map.of(
            PKCSObjectIdentifiers.rsaEncryption, "RSA",
            X9ObjectIdentifiers.id_ecPublicKey, "EC",
            EdECObjectIdentifiers.id_Ed25519, "Ed25519",
            EdECObjectIdentifiers.id_Ed448, "Ed448");

    /** The curves TLS signs with (RFC 8446 §4.2.7, RFC 8422 §5.1.1), by OID. */
    private static final Map<ASN1ObjectIdentifier, String> TLS_CURVES = Map.of(
            X9ObjectIdentifiers.prime256v1, "P-256",
            org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp384r1, "P-384",
            org.bouncycastle.asn1.sec.SECObjectIdentifiers.secp521r1, "P-521");

    /** Trusts no client certificate: what the node's contexts use without {@code tls.clientCa}. */
    static final X509TrustManager TRUST_NO_CLIENT = new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("no client certificate is trusted: tls.clientCa is not set");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("the node's server context verifies no servers");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    };

    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final List<X509Certificate> clientCas;
    private final List<String> warnings;

    private ServerCredentials(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> clientCas, List<String> warnings) {
        this.chain = List.copyOf(chain);
        this.key = key;
        this.clientCas = List.copyOf(clientCas);
        this.warnings = List.copyOf(warnings);
    }

    /**
     * Reads and checks the files the settings name.
     *
     * @param now the time the certificate must be valid at
     * @throws CertificateProblem naming the file's config key and what is wrong: unreadable, no
     *     certificate or key in it, an encrypted key, a key that is not the certificate's, a
     *     certificate expired or not yet valid
     */
    public static ServerCredentials load(TlsSettings settings, Instant now) throws CertificateProblem {
        List<Path> files = settings.clientCa() == null ? List.of(settings.certificate(), settings.key())
                : List.of(settings.certificate(), settings.key(), settings.clientCa());
        return load(settings, now, CertificateFiles.read(files));
    }

    /** As {@link #load(TlsSettings, Instant)}, from files already read. */
    static ServerCredentials load(TlsSettings settings, Instant now, CertificateFiles files) throws CertificateProblem {
        List<X509Certificate> chain = readCertificates("tls.certificate", settings.certificate(), files);
        PrivateKey key = readKey("tls.key", settings.key(), files);
        List<String> warnings = new ArrayList<>();
        checkKeyMatches(chain, key, settings);
        X509Certificate leaf = chain.getFirst();
        if (now.isAfter(leaf.getNotAfter().toInstant())) {
            throw new CertificateProblem("tls.certificate", settings.certificate() + ": the certificate for "
                    + describe(leaf) + " expired on " + leaf.getNotAfter().toInstant());
        }
        if (now.isBefore(leaf.getNotBefore().toInstant())) {
            throw new CertificateProblem("tls.certificate", settings.certificate() + ": the certificate for "
                    + describe(leaf) + " is not valid until " + leaf.getNotBefore().toInstant()
                    + " (is this machine's clock right?)");
        }
        boolean outOfOrder = false;
        for (int i = 1; i < chain.size(); i++) {
            X509Certificate issuer = chain.get(i);
            outOfOrder |= !chain.get(i - 1).getIssuerX500Principal().equals(issuer.getSubjectX500Principal());
            // An expired certificate late in a chain is sometimes kept on purpose (a cross-signed root
            // for old clients), so it only warns; an expired leaf is refused above.
            if (now.isAfter(issuer.getNotAfter().toInstant())) {
                warnings.add(settings.certificate() + ": certificate #" + (i + 1) + " (" + describe(issuer) + ") in the chain expired on "
                        + issuer.getNotAfter().toInstant());
            }
        }
        if (outOfOrder) {
            // served in issuing order (issuedInOrder): say what clients get, and what they do not
            List<X509Certificate> served = issuedInOrder(chain);
            List<String> leftOut = chain.stream().filter(c -> !served.contains(c)).map(ServerCredentials::describe).toList();
            warnings.add(settings.certificate() + ": the certificates are not in issuing order (the node's certificate,"
                    + " then each issuer in turn); served as " + served.stream().map(ServerCredentials::describe)
                    .collect(java.util.stream.Collectors.joining(" → "))
                    + (leftOut.isEmpty() ? "" : "; left out, as they issued none of these: " + String.join(", ", leftOut)));
        }
        checkKeyStrength(leaf, key, settings, warnings);
        checkSubjectAltNames(leaf, settings, warnings);
        List<X509Certificate> clientCas = List.of();
        if (settings.clientCa() != null) {
            List<X509Certificate> read = readCertificates("tls.clientCa", settings.clientCa(), files);
            List<X509Certificate> valid = new ArrayList<>();
            for (int i = 0; i < read.size(); i++) {
                X509Certificate ca = read.get(i);
                if (now.isAfter(ca.getNotAfter().toInstant())) {
                    // Bundles often keep an old CA beside its successor; refusing the whole file
                    // would block the start and every renewal of the node's own certificate.
                    warnings.add(settings.clientCa() + ": certificate #" + (i + 1) + " (" + describe(ca) + ") expired on "
                            + ca.getNotAfter().toInstant() + "; peers' certificates it signed are refused");
                } else {
                    valid.add(ca);
                }
            }
            if (valid.isEmpty()) {
                throw new CertificateProblem("tls.clientCa", settings.clientCa() + ": every CA certificate in it has expired"
                        + " (certificate #1, " + describe(read.getFirst()) + ", on " + read.getFirst().getNotAfter().toInstant()
                        + "); no peer certificate could be accepted");
            }
            clientCas = valid;
        }
        return new ServerCredentials(chain, key, clientCas, warnings);
    }

    /** The smallest RSA key the JDK's TLS uses (jdk.certpath.disabledAlgorithms: {@code RSA keySize < 1024}). */
    static final int MIN_RSA_BITS = 1024;
    /** Below this an RSA key is weak (NIST SP 800-57: 112-bit security needs 2048); public CAs refuse them. */
    static final int WEAK_RSA_BITS = 2048;
    /** Below this an EC key is weak (P-256 is the smallest curve TLS 1.3 names, RFC 8446 §4.2.7). */
    static final int WEAK_EC_BITS = 256;

    /**
     * Refuses a key the JDK's TLS would not use (the node would start and then fail every
     * handshake), and warns about a weak key or a SHA-1 signature, which browsers refuse.
     */
    private static void checkKeyStrength(X509Certificate leaf, PrivateKey key, TlsSettings settings, List<String> warnings)
            throws CertificateProblem {
        java.security.PublicKey publicKey = leaf.getPublicKey();
        if (publicKey instanceof java.security.interfaces.RSAPublicKey rsa) {
            int bits = rsa.getModulus().bitLength();
            if (bits < MIN_RSA_BITS) {
                throw new CertificateProblem("tls.key", settings.key() + ": the RSA key has " + bits + " bits; TLS"
                        + " refuses keys under " + MIN_RSA_BITS + " (use " + WEAK_RSA_BITS + " or more, or an EC P-256 key)");
            }
            if (bits < WEAK_RSA_BITS) {
                warnings.add(settings.key() + ": the RSA key has " + bits + " bits; under " + WEAK_RSA_BITS + " is weak and refused by"
                        + " browsers and public CAs");
            }
        } else if (publicKey instanceof java.security.interfaces.ECPublicKey ec) {
            int bits = ec.getParams().getOrder().bitLength();
            if (bits < WEAK_EC_BITS) {
                warnings.add(settings.key() + ": the EC key has " + bits + " bits; under " + WEAK_EC_BITS + " (P-256) is weak and not"
                        + " offered by most TLS clients");
            }
        }
        String signature = leaf.getSigAlgName().toUpperCase(java.util.Locale.ROOT);
        if (signature.startsWith("SHA1") || signature.startsWith("MD5")) {
            warnings.add(settings.certificate() + ": the certificate is signed with " + leaf.getSigAlgName() + "; browsers and current TLS clients"
                    + " refuse SHA-1 and MD5 signatures (reissue it with SHA-256)");
        }
    }

    /**
     * Warns about a certificate whose names are only in its subject's CN: clients match the host
     * they dialed against subjectAltName and, when it has DNS names, never the CN (RFC 6125
     * §6.4.4; browsers ignore the CN altogether), so such a certificate is refused by them.
     * Any subjectAltName counts, a SIP URI one too (RFC 5922 §7.1).
     */
    private static void checkSubjectAltNames(X509Certificate leaf, TlsSettings settings, List<String> warnings) {
        Collection<List<?>> alternatives;
        try {
            alternatives = leaf.getSubjectAlternativeNames();
        } catch (CertificateException e) {
            alternatives = null; // unreadable: as good as none for a client
        }
        if (alternatives == null || alternatives.isEmpty()) {
            warnings.add(settings.certificate() + ": the certificate has no subjectAltName, only its subject ("
                    + leaf.getSubjectX500Principal().getName() + "); browsers and current TLS clients match the host"
                    + " they dialed against subjectAltName only and refuse it (reissue it with, for openssl,"
                    + " -addext subjectAltName=DNS:<host>)");
        }
    }

    private static List<X509Certificate> readCertificates(String configKey, Path file, CertificateFiles files)
            throws CertificateProblem {
        List<X509Certificate> certificates = new ArrayList<>();
        CertificateFactory factory;
        try {
            factory = CertificateFactory.getInstance("X.509");
        } catch (CertificateException e) {
            throw new IllegalStateException("the JDK has no X.509 certificate factory", e);
        }
        for (Object item : readPem(configKey, file, files)) {
            if (item instanceof X509CertificateHolder holder) {
                try {
                    certificates.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(holder.getEncoded())));
                } catch (CertificateException | IOException e) {
                    throw new CertificateProblem(configKey, file + ": certificate #" + (certificates.size() + 1)
                            + " cannot be read: " + RootCause.message(e), e);
                }
            }
        }
        if (certificates.isEmpty()) {
            throw new CertificateProblem(configKey, file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----);"
                    + " a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem");
        }
        return certificates;
    }

    private static PrivateKey readKey(String configKey, Path file, CertificateFiles files) throws CertificateProblem {
        ASN1ObjectIdentifier curve = null;
        for (Object item : readPem(configKey, file, files)) {
            if (item instanceof ASN1ObjectIdentifier parameters) {
                curve = parameters; // an EC PARAMETERS block (openssl ecparam -genkey) names the curve of the key after it
                continue;
            }
            PrivateKeyInfo info = switch (item) {
                case PrivateKeyInfo pkcs8 -> pkcs8;
                case PEMKeyPair pkcs1OrSec1 -> withCurve(pkcs1OrSec1.getPrivateKeyInfo(), curve, configKey, file);
                case PKCS8EncryptedPrivateKeyInfo pkcs8 -> throw encryptedKey(configKey, file);
                case PEMEncryptedKeyPair pkcs1 -> throw encryptedKey(configKey, file);
                default -> null; // certificates and EC PARAMETERS beside the key
            };
            if (info != null) {
                return toPrivateKey(configKey, file, info);
            }
        }
        throw new CertificateProblem(configKey, file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----,"
                + " -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)");
    }

    /**
     * A SEC 1 EC key may leave its curve out (RFC 5915 §3 makes the parameters optional) when an
     * {@code EC PARAMETERS} block before it names the curve; the JDK needs the curve in the key.
     */
    private static PrivateKeyInfo withCurve(PrivateKeyInfo info, ASN1ObjectIdentifier curve, String configKey, Path file)
            throws CertificateProblem {
        if (!X9ObjectIdentifiers.id_ecPublicKey.equals(info.getPrivateKeyAlgorithm().getAlgorithm())
                || info.getPrivateKeyAlgorithm().getParameters() != null) {
            return info;
        }
        if (curve == null) {
            throw new CertificateProblem(configKey, file + ": the EC key does not say its curve, and no EC PARAMETERS"
                    + " block comes before it");
        }
        try {
            return new PrivateKeyInfo(new AlgorithmIdentifier(X9ObjectIdentifiers.id_ecPublicKey, curve), info.parsePrivateKey());
        } catch (IOException e) {
            throw new CertificateProblem(configKey, file + ": the EC key cannot be read: " + RootCause.message(e), e);
        }
    }

    private static CertificateProblem encryptedKey(String configKey, Path file) {
        return new CertificateProblem(configKey, file + ": the key is encrypted; the node reads keys without a passphrase"
                + " (decrypt it with: openssl pkey -in KEY -out KEY.plain, and keep that file readable by the node only)");
    }

    private static PrivateKey toPrivateKey(String configKey, Path file, PrivateKeyInfo info) throws CertificateProblem {
        ASN1ObjectIdentifier oid = info.getPrivateKeyAlgorithm().getAlgorithm();
        String algorithm = KEY_ALGORITHMS.get(oid);
        if (algorithm == null) {
            throw new CertificateProblem(configKey, file + ": keys of type " + oid.getId()
                    + " are not supported; use an RSA, EC, Ed25519 or Ed448 key");
        }
        if (algorithm.equals("EC") && info.getPrivateKeyAlgorithm().getParameters() instanceof ASN1ObjectIdentifier curve
                && !TLS_CURVES.containsKey(curve)) {
            // the JDK reads such a key but cannot sign with it, which the key check below took for
            // a key that is not the certificate's
            String name = org.bouncycastle.asn1.x9.ECNamedCurveTable.getName(curve);
            throw new CertificateProblem(configKey, file + ": the EC key is on the curve " + (name == null ? curve.getId() : name)
                    + ", which TLS does not use; use P-256, P-384 or P-521 (RFC 8446 §4.2.7)");
        }
        try {
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(info.getEncoded()));
        } catch (GeneralSecurityException | IOException e) {
            throw new CertificateProblem(configKey, file + ": the " + algorithm + " key cannot be read: " + RootCause.message(e), e);
        }
    }

    private static List<Object> readPem(String configKey, Path file, CertificateFiles files) throws CertificateProblem {
        if (TlsSettings.holdsPemText(file.toString())) {
            // Not a path but the PEM itself (settings made in code): never repeat it.
            throw new CertificateProblem(configKey, "holds PEM text, not a file path; write it to a file and give its path");
        }
        String text;
        try {
            text = new String(files.bytes(file), StandardCharsets.ISO_8859_1);
        } catch (CertificateFiles.DirectoryNotPem e) {
            throw new CertificateProblem(configKey, file + " is a directory, not a PEM file");
        } catch (NoSuchFileException e) {
            throw new CertificateProblem(configKey, "file " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new CertificateProblem(configKey, "cannot read " + file + ": permission denied (the node runs as "
                    + System.getProperty("user.name") + ")");
        } catch (IOException e) {
            throw new CertificateProblem(configKey, "cannot read " + file + ": " + RootCause.message(e), e);
        }
        List<Object> items = new ArrayList<>();
        try (PEMParser parser = new PEMParser(new StringReader(text))) {
            for (Object item = parser.readObject(); item != null; item = parser.readObject()) {
                items.add(item);
            }
        } catch (IOException | RuntimeException e) {
            throw new CertificateProblem(configKey, file + " is not valid PEM: " + RootCause.message(e), e);
        }
        return items;
    }

    /**
     * The key must be the leaf's: a signature made with it must verify with the certificate's
     * public key. This works the same for every key type, where comparing key fields would not.
     */
    private static void checkKeyMatches(List<X509Certificate> chain, PrivateKey key, TlsSettings settings) throws CertificateProblem {
        if (signs(key, chain.getFirst())) {
            return;
        }
        for (int i = 1; i < chain.size(); i++) {
            if (signs(key, chain.get(i))) {
                throw new CertificateProblem("tls.certificate", settings.certificate() + ": the key in " + settings.key()
                        + " belongs to certificate #" + (i + 1) + " (" + describe(chain.get(i)) + "); the node's own"
                        + " certificate must come first in the file");
            }
        }
        throw new CertificateProblem("tls.key", settings.key() + " is not the key of the certificate for "
                + describe(chain.getFirst()) + " in " + settings.certificate());
    }

    private static boolean signs(PrivateKey key, X509Certificate certificate) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448, EdDSA sign without a separate digest
        };
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException | RuntimeException e) {
            return false; // a key of another type than the certificate's, or a broken one: not its key
        }
    }

    /** The subject's common name or, without one, the whole subject. */
    static String describe(X509Certificate certificate) {
        String subject = certificate.getSubjectX500Principal().getName();
        for (String part : subject.split(",")) {
            if (part.startsWith("CN=")) {
                return part.substring(3);
            }
        }
        return subject;
    }

    /** The node's certificate, then the intermediates, as in the file. */
    public List<X509Certificate> chain() {
        return chain;
    }

    /** The node's own certificate (the first of the chain). */
    public X509Certificate certificate() {
        return chain.getFirst();
    }

    public PrivateKey privateKey() {
        return key;
    }

    /** The CAs whose certificates SIP peers may present; empty without {@code tls.clientCa}. */
    public List<X509Certificate> clientCas() {
        return clientCas;
    }

    /** What is odd but usable (a chain out of order, an expired cross-signature), for the log. */
    public List<String> warnings() {
        return warnings;
    }

    public Instant notAfter() {
        return certificate().getNotAfter().toInstant();
    }

    /** The serial number in hex, as {@code openssl x509 -serial} shows it. */
    public String serial() {
        // whole bytes, as openssl prints them: a serial whose first byte is below 0x10 keeps its leading 0
        String hex = certificate().getSerialNumber().toString(16).toUpperCase(java.util.Locale.ROOT);
        return hex.length() % 2 == 0 ? hex : "0" + hex;
    }

    /** The SHA-256 fingerprint of the certificate, hex with colons, as browsers and {@code openssl x509 -fingerprint -sha256} show it. */
    public String fingerprint() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate().getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is missing from the JDK", e);
        }
    }

    /** The DNS names and IP addresses the certificate is for (its subject alternative names). */
    public List<String> names() {
        return subjectAltNames(2, 7); // dNSName, iPAddress (RFC 5280 §4.2.1.6)
    }

    /** The URIs the certificate is for: a SIP domain's identity is {@code sip:DOMAIN} (RFC 5922 §7.1). */
    public List<String> uriNames() {
        return subjectAltNames(6); // uniformResourceIdentifier (RFC 5280 §4.2.1.6)
    }

    /** The certificate's subject alternative names of the given GeneralName types, in order. */
    private List<String> subjectAltNames(int... types) {
        List<String> values = new ArrayList<>();
        try {
            Collection<List<?>> alternatives = certificate().getSubjectAlternativeNames();
            if (alternatives != null) {
                for (List<?> alternative : alternatives) {
                    int type = (Integer) alternative.get(0);
                    if (java.util.Arrays.stream(types).anyMatch(t -> t == type)) {
                        values.add(String.valueOf(alternative.get(1)));
                    }
                }
            }
        } catch (CertificateException e) {
            // an unparsable extension: the names stay unknown, the certificate still serves
        }
        return values;
    }

    /** A one-line description for logs: subject, names, serial, expiry. */
    public String summary() {
        return describe(certificate()) + " " + names() + " serial " + serial() + ", valid until " + notAfter()
                + ", issued by " + certificate().getIssuerX500Principal().getName();
    }

    /** An in-memory PKCS#12 key store with the key and chain; its password is {@link #KEY_STORE_PASSWORD}. */
    public KeyStore keyStore() {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry(ALIAS, key, KEY_STORE_PASSWORD.toCharArray(), issuedInOrder(chain).toArray(new X509Certificate[0]));
            return store;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot hold the node's key in memory: " + RootCause.message(e), e);
        }
    }

    /** The chain as served: see {@link #issuedInOrder}. */
    public List<X509Certificate> chainInOrder() {
        return issuedInOrder(chain);
    }

    /**
     * The leaf and, after it, each certificate that issued the one before, as a key store requires
     * (Java's PKCS12 refuses any other order). A file's chain in an odd order, which the start
     * check warns about, is served in this order; certificates that issued none of them are left
     * out, as clients would not use them.
     */
    static List<X509Certificate> issuedInOrder(List<X509Certificate> given) {
        List<X509Certificate> rest = new java.util.ArrayList<>(given.subList(1, given.size()));
        List<X509Certificate> ordered = new java.util.ArrayList<>(List.of(given.getFirst()));
        X509Certificate last = given.getFirst();
        while (!last.getIssuerX500Principal().equals(last.getSubjectX500Principal())) {
            X509Certificate current = last;
            java.util.Optional<X509Certificate> issuer = rest.stream()
                    .filter(c -> c.getSubjectX500Principal().equals(current.getIssuerX500Principal())).findFirst();
            if (issuer.isEmpty()) {
                break;
            }
            ordered.add(issuer.get());
            rest.remove(issuer.get());
            last = issuer.get();
        }
        return ordered;
    }

    /** Key managers presenting this chain, for {@code SSLContext.init} or Netty's {@code SslContextBuilder.forServer}. */
    public KeyManagerFactory keyManagerFactory() {
        try {
            KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            factory.init(keyStore(), KEY_STORE_PASSWORD.toCharArray());
            return factory;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make key managers: " + RootCause.message(e), e);
        }
    }

    /** Trust managers for peers' certificates, from {@code tls.clientCa}; empty without it. */
    public Optional<TrustManagerFactory> clientTrust() {
        if (clientCas.isEmpty()) {
            return Optional.empty();
        }
        try {
            KeyStore anchors = KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            for (int i = 0; i < clientCas.size(); i++) {
                anchors.setCertificateEntry("client-ca-" + i, clientCas.get(i));
            }
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init(anchors);
            return Optional.of(factory);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot make trust managers: " + RootCause.message(e), e);
        }
    }

    /**
     * A server {@link SSLContext} presenting this chain and, with {@code tls.clientCa}, trusting
     * peers' certificates it signed; without it, trusting no peer certificate at all (whether to ask for one is the listener's choice:
     * {@code SSLParameters.setWantClientAuth}). Protocol versions are the listener's too.
     */
    public SSLContext sslContext() {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            // Without tls.clientCa nothing is trusted: a null would mean the JDK's public CAs, so a
            // listener asking for client certificates would accept anyone's from any public CA.
            TrustManager[] trust = clientTrust().map(TrustManagerFactory::getTrustManagers)
                    .orElseGet(() -> new TrustManager[] {TRUST_NO_CLIENT});
            context.init(keyManagerFactory().getKeyManagers(), trust, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot make a TLS context: " + RootCause.message(e), e);
        }
    }
}
