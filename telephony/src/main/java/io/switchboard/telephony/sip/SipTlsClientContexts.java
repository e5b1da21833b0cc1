package io.switchboard.telephony.sip;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.ServerCredentials;
import io.switchboard.platform.tls.TlsClientSettings;
import io.switchboard.sip.transport.TlsConnector;

import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The contexts of the TLS connections the node opens itself (RFC 3261 §26.2: to a {@code sips:} or
 * {@code transport=tls} target without an open connection). TLS 1.3 and 1.2 only; the server's
 * chain must lead to a CA of {@code tls.trust} (or of the JDK's trust store without it); the
 * server's name is then checked by RFC 5922 §7 in the transport layer, so the JDK's own (HTTPS)
 * endpoint identification is turned off here. When the node has a certificate it is presented
 * to servers that ask for one (mutual TLS to trunks), and a renewed one is presented by new
 * connections.
 */
public final class SipTlsClientContexts implements Supplier<SslContext> {
    private final TlsClientSettings settings;
    private final Optional<NodeCertificate> certificate;
    private final TrustManagerFactory trust;
    private volatile SslContext current;
    private Runnable stopFollowing;

    public SipTlsClientContexts(TlsClientSettings settings, Optional<NodeCertificate> certificate) {
        this.settings = settings;
        this.certificate = certificate;
        this.trust = settings.trustManagers();
        this.current = context(trust, certificate.map(NodeCertificate::current).orElse(null));
    }

    /** Follows renewals of the node's certificate, the one presented to servers that ask. */
    public void start() {
        certificate.ifPresent(c -> stopFollowing = c.onChange(renewed -> current = context(trust, renewed)));
    }

    public void stop() {
        if (stopFollowing != null) {
            stopFollowing.run();
            stopFollowing = null;
        }
    }

    @Override
    public SslContext get() {
        return current;
    }

    /** What the transport layer uses to open connections, with the configured timeouts. */
    public TlsConnector connector() {
        return new TlsConnector(this, settings.connectTimeout(), settings.handshakeTimeout());
    }

    static SslContext context(TrustManagerFactory trust, ServerCredentials own) {
        try {
            SslContextBuilder builder = SslContextBuilder.forClient()
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(trust)
                    // RFC 5922 §7 is checked by the transport layer (sip: URI names, no wildcards)
                    .endpointIdentificationAlgorithm(null);
            if (own != null) {
                builder.keyManager(own.keyManagerFactory());
            }
            return builder.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot make the SIP TLS client context: " + RootCause.message(e), e);
        }
    }
}
