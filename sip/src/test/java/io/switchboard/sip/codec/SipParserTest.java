package io.switchboard.sip.codec;

import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SipParserTest {
    static final String REGISTER = "REGISTER sip:example.org SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 192.0.2.4:5062;branch=z9hG4bK776asdhds;rport\r\n"
            + "Max-Forwards: 70\r\n"
            + "To: Alice <sip:alice@example.org>\r\n"
            + "From: Alice <sip:alice@example.org>;tag=1928301774\r\n"
            + "Call-ID: a84b4c76e66710@pc33.example.org\r\n"
            + "CSeq: 314159 REGISTER\r\n"
            + "Contact: <sip:alice@192.0.2.4:5062>;expires=600, <sip:alice@[2001:db8::4]>;q=0.5\r\n"
            + "Content-Length: 0\r\n\r\n";

    static SipMessage parse(String text) throws SipParseException {
        return SipParser.parse(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void parsesRequestAndItsCoreHeaders() throws Exception {
        SipRequest request = (SipRequest) parse(REGISTER);
        assertThat(request.method()).isEqualTo("REGISTER");
        assertThat(request.requestUri().host()).isEqualTo("example.org");
        assertThat(request.maxForwards()).isEqualTo(70);
        assertThat(request.cseq().number()).isEqualTo(314159);
        assertThat(request.from().tag()).isEqualTo("1928301774");
        assertThat(request.to().displayName()).isEqualTo("Alice");
        Via via = request.topVia();
        assertThat(via.transport()).isEqualTo("UDP");
        assertThat(via.port()).isEqualTo(5062);
        assertThat(via.param("rport")).isEmpty();
        assertThat(request.contacts()).hasSize(2);
        assertThat(request.contacts().get(0).param("expires")).isEqualTo("600");
        assertThat(request.contacts().get(1).uri().host()).isEqualTo("[2001:db8::4]");
        assertThat(request.contacts().get(1).param("q")).isEqualTo("0.5");
    }

    @Test
    void acceptsCompactFormsFoldingAndAnyCase() throws Exception {
        String text = "OPTIONS sip:bob@example.org SIP/2.0\r\n"
                + "v: SIP/2.0/TCP host.example.org\r\n ;branch=z9hG4bKabc\r\n"
                + "t: <sip:bob@example.org>\r\n"
                + "f: <sip:carol@example.org>;tag=x\r\n"
                + "i: call-1\r\n"
                + "cseq: 2 OPTIONS\r\n"
                + "MAX-FORWARDS: 10\r\n"
                + "l: 0\r\n\r\n";
        SipMessage message = parse(text);
        assertThat(message.topVia().branch()).isEqualTo("z9hG4bKabc");
        assertThat(message.callId()).isEqualTo("call-1");
        assertThat(message.header("Call-ID")).isEqualTo("call-1");
        assertThat(message.maxForwards()).isEqualTo(10);
    }

    @Test
    void serializesWithComputedContentLengthAndParsesBack() throws Exception {
        SipRequest request = (SipRequest) parse(REGISTER);
        request.setBody("hello".getBytes(StandardCharsets.UTF_8), "text/plain");
        SipRequest again = (SipRequest) SipParser.parse(request.encode());
        assertThat(new String(again.body(), StandardCharsets.UTF_8)).isEqualTo("hello");
        assertThat(again.header("Content-Length")).isEqualTo("5");
        assertThat(again.headerValues("Contact")).hasSize(2);
    }

    @Test
    void responseToRequestCopiesTheHeadersRfc3261Requires() throws Exception {
        SipRequest request = (SipRequest) parse(REGISTER);
        SipResponse response = SipResponse.to(request, 200, null).withToTag("abc");
        SipResponse parsed = (SipResponse) SipParser.parse(response.encode());
        assertThat(parsed.status()).isEqualTo(200);
        assertThat(parsed.reason()).isEqualTo("OK");
        assertThat(parsed.to().tag()).isEqualTo("abc");
        assertThat(parsed.callId()).isEqualTo(request.callId());
        assertThat(parsed.topVia().branch()).isEqualTo("z9hG4bK776asdhds");
    }

    @Test
    void malformedRequestYields400WithTheReason() {
        String text = REGISTER.replace("Max-Forwards: 70", "Max-Forwards: 300");
        assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class, e -> {
            assertThat(e.responseStatus()).isEqualTo(400);
            assertThat(e.reason()).contains("Max-Forwards");
            SipResponse answer = e.errorResponse();
            assertThat(answer).isNotNull();
            assertThat(answer.status()).isEqualTo(400);
            assertThat(answer.reason()).contains("Max-Forwards");
            assertThat(answer.callId()).isEqualTo("a84b4c76e66710@pc33.example.org");
        });
    }

    @Test
    void aHeaderThatTakesOneValueGivenTwiceIs400() {
        String[][] twice = {{"Content-Length: 0\r\n", "Expires: 3600\r\nExpires: 0\r\nContent-Length: 0\r\n", "more than one Expires"},
                {"Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nMax-Forwards: 1\r\n", "more than one Max-Forwards"},
                {"CSeq: 314159 REGISTER\r\n", "CSeq: 314159 REGISTER\r\nCSeq: 314160 REGISTER\r\n", "more than one CSeq"}};
        for (String[] change : twice) {
            String text = REGISTER.replace(change[0], change[1]);
            assertThatThrownBy(() -> parse(text)).as(change[2]).isInstanceOfSatisfying(SipParseException.class, e -> {
                assertThat(e.responseStatus()).isEqualTo(400);
                assertThat(e.reason()).contains(change[2]);
            });
        }
    }

    /** A Route or Record-Route of "*" was taken for an address and failed routing with a 500. */
    @Test
    void aWildcardRouteIs400() {
        for (String name : new String[]{"Route", "Record-Route"}) {
            String text = REGISTER.replace("Content-Length: 0\r\n", name + ": *\r\nContent-Length: 0\r\n");
            assertThatThrownBy(() -> parse(text)).as(name).isInstanceOfSatisfying(SipParseException.class, e -> {
                assertThat(e.responseStatus()).isEqualTo(400);
                assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - malformed " + name + ": '*' is not an address");
            });
        }
    }

    /** A Contact of "*" in an INVITE was taken for the caller's address and failed routing with a 500. */
    @Test
    void aWildcardContactOutsideARegisterIs400() throws Exception {
        String invite = REGISTER.replace("REGISTER", "INVITE")
                .replace("Contact: <sip:alice@192.0.2.4:5062>;expires=600, <sip:alice@[2001:db8::4]>;q=0.5", "Contact: *");
        assertThatThrownBy(() -> parse(invite)).isInstanceOfSatisfying(SipParseException.class, e -> {
            assertThat(e.responseStatus()).isEqualTo(400);
            assertThat(e.errorResponse().reason())
                    .isEqualTo("Bad Request - malformed Contact: '*' is allowed only in a REGISTER");
        });
        String unregister = REGISTER.replace("Contact: <sip:alice@192.0.2.4:5062>;expires=600, <sip:alice@[2001:db8::4]>;q=0.5",
                "Contact: *\r\nExpires: 0");
        assertThat(((SipRequest) parse(unregister)).contacts()).singleElement().matches(c -> c.isWildcard());
    }

    /**
     * A bare CR inside a header value was kept, quoted in a 400's reason phrase, and so broke the
     * status line the node sent. Reported after every line is read, so the 400 still has its Via.
     */
    @Test
    void aBareCrInAHeaderIs400AddressedToTheSender() {
        String text = REGISTER.replace("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nUser-Agent: a\rb\r\n");
        assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class, e -> {
            assertThat(e.responseStatus()).isEqualTo(400);
            assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - bare CR in header User-Agent");
            assertThat(e.errorResponse().callId()).isEqualTo("a84b4c76e66710@pc33.example.org");
        });
        // in a header the 400 copies back, the CR does not come out as a line break of its own
        String inCallId = REGISTER.replace("Call-ID: a84b4c76e66710@pc33.example.org\r\n",
                "Call-ID: a84b4c76e66710@pc33.example.org\rX-Injected: 1\r\n");
        assertThatThrownBy(() -> parse(inCallId)).isInstanceOfSatisfying(SipParseException.class, e -> {
            assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - bare CR in header Call-ID");
            assertThat(e.errorResponse().encode()).asString(java.nio.charset.StandardCharsets.UTF_8)
                    .doesNotContain("\rX-Injected").contains("Call-ID: a84b4c76e66710@pc33.example.org X-Injected: 1\r\n");
        });
    }

    /** What a reason phrase quotes from a peer cannot break the status line (RFC 3261 §25.1). */
    @Test
    void aReasonPhraseHoldsNoLineBreaks() throws Exception {
        SipRequest request = (SipRequest) parse(REGISTER);
        SipResponse answer = SipResponse.to(request, 400, "Bad Request - digest parameter \rTo: x\nVia: y has no value");
        assertThat(answer.startLine()).isEqualTo("SIP/2.0 400 Bad Request - digest parameter  To: x Via: y has no value");
        SipMessage back = SipParser.parse(answer.encode());
        assertThat(((SipResponse) back).status()).isEqualTo(400);
    }

    @Test
    void malformedResponseIsDropped() {
        String text = "SIP/2.0 2000 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
                + "To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class,
                e -> assertThat(e.responseStatus()).isZero());
    }

    @Test
    void missingHeadersAreNamed() {
        String text = REGISTER.replace("Call-ID: a84b4c76e66710@pc33.example.org\r\n", "");
        assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class, e -> {
            assertThat(e.reason()).contains("Call-ID");
            assertThat(e.errorResponse()).isNull(); // nothing to address the answer with
        });
    }

    @Test
    void garbageIsRejectedNotThrownAsAnythingElse() {
        byte[] random = new byte[512];
        new java.util.Random(42).nextBytes(random);
        assertThatThrownBy(() -> SipParser.parse(random)).isInstanceOf(SipParseException.class);
        assertThatThrownBy(() -> parse("\r\n\r\n")).isInstanceOf(SipParseException.class);
        assertThatThrownBy(() -> parse("INVITE\r\n\r\n")).isInstanceOf(SipParseException.class);
    }

    @Test
    void randomMutationsNeverEscapeAsUncheckedExceptions() {
        java.util.Random random = new java.util.Random(7);
        byte[] base = REGISTER.getBytes(StandardCharsets.UTF_8);
        for (int round = 0; round < 20_000; round++) {
            byte[] mutated = base.clone();
            int flips = 1 + random.nextInt(6);
            for (int i = 0; i < flips; i++) {
                mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
            }
            try {
                SipMessage message = SipParser.parse(mutated);
                message.encode();
            } catch (SipParseException expected) {
                assertThat(expected.reason()).isNotBlank();
            }
        }
    }

    @Test
    void uriParsingKeepsIpv6BracketsAndUnescapesUser() {
        SipUri uri = SipUri.parse("sip:%61lice@[2001:db8::1]:5070;transport=tcp");
        assertThat(uri.user()).isEqualTo("alice");
        assertThat(uri.host()).isEqualTo("[2001:db8::1]");
        assertThat(uri.hostAddress()).isEqualTo("2001:db8::1");
        assertThat(uri.port()).isEqualTo(5070);
        assertThat(uri.param("transport")).isEqualTo("tcp");
        assertThat(uri.addressOfRecord()).isEqualTo("sip:alice@[2001:db8::1]");
        assertThatThrownBy(() -> SipUri.parse("sip:2001:db8::1")).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * RFC 3261 §25.1 (port = 1*DIGIT) lets ":0" parse, but port 0 is reserved and no transport
     * reaches it (RFC 6335 §6): it is not an absent port, so it never takes §19.1.2's default and a
     * URI with it names no listener. It was taken for 5060.
     */
    @Test
    void anExplicitPort0IsNotTheDefaultPort() throws Exception {
        SipUri uri = SipUri.parse("sip:1001@10.0.0.1:0");
        assertThat(uri.port()).isZero();
        assertThat(uri.portOrDefault()).isZero();
        assertThat(SipUri.parse("sips:1001@10.0.0.1:0").portOrDefault()).isZero();
        assertThat(uri.names(new java.net.InetSocketAddress(java.net.InetAddress.getByName("10.0.0.1"), 5060))).isFalse();
        assertThat(uri.toString()).isEqualTo("sip:1001@10.0.0.1:0");
    }

    /**
     * An out-of-dialog request is routed on its Request-URI (RFC 3261 §16.5, §10.3 for REGISTER);
     * one naming port 0 names no element anyone can reach (RFC 6335 §6), so it is refused with the
     * reason, not taken for "no port" and routed as addressed to this node.
     */
    @Test
    void anOutOfDialogRequestUriWithPort0Is400() {
        String invite = REGISTER.replace("REGISTER sip:example.org SIP/2.0", "INVITE sip:1001@192.0.2.10:0 SIP/2.0")
                .replace("CSeq: 314159 REGISTER", "CSeq: 1 INVITE").replace("Contact: <sip:alice@192.0.2.4:5062>;expires=600, "
                        + "<sip:alice@[2001:db8::4]>;q=0.5", "Contact: <sip:alice@192.0.2.4:5062>");
        for (String text : new String[]{invite, REGISTER.replace("REGISTER sip:example.org SIP/2.0", "REGISTER sip:example.org:0 SIP/2.0")}) {
            assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class, e -> {
                assertThat(e.responseStatus()).isEqualTo(400);
                assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - Request-URI port 0 is not a usable port");
                assertThat(e.errorResponse().callId()).isEqualTo("a84b4c76e66710@pc33.example.org");
            });
        }
    }

    /**
     * In a dialog the Request-URI is the peer's remote target, carried along the route (RFC 3261
     * §12.2.1.1, §16.4): the node routes on its own Route entry, so a port 0 there is not its to judge.
     */
    @Test
    void anInDialogRequestUriWithPort0IsLeftToItsRoute() throws Exception {
        String bye = "BYE sip:alice@192.0.2.4:0 SIP/2.0\r\n"
                + "Via: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKbye1\r\n"
                + "Max-Forwards: 70\r\n"
                + "Route: <sip:192.0.2.10;lr>\r\n"
                + "From: <sip:bob@example.org>;tag=b1\r\n"
                + "To: <sip:alice@example.org>;tag=a1\r\n"
                + "Call-ID: c1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
        assertThat(((SipRequest) parse(bye)).requestUri().port()).isZero();
    }

    /** RFC 3261 §19.1.2: a URI without a port names 5061 when it is sips: or says transport=tls, else 5060. */
    @Test
    void aUriWithoutAPortNamesItsTransportsDefaultPort() throws Exception {
        assertThat(SipUri.parse("sip:alice@10.0.0.1").portOrDefault()).isEqualTo(5060);
        assertThat(SipUri.parse("sip:alice@10.0.0.1;transport=tcp").portOrDefault()).isEqualTo(5060);
        assertThat(SipUri.parse("sip:alice@10.0.0.1;transport=TLS").portOrDefault()).isEqualTo(5061);
        assertThat(SipUri.parse("sips:alice@10.0.0.1").portOrDefault()).isEqualTo(5061);
        assertThat(SipUri.parse("sips:alice@10.0.0.1:5070").portOrDefault()).isEqualTo(5070);
        java.net.InetAddress node = java.net.InetAddress.getByName("10.0.0.1");
        assertThat(SipUri.parse("sips:10.0.0.1").names(new java.net.InetSocketAddress(node, 5061))).isTrue();
        assertThat(SipUri.parse("sips:10.0.0.1").names(new java.net.InetSocketAddress(node, 5060))).isFalse();
        assertThat(SipUri.parse("sip:10.0.0.1").names(new java.net.InetSocketAddress(node, 5060))).isTrue();
    }
}
