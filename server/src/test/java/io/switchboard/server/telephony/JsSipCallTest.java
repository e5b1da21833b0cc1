package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.browser.JsSipBrowser;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * JsSIP 3.13 in headless Chromium, a real browser phone, over the node's SIP WebSocket
 * ({@code ws://…/sip}, RFC 7118): two browsers register with digest authentication and call each
 * other (the caller answers the node's 407); a browser calls a SIPp phone on UDP; a trusted SIPp
 * door panel calls a browser; a flat's number rings two browsers and the first to answer takes the
 * call while the other is cancelled. Each call is established and torn down, seen on both sides,
 * and checked in the node's registrations, live calls, call records and meters.
 */
class JsSipCallTest {
    static final String DOMAIN = "intercom.test";
    static final String DOOR_PANEL = "127.0.0.2";

    @TempDir
    Path dir;
    TelephonyNode node;
    JsSipBrowser browser;
    final List<Sipp.Running> sipps = new ArrayList<>();

    @BeforeEach
    void start() {
        JsSipBrowser.assumeAvailable();
        // a door panel calls from 127.0.0.2 without credentials; browsers and phones on 127.0.0.1 authenticate
        Map<String, String> env = new HashMap<>(Map.of("SWITCHBOARD_TELEPHONY_TRUSTED_PEERS", DOOR_PANEL));
        // on the defaults: JsSIP computes only MD5 and keeps only the last WWW-Authenticate header,
        // which the node's single MD5 challenge suits
        node = new TelephonyNode(dir, Map.of(), env);
        browser = JsSipBrowser.launch();
    }

    @AfterEach
    void stop() {
        sipps.forEach(s -> s.stop(Duration.ofSeconds(2)));
        if (browser != null) {
            browser.close();
            assertThat(browser.startedProcesses()).as("Chromium's processes after close")
                    .filteredOn(ProcessHandle::isAlive).extracting(p -> p.pid() + " " + p.info()).isEmpty();
        }
        if (node != null) {
            node.close();
        }
    }

    String wsUrl() {
        return node.node.http().baseUrl().replaceFirst("^http", "ws") + "/sip";
    }

    void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    /** Opens a browser phone for {@code user} and waits until the node has registered it. */
    void register(String user, String password) {
        browser.phone(user, wsUrl(), "sip:" + user + "@" + DOMAIN, password);
        JsonNode registered = browser.await(user, "registered", "registrationFailed", "disconnected");
        assertThat(registered.path("type").asText()).as("%s: %s\n%s", user, registered, browser.diagnostics())
                .isEqualTo("registered");
    }

    JsonNode registrations() throws Exception {
        return node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations");
    }

    JsonNode registrationOf(String user) throws Exception {
        for (JsonNode r : registrations()) {
            if (r.path("aor").asText().equals("sip:" + user + "@" + DOMAIN)) {
                return r;
            }
        }
        return null;
    }

    JsonNode lastRecord() throws Exception {
        return node.json(node.api("GET", "/api/v1/call-records?limit=1", null)).path("records").path(0);
    }

    double sent(String methodOrStatus) throws Exception {
        double v = node.metric("switchboard_sip_messages_total{direction=\"out\",method_or_status=\"" + methodOrStatus + "\"}");
        return Double.isNaN(v) ? 0 : v;
    }

    /** Waits for an event of one call on one phone and checks its type; a mismatch shows everything. */
    JsonNode expect(String phone, String callId, String expected, String... alternatives) {
        String[] types = new String[alternatives.length + 1];
        types[0] = expected;
        System.arraycopy(alternatives, 0, types, 1, alternatives.length);
        JsonNode event = browser.awaitCall(phone, callId, types);
        assertThat(event.path("type").asText()).as("%s on %s: %s\nevents: %s\n%s", expected, phone, event,
                browser.events(phone), browser.diagnostics()).isEqualTo(expected);
        return event;
    }

    /** {@code caller} calls {@code callee}, who answers; returns the call's id once both sides confirm it. */
    String establish(String caller, String callee) {
        browser.answerCalls(callee, true);
        String call = browser.call(caller, "sip:" + callee + "@" + DOMAIN);
        expect(caller, call, "confirmed", "failed", "ended");
        // JsSIP names a call by Call-ID and From tag, the same on both ends
        JsonNode incoming = expect(callee, call, "session");
        assertThat(incoming.path("direction").asText()).isEqualTo("incoming");
        assertThat(incoming.path("remote").asText()).isEqualTo("sip:" + caller + "@" + DOMAIN);
        expect(callee, call, "confirmed", "failed", "ended");
        // nothing to send media from: relay-only ICE without a TURN server gathers no candidate
        assertThat(expect(caller, call, "localSdp").path("candidates").asInt()).isZero();
        assertThat(expect(callee, call, "localSdp").path("candidates").asInt()).isZero();
        return call;
    }

    /** The DTMF tones a phone received in a call, in order. */
    String tones(String phone, String callId) {
        StringBuilder tones = new StringBuilder();
        for (JsonNode e : browser.events(phone)) {
            if (e.path("type").asText().equals("dtmf") && e.path("id").asText().equals(callId)
                    && e.path("originator").asText().equals("remote")) {
                tones.append(e.path("tone").asText());
            }
        }
        return tones.toString();
    }

    void awaitRecord(String caller, String dialed, String status, String endedBy, CallMeters before) {
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo(status);
            assertThat(record.path("caller").asText()).isEqualTo(caller);
            assertThat(record.path("dialed").asText()).isEqualTo(dialed);
            if (endedBy == null) { // nobody ended it: no answer, or an error
                assertThat(record.path("endedBy").isNull()).as(record.toString()).isTrue();
            } else {
                assertThat(record.path("endedBy").asText()).isEqualTo(endedBy);
            }
            CallMeters after = CallMeters.read(node.node.http().baseUrl());
            assertThat(after.active()).isZero();
            if (status.equals("completed")) {
                assertThat(record.path("finalCode").asInt()).isEqualTo(200);
                assertThat(record.path("answeredBy").asText()).contains("transport=ws");
                after.assertOneCompletedCallSince(before);
            }
        });
    }

    @Test
    void twoBrowsersRegisterAndCallEachOtherWithDigestAuthentication() throws Exception {
        addAccount("alice", "alice-browser-1");
        addAccount("bob", "bob-browser-1");
        register("alice", "alice-browser-1");
        register("bob", "bob-browser-1");

        for (String user : List.of("alice", "bob")) {
            JsonNode binding = registrationOf(user);
            assertThat(binding).as("registration of %s in %s", user, registrations()).isNotNull();
            assertThat(binding.path("transport").asText()).isEqualTo("WS");
            assertThat(binding.path("contact").asText()).contains(".invalid").contains("transport=ws");
            assertThat(binding.path("userAgent").asText()).startsWith("JsSIP 3.13");
            assertThat(binding.path("source").asText()).startsWith("127.0.0.1:");
        }
        // both registered through a 401 challenge (RFC 3261 §22.2)
        assertThat(sent("401")).isGreaterThanOrEqualTo(2);
        double challengedCalls = sent("407");

        // 1. alice calls bob, bob answers, alice hangs up
        CallMeters before = CallMeters.read(node.node.http().baseUrl());
        String first = establish("alice", "bob");
        // the caller's INVITE was challenged (RFC 3261 §22.3) and JsSIP answered it
        assertThat(sent("407")).isGreaterThan(challengedCalls);
        assertThat(node.json(node.api("GET", "/api/v1/calls", null)).toString()).contains("answered");
        // in-dialog requests along the Record-Route, WebSocket to WebSocket: re-INVITEs
        // for hold and unhold, and DTMF as INFO (a door is opened with a tone)
        assertThat(browser.hold("alice", first)).isTrue();
        assertThat(expect("bob", first, "hold").path("originator").asText()).isEqualTo("remote");
        await().atMost(Duration.ofSeconds(5)).until(() -> browser.unhold("alice", first));
        assertThat(expect("bob", first, "unhold").path("originator").asText()).isEqualTo("remote");
        browser.sendDtmf("alice", first, "1#");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(tones("bob", first)).isEqualTo("1#"));
        browser.hangUp("alice", first);
        assertThat(expect("alice", first, "ended", "failed").path("originator").asText()).isEqualTo("local");
        JsonNode calleeEnd = expect("bob", first, "ended", "failed");
        assertThat(calleeEnd.path("originator").asText()).isEqualTo("remote");
        assertThat(calleeEnd.path("cause").asText()).isEqualTo("Terminated"); // JsSIP's cause for a BYE
        awaitRecord("alice", "bob", "completed", "caller", before);

        // 2. bob calls alice, alice answers and hangs up: the BYE goes to the caller
        before = CallMeters.read(node.node.http().baseUrl());
        String second = establish("bob", "alice");
        browser.hangUp("alice", second);
        assertThat(expect("alice", second, "ended", "failed").path("originator").asText()).isEqualTo("local");
        assertThat(expect("bob", second, "ended", "failed").path("originator").asText()).isEqualTo("remote");
        awaitRecord("bob", "alice", "completed", "callee", before);

        // 3. alice calls bob, who lets it ring; alice gives up: CANCEL, 487 (RFC 3261 §9.2)
        browser.answerCalls("bob", false);
        String third = browser.call("alice", "sip:bob@" + DOMAIN);
        expect("bob", third, "session");
        assertThat(expect("alice", third, "progress", "failed", "ended").path("status").asInt()).isEqualTo(180);
        browser.hangUp("alice", third);
        JsonNode cancelled = expect("alice", third, "failed", "ended", "confirmed");
        assertThat(cancelled.path("cause").asText()).isEqualTo("Canceled");
        JsonNode wasCancelled = expect("bob", third, "failed", "ended", "confirmed");
        assertThat(wasCancelled.path("originator").asText()).isEqualTo("remote");
        assertThat(wasCancelled.path("cause").asText()).isEqualTo("Canceled");
        awaitRecord("alice", "bob", "cancelled", "caller", null);

        // RFC 3261 §10.2.2: Expires 0 removes the bindings
        browser.unregister("alice");
        browser.unregister("bob");
        assertThat(browser.await("alice", "unregistered", "registrationFailed").path("type").asText()).isEqualTo("unregistered");
        assertThat(browser.await("bob", "unregistered", "registrationFailed").path("type").asText()).isEqualTo("unregistered");
        assertThat(registrations()).isEmpty();
        assertEverythingParsed();
    }

    /** Every message JsSIP sent was understood: nothing malformed, nothing dropped, no 400 answered. */
    void assertEverythingParsed() throws Exception {
        List<String> complaints = node.get("/metrics").body().lines()
                .filter(l -> l.startsWith("switchboard_sip_parse_errors_total") || l.startsWith("switchboard_sip_dropped_total"))
                .filter(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)) != 0)
                .toList();
        assertThat(complaints).isEmpty();
        assertThat(sent("400")).isZero();
    }

    @Test
    void aBrowserCallsASippPhoneOnUdp() throws Exception {
        Sipp.assumeAvailable();
        addAccount("alice", "alice-browser-1");
        addAccount("carol", "carol-handset-1");
        int port = Sipp.freePort();
        Sipp.Result registeredPhone = Sipp.scenario("register_auth.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                .localPort(port).service("carol").auth("carol", "carol-handset-1").calls(1).run();
        assertThat(registeredPhone.succeeded()).as(registeredPhone.describe()).isTrue();
        Sipp.Running phone = Sipp.scenario("uas_webrtc_answer.xml").localPort(port).service("carol").calls(1)
                .timeout(Duration.ofSeconds(40)).start();
        sipps.add(phone);
        register("alice", "alice-browser-1");
        assertThat(registrationOf("carol")).isNotNull();
        assertThat(registrationOf("alice").path("transport").asText()).isEqualToIgnoringCase("ws");

        CallMeters before = CallMeters.read(node.node.http().baseUrl());
        String call = browser.call("alice", "sip:carol@" + DOMAIN);
        JsonNode established = browser.awaitCall("alice", call, "confirmed", "failed", "ended");
        assertThat(established.path("type").asText()).as("%s\n%s\n%s", established, browser.diagnostics(),
                phone.isAlive() ? "" : phone.await().describe()).isEqualTo("confirmed");
        assertThat(expect("alice", call, "localSdp").path("candidates").asInt()).isZero();
        browser.hangUp("alice", call);
        expect("alice", call, "ended", "failed");

        Sipp.Result answered = phone.await();
        assertThat(answered.succeeded()).as(answered.describe()).isTrue();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo("completed");
            assertThat(record.path("caller").asText()).isEqualTo("alice");
            assertThat(record.path("answeredBy").asText()).contains("127.0.0.1:" + port);
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            CallMeters after = CallMeters.read(node.node.http().baseUrl());
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
        assertEverythingParsed();
    }

    @Test
    void aDoorPanelOnUdpCallsABrowserThatAnswers() throws Exception {
        Sipp.assumeAvailable();
        addAccount("bob", "bob-browser-1");
        register("bob", "bob-browser-1");
        browser.answerCalls("bob", true);

        CallMeters before = CallMeters.read(node.node.http().baseUrl());
        Sipp.Result panel = Sipp.scenario("uac_webrtc_offer.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                .localIp(DOOR_PANEL).service("bob").calls(1).timeout(Duration.ofSeconds(20)).run();
        assertThat(panel.succeeded()).as("%s\nbob's events: %s\n%s", panel.describe(), browser.events("bob"),
                browser.diagnostics()).isTrue();

        JsonNode incoming = browser.await("bob", "session");
        String call = incoming.path("id").asText();
        assertThat(incoming.path("direction").asText()).isEqualTo("incoming");
        assertThat(incoming.path("remote").asText()).startsWith("sip:door@" + DOOR_PANEL);
        expect("bob", call, "confirmed", "failed", "ended");
        assertThat(expect("bob", call, "localSdp").path("candidates").asInt()).isZero();
        JsonNode ended = expect("bob", call, "ended", "failed");
        assertThat(ended.path("originator").asText()).isEqualTo("remote");
        assertThat(ended.path("cause").asText()).isEqualTo("Terminated");

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo("completed");
            assertThat(record.path("dialed").asText()).isEqualTo("bob");
            assertThat(record.path("answeredBy").asText()).contains("transport=ws");
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            CallMeters after = CallMeters.read(node.node.http().baseUrl());
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
        assertEverythingParsed();
    }

    @Test
    void aFlatNumberRingsEveryBrowserAndTheFirstToAnswerTakesTheCall() throws Exception {
        Sipp.assumeAvailable();
        addAccount("anna", "anna-browser-1");
        addAccount("boris", "boris-browser-1");
        var number = node.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"anna\",\"boris\"],\"label\":\"Flat 42\"}");
        assertThat(number.statusCode()).as(number.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.numbers().lookup("42", DOMAIN).isPresent());
        register("anna", "anna-browser-1");
        register("boris", "boris-browser-1");
        browser.answerCalls("anna", true); // boris's phone only rings

        CallMeters before = CallMeters.read(node.node.http().baseUrl());
        Sipp.Result panel = Sipp.scenario("uac_webrtc_offer.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                .localIp(DOOR_PANEL).service("42").calls(1).timeout(Duration.ofSeconds(20)).run();
        assertThat(panel.succeeded()).as("%s\nanna: %s\nboris: %s\n%s", panel.describe(), browser.events("anna"),
                browser.events("boris"), browser.diagnostics()).isTrue();

        String call = browser.await("anna", "session").path("id").asText();
        expect("anna", call, "confirmed", "failed", "ended");
        assertThat(expect("anna", call, "ended", "failed").path("originator").asText()).isEqualTo("remote");
        // RFC 3261 §16.7 step 10: once anna answered, the node cancels boris's ringing branch
        assertThat(browser.await("boris", "session").path("id").asText()).isEqualTo(call);
        JsonNode cancelled = expect("boris", call, "failed", "confirmed", "ended");
        assertThat(cancelled.path("originator").asText()).isEqualTo("remote");
        assertThat(cancelled.path("cause").asText()).isEqualTo("Canceled");

        String annasContact = registrationOf("anna").path("contact").asText();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo("completed");
            assertThat(record.path("dialed").asText()).isEqualTo("42");
            assertThat(record.path("devicesRung")).hasSize(2);
            assertThat(record.path("answeredBy").asText()).isEqualTo(annasContact);
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            CallMeters after = CallMeters.read(node.node.http().baseUrl());
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
        assertEverythingParsed();
    }
}
