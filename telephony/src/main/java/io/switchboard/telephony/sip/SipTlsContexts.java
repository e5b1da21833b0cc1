package io.switchboard.telephony.sip;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.ServerCredentials;
import io.switchboard.platform.tls.TlsHandshakeMeter;
import io.switchboard.sip.transport.TlsPipeline;

import javax.net.ssl.SSLException;
import java.security.cert.X509Certificate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
 * <p>
 * The TLS engine is BoringSSL (netty-tcnative, whose native library the jar carries for Linux and
 * macOS on x86-64 and ARM, and Windows x86-64) wherever that library loads, and the JDK's own
 * elsewhere, and for an Ed25519 or Ed448 key, which only the JDK's engine can present
 * ({@link #providerFor}); the log says which at start and at a renewal that changes it.
 * Both offer the same protocols and the same certificate. BoringSSL is there for speed: a SIP
 * request over TLS is a few hundred bytes, so per-record overhead decides the CPU a registration
 * costs, and the JDK's engine spends far more of it per record (see docs/benchmarks/tls.md).
 */
public final class SipTlsContexts implements Supplier<SslContext> {
    public static final String LISTENER = "sip-tls";
    private static final Logger log = LoggerFactory.getLogger(SipTlsContexts.class);
    /** BoringSSL where netty-tcnative loads, else the JDK's engine. */
    static final SslProvider PROVIDER = OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;

    private final NodeCertificate certificate;
    private final TlsHandshakeMeter handshakes;
    private final SipMetrics refusals;
    private volatile SslContext current;
    private Runnable stopFollowing;

    /** @param refusals where a failed handshake is told, with the client's address, for the log */
    public SipTlsContexts(NodeCertificate certificate, MeterRegistry meters, SipMetrics refusals) {
        if (PROVIDER == SslProvider.OPENSSL) {
            log.info("SIP over TLS uses BoringSSL ({})", OpenSsl.versionString());
        } else {
            log.info("SIP over TLS uses the JDK's TLS (BoringSSL is not available here: {})",
                    RootCause.message(OpenSsl.unavailabilityCause()));
        }
        this.certificate = certificate;
        this.current = context(certificate.current());
        this.handshakes = new TlsHandshakeMeter(meters, LISTENER);
        this.refusals = refusals;
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
            public void failed(Throwable cause, java.net.InetSocketAddress peer) {
                refusals.tlsHandshakeFailed(peer, handshakes.failed(cause), cause);
            }
        });
    }

    /**
     * The engine for a certificate: {@link #PROVIDER}, except for an Ed25519 or Ed448 key, which
     * only the JDK's engine can serve. Through Netty, BoringSSL picks the certificate to present by
     * the handshake's RSA or ECDSA authentication, so an Ed25519 one was never chosen and every
     * handshake ended in an internal-error alert, while the node started without a word; it has no
     * Ed448 at all. The JDK signs with both (RFC 8446 §4.2.3, RFC 8422 §5.1.3).
     */
    static SslProvider providerFor(ServerCredentials credentials) {
        String algorithm = credentials.privateKey().getAlgorithm();
        boolean edwards = algorithm.equals("Ed25519") || algorithm.equals("Ed448") || algorithm.equals("EdDSA");
        return edwards ? SslProvider.JDK : PROVIDER;
    }

    static SslContext context(ServerCredentials credentials) {
        SslProvider provider = providerFor(credentials);
        if (provider != PROVIDER) {
            log.info("SIP over TLS uses the JDK's TLS for this certificate: BoringSSL cannot present its {} key",
                    credentials.privateKey().getAlgorithm());
        }
        try {
            // The key and chain themselves, not a KeyManagerFactory: BoringSSL would ask a factory's
            // key manager for them and convert them again at every handshake.
            SslContextBuilder builder = SslContextBuilder.forServer(credentials.privateKey(),
                            credentials.chainInOrder().toArray(X509Certificate[]::new))
                    .sslProvider(provider)
                    .protocols("TLSv1.3", "TLSv1.2")
                    // HTTPS's, then what old phones need; one this engine lacks is left out, not an error
                    .ciphers(io.switchboard.platform.tls.CipherSuites.SIP,
                            io.netty.handler.ssl.SupportedCipherSuiteFilter.INSTANCE);
            credentials.clientTrust().ifPresent(trust -> {
                if (provider == SslProvider.OPENSSL) {
                    builder.trustManager(ClientTrustAlerts.of(trust)); // the alert a refused peer gets (ClientTrustAlerts)
                } else {
                    builder.trustManager(trust);
                }
                builder.clientAuth(ClientAuth.REQUIRE);
            });
            return builder.build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot make the SIP TLS context: " + RootCause.message(e), e);
        }
    }
}
