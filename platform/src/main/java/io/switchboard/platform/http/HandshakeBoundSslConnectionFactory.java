package io.switchboard.platform.http;

import io.switchboard.platform.tls.TlsHandshakeMeter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.io.ssl.SslHandshakeListener;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * Jetty's TLS connection factory with a shorter idle timeout until the handshake completes, and
 * every handshake counted.
 *
 * <p>Jetty has no handshake timeout of its own: a connection that sends half a ClientHello (or
 * nothing) would hold a socket for the whole idle timeout. Here the connection's idle timeout is
 * {@code handshakeTimeout} until the handshake succeeds, then the connector's usual one. Jetty does
 * the TLS work on its selector-driven threads without blocking, so a stuck or garbage handshake
 * costs one socket until the timeout, nothing more.
 */
final class HandshakeBoundSslConnectionFactory extends SslConnectionFactory {
    private final Duration handshakeTimeout;
    private final TlsHandshakeMeter handshakes;

    HandshakeBoundSslConnectionFactory(SslContextFactory.Server tls, String nextProtocol, Duration handshakeTimeout,
                                       TlsHandshakeMeter handshakes) {
        super(tls, nextProtocol);
        this.handshakeTimeout = handshakeTimeout;
        this.handshakes = handshakes;
    }

    @Override
    protected <T extends AbstractConnection> T configure(T connection, Connector connector, EndPoint endPoint) {
        T configured = super.configure(connection, connector, endPoint);
        if (connection instanceof SslConnection tls) {
            // the connector's, not the endpoint's: the detector before this already shortened that one
            long usual = connector.getIdleTimeout();
            endPoint.setIdleTimeout(handshakeTimeout.toMillis());
            HandshakeWatch watch = new HandshakeWatch(endPoint, usual);
            tls.addHandshakeListener(watch);
            tls.addEventListener(watch);
        }
        return configured;
    }

    private final class HandshakeWatch implements SslHandshakeListener, Connection.Listener {
        private final EndPoint endPoint;
        private final long usualIdleTimeout;
        private final AtomicBoolean settled = new AtomicBoolean();

        HandshakeWatch(EndPoint endPoint, long usualIdleTimeout) {
            this.endPoint = endPoint;
            this.usualIdleTimeout = usualIdleTimeout;
        }

        @Override
        public void handshakeSucceeded(Event event) {
            if (settled.compareAndSet(false, true)) {
                endPoint.setIdleTimeout(usualIdleTimeout);
                handshakes.succeeded();
            }
        }

        @Override
        public void handshakeFailed(Event event, Throwable failure) {
            if (settled.compareAndSet(false, true)) {
                handshakes.failed(failure);
            }
        }

        @Override
        public void onClosed(Connection connection) {
            if (settled.compareAndSet(false, true)) {
                handshakes.incomplete();
            }
        }
    }
}
