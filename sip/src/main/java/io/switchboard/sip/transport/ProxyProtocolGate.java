package io.switchboard.sip.transport;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.AttributeKey;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The front of a connection from a load balancer that speaks the PROXY protocol (HAProxy's
 * {@code send-proxy} / {@code send-proxy-v2}, versions 1 and 2 of haproxy.org's proxy-protocol.txt):
 * the connection must begin with a header naming the client's address, before any SIP and, for TLS,
 * before the handshake (the balancer passes TCP through). Until that header has arrived the rest
 * of the pipeline does not see the connection as active, so the connection limits, the flood
 * limit and the flow registry count it under the client's address, never the balancer's.
 * <p>
 * A connection whose header is missing, malformed or late ({@code timeout}) is closed and counted
 * ("proxy_header"). A LOCAL command (the balancer's own health check) and a v1 {@code UNKNOWN}
 * keep the connection's real endpoints, as the protocol says (§2.1, §2.2).
 */
final class ProxyProtocolGate extends ChannelInboundHandlerAdapter {
    /** The client's address from the header; read it through {@link #remoteOf}. */
    static final AttributeKey<InetSocketAddress> CLIENT = AttributeKey.valueOf("sip.proxiedClient");
    /** The address the client connected to, on the balancer, from the header; read it through {@link SipFlow#balancer()}. */
    static final AttributeKey<InetSocketAddress> DESTINATION = AttributeKey.valueOf("sip.proxiedDestination");

    /** Told when a connection is refused for a missing or bad header. */
    interface Refusals {
        void refused(Channel channel, String why);
    }

    private final long timeoutMillis;
    private final Refusals refusals;
    private ScheduledFuture<?> deadline;
    private boolean active;
    private boolean done;

    private ProxyProtocolGate(long timeoutMillis, Refusals refusals) {
        this.timeoutMillis = timeoutMillis;
        this.refusals = refusals;
    }

    /** Puts the decoder and the gate at the front of the pipeline: call before any TLS handler is added. */
    static void install(Channel channel, long timeoutMillis, Refusals refusals) {
        channel.pipeline().addFirst("proxy-gate", new ProxyProtocolGate(timeoutMillis, refusals));
        channel.pipeline().addFirst("proxy-decoder", new HAProxyMessageDecoder());
    }

    /** The peer a connection speaks for: the client named by its PROXY header, else the socket's peer. */
    static InetSocketAddress remoteOf(Channel channel) {
        InetSocketAddress client = channel.attr(CLIENT).get();
        return client != null ? client : (InetSocketAddress) channel.remoteAddress();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        deadline = ctx.executor().schedule(() -> {
            if (!done) {
                refuse(ctx, "no PROXY header within " + timeoutMillis + " ms");
            }
        }, timeoutMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        active = true; // held back: the handlers behind learn of the connection once its client is known
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (done) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (!(msg instanceof HAProxyMessage header)) {
            ReferenceCountUtil.release(msg);
            refuse(ctx, "data before the PROXY header");
            return;
        }
        try {
            if (header.command() == HAProxyCommand.PROXY && header.proxiedProtocol() != HAProxyProxiedProtocol.UNKNOWN) {
                InetSocketAddress client = address(header.sourceAddress(), header.sourcePort());
                if (client == null) {
                    refuse(ctx, "PROXY header with a source that is not an address: " + header.sourceAddress());
                    return;
                }
                ctx.channel().attr(CLIENT).set(client);
                InetSocketAddress destination = address(header.destinationAddress(), header.destinationPort());
                if (destination != null) {
                    ctx.channel().attr(DESTINATION).set(destination);
                }
            }
        } finally {
            header.release();
        }
        done = true;
        deadline.cancel(false);
        ctx.pipeline().remove(this);
        if (active) {
            ctx.fireChannelActive();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (deadline != null) {
            deadline.cancel(false);
        }
        // still here, so never announced as active: nothing behind has anything to undo
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (done) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        // HAProxyProtocolException from the decoder: a malformed or foreign header
        refuse(ctx, "bad PROXY header: " + cause.getMessage());
    }

    private void refuse(ChannelHandlerContext ctx, String why) {
        if (done) {
            return;
        }
        done = true;
        if (deadline != null) {
            deadline.cancel(false);
        }
        active = false;
        refusals.refused(ctx.channel(), why);
        ctx.close();
    }

    private static InetSocketAddress address(String host, int port) {
        byte[] literal = host == null ? null : NetUtil.createByteArrayFromIpAddressString(host);
        if (literal == null) {
            return null;
        }
        try {
            return new InetSocketAddress(InetAddress.getByAddress(literal), port);
        } catch (UnknownHostException e) {
            return null;
        }
    }
}
