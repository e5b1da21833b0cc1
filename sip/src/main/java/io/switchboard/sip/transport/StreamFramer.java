package io.switchboard.sip.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.util.List;

/**
 * Cuts a byte stream (TCP, TLS) into SIP messages using the Content-Length header, which stream
 * transports must carry (RFC 3261 §18.3). CRLF keep-alives between messages are consumed, and a
 * double-CRLF ping is answered with a single CRLF pong (RFC 5626 §3.5.1). A peer that sends a
 * header section or body larger than the limit, or a message without a valid Content-Length, has
 * lost framing for good: it is reported and the connection is closed.
 * <p>
 * Emits {@code byte[]} frames. {@link #partialSince()} lets the owner close peers that start a
 * message and never finish it.
 */
final class StreamFramer extends ByteToMessageDecoder {
    private static final byte[] PONG = {'\r', '\n'};

    private final int maxMessageSize;
    private final FramingErrors errors;
    private volatile long partialSince;
    private int separatorLength;

    interface FramingErrors {
        void framingError(ChannelHandlerContext ctx, String reason, String drop);

        void keepAlive(ChannelHandlerContext ctx);
    }

    StreamFramer(int maxMessageSize, FramingErrors errors) {
        this.maxMessageSize = maxMessageSize;
        this.errors = errors;
    }

    /** System.nanoTime() when the unfinished message in the buffer began, or 0 when there is none. */
    long partialSince() {
        return partialSince;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.isReadable()) {
            int crlfs = leadingLineBreaks(in);
            if (crlfs > 0) {
                int start = in.readerIndex();
                boolean ping = crlfs >= 4 && in.getByte(start) == '\r' && in.getByte(start + 1) == '\n'
                        && in.getByte(start + 2) == '\r' && in.getByte(start + 3) == '\n';
                in.skipBytes(crlfs);
                if (ping) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(PONG));
                    errors.keepAlive(ctx);
                }
                continue;
            }
            int headerEnd = indexOfHeaderEnd(in);
            if (headerEnd < 0) {
                if (in.readableBytes() > maxMessageSize) {
                    fail(ctx, in, "header section larger than " + maxMessageSize + " octets", "oversize");
                    return;
                }
                markPartial();
                return;
            }
            int headerLength = headerEnd - in.readerIndex();
            long contentLength = contentLength(in, in.readerIndex(), headerLength);
            if (contentLength == -1) {
                fail(ctx, in, "message without Content-Length on a stream transport", null);
                return;
            }
            if (contentLength == -2) {
                fail(ctx, in, "malformed Content-Length", null);
                return;
            }
            long total = headerLength + (long) separatorLength + contentLength;
            if (total > maxMessageSize) {
                fail(ctx, in, "message of " + total + " octets is larger than " + maxMessageSize, "oversize");
                return;
            }
            if (in.readableBytes() < total) {
                markPartial();
                return;
            }
            byte[] frame = new byte[(int) total];
            in.readBytes(frame);
            partialSince = 0;
            out.add(frame);
        }
        partialSince = 0;
    }

    private void markPartial() {
        if (partialSince == 0) {
            partialSince = System.nanoTime();
        }
    }

    private void fail(ChannelHandlerContext ctx, ByteBuf in, String reason, String drop) {
        in.skipBytes(in.readableBytes());
        partialSince = 0;
        errors.framingError(ctx, reason, drop);
        ctx.close();
    }

    private static int leadingLineBreaks(ByteBuf in) {
        int n = 0;
        for (int i = in.readerIndex(); i < in.writerIndex(); i++) {
            byte b = in.getByte(i);
            if (b != '\r' && b != '\n') {
                break;
            }
            n++;
        }
        return n;
    }

    /**
     * Index where the header section ends (exclusive), or -1; sets {@link #separatorLength} to the
     * length of the empty-line terminator (4 for CRLFCRLF; bare LF line ends are accepted too).
     */
    private int indexOfHeaderEnd(ByteBuf in) {
        int limit = Math.min(in.writerIndex(), in.readerIndex() + maxMessageSize + 4);
        for (int i = in.readerIndex(); i < limit - 1; i++) {
            if (in.getByte(i) != '\n') {
                continue;
            }
            int lineEnd = i > in.readerIndex() && in.getByte(i - 1) == '\r' ? i - 1 : i;
            if (in.getByte(i + 1) == '\n') {
                separatorLength = i + 2 - lineEnd;
                return lineEnd;
            }
            if (i + 2 < limit && in.getByte(i + 1) == '\r' && in.getByte(i + 2) == '\n') {
                separatorLength = i + 3 - lineEnd;
                return lineEnd;
            }
        }
        return -1;
    }

    /**
     * Reads Content-Length (or its compact form "l") from the header section: -1 when absent,
     * -2 when malformed or repeated.
     */
    static long contentLength(ByteBuf in, int start, int length) {
        long found = -1;
        int lineStart = start;
        int end = start + length;
        for (int i = start; i <= end; i++) {
            if (i == end || in.getByte(i) == '\n') {
                int lineEnd = i;
                if (lineEnd > lineStart && in.getByte(lineEnd - 1) == '\r') {
                    lineEnd--;
                }
                long value = headerValue(in, lineStart, lineEnd);
                if (value != -1) {
                    if (value == -2 || found != -1) {
                        return -2;
                    }
                    found = value;
                }
                lineStart = i + 1;
            }
        }
        return found;
    }

    private static long headerValue(ByteBuf in, int start, int end) {
        int colon = -1;
        for (int i = start; i < end; i++) {
            if (in.getByte(i) == ':') {
                colon = i;
                break;
            }
        }
        if (colon < 0) {
            return -1;
        }
        int nameEnd = colon;
        while (nameEnd > start && (in.getByte(nameEnd - 1) == ' ' || in.getByte(nameEnd - 1) == '\t')) {
            nameEnd--;
        }
        String name = in.toString(start, nameEnd - start, java.nio.charset.StandardCharsets.US_ASCII);
        if (!name.equalsIgnoreCase("content-length") && !name.equalsIgnoreCase("l")) {
            return -1;
        }
        long value = 0;
        int digits = 0;
        for (int i = colon + 1; i < end; i++) {
            byte b = in.getByte(i);
            if (b == ' ' || b == '\t') {
                if (digits > 0) {
                    for (int j = i; j < end; j++) {
                        byte t = in.getByte(j);
                        if (t != ' ' && t != '\t') {
                            return -2;
                        }
                    }
                    break;
                }
                continue;
            }
            if (b < '0' || b > '9' || ++digits > 10) {
                return -2;
            }
            value = value * 10 + (b - '0');
        }
        return digits == 0 ? -2 : value;
    }
}
