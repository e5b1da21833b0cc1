package io.switchboard.telephony.sip;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.ServerCredentials;
import io.switchboard.platform.tls.TlsHandshakeMeter;
import io.switchboard.sip.transport.TlsPipeline;

import javax.net.ssl.SSLException;
import java.util.function.Supplier;

/**
 * The TLS side of the node's {@code tls:} SIP listeners: Netty server contexts made from the node's
 * certificate, remade when it is renewed, and the handshake meters
 * ({@code switchboard_tls_handshakes_total{listener="sip-tls"}} and the failures by reason).
 * <p>
 * Only TLS 1.3 and 1.2 are offered (RFC 3261 §26.2.1 asks for TLS; RFC 8996 retired 1.0 and 1.1).
 * With {@code tls.clientCa} every peer must present a certificate signed by one of those CAs
 * (mutual TLS for trunks and door panels); a peer without one fails the handshake, counted as
 * {@code client_certificate}. Without it no certificate is asked for. The same contexts serve
 * every {@code tls} listener of the node.
 */
public final class SipTlsContexts implements Supplier<SslContext> {
    public static final String LISTENER = "sip-tls";

    private final NodeCertificate certificate;
    private final TlsHandshakeMeter handshakes;
    private volatile SslContext current;
    private Runnable stopFollowing;

    public SipTlsContexts(NodeCertificate certificate, MeterRegistry meters) {
        this.certificate = certificate;
        this.current = context(certificate.current());
        this.handshakes = new TlsHandshakeMeter(meters, LISTENER);
    }

    /** Follows renewals: new connections get the new certificate, open ones keep their session. */
    public void start() {
        stopFollowing = certificate.onChange(renewed -> current = context(renewed));
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

    /** The pipeline the transport layer puts in front of each connection accepted on a tls listener. */
    public TlsPipeline pipeline() {
        return new TlsPipeline(this, certificate.settings().handshakeTimeout(), new TlsPipeline.HandshakeObserver() {
            @Override
            public void succeeded() {
                handshakes.succeeded();
            }

            @Override
            public void failed(Throwable cause) {
                handshakes.failed(cause);
            }
        });
    }

    static SslContext context(ServerCredentials credentials) {
        try {
            SslContextBuilder builder = SslContextBuilder.forServer(credentials.keyManagerFactory())
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2");
            credentials.clientTrust().ifPresent(trust -> builder.trustManager(trust).clientAuth(ClientAuth.REQUIRE));
            return builder.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot make the SIP TLS context: " + RootCause.message(e), e);
        }
    }
}
