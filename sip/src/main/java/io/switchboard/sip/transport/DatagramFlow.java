package io.switchboard.sip.transport;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.socket.DatagramPacket;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** A UDP socket of this node and one peer address. Cheap to create; equal flows have equal ids. */
final class DatagramFlow implements SipFlow {
    private final Channel channel;
    private final InetSocketAddress remote;

    DatagramFlow(Channel channel, InetSocketAddress remote) {
        this.channel = channel;
        this.remote = remote;
    }

    @Override
    public Transport transport() {
        return Transport.UDP;
    }

    @Override
    public InetSocketAddress remote() {
        return remote;
    }

    @Override
    public InetSocketAddress local() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public String id() {
        InetSocketAddress local = local();
        return "udp:" + local.getPort() + ">" + remote.getAddress().getHostAddress() + ":" + remote.getPort();
    }

    @Override
    public boolean isOpen() {
        return channel.isActive();
    }

    Channel channel() {
        return channel;
    }

    @Override
    public CompletionStage<Void> send(byte[] message) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        channel.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(message), remote)).addListener(f -> {
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
        return id();
    }
}
