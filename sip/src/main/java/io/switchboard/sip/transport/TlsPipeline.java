package io.switchboard.sip.transport;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * SIP over TLS (RFC 3261 §26.2, §18): what a {@code tls} listener puts in front of an accepted
 * connection's pipeline. After the handshake the connection carries SIP exactly like TCP (the same
 * framing, limits and keep-alives, RFC 3261 §18.3); its flows say {@link Transport#TLS}.
 * <p>
 * The {@link SslContext} is asked for anew for every connection, so a renewed certificate (whoever
 * builds the contexts swaps the one the supplier returns) is presented by new connections while the
 * established ones keep the session they negotiated. Which protocol versions, cipher suites and
 * client certificates are accepted is the context's business; this library only bounds the
 * handshake in time (a half-open or stuck client must not hold a socket for ever) and reports how
 * each handshake ended.
 * <p>
 * The handshake runs on the connection's event loop without blocking it: Netty's {@link SslHandler}
 * feeds the engine whatever bytes have arrived and returns.
 */
public final class TlsPipeline {
    /** How handshakes end, for meters. Called on the event loop: must not block. */
    public interface HandshakeObserver {
        void succeeded();

        /**
         * The handshake failed: refused by the TLS engine, not TLS at all, closed by the peer before
         * it finished, or not finished within the handshake timeout.
         *
         * @param peer the client's address (the one a balancer's PROXY header gave, if any), or null
         */
        void failed(Throwable cause, java.net.InetSocketAddress peer);
    }

    private final Supplier<SslContext> contexts;
    private final long handshakeTimeoutMillis;
    private final HandshakeObserver observer;
    /**
     * The engine's delegated tasks (signing, checking a client's chain) run here, not on the event
     * loop that also reads every UDP datagram: a burst of ClientHellos must not hold up SIP input.
     * Virtual threads: the work is bounded by the connections admitted, which the transport limits.
     */
    static final java.util.concurrent.Executor HANDSHAKE_WORK =
            java.util.concurrent.Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("sip-tls-handshake-", 0).factory());

    /**
     * @param contexts         the server context for the next connection (a renewal swaps it)
     * @param handshakeTimeout how long a handshake may take before the connection is closed
     * @param observer         told how each handshake ended
     */
    public TlsPipeline(Supplier<SslContext> contexts, Duration handshakeTimeout, HandshakeObserver observer) {
        this.contexts = Objects.requireNonNull(contexts);
        this.handshakeTimeoutMillis = Math.max(1, handshakeTimeout.toMillis());
        this.observer = Objects.requireNonNull(observer);
    }

    /** Puts a TLS server handler first in the pipeline of a newly accepted connection. */
    void install(Channel channel) {
        SslHandler tls = contexts.get().newHandler(channel.alloc(), HANDSHAKE_WORK);
        tls.setHandshakeTimeoutMillis(handshakeTimeoutMillis);
        channel.pipeline().addFirst("tls", tls);
        // in front of the TLS handler, so a refusal's alert is read before the connection closes
        channel.pipeline().addFirst("tls-refusal", new RefusedHandshakeLinger(tls));
        tls.handshakeFuture().addListener(done -> {
            if (done.isSuccess()) {
                observer.succeeded();
            } else {
                // SslHandler closes the connection itself, once its alert can be read (RefusedHandshakeLinger)
                observer.failed(done.cause(), ProxyProtocolGate.remoteOf(channel));
            }
        });
    }
}
