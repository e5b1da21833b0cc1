package io.switchboard.sip.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ByteProcessor;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipResponse;

import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Cuts a byte stream (TCP, TLS) into SIP messages using the Content-Length header, which stream
 * transports must carry (RFC 3261 §18.3). CRLF keep-alives between messages are consumed, and a
 * double-CRLF ping is answered with a single CRLF pong (RFC 5626 §3.5.1). A peer that sends a
 * header section or body larger than the limit, or a message without a valid Content-Length, has
 * lost framing for good: where the head names a request and has what an answer needs, it is
 * answered (400 with the reason, §21.4.1; 513, §21.5.7), then the connection is closed. Bytes that
 * cannot start a SIP message (a first line that does not begin with a method token and whitespace
 * or with "SIP/", §7.1, §7.2, or that ends with an HTTP version; a control octet in the header
 * section, §25.1) are not waited on until a timeout: the connection is closed as soon as they
 * arrive. A first line of the right shape with something else wrong in it goes to the parser,
 * which answers 400, and the connection stays open.
 * <p>
 * Emits {@code byte[]} frames. {@link #partialSince()} lets the owner close peers that start a
 * message and never finish it.
 */
final class StreamFramer extends ByteToMessageDecoder {
    private static final byte[] PONG = {'\r', '\n'};
    /**
     * Far longer than any method in use (the registered ones have at most 9 characters, SUBSCRIBE;
     * an extension method is any token, RFC 3261 §25.1): a first word longer than this is not SIP.
     */
    static final int MAX_METHOD_LENGTH = 64;
    /** How long a connection answered after a framing error is read and drained before it is closed. */
    private static final long LINGER_MILLIS = 2000;

    private static final int NOT_SIP = -1;
    private static final int PARTIAL = 0;
    private static final int COMPLETE = 1;

    private final int maxMessageSize;
    private final Transport transport;
    private final FramingErrors errors;
    private volatile long partialSince;
    /** Set by {@link #scanHeader}: where the header section ends, its terminator's length, its Content-Length. */
    private int headerEnd;
    private int separatorLength;
    private long contentLength;
    /** Octets of the unfinished message, from the reader index, already checked by {@link #scanHeader}. */
    private int checked;
    /**
     * Where {@link #scanHeader} goes on from in the unfinished message, from the reader index: the
     * first line not read whole yet, the end of the line before it and the Content-Length found in
     * the lines before it. A peer sending a head an octet at a time costs one pass, not one per octet.
     * -1 once the head is complete, while the body arrives: then {@link #resumePreviousLineEnd} is
     * where the head ends, and {@link #separatorLength} and {@link #contentLength} are still set.
     */
    private int resumeLine;
    private int resumePreviousLineEnd;
    private long resumeFound = -1;
    /** Lines {@link #scanHeader} has looked at, for tests. */
    long linesVisited;
    /** Set by {@link #scanHeader} when it answers {@link #NOT_SIP}: why. */
    private String notSip;
    /** Framing was lost and the connection is being closed: whatever else arrives is discarded. */
    private boolean closing;

    interface FramingErrors {
        /**
         * Framing was lost; the connection is closed after {@code answer}, if there is one, is sent.
         * {@code reason} says what was wrong and what was done about it, in plain words;
         * {@code drop} is the dropped-input reason to count it under, or null for a malformed message.
         */
        void framingError(ChannelHandlerContext ctx, String reason, String drop, SipResponse answer);

        void keepAlive(ChannelHandlerContext ctx);
    }

    StreamFramer(int maxMessageSize, Transport transport, FramingErrors errors) {
        this.maxMessageSize = maxMessageSize;
        this.transport = transport;
        this.errors = errors;
    }

    /** System.nanoTime() when the unfinished message in the buffer began, or 0 when there is none. */
    long partialSince() {
        return partialSince;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (closing) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.isReadable()) {
            int crlfs = leadingLineBreaks(in);
            if (crlfs > 0) {
                int start = in.readerIndex();
                boolean ping = crlfs >= 4 && in.getByte(start) == '\r' && in.getByte(start + 1) == '\n'
                        && in.getByte(start + 2) == '\r' && in.getByte(start + 3) == '\n';
                in.skipBytes(crlfs);
                startOver();
                if (ping) {
                    ctx.writeAndFlush(Unpooled.wrappedBuffer(PONG));
                    errors.keepAlive(ctx);
                }
                continue;
            }
            int scan = scanHeader(in);
            if (scan == NOT_SIP) {
                fail(ctx, in, "not SIP (" + notSip + ")", null, null);
                return;
            }
            if (scan == PARTIAL) {
                if (in.readableBytes() > maxMessageSize) {
                    // the head is cut short: an answer is built from the lines that arrived whole
                    // (it goes back on this connection, §18.2.2, so a Via cut off cannot misroute it)
                    int lastLf = in.indexOf(in.readerIndex() + maxMessageSize, in.readerIndex(), (byte) '\n');
                    int complete = lastLf < 0 ? 0 : lastLf + 1 - in.readerIndex();
                    fail(ctx, in, "a header section longer than the limit of " + maxMessageSize + " bytes", "oversize",
                            answer(in, complete, "message too large", 513));
                    return;
                }
                markPartial();
                return;
            }
            int headerLength = headerEnd - in.readerIndex();
            if (contentLength < 0) {
                // §18.3: on a stream the body's end is unknown without Content-Length, but the head
                // was read whole, so the request can still be answered (§21.4.1) before closing
                String reason = contentLength == -1 ? "Content-Length is required over " + transport.name()
                        : contentLength == -2 ? "Content-Length is not a number" : "more than one Content-Length";
                fail(ctx, in, reason, null, answer(in, headerLength, reason, 400));
                return;
            }
            long total = headerLength + (long) separatorLength + contentLength;
            if (total > maxMessageSize) {
                fail(ctx, in, "a message of " + total + " bytes, over the limit of " + maxMessageSize, "oversize",
                        answer(in, headerLength, "message too large", 513));
                return;
            }
            if (in.readableBytes() < total) {
                markPartial();
                return;
            }
            byte[] frame = new byte[(int) total];
            in.readBytes(frame);
            startOver();
            partialSince = 0;
            out.add(frame);
        }
        partialSince = 0;
    }

    /** The next octet starts a new message: nothing of it is scanned yet. */
    private void startOver() {
        checked = 0;
        resumeLine = 0;
        resumePreviousLineEnd = 0;
        resumeFound = -1;
    }

    private void markPartial() {
        if (partialSince == 0) {
            partialSince = System.nanoTime();
        }
    }

    /** The answer the first {@code headLength} octets of the buffer allow, or null. */
    private static SipResponse answer(ByteBuf in, int headLength, String reason, int status) {
        if (headLength <= 0) {
            return null;
        }
        byte[] head = new byte[headLength];
        in.getBytes(in.readerIndex(), head);
        return SipParser.unframed(head, 0, headLength, reason, status).errorResponse();
    }

    private void fail(ChannelHandlerContext ctx, ByteBuf in, String reason, String drop, SipResponse answer) {
        in.skipBytes(in.readableBytes());
        partialSince = 0;
        startOver();
        closing = true;
        String done = answer != null
                ? "answered " + answer.status() + " " + answer.reason() + ", then closed the connection"
                : notSip != null ? "closed the connection"
                : "closed the connection without an answer (the head is not a request with the Via, From, To,"
                + " Call-ID and CSeq to answer it)";
        errors.framingError(ctx, reason + ": " + done, drop, answer);
        if (answer == null) {
            ctx.close();
            return;
        }
        ctx.writeAndFlush(Unpooled.wrappedBuffer(answer.encode())).addListener((ChannelFutureListener) f -> {
            boolean tls = ctx.pipeline().get(SslHandler.class) != null;
            if (!(ctx.channel() instanceof DuplexChannel duplex)) {
                ctx.close();
                return;
            }
            if (!tls) {
                // FIN now, so the peer sees the end right after the answer
                duplex.shutdownOutput();
            }
            // then read and discard (closing is set) until the peer closes or the time is up:
            // closing with its unread bytes still in the socket (the rest of a body too large,
            // say) would send a reset, which can destroy the answer before the peer reads it. TLS
            // records cannot be cut short by a FIN, so there the close, which sends close_notify
            // after the answer, comes only after the same wait.
            ctx.executor().schedule(() -> {
                ctx.close();
            }, LINGER_MILLIS, TimeUnit.MILLISECONDS);
        });
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
     * {@link #contentLength} (-1 when absent, -2 when malformed, -3 when repeated). {@link #PARTIAL}
     * while the empty line has not arrived; {@link #NOT_SIP}, with {@link #notSip} set, as soon as
     * the octets cannot be the head of a SIP message (checked once each, {@link #checked}). Lines
     * read whole are not read again when more of the head arrives ({@link #resumeLine}).
     * <p>
     * Lines are found with {@link ByteBuf#indexOf}, which reads a word at a time; reading a
     * direct buffer byte by byte costs a bounds and liveness check per byte.
     */
    private int scanHeader(ByteBuf in) {
        int start = in.readerIndex();
        int limit = Math.min(in.writerIndex(), start + maxMessageSize + 4);
        if (resumeLine < 0) {
            headerEnd = start + resumePreviousLineEnd;
            return COMPLETE;
        }
        long found = resumeFound;
        int lineStart = start + resumeLine;
        int previousLineEnd = start + resumePreviousLineEnd;
        while (lineStart < limit) {
            linesVisited++;
            // up to start + checked, this line has been searched for its end already
            int lf = in.indexOf(Math.max(lineStart, start + checked), limit, (byte) '\n');
            int lineEnd = lf < 0 ? limit : lf > lineStart && in.getByte(lf - 1) == '\r' ? lf - 1 : lf;
            int arrived = lf < 0 ? limit : lf + 1; // the end of what has arrived of this line
            if (start + checked < arrived) {
                // octets not seen before: a control octet cannot be in a head (§25.1: only HTAB, CR
                // and LF), and the first line must look like a request line or status line
                int from = Math.max(lineStart, start + checked);
                int bad = from < lineEnd ? in.forEachByte(from, lineEnd - from, NOT_IN_HEAD) : -1;
                if (bad >= 0) {
                    notSip = String.format("control octet 0x%02X in the header section", in.getByte(bad) & 0xFF);
                    return NOT_SIP;
                }
                if (lineStart == start && !plausibleStartLine(in, start, lineEnd, lf >= 0)) {
                    notSip = "the first line is neither a SIP request line nor a status line";
                    return NOT_SIP;
                }
                checked = arrived - start;
            }
            if (lf < 0) {
                return PARTIAL;
            }
            if (lineEnd == lineStart && lineStart > start) {
                headerEnd = previousLineEnd;
                separatorLength = lf + 1 - previousLineEnd;
                contentLength = found;
                resumeLine = -1;
                resumePreviousLineEnd = previousLineEnd - start;
                return COMPLETE;
            }
            if (found >= -1) {
                long value = headerValue(in, lineStart, lineEnd);
                if (value != -1) {
                    found = value == -2 ? -2 : found != -1 ? -3 : value;
                }
            }
            previousLineEnd = lineEnd;
            lineStart = lf + 1;
            resumeLine = lineStart - start;
            resumePreviousLineEnd = previousLineEnd - start;
            resumeFound = found;
        }
        return PARTIAL;
    }

    /** Control octets other than HTAB, CR and LF, and DEL: never in a SIP head (RFC 3261 §25.1). */
    private static final ByteProcessor NOT_IN_HEAD = b -> !((b >= 0 && b < 0x20 && b != '\t' && b != '\r' && b != '\n') || b == 0x7F);

    /**
     * Whether {@code [start, end)} can be (when {@code whole}, is) a start line: a status line
     * begins "SIP/" (§7.2); a request line begins with a method token followed by whitespace (§7.1).
     * Only that shape is checked here: the parser says what is wrong with the rest (a missing or
     * misplaced SIP-Version, trailing or doubled whitespace, RFC 4475 §3.1.2.10), in a 400, and the
     * connection stays open. The one whole line of that shape refused is one that ends with an HTTP
     * version ("GET / HTTP/1.1"): a web client or scanner on a SIP port, never SIP.
     */
    private static boolean plausibleStartLine(ByteBuf in, int start, int end, boolean whole) {
        int n = end - start;
        if (matchesIgnoringCase(in, start, Math.min(n, 4), "SIP/")) {
            return true;
        }
        int i = start;
        while (i < end && i - start <= MAX_METHOD_LENGTH && isTokenChar(in.getByte(i))) {
            i++;
        }
        if (i == start && i < end || i - start > MAX_METHOD_LENGTH) {
            return false;
        }
        if (i == end) {
            return !whole;
        }
        byte after = in.getByte(i);
        if (after != ' ' && after != '\t') {
            return false;
        }
        if (!whole) {
            return true;
        }
        int wordEnd = end;
        while (wordEnd > i && isSpace(in.getByte(wordEnd - 1))) {
            wordEnd--;
        }
        int wordStart = wordEnd;
        while (wordStart > i && !isSpace(in.getByte(wordStart - 1))) {
            wordStart--;
        }
        return !(wordEnd - wordStart >= 5 && matchesIgnoringCase(in, wordStart, 5, "HTTP/"));
    }

    private static boolean isSpace(byte b) {
        return b == ' ' || b == '\t';
    }

    private static boolean matchesIgnoringCase(ByteBuf in, int at, int length, String upper) {
        for (int k = 0; k < length; k++) {
            byte b = in.getByte(at + k);
            if (b >= 'a' && b <= 'z') {
                b -= 'a' - 'A';
            }
            if (b != upper.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    /** RFC 3261 §25.1 token: alphanumerics and -.!%*_+`'~ */
    private static boolean isTokenChar(byte b) {
        return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || "-.!%*_+`'~".indexOf(b) >= 0;
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
