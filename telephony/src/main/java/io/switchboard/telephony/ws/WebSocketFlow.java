package io.switchboard.telephony.ws;

import io.javalin.websocket.WsContext;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** One browser's WebSocket connection carrying SIP (RFC 7118). */
final class WebSocketFlow implements SipFlow {
    private final WsContext context;
    private final String id;
    private final InetSocketAddress remote;
    private final InetSocketAddress local;
    private final Transport transport;
    private volatile boolean open = true;

    WebSocketFlow(WsContext context, String id, InetSocketAddress remote, InetSocketAddress local) {
        this.context = context;
        // RFC 7118 §5: a connection over TLS (wss://, the node's HTTPS port) is WSS in Via and
        // Record-Route, so replies and in-dialog requests name the secure transport.
        this.transport = context.session.isSecure() ? Transport.WSS : Transport.WS;
        this.id = id;
        this.remote = remote;
        this.local = local;
    }

    @Override
    public Transport transport() {
        return transport;
    }

    @Override
    public InetSocketAddress remote() {
        return remote;
    }

    @Override
    public InetSocketAddress local() {
        return local;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public boolean isOpen() {
        return open && context.session.isOpen();
    }

    void ping() {
        if (isOpen()) {
            try {
                context.sendPing();
            } catch (RuntimeException e) {
                // the connection is going away; its close handler cleans up
            }
        }
    }

    void closed() {
        open = false;
    }

    /** RFC 7118 §5: a SIP message is sent in one text frame (SIP messages are UTF-8). Jetty queues it without blocking. */
    @Override
    public CompletionStage<Void> send(byte[] message) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (!isOpen()) {
            done.completeExceptionally(new java.nio.channels.ClosedChannelException());
            return done;
        }
        context.session.sendText(new String(message, StandardCharsets.UTF_8), org.eclipse.jetty.websocket.api.Callback.from(
                () -> done.complete(null), done::completeExceptionally));
        return done;
    }

    @Override
    public String toString() {
        return id + "(" + remote + ")";
    }
}
