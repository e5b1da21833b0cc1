package io.switchboard.sip.transport;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class StreamFramerTest {
    private final List<String> errors = new ArrayList<>();
    private int keepAlives;

    private EmbeddedChannel channel(int maxSize) {
        return new EmbeddedChannel(new StreamFramer(maxSize, new StreamFramer.FramingErrors() {
            @Override
            public void framingError(ChannelHandlerContext ctx, String reason, String drop) {
                errors.add(reason);
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
        assertThat(errors).containsExactly("malformed Content-Length");
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
        assertThat(errors).singleElement().asString().contains("larger");
        assertThat(ch.isOpen()).isFalse();

        errors.clear();
        EmbeddedChannel second = channel(1024);
        second.writeInbound(bytes("OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 999999\r\n\r\n"));
        assertThat(errors).singleElement().asString().contains("larger");
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
}
