package io.switchboard.sip.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.switchboard.sip.codec.TortureExpectation.Outcome;
import io.switchboard.sip.message.CSeq;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The parser against the torture-test messages of RFC 4475 (section 3.1, parser tests: 13 valid and
 * 19 invalid messages) and RFC 5118 (section 4, IPv6). The vectors live under
 * {@code src/test/resources/torture/} as the exact octets of a datagram; the verdict each RFC asks
 * for is in {@code torture/expectations.csv} (see {@link TortureExpectation}) and
 * {@code torture/README.md} says where the octets come from.
 */
class TortureVectorsTest {

    private static final String BOUNDARY = "7a9cbec02ceef655";

    static Stream<TortureExpectation> vectors() {
        return TortureExpectation.load().stream();
    }

    // ------------------------------------------------------------------------------------------
    // The parser's verdict
    // ------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void parserGivesTheVerdictTheRfcAsksFor(TortureExpectation v) {
        byte[] data = v.bytes();
        switch (v.outcome()) {
            case ACCEPT -> {
                SipMessage m = parseOrFail(v, data);
                checkCommon(v, m, data);
                checkFacts(v.name(), m, data);
            }
            case REJECT -> assertThatThrownBy(() -> SipParser.parse(data))
                    .as("%s must be rejected (%s)", v, v.notes())
                    .isInstanceOfSatisfying(SipParseException.class, e -> checkRejection(v, e));
            case ACCEPT_OR_REJECT -> {
                SipMessage m;
                try {
                    m = SipParser.parse(data);
                } catch (SipParseException e) {
                    checkRejection(v, e);
                    return;
                }
                checkCommon(v, m, data);
                checkFacts(v.name(), m, data);
            }
        }
    }

    private static SipMessage parseOrFail(TortureExpectation v, byte[] data) {
        try {
            return SipParser.parse(data);
        } catch (SipParseException e) {
            return fail("%s must parse (%s) but was rejected with %d \"%s\"", v, v.title(),
                    e.responseStatus(), e.reason());
        }
    }

    private static void checkRejection(TortureExpectation v, SipParseException e) {
        assertThat(e.responseStatus()).as("responseStatus for %s (reason \"%s\")", v, e.reason())
                .isIn(v.statuses());
        assertThat(e.reason()).as("reason for %s", v).isNotBlank();
    }

    /** What holds for every message that parses: the body is exactly the framed octets. */
    private static void checkCommon(TortureExpectation v, SipMessage m, byte[] data) {
        Framing f = Framing.of(data);
        assertThat(m.body()).as("body of %s", v).isEqualTo(f.body());
        assertThat(m.callId()).as("Call-ID of %s", v).isNotBlank();
        assertThat(m.vias()).as("Via of %s", v).isNotEmpty();
        assertThat(m.cseq()).as("CSeq of %s", v).isNotNull();
    }

    private static void checkFacts(String name, SipMessage m, byte[] data) {
        switch (name) {
            case "wsinv" -> wsinv(m);
            case "intmeth" -> intmeth(m);
            case "esc01" -> esc01(m);
            case "escnull" -> escnull(m);
            case "esc02" -> esc02(m);
            case "lwsdisp" -> lwsdisp(m);
            case "longreq" -> longreq(m);
            case "dblreq" -> dblreq(m, data);
            case "semiuri" -> semiuri(m);
            case "transports" -> transports(m);
            case "mpart01" -> mpart01(m);
            case "unreason" -> unreason(m);
            case "noreason" -> noreason(m);
            case "ipv6-good" -> ipv6Good(m);
            case "port-ambiguous" -> portAmbiguous(m);
            case "port-unambiguous" -> portUnambiguous(m);
            case "via-received-param-with-delim" -> viaReceivedWithDelim(m);
            case "via-received-param-no-delim" -> viaReceivedNoDelim(m);
            case "ipv6-in-sdp" -> ipv6InSdp(m);
            case "mult-ip-in-header" -> multIpInHeader(m);
            case "mult-ip-in-sdp" -> multIpInSdp(m);
            case "ipv4-mapped-ipv6" -> ipv4MappedIpv6(m);
            case "ipv6-bug-abnf-3-colons" -> ipv6ThreeColons(m);
            case "ipv6-correct-abnf-2-colons" -> ipv6TwoColons(m);
            default -> fail("no facts for accepted vector " + name);
        }
    }

    // ------------------------------------------------------------------------------------------
    // RFC 4475 3.1.1: facts each section calls out
    // ------------------------------------------------------------------------------------------

    private static void wsinv(SipMessage m) {
        SipRequest r = request(m, "INVITE");
        assertThat(r.requestUri().scheme()).isEqualTo("sip");
        assertThat(r.requestUri().user()).isEqualTo("vivekg");
        assertThat(r.requestUri().host()).isEqualTo("chair-dnrc.example.com");
        assertThat(r.requestUri().param("unknownparam")).as("valueless unknown Request-URI param").isEqualTo("");
        assertThat(m.maxForwards()).as("Max-Forwards 0068").isEqualTo(68);
        assertThat(m.cseq()).as("cseq: 0009 <fold> INVITE").isEqualTo(new CSeq(9, "INVITE"));
        assertThat(m.callId()).isEqualTo("wsinv.ndaksdj@192.0.2.1");

        NameAddress to = m.to();
        assertThat(to.displayName()).as("To has no display name").isNull();
        assertThat(to.uri().user()).isEqualTo("vivekg");
        assertThat(to.uri().host()).isEqualTo("chair-dnrc.example.com");
        assertThat(to.tag()).isEqualTo("1918181833n");

        NameAddress from = m.from();
        assertThat(from.displayName()).as("quoted-pairs \\\\ and \\\" unescaped").isEqualTo("J Rosenberg \\\"");
        assertThat(from.uri().user()).isEqualTo("jdrosen");
        assertThat(from.uri().host()).isEqualTo("example.com");
        assertThat(from.tag()).isEqualTo("98asjd8");

        // one Via header plus two comma-separated values in a compact "v" header
        List<Via> vias = m.vias();
        assertThat(vias).hasSize(3);
        assertVia(vias.get(0), "UDP", "192.0.2.2", -1, "390skdjuw");
        assertVia(vias.get(1), "TCP", "spindle.example.com", -1, "z9hG4bK9ikj8");
        assertVia(vias.get(2), "UDP", "192.168.255.111", -1, "z9hG4bK30239");

        List<NameAddress> contacts = m.contacts();
        assertThat(contacts).hasSize(1);
        NameAddress c = contacts.get(0);
        assertThat(c.displayName()).isEqualTo("Quoted string \"\"");
        assertThat(c.uri().user()).isEqualTo("jdrosen");
        assertThat(c.param("newparam")).isEqualTo("newvalue");
        assertThat(c.param("secondparam")).as("header param without value").isEqualTo("");
        assertThat(c.param("q")).isEqualTo("0.33");

        assertThat(m.header("Subject")).as("empty Subject (compact s)").isNotNull().isBlank();
        assertThat(m.header("s")).isNotNull().isBlank();
        assertThat(lws(m.header("NewFangledHeader"))).isEqualTo("newfangled value continued newfangled value");
        assertThat(m.header("UnknownHeaderWithUnusualValue")).isEqualTo(";;,,;;,;");
        assertThat(m.header("content-type")).isEqualTo("application/sdp");
        assertThat(m.header("Route")).contains("sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assertThat(m.body()).hasSize(150);
    }

    private static void intmeth(SipMessage m) {
        String method = "!interesting-Method0123456789_*+`.%indeed'~";
        SipRequest r = request(m, method);
        assertThat(r.requestUri().scheme()).isEqualTo("sip");
        assertThat(r.requestUri().user()).isEqualTo("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
        assertThat(r.requestUri().host()).isEqualTo("example.com");
        assertThat(m.cseq()).isEqualTo(new CSeq(139122385, method));
        assertThat(m.maxForwards()).isEqualTo(255);
        assertThat(m.callId()).as("% \" <> () are not special in a Call-ID")
                .isEqualTo("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
        assertThat(m.vias()).hasSize(1);
        assertVia(m.vias().get(0), "TCP", "host1.example.com", -1, "z9hG4bK-.!%66*_+`'~");

        assertThat(m.to().displayName()).as("quoted BEL, NUL and DEL").isEqualTo("BEL:\u0007 NUL:\u0000 DEL:\u007F");
        assertThat(m.to().uri().user()).isEqualTo("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
        assertThat(m.from().displayName()).as("display name of several tokens")
                .isEqualTo("token1~` token2'+_ token3*%!.-");
        assertThat(m.from().uri().user()).isEqualTo("mundane");
        assertThat(m.from().tag()).isEqualTo("_token~1'+`*%!-.");
        assertThat(m.from().param("fromParam''~+*_!.-%")).as("UTF-8 quoted-string param").contains("работающий");
        assertThat(m.header("extensionHeader-!.%*+_`'~")).as("UTF-8 value of an extension header")
                .isEqualTo("\uFEFF大停電");
        assertThat(m.body()).isEmpty();
    }

    private static void esc01(SipMessage m) {
        SipRequest r = request(m, "INVITE");
        assertThat(r.requestUri().user()).as("%3A and %40 unescaped").isEqualTo("sips:user@example.com");
        assertThat(r.requestUri().host()).isEqualTo("example.net");
        assertThat(m.to().uri().user()).isEqualTo("user");
        assertThat(m.from().uri().user()).isEqualTo("I have spaces");
        assertThat(m.from().tag()).isEqualTo("938");
        assertThat(m.maxForwards()).isEqualTo(87);
        assertThat(m.callId()).as("compact i").isEqualTo("esc01.239409asdfakjkn23onasd0-3234");
        assertThat(m.cseq()).isEqualTo(new CSeq(234234, "INVITE"));
        assertThat(m.header("Content-Type")).as("compact C").isEqualTo("application/sdp");
        assertThat(m.contacts()).hasSize(1);
        SipUri contact = m.contacts().get(0).uri();
        assertThat(contact.user()).isEqualTo("caller");
        assertThat(contact.host()).isEqualTo("host5.example.net");
        assertThat(uriParam(contact, "lr")).as("uri param %6C%72").isEqualTo("");
        assertThat(uriParam(contact, "name")).as("n%61me=v%61lue%25%34%31 is name=value%41, not valueA")
                .isEqualTo("value%41");
        assertThat(m.body()).hasSize(150);
    }

    private static void escnull(SipMessage m) {
        request(m, "REGISTER");
        assertThat(m.to().uri().user()).isEqualTo("null-\u0000-null");
        assertThat(m.from().uri().user()).isEqualTo("null-\u0000-null");
        assertThat(m.from().tag()).isEqualTo("839923423");
        assertThat(m.cseq()).isEqualTo(new CSeq(14398234, "REGISTER"));
        List<NameAddress> contacts = m.contacts();
        assertThat(contacts).as("two distinct contacts").hasSize(2);
        assertThat(contacts.get(0).uri().user()).isEqualTo("\u0000");
        assertThat(contacts.get(1).uri().user()).isEqualTo("\u0000\u0000");
        assertThat(contacts.get(0).uri().host()).isEqualTo("host5.example.com");
        assertThat(m.body()).isEmpty();
    }

    private static void esc02(SipMessage m) {
        SipRequest r = request(m, "RE%47IST%45R");
        assertThat(r.requestUri().host()).isEqualTo("registrar.example.com");
        assertThat(m.cseq()).isEqualTo(new CSeq(29344, "RE%47IST%45R"));
        assertThat(m.to().displayName()).isEqualTo("%Z%45");
        assertThat(m.from().displayName()).isEqualTo("%Z%45");
        assertThat(m.from().tag()).isEqualTo("f232jadfj23");
        assertVia(m.vias().get(0), "TCP", "host.example.com", -1, "z9hG4bK209%fzsnel234");
        assertThat(m.contacts()).as("C%6Fntact is not Contact")
                .extracting(c -> c.uri().user()).containsExactly("alias1", "alias3");
        assertThat(m.header("C%6Fntact")).isEqualTo("<sip:alias2@host2.example.com>");
        assertThat(m.maxForwards()).isEqualTo(70);
    }

    private static void lwsdisp(SipMessage m) {
        request(m, "OPTIONS");
        assertThat(m.from().displayName()).isEqualTo("caller");
        assertThat(m.from().uri().user()).isEqualTo("caller");
        assertThat(m.from().uri().host()).isEqualTo("example.com");
        assertThat(m.from().tag()).isEqualTo("323");
        assertThat(m.cseq()).isEqualTo(new CSeq(60, "OPTIONS"));
    }

    private static void longreq(SipMessage m) {
        request(m, "INVITE");
        NameAddress to = m.to();
        assertThat(to.displayName()).isEqualTo("I have a user name of " + "extreme".repeat(10) + " proportion");
        assertThat(to.uri().port()).isEqualTo(6000);
        assertThat(to.uri().param("unknownparam1")).isEqualTo("very" + "long".repeat(20) + "value");
        assertThat(to.uri().param("longparam" + "name".repeat(25))).isEqualTo("shortvalue");
        assertThat(to.uri().param("very" + "long".repeat(25) + "ParameterNameWithNoValue")).isEqualTo("");

        NameAddress from = m.from();
        assertThat(from.uri().user()).isEqualTo("amazinglylongcallername".repeat(5));
        assertThat(from.tag()).isEqualTo("12" + "982".repeat(50) + "424");
        assertThat(from.param("unknownheaderparam" + "name".repeat(20)))
                .isEqualTo("unknowheaderparam" + "value".repeat(15));
        assertThat(from.param("unknownValueless" + "paramname".repeat(10))).isEqualTo("");

        assertThat(m.callId()).isEqualTo("longreq.one" + "really".repeat(20) + "longcallid");
        assertThat(m.cseq()).isEqualTo(new CSeq(3882340, "INVITE"));
        assertThat(lws(m.header("Unknown-" + "Long".repeat(20) + "-Name"))).isEqualTo(
                "unknown-" + "long".repeat(20) + "-value; unknown-" + "long".repeat(20)
                        + "-parameter-name = unknown-" + "long".repeat(20) + "-parameter-value");

        List<Via> vias = m.vias();
        assertThat(vias).as("Via, v, V, ViA, \"Via  :\" ... all one header").hasSize(34);
        for (int i = 0; i < 33; i++) {
            assertVia(vias.get(i), "TCP", "sip" + (33 - i) + ".example.com", -1, null);
        }
        assertVia(vias.get(33), "TCP", "host.example.com", -1, "very" + "long".repeat(50) + "branchvalue");
        assertThat(vias.get(33).param("received")).isEqualTo("192.0.2.5");

        assertThat(m.maxForwards()).isEqualTo(70);
        assertThat(m.contacts()).singleElement().satisfies(c -> {
            assertThat(c.uri().user()).isEqualTo("amazinglylongcallername".repeat(5));
            assertThat(c.uri().host()).isEqualTo("host5.example.net");
        });
        assertThat(m.body()).hasSize(150);
    }

    private static void dblreq(SipMessage m, byte[] data) {
        request(m, "REGISTER");
        assertThat(m.body()).as("Content-Length 0: the INVITE-looking octets are noise").isEmpty();
        assertThat(new String(data, StandardCharsets.US_ASCII)).contains("\r\nINVITE sip:joe@example.com SIP/2.0\r\n");
        assertThat(m.callId()).as("compact I").isEqualTo("dblreq.0ha0isndaksdj99sdfafnl3lk233412");
        assertThat(m.cseq()).isEqualTo(new CSeq(8, "REGISTER"));
        assertThat(m.maxForwards()).isEqualTo(8);
        assertThat(m.vias()).hasSize(1);
        assertVia(m.vias().get(0), "UDP", "192.0.2.125", -1, "z9hG4bKkdjuw23492");
        assertThat(m.contacts()).singleElement().satisfies(c -> {
            assertThat(c.uri().user()).isEqualTo("j.user");
            assertThat(c.uri().host()).isEqualTo("host.example.com");
        });
        assertThat(m.header("Content-Type")).as("the INVITE's header fields must not leak in").isNull();
        assertThat(m.headerValues("To")).as("To (and compact t) of the REGISTER only")
                .singleElement().satisfies(to -> assertThat(to).contains("j.user@example.com"));
        assertThat(m.headerValues("CSeq")).singleElement().satisfies(c -> assertThat(c).contains("REGISTER"));
        assertThat(m.to().uri().user()).isEqualTo("j.user");
    }

    private static void semiuri(SipMessage m) {
        SipRequest r = request(m, "OPTIONS");
        assertThat(r.requestUri().user()).as("user part holds ;par=u%40example.net").isEqualTo("user;par=u@example.net");
        assertThat(r.requestUri().host()).isEqualTo("example.com");
        assertThat(r.requestUri().param("par")).as("par is not a uri-parameter").isNull();
        assertThat(m.headerValues("Accept")).extracting(String::trim).containsExactly(
                "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
                "message/sip", "message/sipfrag");
        assertThat(m.maxForwards()).isEqualTo(3);
    }

    private static void transports(SipMessage m) {
        request(m, "OPTIONS");
        assertThat(m.vias()).extracting(Via::transport)
                .containsExactly("UDP", "SCTP", "TLS", "UNKNOWN", "TCP");
        assertThat(m.vias()).extracting(Via::host)
                .containsExactly("t1.example.com", "t2.example.com", "t3.example.com", "t4.example.com", "t5.example.com");
        assertThat(m.vias()).extracting(Via::branch).containsExactly("z9hG4bKkdjuw", "z9hG4bKklasjdhf",
                "z9hG4bK2980unddj", "z9hG4bKasd0f3en", "z9hG4bK0a9idfnee");
        assertThat(m.callId()).isEqualTo("transports.kijh4akdnaqjkwendsasfdj");
    }

    private static void mpart01(SipMessage m) {
        request(m, "MESSAGE");
        byte[] body = m.body();
        assertThat(body).as("body length equals Content-Length").hasSize(553);
        assertThat(Integer.parseInt(m.header("Content-Length").trim())).isEqualTo(body.length);
        String text = new String(body, StandardCharsets.ISO_8859_1);
        assertThat(text).startsWith("--" + BOUNDARY + "\r\nContent-Type: text/plain\r\n")
                .endsWith("\r\n--" + BOUNDARY + "--\r\n")
                .contains("\r\n\r\nHello\r\n--" + BOUNDARY + "\r\n");
        int der = text.indexOf("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n");
        assertThat(der).isPositive();
        int start = text.indexOf("\r\n\r\n", der) + 4;
        assertThat(Arrays.copyOfRange(body, start, start + 4)).as("DER SEQUENCE of 0x152 octets")
                .containsExactly(0x30, 0x82, 0x01, 0x52);
        assertThat(body.length - start).isEqualTo(342 + ("\r\n--" + BOUNDARY + "--\r\n").length());
        assertThat(text).contains("\u0000");
        assertThat(m.header("Content-Type")).startsWith("multipart/mixed").contains("boundary=" + BOUNDARY);
        assertThat(m.header("Identity")).startsWith("r5mwreLuyDRYBi/0TiPwEsY3rEVsk").endsWith("MWYUA=");
        assertVia(m.vias().get(0), "UDP", "127.0.0.1", 5070, "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-");
        assertThat(m.vias().get(0).param("rport")).isEqualTo("");
        assertThat(m.contacts().get(0).uri().port()).isEqualTo(5070);
        assertThat(m.cseq()).isEqualTo(new CSeq(1, "MESSAGE"));
    }

    private static void unreason(SipMessage m) {
        SipResponse r = response(m, 200);
        assertThat(r.reason()).isEqualTo("= 2**3 * 5**2 но сто девяносто девять - простое");
        assertThat(m.cseq()).isEqualTo(new CSeq(35, "INVITE"));
        assertVia(m.vias().get(0), "UDP", "192.0.2.198", -1, "z9hG4bK1324923");
        assertThat(m.to().tag()).isEqualTo("2229");
        assertThat(m.body()).hasSize(154);
    }

    private static void noreason(SipMessage m) {
        SipResponse r = response(m, 100);
        assertThat(r.reason()).as("empty reason phrase").isEqualTo("");
        assertThat(m.to().tag()).isEqualTo("902jndnke3");
        assertThat(m.from().tag()).isEqualTo("39ansfi3");
        assertThat(m.body()).isEmpty();
    }

    // ------------------------------------------------------------------------------------------
    // RFC 5118 section 4
    // ------------------------------------------------------------------------------------------

    private static void ipv6Good(SipMessage m) {
        SipRequest r = request(m, "REGISTER");
        assertThat(r.requestUri().host()).isEqualTo("[2001:db8::10]");
        assertThat(r.requestUri().port()).isEqualTo(-1);
        assertVia(m.vias().get(0), "UDP", "[2001:db8::9:1]", -1, "z9hG4bKas3-111");
        assertThat(m.contacts()).singleElement().satisfies(c -> {
            assertThat(c.displayName()).isEqualTo("Caller");
            assertThat(c.uri().user()).isEqualTo("caller");
            assertThat(c.uri().host()).isEqualTo("[2001:db8::1]");
            assertThat(c.uri().port()).isEqualTo(-1);
        });
    }

    private static void portAmbiguous(SipMessage m) {
        SipRequest r = request(m, "REGISTER");
        assertThat(r.requestUri().host()).as("5070 is the last group of the address, not a port")
                .isEqualTo("[2001:db8::10:5070]");
        assertThat(r.requestUri().port()).isEqualTo(-1);
    }

    private static void portUnambiguous(SipMessage m) {
        SipRequest r = request(m, "REGISTER");
        assertThat(r.requestUri().host()).isEqualTo("[2001:db8::10]");
        assertThat(r.requestUri().port()).isEqualTo(5070);
        assertThat(m.contacts().get(0).uri().host()).isEqualTo("[2001:db8::1]");
    }

    private static void viaReceivedWithDelim(SipMessage m) {
        SipRequest r = request(m, "BYE");
        assertThat(r.requestUri().host()).isEqualTo("[2001:db8::10]");
        Via top = m.vias().get(0);
        assertVia(top, "UDP", "[2001:db8::9:1]", -1, "z9hG4bKas3-111");
        assertThat(top.param("received")).contains("2001:db8::9:255");
        assertThat(m.cseq()).isEqualTo(new CSeq(321, "BYE"));
    }

    private static void viaReceivedNoDelim(SipMessage m) {
        request(m, "OPTIONS");
        Via top = m.vias().get(0);
        assertVia(top, "UDP", "[2001:db8::9:1]", -1, "z9hG4bKas3");
        assertThat(top.param("received")).isEqualTo("2001:db8::9:255");
        assertThat(m.contacts().get(0).uri().host()).isEqualTo("[2001:db8::9:1]");
    }

    private static void ipv6InSdp(SipMessage m) {
        SipRequest r = request(m, "INVITE");
        assertThat(r.requestUri().user()).isEqualTo("user");
        assertThat(r.requestUri().host()).isEqualTo("[2001:db8::10]");
        assertThat(m.to().uri().host()).isEqualTo("[2001:db8::10]");
        assertVia(m.vias().get(0), "UDP", "[2001:db8::20]", -1, "z9hG4bKas3-111");
        assertThat(m.contacts().get(0).uri().host()).isEqualTo("[2001:db8::20]");
        assertThat(m.body()).hasSize(251);
        assertThat(new String(m.body(), StandardCharsets.US_ASCII)).contains("\r\nc=IN IP6 2001:db8::20\r\n");
    }

    private static void multIpInHeader(SipMessage m) {
        SipRequest r = request(m, "BYE");
        assertThat(r.requestUri().host()).isEqualTo("host.example.net");
        List<Via> vias = m.vias();
        assertThat(vias).hasSize(3);
        assertVia(vias.get(0), "UDP", "[2001:db8::9:1]", 6050, "z9hG4bKas3-111");
        assertVia(vias.get(1), "UDP", "192.0.2.1", -1, "z9hG4bKjhja8781hjuaij65144");
        assertVia(vias.get(2), "TCP", "[2001:db8::9:255]", -1, "z9hG4bK451jj");
        assertThat(vias.get(2).param("received")).isEqualTo("192.0.2.200");
    }

    private static void multIpInSdp(SipMessage m) {
        request(m, "INVITE");
        assertVia(m.vias().get(0), "UDP", "[2001:db8::9:1]", -1, "z9hG4bKas3-111");
        assertThat(m.contacts().get(0).uri().host()).isEqualTo("[2001:db8::9:1]");
        assertThat(m.body()).hasSize(189);
        assertThat(new String(m.body(), StandardCharsets.US_ASCII))
                .contains("\r\nc=IN IP4 192.0.2.1\r\n").contains("\r\nc=IN IP6 2001:db8::1\r\n");
    }

    private static void ipv4MappedIpv6(SipMessage m) {
        SipRequest r = request(m, "INVITE");
        assertThat(r.requestUri().host()).isEqualTo("example.com");
        List<Via> vias = m.vias();
        assertThat(vias).hasSize(2);
        assertVia(vias.get(0), "UDP", "[::ffff:192.0.2.10]", 19823, "z9hG4bKbh19");
        assertVia(vias.get(1), "UDP", "[::ffff:192.0.2.2]", -1, "z9hG4bKas3-111");
        assertThat(m.contacts()).singleElement().satisfies(c -> {
            assertThat(c.displayName()).isEqualTo("T. desk phone");
            assertThat(c.uri().user()).isEqualTo("ted");
            assertThat(c.uri().host()).isEqualTo("[::ffff:192.0.2.2]");
        });
        assertThat(m.body()).hasSize(245);
    }

    private static void ipv6ThreeColons(SipMessage m) {
        SipRequest r = request(m, "OPTIONS");
        // robust parsing may keep the extra colon or drop it (RFC 5118 4.10)
        assertThat(r.requestUri().host()).isIn("[2001:db8:::192.0.2.1]", "[2001:db8::192.0.2.1]");
        assertThat(r.requestUri().user()).isEqualTo("user");
    }

    private static void ipv6TwoColons(SipMessage m) {
        SipRequest r = request(m, "OPTIONS");
        assertThat(r.requestUri().user()).isEqualTo("user");
        assertThat(r.requestUri().host()).isEqualTo("[2001:db8::192.0.2.1]");
        assertThat(r.requestUri().port()).isEqualTo(-1);
        assertThat(m.to().uri().host()).isEqualTo("[2001:db8::192.0.2.1]");
        assertVia(m.vias().get(0), "UDP", "lab1.east.example.com", -1, "z9hG4bKas3-111");
    }

    // ------------------------------------------------------------------------------------------
    // The vectors themselves (independent of the parser)
    // ------------------------------------------------------------------------------------------

    @Test
    void everyVectorFileHasExactlyOneRow() throws Exception {
        List<TortureExpectation> rows = TortureExpectation.load();
        Map<String, Long> perFile = rows.stream().collect(Collectors.groupingBy(TortureExpectation::file, Collectors.counting()));
        assertThat(perFile).allSatisfy((file, n) -> assertThat(n).as(file).isEqualTo(1L));
        assertThat(vectorFiles()).containsExactlyInAnyOrderElementsOf(perFile.keySet());

        List<TortureExpectation> valid4475 = rows.stream().filter(r -> r.section().startsWith("3.1.1.")).toList();
        List<TortureExpectation> invalid4475 = rows.stream().filter(r -> r.section().startsWith("3.1.2.")).toList();
        List<TortureExpectation> ipv6 = rows.stream().filter(r -> r.rfc().equals("5118")).toList();
        assertThat(valid4475).as("RFC 4475 3.1.1.1-13").hasSize(13).allMatch(r -> r.outcome() == Outcome.ACCEPT);
        assertThat(invalid4475).as("RFC 4475 3.1.2.1-19").hasSize(19).allMatch(r -> r.outcome() == Outcome.REJECT);
        assertThat(ipv6).as("RFC 5118 4.1-4.10").hasSize(12);
        assertThat(rows).filteredOn(r -> r.outcome() != Outcome.ACCEPT)
                .allSatisfy(r -> assertThat(r.statuses()).as(r.toString()).isNotEmpty());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("vectors")
    void vectorIsFramedAsTheRfcIntends(TortureExpectation v) {
        byte[] data = v.bytes();
        Framing f = Framing.of(data);
        assertThat(f.bareLineBreaks()).as("every header line of %s ends in CRLF", v).isZero();
        switch (v.name()) {
            case "clerr" -> {
                assertThat(f.contentLength()).isEqualTo(9999);
                assertThat(f.available()).as("far fewer octets than announced").isEqualTo(154);
            }
            case "ncl" -> assertThat(f.contentLength()).isEqualTo(-999);
            case "dblreq" -> {
                assertThat(f.contentLength()).isZero();
                assertThat(new String(data, f.headerEnd(), f.available(), StandardCharsets.US_ASCII))
                        .as("octets after the REGISTER").startsWith("\r\nINVITE sip:joe@example.com SIP/2.0\r\n");
            }
            default -> {
                if (v.outcome() != Outcome.REJECT || f.contentLength() != null) {
                    assertThat(f.contentLength()).as("Content-Length of %s", v).isNotNull();
                    assertThat(f.available()).as("body octets of %s equal its Content-Length", v)
                            .isEqualTo(f.contentLength());
                }
            }
        }
    }

    @Test
    void vectorsAreTheCheckedInOctets() throws Exception {
        Map<String, String> expected = new TreeMap<>();
        try (InputStream in = TortureVectorsTest.class.getResourceAsStream(TortureExpectation.ROOT + "SHA256SUMS")) {
            assertThat(in).as("torture/SHA256SUMS").isNotNull();
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (!line.isBlank()) {
                    String[] f = line.trim().split("\\s+\\*?", 2);
                    expected.put(f[1], f[0]);
                }
            }
        }
        Map<String, String> actual = new TreeMap<>();
        for (TortureExpectation v : TortureExpectation.load()) {
            actual.put(v.file(), sha256(v.bytes()));
        }
        assertThat(actual).as("a vector's octets changed (line-ending conversion?)").isEqualTo(expected);
    }

    // ------------------------------------------------------------------------------------------
    // helpers
    // ------------------------------------------------------------------------------------------

    private static SipRequest request(SipMessage m, String method) {
        assertThat(m).isInstanceOf(SipRequest.class);
        SipRequest r = (SipRequest) m;
        assertThat(r.method()).as("method").isEqualTo(method);
        return r;
    }

    private static SipResponse response(SipMessage m, int status) {
        assertThat(m).isInstanceOf(SipResponse.class);
        SipResponse r = (SipResponse) m;
        assertThat(r.status()).as("status").isEqualTo(status);
        return r;
    }

    private static void assertVia(Via via, String transport, String host, int port, String branch) {
        assertThat(via.transport()).as("Via transport").isEqualToIgnoringCase(transport);
        assertThat(via.host()).as("Via host").isEqualToIgnoringCase(host);
        assertThat(via.port()).as("Via port of %s", host).isEqualTo(port);
        if (branch != null) {
            assertThat(via.branch()).as("Via branch of %s", host).isEqualTo(branch);
        }
    }

    /** Collapses linear white space (including folds) to single spaces. */
    private static String lws(String value) {
        assertThat(value).isNotNull();
        return value.replaceAll("[ \\t\\r\\n]+", " ").trim();
    }

    /**
     * The value of a uri-parameter with the RFC's semantics (escapes decoded exactly once), whether
     * the parser keeps parameters escaped or decodes them: a name found as-is is taken as decoded.
     */
    private static String uriParam(SipUri uri, String name) {
        Map<String, String> params = uri.params();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (e.getKey().equalsIgnoreCase(name)) {
                return e.getValue() == null ? "" : e.getValue();
            }
        }
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (pctDecode(e.getKey()).equalsIgnoreCase(name)) {
                return e.getValue() == null ? "" : pctDecode(e.getValue());
            }
        }
        return null;
    }

    private static String pctDecode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length()
                    && Character.digit(s.charAt(i + 1), 16) >= 0 && Character.digit(s.charAt(i + 2), 16) >= 0) {
                out.write(Integer.parseInt(s.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(b, 0, b.length);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static List<String> vectorFiles() throws IOException, URISyntaxException {
        URL root = TortureVectorsTest.class.getResource(TortureExpectation.ROOT);
        assertThat(root).isNotNull();
        Path dir = Path.of(root.toURI());
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile)
                    .map(p -> dir.relativize(p).toString().replace('\\', '/'))
                    .filter(p -> p.endsWith(".dat"))
                    .sorted().toList();
        }
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Where a datagram's header section ends and what its Content-Length says, found without the
     * parser under test.
     */
    private record Framing(int headerEnd, Integer contentLength, int available, int bareLineBreaks, byte[] data) {

        private static final Pattern CONTENT_LENGTH =
                Pattern.compile("(?i)^(?:content-length|l)[ \\t]*:[ \\t]*(-?\\d+)[ \\t]*$");

        static Framing of(byte[] data) {
            String text = new String(data, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            assertThat(end).as("end of header section").isPositive();
            String head = text.substring(0, end);
            int bare = 0;
            for (int i = 0; i < head.length(); i++) {
                char c = head.charAt(i);
                if ((c == '\n' && (i == 0 || head.charAt(i - 1) != '\r'))
                        || (c == '\r' && (i + 1 >= head.length() || head.charAt(i + 1) != '\n'))) {
                    bare++;
                }
            }
            Integer length = null;
            for (String line : head.replaceAll("\r\n[ \t]+", " ").split("\r\n")) {
                Matcher m = CONTENT_LENGTH.matcher(line);
                if (m.matches()) {
                    length = Integer.valueOf(m.group(1));
                }
            }
            return new Framing(end + 4, length, data.length - end - 4, bare, data);
        }

        /** The body as RFC 3261 18.3 frames it: Content-Length octets after the blank line. */
        byte[] body() {
            int n = contentLength == null ? available : Math.min(Math.max(contentLength, 0), available);
            return Arrays.copyOfRange(data, headerEnd, headerEnd + n);
        }
    }
}
