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
    /** Set by {@link #scanHeader}: where the header section ends, its terminator's length, its Content-Length. */
    private int headerEnd;
    private int separatorLength;
    private long contentLength;

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
            if (!scanHeader(in)) {
                if (in.readableBytes() > maxMessageSize) {
                    fail(ctx, in, "header section larger than " + maxMessageSize + " octets", "oversize");
                    return;
                }
                markPartial();
                return;
            }
            int headerLength = headerEnd - in.readerIndex();
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
     * Finds the end of the header section (an empty line; bare LF line ends are accepted too) and
     * reads Content-Length (or its compact form "l", RFC 3261 §7.3.3) on the way, in one pass over
     * the lines: {@link #headerEnd} (exclusive), {@link #separatorLength} (4 for CRLFCRLF) and
     * {@link #contentLength} (-1 when absent, -2 when malformed or repeated). False while the
     * empty line has not arrived.
     * <p>
     * Lines are found with {@link ByteBuf#indexOf}, which reads a word at a time; reading a
     * direct buffer byte by byte costs a bounds and liveness check per byte.
     */
    private boolean scanHeader(ByteBuf in) {
        int start = in.readerIndex();
        int limit = Math.min(in.writerIndex(), start + maxMessageSize + 4);
        long found = -1;
        int lineStart = start;
        int previousLineEnd = start;
        while (lineStart < limit) {
            int lf = in.indexOf(lineStart, limit, (byte) '\n');
            if (lf < 0) {
                return false;
            }
            int lineEnd = lf > lineStart && in.getByte(lf - 1) == '\r' ? lf - 1 : lf;
            if (lineEnd == lineStart && lineStart > start) {
                headerEnd = previousLineEnd;
                separatorLength = lf + 1 - previousLineEnd;
                contentLength = found;
                return true;
            }
            if (found != -2) {
                long value = headerValue(in, lineStart, lineEnd);
                if (value != -1) {
                    found = value == -2 || found != -1 ? -2 : value;
                }
            }
            previousLineEnd = lineEnd;
            lineStart = lf + 1;
        }
        return false;
    }

    private static final byte[] CONTENT_LENGTH = "content-length".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final byte[] COMPACT_CONTENT_LENGTH = {'l'};

    /** The header name in {@code [start, end)} equals {@code lowerCase}, ASCII case ignored (RFC 3261 §7.3.1); no copy. */
    private static boolean nameIs(ByteBuf in, int start, int end, byte[] lowerCase) {
        if (end - start != lowerCase.length) {
            return false;
        }
        for (int i = 0; i < lowerCase.length; i++) {
            byte b = in.getByte(start + i);
            if (b >= 'A' && b <= 'Z') {
                b += 'a' - 'A';
            }
            if (b != lowerCase[i]) {
                return false;
            }
        }
        return true;
    }

    private static long headerValue(ByteBuf in, int start, int end) {
        if (start == end) {
            return -1;
        }
        byte first = in.getByte(start);
        if (first != 'c' && first != 'C' && first != 'l' && first != 'L') {
            return -1; // most lines: not Content-Length, no need to find the colon
        }
        int colon = in.indexOf(start, end, (byte) ':');
        if (colon < 0) {
            return -1;
        }
        int nameEnd = colon;
        while (nameEnd > start && (in.getByte(nameEnd - 1) == ' ' || in.getByte(nameEnd - 1) == '\t')) {
            nameEnd--;
        }
        if (!nameIs(in, start, nameEnd, CONTENT_LENGTH) && !nameIs(in, start, nameEnd, COMPACT_CONTENT_LENGTH)) {
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
