package io.switchboard.platform.tls;

import io.switchboard.platform.config.ConfigSection;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The {@code tls:} block: the node's own certificate and what its TLS listeners (HTTPS now, SIP
 * over TLS later) do with it.
 *
 * @param certificate      PEM file with the node's certificate first, then the intermediates (a "full chain")
 * @param key              PEM file with the certificate's private key: PKCS#8 ({@code BEGIN PRIVATE KEY}),
 *                         PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC 1 ({@code BEGIN EC PRIVATE KEY}); not encrypted
 * @param clientCa         PEM file with the CA certificates that sign the certificates SIP peers may present
 *                         (mutual TLS for trunks and panels), or null for none; HTTPS never asks for one
 * @param handshakeTimeout how long a TLS handshake may take before the connection is closed
 * @param hstsMaxAge       the {@code max-age} of {@code Strict-Transport-Security} on HTTPS answers (RFC 6797);
 *                         zero sends {@code max-age=0}, which tells browsers to forget an earlier one; otherwise
 *                         at least one second
 */
public record TlsSettings(Path certificate, Path key, Path clientCa, Duration handshakeTimeout, Duration hstsMaxAge) {
    public static final List<String> KNOWN_KEYS = List.of("certificate", "key", "clientCa", "handshakeTimeout", "hstsMaxAge",
            "trust", "connectTimeout"); // the last two are the client side's: TlsClientSettings
    static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    static final Duration DEFAULT_HSTS_MAX_AGE = Duration.ofDays(365);

    /**
     * The settings, or empty when the block names no certificate (the node then has no TLS).
     *
     * @throws io.switchboard.platform.config.ConfigException for an unknown key, a certificate
     *     without a key (or the reverse), a path that cannot be a path, or a bad duration
     */
    public static Optional<TlsSettings> from(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS);
        Path certificate = path(section, "certificate");
        Path key = path(section, "key");
        Path clientCa = path(section, "clientCa");
        Duration handshakeTimeout = section.duration("handshakeTimeout", DEFAULT_HANDSHAKE_TIMEOUT);
        if (handshakeTimeout.isZero() || handshakeTimeout.compareTo(Duration.ofMinutes(5)) > 0) {
            throw section.problem("handshakeTimeout", "must be more than 0 and at most 5m");
        }
        Duration hstsMaxAge = section.duration("hstsMaxAge", DEFAULT_HSTS_MAX_AGE);
        if (!hstsMaxAge.isZero() && hstsMaxAge.compareTo(Duration.ofSeconds(1)) < 0) {
            // max-age counts whole seconds (RFC 6797 §6.1.1): 500ms would be sent as max-age=0,
            // which tells browsers to forget HSTS, the opposite of what was asked.
            throw section.problem("hstsMaxAge", "must be 0s (forget HSTS) or at least 1s: max-age counts whole seconds");
        }
        if (certificate == null && key == null) {
            if (clientCa != null) {
                throw section.problem("clientCa", "needs the node's own certificate too: set tls.certificate and tls.key");
            }
            return Optional.empty();
        }
        if (certificate == null) {
            throw section.problem("certificate", "is required with " + section.named("key")
                    + ": the PEM file of the certificate chain");
        }
        if (key == null) {
            throw section.problem("key", "is required with " + section.named("certificate")
                    + ": the PEM file of its private key");
        }
        return Optional.of(new TlsSettings(certificate, key, clientCa, handshakeTimeout, hstsMaxAge));
    }

    private static Path path(ConfigSection section, String key) {
        Optional<String> text = section.string(key);
        if (text.isEmpty() || text.get().isBlank()) {
            return null;
        }
        if (holdsPemText(text.get())) {
            // Containers often pass the key itself in SWITCHBOARD_TLS_KEY; the message must not
            // repeat it (it would land in logs and terminals).
            throw section.problem(key, "holds PEM text, not a file path; write it to a file (readable by the node"
                    + " only, e.g. a mounted secret) and give that file's path");
        }
        try {
            return Path.of(text.get().strip()).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw section.problem(key, "\"" + text.get() + "\" is not a valid path: " + e.getReason());
        }
    }

    /** A value that is PEM content (or any multi-line text) rather than a path. */
    static boolean holdsPemText(String value) {
        return value.contains("-----BEGIN") || value.indexOf('\n') >= 0 || value.indexOf('\r') >= 0;
    }
}
