package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.CaFile;
import io.switchboard.monitor.definition.Targets;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * Which certificates are trusted: the JDK's default authorities plus, per monitor or channel, the
 * certificates of a PEM file ({@code caFile}: a private CA, or a self-signed server's own
 * certificate). Files are read again when they change. Also the RFC 6125 host name rules the TLS
 * check applies itself, since it inspects certificates it was told to accept.
 */
public final class CertificateTrust {
    private record Loaded(long modified, X509TrustManager trustManager, SSLContext context, Set<TrustAnchor> anchors) {
    }

    private final Map<String, Loaded> byFile = new ConcurrentHashMap<>();
    private final Loaded defaults;

    public CertificateTrust() {
        try {
            X509TrustManager jdk = buildTrustManager(null);
            Set<TrustAnchor> anchors = new HashSet<>();
            for (X509Certificate ca : jdk.getAcceptedIssuers()) {
                anchors.add(new TrustAnchor(ca, null));
            }
            defaults = new Loaded(0, jdk, context(jdk), Set.copyOf(anchors));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK's trust store cannot be read", e);
        }
    }

    /** An SSL context trusting the defaults and {@code caFile} (null: defaults only). */
    public SSLContext sslContext(String caFile) throws IOException, GeneralSecurityException {
        return load(caFile).context();
    }

    public X509TrustManager trustManager(String caFile) throws IOException, GeneralSecurityException {
        return load(caFile).trustManager();
    }

    /**
     * Validates a chain as the server sent it (leaf first) against the trusted authorities.
     *
     * @return empty when trusted, else why not, in words
     */
    public Optional<String> chainProblem(List<X509Certificate> chain, String caFile) throws IOException, GeneralSecurityException {
        Set<TrustAnchor> anchors = load(caFile).anchors();
        X509Certificate leaf = chain.getFirst();
        // A pinned self-signed certificate: the leaf itself is a trust anchor.
        for (TrustAnchor anchor : anchors) {
            if (anchor.getTrustedCert().equals(leaf)) {
                return Optional.empty();
            }
        }
        List<X509Certificate> path = new ArrayList<>(chain);
        // RFC 5280 §6.1: the path runs from the anchor's subject to the leaf; a root the server sent too is dropped
        while (path.size() > 1 && isSelfSigned(path.getLast())) {
            path.removeLast();
        }
        try {
            PKIXParameters parameters = new PKIXParameters(anchors);
            parameters.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(path),
                    parameters);
            return Optional.empty();
        } catch (CertPathValidatorException e) {
            return Optional.of(switch (e.getReason() instanceof CertPathValidatorException.BasicReason basic ? basic : null) {
                case EXPIRED -> "a certificate in the chain has expired";
                case NOT_YET_VALID -> "a certificate in the chain is not valid yet";
                case null -> isSelfSigned(leaf) && chain.size() == 1
                        ? "the certificate is self-signed and not one this node trusts (set caFile to trust it)"
                        : "the chain does not lead to an authority this node trusts (" + e.getMessage() + ")";
                default -> "the chain is not valid: " + e.getMessage();
            });
        }
    }

    /**
     * RFC 6125 §6.4: an IP address matches only an iPAddress entry; a name matches a dNSName entry,
     * with a wildcard allowed only as the whole left-most label (§6.4.3); the subject's CN counts
     * only when the certificate has no dNSName at all (§6.4.4).
     */
    public static boolean matchesHost(X509Certificate certificate, String host) {
        String wanted = host.toLowerCase(Locale.ROOT);
        if (wanted.endsWith(".")) {
            wanted = wanted.substring(0, wanted.length() - 1);
        }
        boolean ip = Targets.isIpLiteral(wanted);
        List<String> dnsNames = new ArrayList<>();
        try {
            Collection<List<?>> names = certificate.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> entry : names) {
                    int type = (Integer) entry.get(0);
                    String value = String.valueOf(entry.get(1));
                    if (type == 7 && ip && sameAddress(value, wanted)) {
                        return true;
                    }
                    if (type == 2) {
                        dnsNames.add(value.toLowerCase(Locale.ROOT));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            return false;
        }
        if (ip) {
            return false;
        }
        if (dnsNames.isEmpty()) {
            commonName(certificate).ifPresent(cn -> dnsNames.add(cn.toLowerCase(Locale.ROOT)));
        }
        for (String name : dnsNames) {
            if (name.equals(wanted)) {
                return true;
            }
            if (name.startsWith("*.") && name.indexOf('.', 2) > 0) {
                int dot = wanted.indexOf('.');
                if (dot > 0 && wanted.substring(dot).equals(name.substring(1))) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The names and addresses a certificate is for, for messages. */
    public static List<String> names(X509Certificate certificate) {
        List<String> out = new ArrayList<>();
        try {
            Collection<List<?>> names = certificate.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> entry : names) {
                    int type = (Integer) entry.get(0);
                    if (type == 2 || type == 7) {
                        out.add(String.valueOf(entry.get(1)));
                    }
                }
            }
        } catch (java.security.cert.CertificateParsingException e) {
            return out;
        }
        if (out.isEmpty()) {
            commonName(certificate).ifPresent(out::add);
        }
        return out;
    }

    static Optional<String> commonName(X509Certificate certificate) {
        try {
            for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("CN")) {
                    return Optional.of(String.valueOf(rdn.getValue()));
                }
            }
        } catch (InvalidNameException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }

    private static boolean sameAddress(String a, String b) {
        try {
            return Arrays.equals(InetAddress.getByName(a).getAddress(), InetAddress.getByName(b).getAddress());
        } catch (UnknownHostException e) {
            return false;
        }
    }

    static boolean isSelfSigned(X509Certificate certificate) {
        if (!certificate.getSubjectX500Principal().equals(certificate.getIssuerX500Principal())) {
            return false;
        }
        try {
            certificate.verify(certificate.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private Loaded load(String caFile) throws IOException, GeneralSecurityException {
        if (caFile == null) {
            return defaults;
        }
        List<X509Certificate> extra;
        long modified;
        try {
            modified = CaFile.modified(caFile);
            Loaded cached = byFile.get(caFile);
            if (cached != null && cached.modified() == modified) {
                return cached;
            }
            extra = CaFile.read(caFile);
        } catch (CaFile.Unreadable e) {
            throw new IOException("cannot read caFile " + e.getMessage(), e);
        }
        X509TrustManager manager = buildTrustManager(extra);
        Set<TrustAnchor> anchors = new HashSet<>(defaults.anchors());
        for (X509Certificate c : extra) {
            anchors.add(new TrustAnchor(c, null));
        }
        Loaded loaded = new Loaded(modified, manager, context(manager), Set.copyOf(anchors));
        byFile.put(caFile, loaded);
        return loaded;
    }

    private X509TrustManager buildTrustManager(List<X509Certificate> extra) throws GeneralSecurityException {
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (extra == null) {
            factory.init((KeyStore) null);
        } else {
            KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
            try {
                store.load(null, null);
            } catch (IOException impossible) {
                throw new GeneralSecurityException(impossible);
            }
            int i = 0;
            for (X509Certificate ca : defaults.trustManager().getAcceptedIssuers()) {
                store.setCertificateEntry("default-" + i++, ca);
            }
            for (X509Certificate c : extra) {
                store.setCertificateEntry("extra-" + i++, c);
            }
            factory.init(store);
        }
        return (X509TrustManager) Arrays.stream(factory.getTrustManagers()).filter(t -> t instanceof X509TrustManager)
                .findFirst().orElseThrow();
    }

    private static SSLContext context(X509TrustManager trustManager) throws GeneralSecurityException {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new javax.net.ssl.TrustManager[]{trustManager}, null);
        return context;
    }
}
