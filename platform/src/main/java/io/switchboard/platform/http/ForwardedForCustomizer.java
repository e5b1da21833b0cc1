package io.switchboard.platform.http;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;

/**
 * Makes a request from a trusted proxy report the client named by its {@code X-Forwarded-For} as
 * its remote address ({@link TrustedProxies}), so everything that asks the request who sent it
 * (sign-in limits, logs) counts the client, not the balancer. Requests from anyone else are left
 * as they are. Jetty's own ForwardedRequestCustomizer believes every peer, hence this one.
 * <p>
 * A request whose peer is a trusted proxy is also marked ({@link TrustedProxies#PEER_IS_TRUSTED_PROXY}),
 * so that other headers only such a proxy may set ({@code X-Forwarded-Host}) are read from it alone.
 */
final class ForwardedForCustomizer implements HttpConfiguration.Customizer {
    private final TrustedProxies trusted;

    ForwardedForCustomizer(TrustedProxies trusted) {
        this.trusted = trusted;
    }

    @Override
    public Request customize(Request request, HttpFields.Mutable responseHeaders) {
        if (!(request.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress peer)) {
            return request;
        }
        if (peer.getAddress() != null && trusted.trusts(peer.getAddress())) {
            request.setAttribute(TrustedProxies.PEER_IS_TRUSTED_PROXY, Boolean.TRUE);
        }
        List<String> forwardedFor = request.getHeaders().getValuesList(TrustedProxies.HEADER);
        InetSocketAddress client = trusted.clientOf(peer, forwardedFor);
        if (client == peer) {
            return request;
        }
        ConnectionMetaData connection = new ConnectionMetaData.Wrapper(request.getConnectionMetaData()) {
            @Override
            public SocketAddress getRemoteSocketAddress() {
                return client;
            }
        };
        return new Request.Wrapper(request) {
            @Override
            public ConnectionMetaData getConnectionMetaData() {
                return connection;
            }
        };
    }
}
