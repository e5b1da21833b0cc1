package io.switchboard.platform.tls;

import io.switchboard.platform.RootCause;
import io.switchboard.platform.config.ConfigSection;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import javax.net.ssl.TrustManagerFactory;

/**
 * What the node does as a TLS <em>client</em>: the connections it opens itself (SIP over TLS to a
 * trunk or to a device whose connection is gone). Read from the same {@code tls:} block as
 * {@link TlsSettings}, but usable without the node's own certificate (then no client certificate
 * is presented).
 * <ul>
 *   <li>{@code tls.trust}: a PEM bundle of the CAs whose server certificates are accepted; without
 *       it, the JDK's trust store (the public CAs). Read and checked at start.</li>
 *   <li>{@code tls.connectTimeout}: how long the TCP connect may take (the handshake is then bounded
 *       by {@code tls.handshakeTimeout}, more than 0 and at most 5m).</li>
 * </ul>
 */
public final class TlsClientSettings {
    static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

    private final Path trust;
    private final List<X509Certificate> trustedCas;
    private final Duration connectTimeout;
    private final Duration handshakeTimeout;

    private TlsClientSettings(Path trust, List<X509Certificate> trustedCas, Duration connectTimeout, Duration handshakeTimeout) {
        this.trust = trust;
        this.trustedCas = List.copyOf(trustedCas);
        this.connectTimeout = connectTimeout;
        this.handshakeTimeout = handshakeTimeout;
    }

    /** Settings with the JDK's trust store and the default timeouts (for tests and nodes without a tls block). */
    public static TlsClientSettings defaults() {
        return new TlsClientSettings(null, List.of(), DEFAULT_CONNECT_TIMEOUT, TlsSettings.DEFAULT_HANDSHAKE_TIMEOUT);
    }

    /**
     * The client side of the {@code tls:} block; reads the trust bundle now.
     *
     * @throws io.switchboard.platform.config.ConfigException naming {@code tls.trust} when the file
     *     is missing, unreadable or holds no certificate, or a timeout out of range
     */
    public static TlsClientSettings from(ConfigSection section) {
        Duration connectTimeout = section.duration("connectTimeout", DEFAULT_CONNECT_TIMEOUT);
        if (connectTimeout.isZero() || connectTimeout.isNegative() || connectTimeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw section.problem("connectTimeout", "must be more than 0 and at most 1m");
        }
        Duration handshakeTimeout = section.duration("handshakeTimeout", TlsSettings.DEFAULT_HANDSHAKE_TIMEOUT);
        // the same bounds as the listeners' check (TlsSettings): a node without a certificate of its
        // own reads the key only here, and a zero or negative timeout would fail every handshake
        if (handshakeTimeout.isZero() || handshakeTimeout.isNegative() || handshakeTimeout.compareTo(Duration.ofMinutes(5)) > 0) {
            throw section.problem("handshakeTimeout", "must be more than 0 and at most 5m");
        }
        String text = section.string("trust").map(String::strip).orElse("");
        if (text.isEmpty()) {
            return new TlsClientSettings(null, List.of(), connectTimeout, handshakeTimeout);
        }
        if (TlsSettings.holdsPemText(text)) {
            throw section.problem("trust", "holds PEM text, not a file path; write the CA certificates to a file and give its path");
        }
        Path file;
        try {
            file = Path.of(text).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw section.problem("trust", "\"" + text + "\" is not a valid path: " + e.getReason());
        }
        List<X509Certificate> cas = new ArrayList<>();
        try (InputStream in = Files.newInputStream(file)) {
            Collection<? extends Certificate> read = CertificateFactory.getInstance("X.509").generateCertificates(in);
            for (Certificate c : read) {
                cas.add((X509Certificate) c);
            }
        } catch (NoSuchFileException e) {
            throw section.problem("trust", "file " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw section.problem("trust", "cannot read " + file + ": permission denied");
        } catch (IOException | GeneralSecurityException e) {
            // Java's own words ("signed fields invalid", "Could not parse certificate") say little:
            // the usual cause is a key or some other PEM given where certificates belong
            throw section.problem("trust", file + " is not a PEM bundle of certificates (each a -----BEGIN CERTIFICATE----- block;"
                    + " a key or another kind of file does not do): " + RootCause.message(e));
        }
        if (cas.isEmpty()) {
            throw section.problem("trust", file + " holds no certificate (expected PEM blocks: BEGIN CERTIFICATE)");
        }
        return new TlsClientSettings(file, cas, connectTimeout, handshakeTimeout);
    }

    /** The trust bundle's path, or null for the JDK's trust store. */
    public Path trust() {
        return trust;
    }

    public List<X509Certificate> trustedCas() {
        return trustedCas;
    }

    public Duration connectTimeout() {
        return connectTimeout;
    }

    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    /** Trust managers for servers' certificates: the bundle's CAs, or the JDK's trust store without one. */
    public TrustManagerFactory trustManagers() {
        try {
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (trustedCas.isEmpty()) {
                factory.init((KeyStore) null);
            } else {
                KeyStore anchors = KeyStore.getInstance("PKCS12");
                anchors.load(null, null);
                for (int i = 0; i < trustedCas.size(); i++) {
                    anchors.setCertificateEntry("trusted-ca-" + i, trustedCas.get(i));
                }
                factory.init(anchors);
            }
            return factory;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot make trust managers: " + RootCause.message(e), e);
        }
    }
}
