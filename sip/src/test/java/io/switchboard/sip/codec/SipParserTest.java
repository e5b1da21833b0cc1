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
            // a final response of the node's own carries a To tag (RFC 3261 §8.2.6.2), the same for a retransmission
            assertThat(answer.to().tag()).isNotBlank();
            assertThat(answer.header("To")).startsWith("Alice <sip:alice@example.org>;tag=");
            assertThatThrownBy(() -> parse(text)).isInstanceOfSatisfying(SipParseException.class,
                    again -> assertThat(again.errorResponse().to().tag()).isEqualTo(answer.to().tag()));
        });
        String tagged = REGISTER.replace("Max-Forwards: 70", "Max-Forwards: 300").replaceFirst("(?m)^(To: [^\r]*)", "$1;tag=theirs");
        assertThatThrownBy(() -> parse(tagged)).isInstanceOfSatisfying(SipParseException.class,
                e -> assertThat(e.errorResponse().to().tag()).isEqualTo("theirs"));
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

    /** {@code text} as UTF-8 with each '¤' replaced by the raw byte {@code raw}. */
    private static byte[] withRawByte(String text, int raw) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] mark = "¤".getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < utf8.length; i++) {
            if (i + 1 < utf8.length && utf8[i] == mark[0] && utf8[i + 1] == mark[1]) {
                out.write(raw);
                i++;
            } else {
                out.write(utf8[i]);
            }
        }
        return out.toByteArray();
    }

    private static SipParseException refusal(byte[] bytes) {
        try {
            SipParser.parse(bytes);
        } catch (SipParseException e) {
            return e;
        }
        throw new AssertionError("parsed: " + new String(bytes, StandardCharsets.UTF_8));
    }

    /** A strict UTF-8 decoding: throws on a malformed sequence, where new String(...) would put U+FFFD. */
    private static String strictUtf8(byte[] bytes) throws java.nio.charset.CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(bytes)).toString();
    }

    /**
     * RFC 3261 §19.1.1 and §25.1: a URI is ASCII, anything else %-escaped (RFC 3986 §2.1). A raw
     * non-ASCII byte in the Request-URI, UTF-8 or not, is 400 with the reason; the escaped form is
     * the same user. Both raw forms were accepted, the invalid one read as U+FFFD.
     */
    @Test
    void aRequestUriWithARawNonAsciiByteIs400() throws Exception {
        byte[] utf8 = REGISTER.replace("REGISTER sip:example.org SIP/2.0", "REGISTER sip:jürgen@example.org SIP/2.0")
                .getBytes(StandardCharsets.UTF_8);
        byte[] latin1 = withRawByte(REGISTER.replace("REGISTER sip:example.org SIP/2.0", "REGISTER sip:j¤rgen@example.org SIP/2.0"), 0xfc);
        for (byte[] bytes : new byte[][]{utf8, latin1}) {
            assertThatThrownBy(() -> SipParser.parse(bytes)).isInstanceOfSatisfying(SipParseException.class, e -> {
                assertThat(e.responseStatus()).isEqualTo(400);
                assertThat(e.errorResponse().reason())
                        .isEqualTo("Bad Request - Request-URI holds a raw non-ASCII byte (escape it as %HH)");
                assertThat(e.errorResponse().callId()).isEqualTo("a84b4c76e66710@pc33.example.org");
            });
        }
        SipRequest escaped = (SipRequest) parse(REGISTER.replace("REGISTER sip:example.org SIP/2.0",
                "REGISTER sip:j%C3%BCrgen@example.org SIP/2.0"));
        assertThat(escaped.requestUri().user()).isEqualTo("jürgen");
    }

    /**
     * RFC 3261 §7.3.1 and §25: SIP text is UTF-8 (a display-name may hold any of it); a byte
     * sequence that is not UTF-8 in a request's header is 400 naming the header, and the 400 copies
     * its From, To... with that sequence as U+FFFD, so what the node sends is UTF-8. It was accepted
     * and forwarded with U+FFFD in place of what the sender wrote.
     */
    @Test
    void aRequestHeaderThatIsNotUtf8Is400AndValidUtf8IsKept() throws Exception {
        SipRequest utf8 = (SipRequest) parse(REGISTER.replace("From: Alice <", "From: \"Jürgen Ωμέγα 日本\" <"));
        assertThat(utf8.from().displayName()).isEqualTo("Jürgen Ωμέγα 日本");

        byte[] latin1From = withRawByte(REGISTER.replace("From: Alice <", "From: \"J¤rgen\" <"), 0xfc);
        byte[] truncated = withRawByte(REGISTER.replace("From: Alice <", "From: \"J¤rgen\" <"), 0xc3);
        byte[] foldedUserAgent = withRawByte(REGISTER.replace("Max-Forwards: 70\r\n",
                "Max-Forwards: 70\r\nUser-Agent: phone\r\n build ¤\r\n"), 0xff);
        String[] named = {"From", "From", "User-Agent"};
        byte[][] requests = {latin1From, truncated, foldedUserAgent};
        for (int i = 0; i < requests.length; i++) {
            byte[] bytes = requests[i];
            String header = named[i];
            SipParseException e = refusal(bytes);
            assertThat(e.responseStatus()).isEqualTo(400);
            assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - header " + header + " is not UTF-8");
            byte[] answer = e.errorResponse().encode();
            assertThat(strictUtf8(answer)).contains("Call-ID: a84b4c76e66710@pc33.example.org\r\n");
            assertThat(((SipResponse) SipParser.parse(answer)).status()).isEqualTo(400);
        }
    }

    /**
     * A request within a dialog (To has a tag) is read with U+FFFD: refusing the BYE of a call set
     * up before the check existed, from a device sending Latin-1, would leave the call hanging.
     */
    @Test
    void aRequestWithinADialogThatIsNotUtf8IsStillRead() throws Exception {
        String bye = "BYE sip:alice@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n"
                + "From: <sip:b@b>;tag=2\r\nTo: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n"
                + "User-Agent: T¤l¤phone\r\nContent-Length: 0\r\n\r\n";
        SipRequest read = (SipRequest) SipParser.parse(withRawByte(bye, 0xe9));
        assertThat(read.method()).isEqualTo("BYE");
        assertThat(read.headers().get("User-Agent")).isEqualTo("T\uFFFDl\uFFFDphone");
        SipParseException e = refusal(withRawByte(bye.replace("To: <sip:a@b>;tag=1", "To: <sip:a@b>"), 0xe9));
        assertThat(e.errorResponse().reason()).isEqualTo("Bad Request - header User-Agent is not UTF-8");
    }

    /**
     * Only the head is text: a body is the bytes of its Content-Type (RFC 3261 §7.4). A response is
     * never answered (§8.2.6.2 is for requests) and dropping one would turn a device's 486 into a
     * timeout: one with a reason phrase or a display-name in Latin-1 is read, the sequence as U+FFFD.
     */
    @Test
    void aBodyOrAResponseThatIsNotUtf8IsStillRead() throws Exception {
        byte[] body = withRawByte(REGISTER.replace("Content-Length: 0\r\n\r\n",
                "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\na¤b"), 0xff);
        assertThat(SipParser.parse(body).body()).containsExactly('a', 0xff, 'b');
        String busy = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                + "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
                + "Content-Length: 0\r\n\r\n";
        for (String latin1 : new String[]{busy.replace("Busy Here", "Occup¤"), busy.replace("To: <", "To: \"Ren¤\" <")}) {
            SipResponse read = (SipResponse) SipParser.parse(withRawByte(latin1, 0xe9));
            assertThat(read.status()).isEqualTo(486);
            assertThat(read.encode()).asString(StandardCharsets.UTF_8).contains("\uFFFD");
        }
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
