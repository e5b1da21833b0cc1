package io.switchboard.telephony.ws;

import io.javalin.config.RoutesConfig;
import io.javalin.websocket.WsCloseStatus;
import io.javalin.websocket.WsContext;
import io.switchboard.platform.http.WebSocketUpgrades;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;

/**
 * SIP over WebSocket (RFC 7118) at {@code /sip} on the node's HTTP port, as JsSIP and SIP.js speak
 * it: the client must offer the {@code sip} subprotocol (§4); each frame carries one whole SIP
 * message (§5), parsed and dispatched like a UDP datagram. Requests to a browser go back over its
 * connection, found by flow id.
 */
public final class SipWebSocketEndpoint {
    private static final Logger log = LoggerFactory.getLogger(SipWebSocketEndpoint.class);
    public static final String PATH = "/sip";
    private static final String FLOW = "sip.flow";

    private final TransportLayer transport;
    private final int maxMessageSize;
    private final int maxPerAddress;
    private final BiConsumer<String, Transport> dropped;
    private final ConcurrentHashMap<String, WebSocketFlow> flows = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    /** The client a connection speaks for, from its peer and X-Forwarded-For (see {@link #useClientAddresses}). */
    private volatile BiFunction<InetSocketAddress, List<String>, InetSocketAddress> clientOf = (peer, forwardedFor) -> peer;
    private final String prefix = "ws:" + Long.toString(new java.security.SecureRandom().nextInt() & 0x7fffffff, 36) + ".";

    /** @param dropped told of refused input ("subprotocol", "oversize", "binary_not_utf8") for metrics */
    public SipWebSocketEndpoint(TransportLayer transport, int maxMessageSize, int maxPerAddress,
                                BiConsumer<String, Transport> dropped) {
        this.transport = transport;
        this.maxMessageSize = maxMessageSize;
        this.maxPerAddress = maxPerAddress;
        this.dropped = dropped;
    }

    /**
     * How to tell the client behind a trusted reverse proxy: given the socket's peer and the
     * upgrade request's {@code X-Forwarded-For} values, the address that stands for the connection
     * (Via received, the per-address limit, logs). Jetty gives a WebSocket session the socket's
     * peer, so the HTTP layer's rule is applied here too. Set before connections arrive.
     */
    public void useClientAddresses(BiFunction<InetSocketAddress, List<String>, InetSocketAddress> clientOf) {
        this.clientOf = clientOf;
    }

    public void register(RoutesConfig routes) {
        WebSocketUpgrades.answerPlainRequests(routes, PATH, "", ", offering the subprotocol sip (RFC 7118 §4)");
        WebSocketUpgrades.register(routes, PATH, ws -> {
            ws.onConnect(this::connected);
            ws.onMessage(ctx -> received(ctx, ctx.message().getBytes(StandardCharsets.UTF_8)));
            ws.onBinaryMessage(ctx -> {
                ByteBuffer data = ctx.data();
                byte[] bytes = new byte[data.remaining()];
                data.get(bytes);
                received(ctx, bytes);
            });
            ws.onClose(this::closed);
            ws.onError(ctx -> closed(ctx));
        });
    }

    public Optional<SipFlow> flow(String id) {
        return Optional.ofNullable(flows.get(id));
    }

    public int connections() {
        return flows.size();
    }

    private void connected(WsContext ctx) {
        String offered = ctx.header("Sec-WebSocket-Protocol");
        if (offered == null || !offered.toLowerCase(Locale.ROOT).matches("(.*,)?\\s*sip\\s*(,.*)?")) {
            // RFC 7118 §4: the "sip" subprotocol is mandatory
            dropped.accept("subprotocol", Transport.WS);
            ctx.closeSession(WsCloseStatus.PROTOCOL_ERROR, "the sip subprotocol is required (RFC 7118)");
            return;
        }
        ctx.session.setIdleTimeout(java.time.Duration.ofMinutes(15));
        InetSocketAddress remote = clientOf.apply((InetSocketAddress) ctx.session.getRemoteSocketAddress(),
                ctx.session.getUpgradeRequest().getHeaders(io.switchboard.platform.http.TrustedProxies.HEADER));
        long fromThere = flows.values().stream().filter(f -> f.remote().getAddress().equals(remote.getAddress())).count();
        if (fromThere >= maxPerAddress) {
            dropped.accept("connection_limit", Transport.WS);
            ctx.closeSession(WsCloseStatus.POLICY_VIOLATION, "too many SIP WebSocket connections from this address");
            return;
        }
        InetSocketAddress local = (InetSocketAddress) ctx.session.getLocalSocketAddress();
        WebSocketFlow flow = new WebSocketFlow(ctx, prefix + Long.toString(sequence.incrementAndGet(), 36), remote, local);
        ctx.attribute(FLOW, flow);
        flows.put(flow.id(), flow);
        log.debug("SIP WebSocket {} connected", flow);
    }

    /**
     * Pings every open connection: a browser in a long call sends no SIP for minutes, and without
     * traffic the connection (or a NAT or proxy on the way) would be dropped, and with it the BYE.
     */
    public void ping() {
        for (WebSocketFlow flow : flows.values()) {
            flow.ping();
        }
    }

    private void received(WsContext ctx, byte[] message) {
        WebSocketFlow flow = ctx.attribute(FLOW);
        if (flow == null) {
            return;
        }
        if (message.length > maxMessageSize) {
            dropped.accept("oversize", Transport.WS);
            ctx.closeSession(WsCloseStatus.MESSAGE_TOO_BIG, "SIP message over " + maxMessageSize + " bytes");
            return;
        }
        if (isKeepAlive(message)) {
            return; // RFC 5626 §3.5.1-style CRLF keep-alive some clients send as a frame
        }
        transport.deliver(message, flow);
    }

    private static boolean isKeepAlive(byte[] message) {
        for (byte b : message) {
            if (b != '\r' && b != '\n') {
                return false;
            }
        }
        return true;
    }

    private void closed(WsContext ctx) {
        WebSocketFlow flow = ctx.attribute(FLOW);
        if (flow != null) {
            flow.closed();
            flows.remove(flow.id(), flow);
            log.debug("SIP WebSocket {} closed", flow);
        }
    }
}
