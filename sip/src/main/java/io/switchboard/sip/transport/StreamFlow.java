package io.switchboard.sip.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** One TCP connection. Requests to a device registered over it go back on it (RFC 5626 §5.3 in spirit). */
final class StreamFlow implements SipFlow {
    private final Channel channel;
    private final Transport transport;
    private final String id;
    /** Framing was lost: the connection is only being drained before it closes, nothing more is sent on it. */
    private volatile boolean retired;

    StreamFlow(Channel channel, Transport transport) {
        this.channel = channel;
        this.transport = transport;
        this.id = transport.uriParam() + ":" + channel.id().asShortText();
    }

    @Override
    public Transport transport() {
        return transport;
    }

    @Override
    public InetSocketAddress remote() {
        return ProxyProtocolGate.remoteOf(channel); // the client behind a PROXY-protocol balancer, if any
    }

    @Override
    public InetSocketAddress local() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public InetSocketAddress balancer() {
        return channel.attr(ProxyProtocolGate.DESTINATION).get();
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public boolean isOpen() {
        return !retired && channel.isActive();
    }

    /** From now on the flow counts as closed, though its channel lingers a little longer. */
    void retire() {
        retired = true;
    }

    /** Whether this connection lost its framing and was taken out of the flow tables ({@link #retire}). */
    boolean isRetired() {
        return retired;
    }

    Channel channel() {
        return channel;
    }

    @Override
    public CompletionStage<Void> send(byte[] message) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (!isOpen()) {
            done.completeExceptionally(new java.nio.channels.ClosedChannelException());
            return done;
        }
        channel.writeAndFlush(Unpooled.wrappedBuffer(message)).addListener(f -> {
            if (f.isSuccess()) {
                done.complete(null);
            } else {
                done.completeExceptionally(f.cause());
            }
        });
        return done;
    }

    @Override
    public String toString() {
        return id + "(" + remote() + ")";
    }
}
