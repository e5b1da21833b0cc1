package io.switchboard.sip.codec;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class SipPeekTest {
    private static long peek(String message) {
        byte[] data = message.getBytes(StandardCharsets.UTF_8);
        return SipPeek.callIdHash(data, 0, data.length);
    }

    private static String request(String callIdLine) {
        return "BYE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>;tag=b\r\n"
                + callIdLine + "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    }

    @Test
    void aRequestAndItsResponseHaveTheSameKeyWhateverTheHeaderSpelling() {
        long key = peek(request("Call-ID: a84b4c76e66710@pc33.example.com\r\n"));
        assertThat(key).isNotEqualTo(SipPeek.NO_CALL_ID).isNotNegative();
        // RFC 3261 §7.3.1 and §7.3.3: names are case-insensitive, "i" is the compact form, and
        // whitespace may stand on both sides of the colon and after the value
        assertThat(peek(request("call-id: a84b4c76e66710@pc33.example.com\r\n"))).isEqualTo(key);
        assertThat(peek(request("CALL-ID  :\ta84b4c76e66710@pc33.example.com  \r\n"))).isEqualTo(key);
        assertThat(peek(request("i: a84b4c76e66710@pc33.example.com\r\n"))).isEqualTo(key);
        assertThat(peek(request("I:a84b4c76e66710@pc33.example.com\n"))).isEqualTo(key);
        String response = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
                + "Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 2 BYE\r\n\r\n";
        assertThat(peek(response)).isEqualTo(key);
        assertThat(peek("\r\n\r\n" + response)).as("CRLFs before the start line (§7.5)").isEqualTo(key);
    }

    @Test
    void aParsedCallIdHasTheKeyOfItsMessage() {
        // work done later for a call (TransportLayer.executor(callId)) must land on its messages' lane
        assertThat(SipPeek.callIdHash("a84b4c76e66710@pc33.example.com"))
                .isEqualTo(peek(request("Call-ID:   a84b4c76e66710@pc33.example.com  \r\n")))
                .isEqualTo(peek(request("i: a84b4c76e66710@pc33.example.com\r\n")));
    }

    @Test
    void callIdsAreCaseSensitiveAndSpreadOverLanes() {
        // §20.8: Call-IDs are compared octet by octet
        assertThat(peek(request("Call-ID: ABC@host\r\n"))).isNotEqualTo(peek(request("Call-ID: abc@host\r\n")));
        // SIPp-style Call-IDs differ in a counter only; they must not all fall on one of a few lanes
        Set<Long> lanes = new HashSet<>();
        int[] perLane = new int[4];
        for (int i = 0; i < 4000; i++) {
            long key = peek(request("Call-ID: " + i + "-18607@127.0.0.1\r\n"));
            lanes.add(key % 4);
            perLane[(int) (key % 4)]++;
        }
        assertThat(lanes).hasSize(4);
        for (int count : perLane) {
            assertThat(count).isBetween(800, 1200);
        }
    }

    @Test
    void headersThatOnlyLookLikeCallIdAreNotTaken() {
        assertThat(peek(request(""))).isEqualTo(SipPeek.NO_CALL_ID);
        assertThat(peek(request("Call-Info: <http://example.com/a>\r\nIdentity: x\r\nIn-Reply-To: y\r\n")))
                .isEqualTo(SipPeek.NO_CALL_ID);
        assertThat(peek(request("Call-ID:   \r\n"))).as("empty value").isEqualTo(SipPeek.NO_CALL_ID);
        // a folded line of another header that starts with "i:" is part of that header (§7.3.1)
        assertThat(peek(request("Subject: hello\r\n i: not-a-header\r\n"))).isEqualTo(SipPeek.NO_CALL_ID);
        // the body is not headers
        assertThat(peek("MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 14\r\n\r\nCall-ID: x@y\r\n"))
                .isEqualTo(SipPeek.NO_CALL_ID);
        assertThat(peek("")).isEqualTo(SipPeek.NO_CALL_ID);
        assertThat(peek("garbage without lines")).isEqualTo(SipPeek.NO_CALL_ID);
        assertThat(peek("INVITE sip:a@b SIP/2.0\r\nCall-ID")).isEqualTo(SipPeek.NO_CALL_ID);
    }

    @Test
    void onlyTheGivenRangeIsRead() {
        byte[] data = ("xxxx" + request("Call-ID: k@h\r\n") + "Call-ID: other\r\n").getBytes(StandardCharsets.UTF_8);
        int length = request("Call-ID: k@h\r\n").length();
        assertThat(SipPeek.callIdHash(data, 4, length)).isEqualTo(peek(request("Call-ID: k@h\r\n")));
        assertThat(SipPeek.callIdHash(data, 4, 20)).isEqualTo(SipPeek.NO_CALL_ID);
    }

    @Test
    void newWorkIsARequestOutsideADialog() {
        String invite = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                + "From: <sip:alice@example.com>;tag=a\r\n%s\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
        assertThat(outOfDialog(invite.formatted("To: <sip:bob@example.com>"))).isTrue();
        assertThat(outOfDialog(invite.formatted("t: Bob <sip:bob@example.com;transport=udp>"))).isTrue();
        assertThat(outOfDialog("REGISTER sip:example.com SIP/2.0\r\nTo: <sip:a@example.com>\r\n\r\n")).isTrue();
        // a re-INVITE, and any request in a dialog, carries the remote tag (RFC 3261 §12.2.1.1)
        assertThat(outOfDialog(invite.formatted("To: <sip:bob@example.com>;tag=b"))).isFalse();
        assertThat(outOfDialog(invite.formatted("TO : <sip:bob@example.com> ; TAG = b"))).isFalse();
        assertThat(outOfDialog(invite.formatted("t:<sip:bob@example.com>;x=1;tag=b"))).isFalse();
        // responses and requests of a transaction or dialog in progress are never new work
        assertThat(outOfDialog("SIP/2.0 180 Ringing\r\nTo: <sip:bob@example.com>\r\n\r\n")).isFalse();
        for (String method : new String[]{"ACK", "CANCEL", "BYE", "PRACK"}) {
            assertThat(outOfDialog(method + " sip:bob@example.com SIP/2.0\r\nTo: <sip:bob@example.com>\r\n\r\n"))
                    .as(method).isFalse();
        }
        // no To header: the parser rejects it
        assertThat(outOfDialog("OPTIONS sip:bob@example.com SIP/2.0\r\nCall-ID: c\r\n\r\n")).isFalse();
        assertThat(outOfDialog("")).isFalse();
        // "Tone" and "Timestamp" are not To
        assertThat(outOfDialog("OPTIONS sip:b@e SIP/2.0\r\nTone: x;tag=1\r\nTimestamp: 1\r\nTo: <sip:b@e>\r\n\r\n")).isTrue();
    }

    private static boolean outOfDialog(String message) {
        byte[] data = message.getBytes(StandardCharsets.UTF_8);
        return SipPeek.isOutOfDialogRequest(data, 0, data.length);
    }
}
