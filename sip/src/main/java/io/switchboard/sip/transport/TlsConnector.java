package io.switchboard.sip.transport;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;

import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The client side of SIP over TLS (RFC 3261 §26.2, §18.1.1): what the transport layer puts in front
 * of a connection it opens to a {@code sips:} or {@code transport=tls} target that has no open
 * connection. The context (protocol versions, the trusted CAs, the certificate presented when the
 * server asks for one) is the caller's and is asked for anew per connection, so a renewed node
 * certificate is presented by new connections.
 * <p>
 * Name checking is not the context's: the transport layer checks the server's certificate against
 * the SIP domain or host it connected for by RFC 5922 §7 ({@link SipDomainIdentity}) once the
 * handshake has finished and before any SIP is written, since the JDK's HTTPS rule reads
 * wildcards and ignores {@code sip:} URI names. Whoever builds the context must therefore leave
 * its endpoint identification off.
 */
public final class TlsConnector {
    private final Supplier<SslContext> contexts;
    private final long connectTimeoutMillis;
    private final long handshakeTimeoutMillis;

    /**
     * @param contexts         a client context (Netty {@code SslContextBuilder.forClient()})
     * @param connectTimeout   how long the TCP connect may take
     * @param handshakeTimeout how long the TLS handshake may take once connected
     */
    public TlsConnector(Supplier<SslContext> contexts, Duration connectTimeout, Duration handshakeTimeout) {
        this.contexts = Objects.requireNonNull(contexts);
        this.connectTimeoutMillis = Math.max(1, connectTimeout.toMillis());
        this.handshakeTimeoutMillis = Math.max(1, handshakeTimeout.toMillis());
    }

    long handshakeTimeoutMillis() {
        return handshakeTimeoutMillis;
    }

    int connectTimeoutMillis() {
        return (int) Math.min(Integer.MAX_VALUE, connectTimeoutMillis);
    }

    /**
     * Puts a TLS client handler first in a new connection's pipeline; SNI (RFC 6066 §3) names
     * {@code serverName} when it is a host name (an address literal is not sent, as §3 says).
     */
    SslHandler install(Channel channel, String serverName, int port) {
        SslHandler tls = contexts.get().newHandler(channel.alloc(), serverName, port, TlsPipeline.HANDSHAKE_WORK);
        SSLEngine engine = tls.engine();
        SSLParameters parameters = engine.getSSLParameters();
        boolean literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(
                serverName.startsWith("[") ? serverName.substring(1, serverName.length() - 1) : serverName) != null;
        try {
            parameters.setServerNames(literal ? List.of() : List.of(new SNIHostName(serverName)));
        } catch (IllegalArgumentException e) {
            parameters.setServerNames(List.of()); // not a name SNI can carry (RFC 6066 §3: ASCII host names only)
        }
        engine.setSSLParameters(parameters);
        tls.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
        channel.pipeline().addFirst("tls", tls);
        return tls;
    }
}
