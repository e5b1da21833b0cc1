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
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * JsSIP 3.13 in headless Chromium, a real browser phone, over the node's SIP WebSocket
 * ({@code ws://…/sip}, RFC 7118): two browsers register with digest authentication and call each
 * other (the caller answers the node's 407), and a browser calls a SIPp phone on UDP. Each call is
 * established, hung up by the caller, seen ended on both sides, and checked in the node's
 * registrations, live calls, call records and meters.
 */
class JsSipCallTest {
    static final String DOMAIN = "intercom.test";

    @TempDir
    Path dir;
    TelephonyNode node;
    JsSipBrowser browser;
    final List<Sipp.Running> sipps = new ArrayList<>();

    @BeforeEach
    void start() {
        JsSipBrowser.assumeAvailable();
        // JsSIP computes only MD5 and keeps only the last WWW-Authenticate header
        node = new TelephonyNode(dir, Map.of(), Map.of(
                "SWITCHBOARD_TELEPHONY_DIGEST_ALGORITHMS", "MD5")); // default digest after the MD5-default change
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

    @Test
    void twoBrowsersRegisterAndCallEachOtherWithDigestAuthentication() throws Exception {
        addAccount("alice", "alice-browser-1");
        addAccount("bob", "bob-browser-1");
        register("alice", "alice-browser-1");
        register("bob", "bob-browser-1");

        for (String user : List.of("alice", "bob")) {
            JsonNode binding = registrationOf(user);
            assertThat(binding).as("registration of %s in %s", user, registrations()).isNotNull();
            assertThat(binding.path("transport").asText()).isEqualToIgnoringCase("ws");
            assertThat(binding.path("contact").asText()).contains(".invalid").contains("transport=ws");
            assertThat(binding.path("userAgent").asText()).startsWith("JsSIP 3.13");
            assertThat(binding.path("source").asText()).startsWith("127.0.0.1:");
        }
        // both registered through a 401 challenge (RFC 3261 §22.2)
        assertThat(sent("401")).isGreaterThanOrEqualTo(2);
        double challengedCalls = sent("407");

        browser.answerCalls("bob");
        CallMeters before = CallMeters.read(node.node.http().baseUrl());
        String call = browser.call("alice", "sip:bob@" + DOMAIN);
        JsonNode callerSide = browser.awaitCall("alice", call, "confirmed", "failed", "ended");
        assertThat(callerSide.path("type").asText()).as("%s\n%s", callerSide, browser.diagnostics()).isEqualTo("confirmed");
        JsonNode incoming = browser.await("bob", "session");
        assertThat(incoming.path("direction").asText()).isEqualTo("incoming");
        assertThat(incoming.path("remote").asText()).isEqualTo("sip:alice@" + DOMAIN);
        JsonNode calleeSide = browser.await("bob", "confirmed", "failed", "ended");
        assertThat(calleeSide.path("type").asText()).as("%s\n%s", calleeSide, browser.diagnostics()).isEqualTo("confirmed");
        // the caller's INVITE was challenged (RFC 3261 §22.3) and JsSIP answered it
        assertThat(sent("407")).isGreaterThan(challengedCalls);

        JsonNode live = node.json(node.api("GET", "/api/v1/calls", null));
        assertThat(live.toString()).contains("answered");

        browser.hangUp("alice", call);
        JsonNode callerEnd = browser.awaitCall("alice", call, "ended", "failed");
        assertThat(callerEnd.path("type").asText()).isEqualTo("ended");
        assertThat(callerEnd.path("originator").asText()).isEqualTo("local");
        JsonNode calleeEnd = browser.await("bob", "ended", "failed");
        assertThat(calleeEnd.path("type").asText()).isEqualTo("ended");
        assertThat(calleeEnd.path("originator").asText()).isEqualTo("remote");
        assertThat(calleeEnd.path("cause").asText()).isEqualTo("Terminated"); // JsSIP's cause for a BYE

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo("completed");
            assertThat(record.path("caller").asText()).isEqualTo("alice");
            assertThat(record.path("dialed").asText()).isEqualTo("bob");
            assertThat(record.path("finalCode").asInt()).isEqualTo(200);
            assertThat(record.path("answeredBy").asText()).contains("transport=ws");
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            CallMeters after = CallMeters.read(node.node.http().baseUrl());
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });

        // RFC 3261 §10.2.2: Expires 0 removes the bindings
        browser.unregister("alice");
        browser.unregister("bob");
        assertThat(browser.await("alice", "unregistered", "registrationFailed").path("type").asText()).isEqualTo("unregistered");
        assertThat(browser.await("bob", "unregistered", "registrationFailed").path("type").asText()).isEqualTo("unregistered");
        assertThat(registrations()).isEmpty();
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
        browser.hangUp("alice", call);
        assertThat(browser.awaitCall("alice", call, "ended", "failed").path("type").asText()).isEqualTo("ended");

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
    }
}
