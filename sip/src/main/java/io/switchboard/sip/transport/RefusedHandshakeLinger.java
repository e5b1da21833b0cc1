package io.switchboard.sip.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Lets the alert of a refused TLS handshake reach the peer. Sits between the socket and the
 * {@link SslHandler}, and turns the close that handler asks for after its alert into: half-close
 * (the alert, then a FIN), read and discard whatever the peer still sends, close when the peer
 * closes, after {@link #LINGER_MILLIS}, or after {@link #MAX_DISCARDED} octets.
 * <p>
 * Why: closing a socket with the peer's octets still unread makes the kernel answer with a reset
 * (RFC 1122 §4.2.2.13), and a reset can reach the peer before it has read the alert, which its TLS
 * stack then never sees: the phone's log says "connection reset" instead of "unknown CA". It happens
 * whenever the peer is still sending when the node refuses it: over TLS 1.2 its last handshake
 * records, over TLS 1.3 (where the server checks a client's certificate after the client has
 * finished) the REGISTER a phone writes at once. A handshake that timed out, or that met bytes
 * that are not TLS, has no alert to deliver and is closed as asked, as is a connection the peer
 * has closed already.
 */
final class RefusedHandshakeLinger extends ChannelDuplexHandler {
    /** How long a refused connection is read and discarded before it is closed anyway. */
    static final long LINGER_MILLIS = 2000;
    /** How much a refused peer may still send before its connection is closed without waiting further. */
    static final int MAX_DISCARDED = 64 * 1024;

    private final SslHandler tls;
    private boolean lingering;
    private long discarded;
    private ScheduledFuture<?> deadline;

    RefusedHandshakeLinger(SslHandler tls) {
        this.tls = tls;
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        if (lingering) {
            // the TLS handler or a handler behind it closing again: done when the channel is
            ctx.channel().closeFuture().addListener(closed -> promise.trySuccess());
            return;
        }
        if (!refused() || !ctx.channel().isActive() || !(ctx.channel() instanceof DuplexChannel duplex)) {
            ctx.close(promise);
            return;
        }
        lingering = true;
        ctx.channel().closeFuture().addListener(closed -> promise.trySuccess());
        deadline = ctx.executor().schedule(() -> closeNow(ctx), LINGER_MILLIS, TimeUnit.MILLISECONDS);
        // an empty write completes once everything written before it (the alert) has gone out
        ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) written -> {
            if (!written.isSuccess()) {
                closeNow(ctx);
                return;
            }
            duplex.shutdownOutput();
            ctx.channel().config().setAutoRead(true);
            ctx.read();
        });
    }

    /**
     * The handshake failed with an alert the node sent, or the peer's own (which ends soon with
     * the peer's close); not by its timeout, and not for bytes that were not TLS at all, which get
     * no alert and are closed at once.
     */
    private boolean refused() {
        Future<?> handshake = tls.handshakeFuture();
        return handshake.isDone() && !handshake.isSuccess() && !(handshake.cause() instanceof SslHandshakeTimeoutException)
                && !(handshake.cause() instanceof NotSslRecordException);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!lingering) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (msg instanceof ByteBuf bytes) {
            discarded += bytes.readableBytes();
        }
        ReferenceCountUtil.release(msg);
        if (discarded > MAX_DISCARDED) {
            closeNow(ctx);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!lingering) {
            ctx.fireChannelReadComplete();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (lingering && event instanceof ChannelInputShutdownEvent) {
            closeNow(ctx); // the peer closed its side: it has read what it will read
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (deadline != null) {
            deadline.cancel(false);
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (lingering) {
            closeNow(ctx); // reading the rest failed (a reset): nothing is left to wait for
            return;
        }
        super.exceptionCaught(ctx, cause);
    }

    private void closeNow(ChannelHandlerContext ctx) {
        if (deadline != null) {
            deadline.cancel(false);
        }
        ctx.close();
    }
}
