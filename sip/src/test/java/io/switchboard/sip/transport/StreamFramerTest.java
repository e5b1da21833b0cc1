package io.switchboard.sip.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.switchboard.sip.message.SipResponse;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StreamFramerTest {
    private final List<String> errors = new ArrayList<>();
    private final List<String> drops = new ArrayList<>();
    private int keepAlives;

    private EmbeddedChannel channel(int maxSize) {
        return new EmbeddedChannel(new StreamFramer(maxSize, Transport.TCP, new StreamFramer.FramingErrors() {
            @Override
            public void framingError(ChannelHandlerContext ctx, String reason, String drop, SipResponse answer) {
                errors.add(reason);
                drops.add(String.valueOf(drop));
            }

            @Override
            public void keepAlive(ChannelHandlerContext ctx) {
                keepAlives++;
            }
        }));
    }

    private static String message(String body) {
        return "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: " + body.length() + "\r\n\r\n" + body;
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    @Test
    void splitsTwoMessagesInOneRead() {
        EmbeddedChannel ch = channel(65535);
        ch.writeInbound(bytes(message("abc") + message("")));
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).endsWith("\r\n\r\nabc");
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).startsWith("OPTIONS");
        assertThat((Object) ch.readInbound()).isNull();
    }

    @Test
    void readsContentLengthInAnyCaseAndFormFromADirectBuffer() {
        // header names are case-insensitive and "l" is the compact form (RFC 3261 §7.3.1, §7.3.3);
        // a socket hands the framer direct (off-heap) buffers, read here without copying names out
        String head = "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c\r\nCONTENT-length : 3\r\nContact: <sip:x>\r\n\r\nabc";
        String compact = "OPTIONS sip:a@b SIP/2.0\nL:2\n\nxy";
        String lookalikes = "OPTIONS sip:a@b SIP/2.0\r\nContent-Lengths: 7\r\nl-x: 9\r\nContent-Type: a/b\r\nl: 1\r\n\r\nz";
        byte[] all = (head + compact + lookalikes).getBytes(StandardCharsets.US_ASCII);
        ByteBuf direct = Unpooled.directBuffer(all.length).writeBytes(all);
        EmbeddedChannel ch = channel(65535);
        ch.writeInbound(direct);
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.US_ASCII)).isEqualTo(head);
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.US_ASCII)).isEqualTo(compact);
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.US_ASCII)).isEqualTo(lookalikes);
        assertThat(errors).isEmpty();

        EmbeddedChannel twice = channel(65535);
        twice.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 0\r\n\r\n"));
        assertThat(errors).singleElement().asString().startsWith("more than one Content-Length");
        assertThat(twice.isOpen()).isFalse();
    }

    @Test
    void joinsAMessageSplitAcrossReadsAtEveryOffset() {
        String whole = message("hello world");
        for (int cut = 1; cut < whole.length(); cut++) {
            EmbeddedChannel ch = channel(65535);
            ch.writeInbound(bytes(whole.substring(0, cut)));
            assertThat((Object) ch.readInbound()).as("cut at %d", cut).isNull();
            ch.writeInbound(bytes(whole.substring(cut)));
            assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).isEqualTo(whole);
        }
    }

    @Test
    void answersDoubleCrlfPingWithPong() {
        EmbeddedChannel ch = channel(65535);
        ch.writeInbound(bytes("\r\n\r\n"));
        ByteBuf pong = ch.readOutbound();
        assertThat(pong.toString(StandardCharsets.US_ASCII)).isEqualTo("\r\n");
        assertThat(keepAlives).isEqualTo(1);
        ch.writeInbound(bytes(message("")));
        assertThat((Object) ch.readInbound()).isNotNull();
    }

    @Test
    void closesOnMissingContentLength() {
        EmbeddedChannel ch = channel(65535);
        ch.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"));
        assertThat(errors).singleElement().asString().contains("Content-Length");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void closesOnOversizeHeaderOrBody() {
        EmbeddedChannel ch = channel(1024);
        ch.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nX: " + "a".repeat(2000)));
        assertThat(errors).singleElement().asString().contains("limit");
        assertThat(ch.isOpen()).isFalse();

        errors.clear();
        EmbeddedChannel second = channel(1024);
        second.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n"));
        assertThat(errors).singleElement().asString().contains("limit");
        assertThat(second.isOpen()).isFalse();
    }

    @Test
    void reportsWhenAPartialMessageStarted() {
        EmbeddedChannel ch = channel(65535);
        ch.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\n"));
        StreamFramer framer = ch.pipeline().get(StreamFramer.class);
        assertThat(framer.partialSince()).isPositive();
        ch.writeInbound(bytes("l: 0\r\n\r\n"));
        assertThat(framer.partialSince()).isZero();
    }

    /** An OPTIONS head with all an answer needs (RFC 3261 §8.2.6.2), and {@code extra} header lines. */
    private static String head(String extra) {
        return "OPTIONS sip:node@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-f1;rport\r\n"
                + "From: <sip:a@example.test>;tag=1\r\nTo: <sip:node@127.0.0.1>\r\nCall-ID: f1\r\nCSeq: 7 OPTIONS\r\n"
                + extra;
    }

    private static String sent(EmbeddedChannel ch) {
        ByteBuf out = ch.readOutbound();
        return out == null ? null : out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void answersARequestWithoutAUsableContentLengthWith400ThenCloses() {
        // RFC 3261 §18.3: Content-Length is required on a stream; the end of the body cannot be
        // found, but the head can be read and answered (§21.4.1) before the connection is closed
        EmbeddedChannel missing = channel(65535);
        missing.writeInbound(bytes(head("") + "\r\n"));
        String answer = sent(missing);
        assertThat(answer).startsWith("SIP/2.0 400 Bad Request - Content-Length is required over TCP\r\n")
                .contains("Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK-f1;rport\r\n", "Call-ID: f1\r\n",
                        "CSeq: 7 OPTIONS\r\n", "From: <sip:a@example.test>;tag=1\r\n", "Content-Length: 0\r\n");
        assertThat(missing.isOpen()).isFalse();
        assertThat(errors).containsExactly("Content-Length is required over TCP: answered 400 Bad Request - Content-Length"
                + " is required over TCP, then closed the connection");

        errors.clear();
        EmbeddedChannel notANumber = channel(65535);
        notANumber.writeInbound(bytes(head("Content-Length: abc\r\n") + "\r\n"));
        assertThat(sent(notANumber)).startsWith("SIP/2.0 400 Bad Request - Content-Length is not a number\r\n");
        assertThat(notANumber.isOpen()).isFalse();
        assertThat(errors).singleElement().asString().contains("answered 400");
        assertThat(drops).containsExactly("null", "null"); // counted as malformed, not as dropped
    }

    @Test
    void closesWithoutAnswerWhenTheHeadCannotBeAnswered() {
        // no From/To/Call-ID/CSeq: nothing to address an answer with (§8.2.6.2), and the log must not say one was sent
        EmbeddedChannel bare = channel(65535);
        bare.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n"));
        assertThat(sent(bare)).isNull();
        assertThat(bare.isOpen()).isFalse();
        assertThat(errors).singleElement().asString().startsWith("Content-Length is required over TCP: closed the"
                + " connection without an answer").doesNotContain("answered");

        // a response is never answered (§17.1.3 matches responses, nothing answers them)
        errors.clear();
        EmbeddedChannel response = channel(65535);
        response.writeInbound(bytes("SIP/2.0 200 OK\r\n" + head("").substring(head("").indexOf("Via:")) + "\r\n"));
        assertThat(sent(response)).isNull();
        assertThat(response.isOpen()).isFalse();
    }

    @Test
    void answersAnOversizeRequest513ThenCloses() {
        // RFC 3261 §21.5.7: 513 Message Too Large, from the head (whole, or the lines that arrived whole)
        EmbeddedChannel body = channel(1024);
        body.writeInbound(bytes(head("Content-Length: 999999\r\n") + "\r\n"));
        assertThat(sent(body)).startsWith("SIP/2.0 513 Message Too Large\r\n").contains("Call-ID: f1\r\n");
        assertThat(body.isOpen()).isFalse();
        assertThat(errors).singleElement().asString()
                .matches("a message of 10002\\d\\d bytes, over the limit of 1024: answered 513 Message Too Large, then closed the connection");

        errors.clear();
        EmbeddedChannel header = channel(1024);
        header.writeInbound(bytes(head("Subject: " + "a".repeat(2000))));
        assertThat(sent(header)).startsWith("SIP/2.0 513 Message Too Large\r\n").contains("CSeq: 7 OPTIONS\r\n");
        assertThat(header.isOpen()).isFalse();
        assertThat(errors).singleElement().asString().startsWith("a header section longer than the limit of 1024 bytes: answered 513");
        assertThat(drops).containsExactly("oversize", "oversize");
    }

    @Test
    void closesAtOnceOnBytesThatCannotBeSip() {
        byte[] junk = new byte[1024];
        for (int i = 0; i < junk.length; i++) {
            junk[i] = (byte) i;
        }
        EmbeddedChannel binary = channel(65535);
        binary.writeInbound(Unpooled.wrappedBuffer(junk));
        assertThat(binary.isOpen()).isFalse();
        assertThat(sent(binary)).isNull();
        assertThat(errors).singleElement().asString().startsWith("not SIP (").endsWith("): closed the connection");

        // a plausible start, then a NUL in the head (§25.1)
        errors.clear();
        EmbeddedChannel nul = channel(65535);
        nul.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\0"));
        assertThat(nul.isOpen()).isFalse();
        assertThat(errors).singleElement().asString().contains("control octet 0x00 in the header section");

        // a first line that is not a SIP request line, and a first word too long for a method
        for (String start : new String[]{"GET / HTTP/1.1\r\n", "x".repeat(StreamFramer.MAX_METHOD_LENGTH + 1), " OPTIONS"}) {
            errors.clear();
            EmbeddedChannel text = channel(65535);
            text.writeInbound(bytes(start));
            assertThat(text.isOpen()).as(start).isFalse();
            assertThat(errors).as(start).singleElement().asString().contains("neither a SIP request line nor a status line");
        }
        assertThat(drops).containsOnly("null");
    }

    @Test
    void leavesAMalformedRequestLineToTheParser() {
        // RFC 4475 §3.1.2.10 (trailing space after the version), no version, a tab between parts,
        // a long extension method: SIP-shaped, so framed and handed on for the parser's 400
        String[] lines = {"OPTIONS sip:a@b SIP/2.0 ", "OPTIONS sip:a@b", "OPTIONS\tsip:a@b\tSIP/2.0",
                "X".repeat(StreamFramer.MAX_METHOD_LENGTH) + " sip:a@b SIP/2.0", "INVITE sip:a@b HTTPS/1.0"};
        for (String line : lines) {
            String whole = line + "\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n";
            EmbeddedChannel ch = channel(65535);
            ch.writeInbound(bytes(whole));
            assertThat(errors).as(line).isEmpty();
            assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).as(line).isEqualTo(whole);
            assertThat(ch.isOpen()).as(line).isTrue();
        }
        // HTTP on a SIP port is still closed at once, whole or arriving in pieces, whatever the case
        for (String http : new String[]{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "PRI * http/2.0 \r\n"}) {
            errors.clear();
            EmbeddedChannel ch = channel(65535);
            int sentBytes = 0;
            for (byte b : http.getBytes(StandardCharsets.US_ASCII)) {
                if (!ch.isOpen()) {
                    break;
                }
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[]{b}));
                sentBytes++;
            }
            assertThat(ch.isOpen()).as(http).isFalse();
            assertThat(http.substring(0, sentBytes)).as("closed at the end of the first line").endsWith("\n")
                    .doesNotContain("Host");
            assertThat(errors).as(http).singleElement().asString().startsWith("not SIP (");
        }
    }

    @Test
    void readsEachLineOfAHeadArrivingByteByByteOnce() {
        // a head of many lines an octet at a time: each arrival goes on from where the last stopped
        // rather than reading every line again (which grows with the square of the head)
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 500; i++) {
            lines.append("X-").append(i).append(": v\r\n");
        }
        String whole = head(lines + "Content-Length: 3\r\n" + lines + "l: 3\r\n") + "\r\nabc";
        String wholeOk = head(lines + "Content-Length: 3\r\n" + lines) + "\r\nabc";
        EmbeddedChannel ch = channel(65535);
        StreamFramer framer = ch.pipeline().get(StreamFramer.class);
        for (byte b : (wholeOk + whole).getBytes(StandardCharsets.US_ASCII)) {
            if (ch.isOpen()) {
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[]{b}));
            }
        }
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.US_ASCII)).isEqualTo(wholeOk);
        // the Content-Length seen in the first pass is remembered: the second one is a duplicate
        assertThat(errors).singleElement().asString().startsWith("more than one Content-Length");
        long octets = wholeOk.length() + whole.length();
        // about one look per arrival (octet); reading every line again would be over a million
        assertThat(framer.linesVisited).as("lines looked at").isLessThan(2 * octets);
    }

    @Test
    void acceptsWhatSipAllowsInAHeadByteByByte() {
        // UTF-8 in a display name, HTAB and folding (§7.3.1, §25.1), a lower-case version, keep-alives
        // between messages (RFC 5626 §3.5.1), a response, a bare-LF head: none of it is taken for junk
        String utf8 = "INFO sip:a@b sip/2.0\r\nFrom: \"J\u00fcrgen \u6771\" <sip:j@x>;tag=1\r\nSubject:\ta\r\n b\r\nl: 2\r\n\r\nok";
        String response = "SIP/2.0 200 OK\nVia: SIP/2.0/TCP h\nContent-Length: 0\n\n";
        byte[] all = ("\r\n" + utf8 + "\r\n\r\n" + response).getBytes(StandardCharsets.UTF_8);
        EmbeddedChannel ch = channel(65535);
        for (byte b : all) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[]{b}));
        }
        assertThat(errors).isEmpty();
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).isEqualTo(utf8);
        assertThat(new String((byte[]) ch.readInbound(), StandardCharsets.UTF_8)).isEqualTo(response);
        assertThat(ch.isOpen()).isTrue();
    }
}
