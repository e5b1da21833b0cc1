package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.browser.JsSipBrowser;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.clients.Linphonec;
import io.switchboard.server.clients.MediaProfile;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Who calls whom, with real clients nobody here wrote — baresip 1.0.0, linphonec (liblinphone
 * 5.1) and SIPp 3.6.1 from their Debian packages, JsSIP 3.13 in Debian's Chromium — through one
 * node on the default configuration: digest with one MD5 challenge, for REGISTER (401) and for
 * every call (407), no trusted peers. Every call is answered and torn down, seen on both ends and
 * in the call records.
 * <ul>
 * <li>Native phones over UDP and over TCP: baresip ↔ linphonec, SIPp → baresip, SIPp → linphonec
 * (SIPp signs the node's own address as the digest uri), baresip, linphonec and SIPp → SIPp (a
 * SIPp phone that registers and answers on one socket). Media (G.711 from a tone file) stays on
 * 127.0.0.1.</li>
 * <li>A browser over the WebSocket and native phones over UDP and over TCP: JsSIP ↔ baresip,
 * JsSIP ↔ linphonec and JsSIP ↔ SIPp, both directions, with the native phones set up for a
 * browser's media ({@link MediaProfile#WEBRTC}: DTLS-SRTP, ICE, rtcp-mux; SIPp sends such SDP). The node relays the SDP untouched;
 * Chromium gathers no ICE candidate (relay-only, no TURN server), so no media flows and none
 * leaves loopback: the signalling (INVITE, 200 with an SDP the other end accepts, ACK, BYE) is
 * what is tested.</li>
 * <li>A browser and phones on plain RTP (their defaults): the calls fail cleanly, with the
 * answer relayed to both ends and recorded; bridging them needs a media relay the node does not
 * have yet.</li>
 * </ul>
 * One Chromium serves every browser test of the class; each test starts its own native phones.
 */
class RealClientCallTest {
    private static final String DOMAIN = "intercom.test";
    private static final Duration STEP = Duration.ofSeconds(10);

    @TempDir
    static Path dir;
    static TelephonyNode node;
    static JsSipBrowser browser;

    @BeforeAll
    static void start() {
        node = new TelephonyNode(dir.resolve("node"), Map.of());
    }

    @AfterAll
    static void stop() {
        try {
            if (browser != null) {
                browser.close();
                assertThat(browser.startedProcesses()).as("Chromium's processes after close")
                        .filteredOn(ProcessHandle::isAlive).extracting(p -> p.pid() + " " + p.info()).isEmpty();
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    @Test
    void nativePhonesCallEachOtherOverUdp() throws Exception {
        nativePhonesCallEachOther(Transport.UDP);
    }

    @Test
    void nativePhonesCallEachOtherOverTcp() throws Exception {
        nativePhonesCallEachOther(Transport.TCP);
    }

    @Test
    void aBrowserAndWebRtcReadyPhonesOnUdpCallEachOther() throws Exception {
        browserAndPhonesCallEachOther(Transport.UDP);
    }

    @Test
    void aBrowserAndWebRtcReadyPhonesOnTcpCallEachOther() throws Exception {
        browserAndPhonesCallEachOther(Transport.TCP);
    }

    // ---------------------------------------------------------------- native phones

    private void nativePhonesCallEachOther(Transport transport) throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        Sipp.assumeAvailable();
        String t = transport.name().toLowerCase(Locale.ROOT);
        String bare = "bare-" + t;
        String linphone = "linphone-" + t;
        String sipp = "sipp-" + t;            // SIPp as a caller
        String sippPhone = "sipp-phone-" + t; // SIPp as a registered phone that answers
        for (String user : List.of(bare, linphone, sipp, sippPhone)) {
            addAccount(user, user + "-secret");
        }
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(transport));
        Sipp.Transport sippTransport = transport == Transport.TCP ? Sipp.Transport.TCP : Sipp.Transport.UDP;

        Baresip baresip = null;
        Linphonec linphonec = null;
        Sipp.Running phone = null;
        try {
            baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN, sip,
                    Baresip.Transport.valueOf(transport.name()), true);
            linphonec = Linphonec.start(dir.resolve(linphone), linphone, linphone + "-secret", DOMAIN, sip,
                    Linphonec.Transport.valueOf(transport.name()), true);
            // registers, answers the three calls placed to it below, unregisters
            phone = Sipp.scenario("uas_registered.xml").outOfCallScenario("uas_registered_ooc.xml")
                    .remote(sip).transport(sippTransport).service(sippPhone).auth(sippPhone, sippPhone + "-secret")
                    .set("answers", "3").calls(1).timeout(Duration.ofSeconds(60)).start();
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);
            assertRegisteredOver(bare, transport);
            assertRegisteredOver(linphone, transport);
            await().atMost(STEP).untilAsserted(() -> assertRegisteredOver(sippPhone, transport));

            // baresip calls linphonec, and hangs up
            double challenged = challenges();
            int mark = linphonec.mark();
            baresip.dial("sip:" + linphone + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(callLine(bare, "connected"), mark, STEP);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(callLine(bare, "ended"), mark, STEP);
            challenged = assertChallenged(bare, challenged);

            // linphonec calls baresip, and hangs up
            mark = linphonec.mark();
            linphonec.call("sip:" + bare + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(callLine(bare, "connected"), mark, STEP);
            linphonec.terminate();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(callLine(bare, "ended"), mark, STEP);
            challenged = assertChallenged(linphone, challenged);

            // SIPp calls baresip, then linphonec, and hangs up after a second
            Sipp.Result toBaresip = Sipp.scenario("uac_auth.xml").remote(sip).transport(sippTransport)
                    .service(bare).key("caller", sipp).auth(sipp, sipp + "-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(toBaresip.succeeded()).as(toBaresip.describe() + baresip.describe()).isTrue();
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            baresip.awaitEvent("CALL_CLOSED", STEP);
            challenged = assertChallenged(sipp, challenged);
            mark = linphonec.mark();
            Sipp.Result toLinphonec = Sipp.scenario("uac_auth.xml").remote(sip).transport(sippTransport)
                    .service(linphone).key("caller", sipp).auth(sipp, sipp + "-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(toLinphonec.succeeded()).as(toLinphonec.describe() + linphonec.describe()).isTrue();
            linphonec.awaitLine(callLine(sipp, "connected"), mark, STEP);
            linphonec.awaitLine(callLine(sipp, "ended"), mark, STEP);
            challenged = assertChallenged(sipp, challenged);

            // baresip, linphonec and the SIPp caller call the SIPp phone, and hang up
            baresip.dial("sip:" + sippPhone + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            challenged = assertChallenged(bare, challenged);
            mark = linphonec.mark();
            linphonec.call("sip:" + sippPhone + "@" + DOMAIN);
            linphonec.awaitLine(callLine(sippPhone, "connected"), mark, STEP);
            linphonec.terminate();
            linphonec.awaitLine(callLine(sippPhone, "ended"), mark, STEP);
            challenged = assertChallenged(linphone, challenged);
            Sipp.Result toSippPhone = Sipp.scenario("uac_auth.xml").remote(sip).transport(sippTransport)
                    .service(sippPhone).key("caller", sipp).auth(sipp, sipp + "-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(toSippPhone.succeeded()).as(toSippPhone.describe()).isTrue();
            assertChallenged(sipp, challenged);
            // the three calls answered and ended, then the phone unregistered (Expires: 0 with credentials)
            Sipp.Result answered = phone.await();
            assertThat(answered.succeeded()).as(answered.describe()).isTrue();
            assertThat(bindingOf(sippPhone)).as("%s's binding after it unregistered", sippPhone).isNull();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + (baresip == null ? "" : baresip.describe())
                    + (linphonec == null ? "" : linphonec.describe())
                    + (phone == null || phone.isAlive() ? "" : phone.await().describe()), e);
        } finally {
            if (phone != null) {
                phone.close();
            }
            if (baresip != null) {
                baresip.close();
            }
            if (linphonec != null) {
                linphonec.close();
            }
        }

        // every call was challenged (each checked above) and placed by the authenticated account, answered, completed
        // the caller as authenticated, the callee as the node resolved it
        List<String> expected = List.of(bare + " -> " + linphone, linphone + " -> " + bare, sipp + " -> " + bare,
                sipp + " -> " + linphone, bare + " -> " + sippPhone, linphone + " -> " + sippPhone,
                sipp + " -> " + sippPhone);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<String> completed = new ArrayList<>();
            for (JsonNode record : records()) {
                if (record.path("status").asText().equals("completed") && record.path("finalCode").asInt() == 200
                        && record.path("callee").asText().equals("sip:" + record.path("dialed").asText() + "@" + DOMAIN)) {
                    completed.add(record.path("caller").asText() + " -> " + record.path("dialed").asText());
                }
            }
            assertThat(completed).containsAll(expected);
        });
        assertNothingMalformed();
    }

    /** linphonec's line for a call with {@code user}: "Call 2 with sip:bare-udp@intercom.test connected." */
    private static Pattern callLine(String user, String state) {
        return Pattern.compile("Call \\d+ with sip:" + Pattern.quote(user) + "@\\S+ " + state);
    }

    // ---------------------------------------------------------------- a browser and native phones

    private void browserAndPhonesCallEachOther(Transport transport) throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        JsSipBrowser.assumeAvailable();
        String t = transport.name().toLowerCase(Locale.ROOT);
        String web = "browser-" + t;
        String bare = "bare-webrtc-" + t;
        String linphone = "linphone-webrtc-" + t;
        String sipp = "sipp-webrtc-" + t;
        String sippPhone = "sipp-phone-webrtc-" + t;
        for (String user : List.of(web, bare, linphone, sipp, sippPhone)) {
            addAccount(user, user + "-secret");
        }
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(transport));
        Sipp.Transport sippTransport = transport == Transport.TCP ? Sipp.Transport.TCP : Sipp.Transport.UDP;

        Baresip baresip = null;
        Linphonec linphonec = null;
        Sipp.Running phone = null;
        try {
            // a SIPp phone that answers the browser's call with a WebRTC answer, then unregisters
            phone = Sipp.scenario("uas_registered.xml").outOfCallScenario("uas_registered_webrtc_ooc.xml")
                    .remote(sip).transport(sippTransport).service(sippPhone).auth(sippPhone, sippPhone + "-secret")
                    .set("answers", "1").calls(1).timeout(Duration.ofSeconds(60)).start();
            baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN, sip,
                    Baresip.Transport.valueOf(transport.name()), true, MediaProfile.WEBRTC);
            linphonec = Linphonec.start(dir.resolve(linphone), linphone, linphone + "-secret", DOMAIN, sip,
                    Linphonec.Transport.valueOf(transport.name()), true, MediaProfile.WEBRTC);
            registerBrowser(web);
            browser().answerCalls(web, true);
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);
            assertRegisteredOver(bare, transport);
            assertRegisteredOver(linphone, transport);

            // 1. the browser calls baresip, and hangs up
            String call = browser().call(web, "sip:" + bare + "@" + DOMAIN);
            expectCall(web, call, "confirmed", "failed", "ended");
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            assertNoCandidates(web, call);
            browser().hangUp(web, call);
            assertThat(expectCall(web, call, "ended", "failed").path("originator").asText()).isEqualTo("local");
            baresip.awaitEvent("CALL_CLOSED", STEP);
            awaitRecord(call, web, bare, "completed", 200, "caller");

            // 2. baresip calls the browser, and hangs up
            int from = browser().events(web).size();
            baresip.dial("sip:" + web + "@" + DOMAIN);
            call = incomingCall(web, from, bare);
            expectCall(web, call, "confirmed", "failed", "ended");
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            assertNoCandidates(web, call);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            JsonNode ended = expectCall(web, call, "ended", "failed");
            assertThat(ended.path("originator").asText()).isEqualTo("remote");
            assertThat(ended.path("cause").asText()).isEqualTo("Terminated"); // JsSIP's cause for a BYE
            awaitRecord(call, bare, web, "completed", 200, "caller");

            // 3. the browser calls linphonec, which hangs up
            int mark = linphonec.mark();
            call = browser().call(web, "sip:" + linphone + "@" + DOMAIN);
            expectCall(web, call, "confirmed", "failed", "ended");
            linphonec.awaitLine(callLine(web, "connected"), mark, STEP);
            assertNoCandidates(web, call);
            linphonec.terminate();
            assertThat(expectCall(web, call, "ended", "failed").path("originator").asText()).isEqualTo("remote");
            linphonec.awaitLine(callLine(web, "ended"), mark, STEP);
            awaitRecord(call, web, linphone, "completed", 200, "callee");

            // 4. linphonec calls the browser, which hangs up
            mark = linphonec.mark();
            from = browser().events(web).size();
            linphonec.call("sip:" + web + "@" + DOMAIN);
            call = incomingCall(web, from, linphone);
            expectCall(web, call, "confirmed", "failed", "ended");
            linphonec.awaitLine(callLine(web, "connected"), mark, STEP);
            assertNoCandidates(web, call);
            browser().hangUp(web, call);
            assertThat(expectCall(web, call, "ended", "failed").path("originator").asText()).isEqualTo("local");
            linphonec.awaitLine(callLine(web, "ended"), mark, STEP);
            awaitRecord(call, linphone, web, "completed", 200, "callee");

            // 5. the browser calls the SIPp phone, and hangs up
            await().atMost(STEP).untilAsserted(() -> assertRegisteredOver(sippPhone, transport));
            call = browser().call(web, "sip:" + sippPhone + "@" + DOMAIN);
            expectCall(web, call, "confirmed", "failed", "ended");
            assertNoCandidates(web, call);
            browser().hangUp(web, call);
            assertThat(expectCall(web, call, "ended", "failed").path("originator").asText()).isEqualTo("local");
            Sipp.Result answered = phone.await();
            assertThat(answered.succeeded()).as(answered.describe()).isTrue();
            awaitRecord(call, web, sippPhone, "completed", 200, "caller");

            // 6. SIPp calls the browser with credentials and a WebRTC offer, and hangs up
            from = browser().events(web).size();
            Sipp.Result toBrowser = Sipp.scenario("uac_auth_webrtc_offer.xml").remote(sip).transport(sippTransport)
                    .service(web).key("caller", sipp).auth(sipp, sipp + "-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(toBrowser.succeeded()).as("%s\nevents: %s", toBrowser.describe(), browser().events(web)).isTrue();
            call = incomingCall(web, from, sipp);
            expectCall(web, call, "confirmed", "failed", "ended");
            assertNoCandidates(web, call);
            assertThat(expectCall(web, call, "ended", "failed").path("originator").asText()).isEqualTo("remote");
            awaitRecord(call, sipp, web, "completed", 200, "caller");
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + (baresip == null ? "" : baresip.describe())
                    + (linphonec == null ? "" : linphonec.describe())
                    + (phone == null || phone.isAlive() ? "" : phone.await().describe())
                    + (browser == null ? "" : browser.diagnostics()), e);
        } finally {
            if (phone != null) {
                phone.close();
            }
            if (baresip != null) {
                baresip.close();
            }
            if (linphonec != null) {
                linphonec.close();
            }
        }
        assertNothingMalformed();
    }

    /**
     * Phones on their defaults speak plain RTP (RTP/AVP), which a browser cannot take (it needs
     * ICE and DTLS-SRTP, RFC 8827), and they do not take a browser's offer either. The node relays
     * each refusal as it is: the call fails on both ends, nothing is left behind and the record says
     * how it ended. Bridging the two needs the media relay of a later issue.
     */
    @Test
    void aBrowserAndPhonesOnPlainRtpFailCleanlyBothWays() throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        JsSipBrowser.assumeAvailable();
        String web = "browser-rtp";
        String bare = "bare-rtp";
        String linphone = "linphone-rtp";
        for (String user : List.of(web, bare, linphone)) {
            addAccount(user, user + "-secret");
        }
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(Transport.UDP));

        Baresip baresip = null;
        Linphonec linphonec = null;
        try {
            baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN, sip,
                    Baresip.Transport.UDP, true, MediaProfile.RTP);
            linphonec = Linphonec.start(dir.resolve(linphone), linphone, linphone + "-secret", DOMAIN, sip,
                    Linphonec.Transport.UDP, true, MediaProfile.RTP);
            registerBrowser(web);
            browser().answerCalls(web, true);
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);

            // 1. baresip offers RTP/AVP: Chromium cannot apply it, JsSIP answers 488 Not Acceptable Here
            int from = browser().events(web).size();
            baresip.dial("sip:" + web + "@" + DOMAIN);
            String call = incomingCall(web, from, bare);
            JsonNode refused = expectCall(web, call, "failed", "confirmed", "ended");
            assertThat(refused.path("originator").asText()).isEqualTo("system");
            assertThat(refused.path("cause").asText()).isEqualTo("WebRTC Error");
            assertThat(baresip.awaitEvent("CALL_CLOSED", STEP).path("param").asText()).contains("488");
            awaitRecord(call, bare, web, "failed", 488, null);

            // 2. the browser offers UDP/TLS/RTP/SAVPF: baresip finds no common media and answers 488
            call = browser().call(web, "sip:" + bare + "@" + DOMAIN);
            JsonNode rejected = expectCall(web, call, "failed", "confirmed", "ended");
            assertThat(rejected.path("originator").asText()).isEqualTo("remote");
            assertThat(rejected.path("status").asInt()).isEqualTo(488);
            assertThat(rejected.path("cause").asText()).isEqualTo("Incompatible SDP");
            awaitRecord(call, web, bare, "failed", 488, null);

            // 3. linphonec offers RTP/AVP: the same 488 from JsSIP, and linphonec reports the error
            int mark = linphonec.mark();
            from = browser().events(web).size();
            linphonec.call("sip:" + web + "@" + DOMAIN);
            call = incomingCall(web, from, linphone);
            assertThat(expectCall(web, call, "failed", "confirmed", "ended").path("cause").asText())
                    .isEqualTo("WebRTC Error");
            linphonec.awaitLine(callLine(web, "error"), mark, STEP);
            awaitRecord(call, linphone, web, "failed", 488, null);

            // 4. linphonec answers the browser's offer with 200 and RTP/AVP, which Chromium cannot
            // apply: JsSIP acknowledges the 200 and hangs up at once (BYE), as RFC 3261 §13.2.2.4
            // leaves it no other way to end an answered INVITE; the record shows an answered call
            // ended by the caller within moments
            mark = linphonec.mark();
            call = browser().call(web, "sip:" + linphone + "@" + DOMAIN);
            JsonNode badAnswer = expectCall(web, call, "failed", "confirmed", "ended");
            assertThat(badAnswer.path("originator").asText()).isEqualTo("remote");
            assertThat(badAnswer.path("cause").asText()).isEqualTo("Bad Media Description");
            linphonec.awaitLine(callLine(web, "connected"), mark, STEP);
            linphonec.awaitLine(callLine(web, "ended"), mark, STEP);
            JsonNode record = awaitRecord(call, web, linphone, "completed", 200, "caller");
            assertThat(record.path("durationMs").asLong()).isLessThan(5_000);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + (baresip == null ? "" : baresip.describe())
                    + (linphonec == null ? "" : linphonec.describe())
                    + (browser == null ? "" : browser.diagnostics()), e);
        } finally {
            if (baresip != null) {
                baresip.close();
            }
            if (linphonec != null) {
                linphonec.close();
            }
        }
        assertThat(CallMeters.read(node.node.http().baseUrl()).active()).isZero();
        assertNothingMalformed();
    }

    // ---------------------------------------------------------------- the browser

    /** The class's one Chromium, launched by the first browser test. */
    private static synchronized JsSipBrowser browser() {
        if (browser == null) {
            browser = JsSipBrowser.launch();
        }
        return browser;
    }

    /** Opens a JsSIP phone for {@code user} over the node's WebSocket and waits until it registered. */
    private static void registerBrowser(String user) throws Exception {
        String wsUrl = node.node.http().baseUrl().replaceFirst("^http", "ws") + "/sip";
        browser().phone(user, wsUrl, "sip:" + user + "@" + DOMAIN, user + "-secret");
        JsonNode registered = browser().await(user, "registered", "registrationFailed", "disconnected");
        assertThat(registered.path("type").asText()).as("%s: %s\n%s", user, registered, browser().diagnostics())
                .isEqualTo("registered");
        JsonNode binding = bindingOf(user);
        assertThat(binding).isNotNull();
        assertThat(binding.path("transport").asText()).isEqualTo("WS");
    }

    /** The next call ringing on the browser phone (events from index {@code from} on), from {@code caller}. */
    private static String incomingCall(String phone, int from, String caller) {
        JsonNode incoming = browser().await(phone, from, STEP, "session");
        assertThat(incoming.path("direction").asText()).as(incoming.toString()).isEqualTo("incoming");
        // phones name themselves by the node's domain; SIPp by the node's address
        assertThat(incoming.path("remote").asText()).startsWith("sip:" + caller + "@");
        return incoming.path("id").asText();
    }

    /** Waits for an event of one call and checks its type; a mismatch shows the phone's events. */
    private static JsonNode expectCall(String phone, String call, String expected, String... alternatives) {
        String[] types = new String[alternatives.length + 1];
        types[0] = expected;
        System.arraycopy(alternatives, 0, types, 1, alternatives.length);
        JsonNode event = browser().awaitCall(phone, call, types);
        assertThat(event.path("type").asText()).as("%s on %s: %s\nevents: %s", expected, phone, event,
                browser().events(phone)).isEqualTo(expected);
        return event;
    }

    /** The browser's SDP carried no ICE candidate: Chromium had no address to send media from. */
    private static void assertNoCandidates(String phone, String call) {
        assertThat(expectCall(phone, call, "localSdp").path("candidates").asInt()).isZero();
    }

    // ---------------------------------------------------------------- the node

    private static void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    private static JsonNode bindingOf(String user) throws Exception {
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            if (r.path("aor").asText().equals("sip:" + user + "@" + DOMAIN)) {
                return r;
            }
        }
        return null;
    }

    /** The 407 challenges the node has sent. */
    private static double challenges() throws Exception {
        return orZero(node.metric("switchboard_sip_messages_total{direction=\"out\",method_or_status=\"407\"}"));
    }

    /**
     * The calls run one after the other and nothing else is challenged with 407 meanwhile (REGISTER
     * gets 401), so a call placed without a 407 since the previous one was let in unauthenticated.
     *
     * @return the count now, the baseline for the next call
     */
    private static double assertChallenged(String caller, double before) throws Exception {
        double now = challenges();
        assertThat(now).as(caller + "'s call was challenged (407) before it went through").isGreaterThan(before);
        return now;
    }

    private static double orZero(double value) {
        return Double.isNaN(value) ? 0 : value;
    }

    private static void assertRegisteredOver(String user, Transport transport) throws Exception {
        JsonNode binding = bindingOf(user);
        assertThat(binding).as(user + " registered").isNotNull();
        assertThat(binding.path("transport").asText()).as(user + " registered over " + transport)
                .isEqualToIgnoringCase(transport.name());
    }

    private static JsonNode records() throws Exception {
        return node.json(node.api("GET", "/api/v1/call-records?limit=100", null)).path("records");
    }

    /**
     * Waits for the record of one call — JsSIP names a call by its Call-ID followed by the From
     * tag — and checks how it ended; {@code endedBy} null for a call that never began.
     */
    private static JsonNode awaitRecord(String jsSipCall, String caller, String dialed, String status, int finalCode,
                                        String endedBy) {
        JsonNode[] found = new JsonNode[1];
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = null;
            for (JsonNode r : records()) {
                if (!r.path("callId").asText().isEmpty() && jsSipCall.startsWith(r.path("callId").asText())) {
                    record = r;
                }
            }
            assertThat(record).as("the record of call %s", jsSipCall).isNotNull();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo(status);
            assertThat(record.path("finalCode").asInt()).as(record.toString()).isEqualTo(finalCode);
            assertThat(record.path("caller").asText()).isEqualTo(caller);
            assertThat(record.path("dialed").asText()).isEqualTo(dialed);
            if (endedBy == null) {
                assertThat(record.path("endedBy").isNull()).as(record.toString()).isTrue();
            } else {
                assertThat(record.path("endedBy").asText()).as(record.toString()).isEqualTo(endedBy);
            }
            found[0] = record;
        });
        return found[0];
    }

    private static double sent(String methodOrStatus) throws Exception {
        double v = node.metric("switchboard_sip_messages_total{direction=\"out\",method_or_status=\"" + methodOrStatus + "\"}");
        return Double.isNaN(v) ? 0 : v;
    }

    /** Nothing any client sent was malformed, dropped or answered 400. */
    private static void assertNothingMalformed() throws Exception {
        List<String> complaints = node.get("/metrics").body().lines()
                .filter(l -> l.startsWith("switchboard_sip_parse_errors_total") || l.startsWith("switchboard_sip_dropped_total"))
                .filter(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) != 0)
                .toList();
        assertThat(complaints).isEmpty();
        assertThat(sent("400")).isZero();
    }
}
