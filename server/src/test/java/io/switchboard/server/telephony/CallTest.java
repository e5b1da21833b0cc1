package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
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
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Calls through the proxy between phones registered over UDP and a browser-style phone on the
 * WebSocket: forking to a number's devices, first answer wins, busy, caller CANCEL, BYE from either
 * side, 404/480, call records and metrics after each.
 */
class CallTest {
    static final String DOMAIN = "intercom.test";
    @TempDir
    Path dir;
    TelephonyNode node;
    final List<SipPhone> phones = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"));
        createAccounts("alice", "bob", "carol", "dave");
    }

    /** Accounts with password secret-NAME, once the node sees them (within its poll interval). */
    void createAccounts(String... users) throws Exception {
        for (String user : users) {
            assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}")
                    .statusCode()).isEqualTo(201);
        }
        String last = users[users.length - 1];
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(last, DOMAIN).isPresent());
    }

    @AfterEach
    void stop() {
        phones.forEach(SipPhone::close);
        if (node != null) {
            node.close();
        }
    }

    SipPhone udpPhone(String user) throws Exception {
        SipPhone phone = SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP));
        phones.add(phone);
        assertThat(phone.register(600).status()).isEqualTo(200);
        return phone;
    }

    SipPhone tcpPhone(String user) throws Exception {
        SipPhone phone = SipPhone.tcp(user, DOMAIN, node.sipPort(Transport.TCP));
        phones.add(phone);
        assertThat(phone.register(600).status()).isEqualTo(200);
        return phone;
    }

    SipPhone browser(String user) throws Exception {
        SipPhone phone = SipPhone.webSocket(user, DOMAIN, node.node.http().baseUrl());
        phones.add(phone);
        assertThat(phone.register(600).status()).isEqualTo(200);
        return phone;
    }

    String target(String user) {
        return "sip:" + user + "@" + DOMAIN;
    }

    JsonNode lastRecord() throws Exception {
        JsonNode records = node.json(node.api("GET", "/api/v1/call-records?limit=1", null)).path("records");
        assertThat(records).isNotEmpty();
        return records.get(0);
    }

    double metric(String line) throws Exception {
        for (String l : node.get("/metrics").body().split("\n")) {
            if (l.startsWith(line + " ")) {
                return Double.parseDouble(l.substring(line.length() + 1).trim());
            }
        }
        return 0;
    }

    /** The callee answers the BYE it is about to receive, while the test waits for the caller's 200. */
    static Thread answerByeInBackground(SipPhone callee, SipPhone.Incoming call) {
        return Thread.ofVirtual().start(() -> {
            try {
                call.respondTo(callee.awaitRequest("BYE", Duration.ofSeconds(5)), 200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    @Test
    void aNumberRingsEveryDeviceTheFirstAnswerWinsAndTheOthersAreCancelled() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone carol = udpPhone("carol");
        SipPhone dave = browser("dave");
        assertThat(node.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"bob\",\"carol\",\"dave\"],\"label\":\"Flat 42\"}")
                .statusCode()).isIn(200, 201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.numbers().lookup("42", DOMAIN).isPresent());

        SipPhone.Call call = alice.call(target("42"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        SipPhone.Incoming atCarol = carol.awaitInvite();
        SipPhone.Incoming atDave = dave.awaitInvite();
        // every branch is Record-Routed and carries one more Via than the caller sent
        assertThat(atBob.invite.headers().values("Record-Route")).hasSize(1);
        assertThat(atDave.invite.headers().values("Record-Route")).hasSize(2); // UDP caller, WebSocket callee
        assertThat(atBob.invite.maxForwards()).isEqualTo(69);
        atBob.respond(180, "Ringing");
        atDave.respond(180, "Ringing");
        assertThat(call.await(180).status()).isEqualTo(180);
        atCarol.respond(180, "Ringing");
        atCarol.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.topVia().sentBy()).isEqualTo(alice.sentBy());

        SipRequest cancelAtBob = bob.awaitRequest("CANCEL", Duration.ofSeconds(5));
        atBob.acceptCancel(cancelAtBob);
        SipRequest cancelAtDave = dave.awaitRequest("CANCEL", Duration.ofSeconds(5));
        atDave.acceptCancel(cancelAtDave);
        assertThat(carol.receivesNo("CANCEL", Duration.ofMillis(300))).isTrue();

        call.ack(ok);
        carol.awaitRequest("ACK", Duration.ofSeconds(5));
        await().atMost(Duration.ofSeconds(2)).until(() -> node.json(node.api("GET", "/api/v1/calls", null)).path("calls").size() == 1);

        Thread.sleep(50);
        SipPhone.Call hangUp = call;
        Thread carolAnswers = answerByeInBackground(carol, atCarol);
        assertThat(hangUp.bye().status()).isEqualTo(200);
        carolAnswers.join();

        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("caller").asText()).isEqualTo("alice");
            assertThat(record.path("dialed").asText()).isEqualTo("42");
            assertThat(record.path("answeredBy").asText()).contains("carol");
            assertThat(record.path("endedBy").asText()).isEqualTo("caller");
            assertThat(record.path("devicesRung").size()).isEqualTo(3);
        });
        assertThat(node.json(node.api("GET", "/api/v1/calls", null)).path("calls").size()).isZero();
        assertThat(metric("switchboard_calls_started_total")).isEqualTo(1);
        assertThat(metric("switchboard_calls_answered_total")).isEqualTo(1);
        assertThat(metric("switchboard_calls_active")).isZero();
    }

    @Test
    void busyEverywhereGivesTheCallerBusy() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone carol = udpPhone("carol");
        assertThat(node.api("PUT", "/api/v1/numbers/7", "{\"accounts\":[\"bob\",\"carol\"]}").statusCode()).isIn(200, 201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.numbers().lookup("7", DOMAIN).isPresent());

        SipPhone.Call call = alice.call(target("7"));
        call.invite(null);
        bob.awaitInvite().respond(486, "Busy Here");
        carol.awaitInvite().respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("busy"));
        assertThat(metric("switchboard_calls_failed_total{reason=\"busy\"}")).isEqualTo(1);
    }

    CallMeters meters() {
        return CallMeters.read(node.node.http().baseUrl());
    }

    @Test
    void theCallerCancelsWhileItRings() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        CallMeters before = meters();
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing");
        call.await(180);
        call.cancel();
        assertThat(alice.awaitResponse(r -> r.cseq().method().equals("CANCEL"), Duration.ofSeconds(5)).status()).isEqualTo(200);
        atBob.acceptCancel(bob.awaitRequest("CANCEL", Duration.ofSeconds(5)));
        assertThat(call.awaitFinal().status()).isEqualTo(487);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("cancelled"));
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneFailedCallSince(before, "cancelled", true);
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void aCancelThatRacesThe200LeavesAnAnsweredCall() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        CallMeters before = meters();
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing");
        call.await(180);
        atBob.answer();
        call.cancel(); // crosses the 200 on the wire
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        // the callee hangs up; the BYE reaches the caller through the Record-Route
        atBob.bye();
        SipRequest bye = alice.awaitRequest("BYE", Duration.ofSeconds(5));
        assertThat(bye.headers().values("Route")).isEmpty();
        alice.respond(bye, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(5)).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).isEqualTo("callee");
        });
        // the CANCEL lost the race: an answered call, not a cancelled one
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void unknownUsersAre404AndUsersWithoutDevices480() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone.Call nobody = alice.call(target("nobody"));
        nobody.invite(null);
        assertThat(nobody.awaitFinal().status()).isEqualTo(404);
        SipPhone.Call offline = alice.call(target("carol"));
        offline.invite(null);
        assertThat(offline.awaitFinal().status()).isEqualTo(480);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(metric("switchboard_calls_failed_total{reason=\"unavailable\"}")).isEqualTo(1));
        assertThat(metric("switchboard_calls_failed_total{reason=\"not_found\"}")).isEqualTo(1);
    }

    @Test
    void aBrowserCallsAPhoneAndThePhoneHangsUp() throws Exception {
        SipPhone browser = browser("dave");
        SipPhone bob = udpPhone("bob");
        CallMeters before = meters();
        SipPhone.Call call = browser.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        atBob.bye();
        SipRequest bye = browser.awaitRequest("BYE", Duration.ofSeconds(5));
        browser.respond(bye, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(5)).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).isEqualTo("callee");
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneCompletedCallSince(before);
            assertThat(after.active()).isZero();
        });
    }

    @Test
    void aPhoneBehindNatIsReachedAtTheAddressItRegisteredFrom() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = SipPhone.udp("bob", DOMAIN, node.sipPort(Transport.UDP));
        phones.add(bob);
        bob.claimedContact = "<sip:bob@192.168.77.5:5060>"; // a private address the node cannot reach
        assertThat(bob.register(600).status()).isEqualTo(200);
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.requestUri().host()).isEqualTo("192.168.77.5");
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }

    @Test
    void aBrowserWhoseConnectionClosedIsNotRung() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone gone = browser("dave");
        gone.close();
        Thread.sleep(300);
        SipPhone.Call call = alice.call(target("dave"));
        call.invite(null);
        assertThat(call.awaitFinal().status()).isEqualTo(480);
    }

    @Test
    void tooManyHopsAreRefused() throws Exception {
        SipPhone alice = udpPhone("alice");
        udpPhone("bob");
        SipPhone.Call looping = alice.call(target("bob"));
        alice.send(("INVITE " + target("bob") + " SIP/2.0\r\n" + alice.via() + "\r\nMax-Forwards: 0\r\n"
                + "From: <sip:alice@" + DOMAIN + ">;tag=x1\r\nTo: <" + target("bob") + ">\r\nCall-ID: " + looping.callId
                + "\r\nCSeq: 1 INVITE\r\nContact: " + alice.contact() + "\r\nContent-Length: 0\r\n\r\n"));
        assertThat(looping.awaitFinal().status()).isEqualTo(483);
    }

    @Test
    void aTcpPhoneIsCalledOverTheConnectionItRegisteredOn() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = tcpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.topVia().transport()).isEqualTo("TCP");
        assertThat(atBob.invite.headers().values("Record-Route")).hasSize(2); // UDP caller, TCP callee
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        Thread answerer = answerByeInBackground(bob, atBob);
        assertThat(call.bye().status()).isEqualTo(200);
        answerer.join();
    }

    @Test
    void callRecordsSurviveARestart() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone.Call call = alice.call(target("nobody"));
        call.invite(null);
        assertThat(call.awaitFinal().status()).isEqualTo(404);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("not_found"));
        node.close();
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"));
        JsonNode record = lastRecord();
        assertThat(record.path("status").asText()).isEqualTo("not_found");
        assertThat(record.path("caller").asText()).isEqualTo("alice");
    }

    @Test
    void forgedRoutesDoNotMakeTheNodeARelay() throws Exception {
        SipPhone alice = udpPhone("alice");
        try (java.net.DatagramSocket victim = new java.net.DatagramSocket(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))) {
            victim.setSoTimeout(500);
            String target = "sip:x@127.0.0.1:" + victim.getLocalPort();
            int node = this.node.sipPort(Transport.UDP);
            String forgedToken = java.util.Base64.getUrlEncoder().withoutPadding()
                    .encodeToString(("udp:0>127.0.0.1:" + victim.getLocalPort()).getBytes());
            List<String> routes = List.of("<sip:127.0.0.1:" + node + ";lr>",
                    "<sip:127.0.0.1:" + node + ";lr;ftag=x;cf=" + forgedToken + ";ef=" + forgedToken + ";sb=AAAAAAAAAAAAAAAA>",
                    "<tel:+4930123>");
            for (String route : routes) {
                String callId = java.util.UUID.randomUUID() + "@forged";
                alice.send("MESSAGE " + target + " SIP/2.0\r\n" + alice.via() + "\r\nMax-Forwards: 70\r\n"
                        + "From: <sip:alice@" + DOMAIN + ">;tag=a1\r\nTo: <" + target + ">;tag=b1\r\nCall-ID: " + callId
                        + "\r\nCSeq: 1 MESSAGE\r\nRoute: " + route + "\r\nContent-Length: 0\r\n\r\n");
                SipResponse refused = alice.awaitResponse(r -> r.callId().equals(callId), Duration.ofSeconds(5));
                assertThat(refused.status()).as(route).isEqualTo(404);
            }
            byte[] buffer = new byte[2048];
            assertThat(receivesNothing(victim, buffer)).isTrue();
        }
    }

    /**
     * A Route entry the node really signed (taken from a call's Record-Route) but with its address
     * changed is never followed to that address: the signatures cover the flow tokens and the node
     * id, not the address. With its node id the entry is this node's wherever it points, so the
     * request takes the call's recorded flows; without one (as entries written before ids were),
     * it is judged by its address, names no node of the cluster, and the request is routed from
     * what the node knows, which does not include the address named in the Request-URI either.
     */
    @Test
    void aSignedRouteWithAnotherAddressIsNotFollowed() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        String signed = ok.headers().values("Record-Route").get(0);
        assertThat(signed).contains(";nid=").contains(";sn=");
        try (java.net.ServerSocket victimTcp = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
             java.net.DatagramSocket victimUdp = new java.net.DatagramSocket(
                     new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))) {
            victimTcp.setSoTimeout(1000);
            victimUdp.setSoTimeout(500);
            String moved = signed.replaceFirst("sip:[^;>]+", "sip:127.0.0.1:" + victimTcp.getLocalPort())
                    .replace(">", ";transport=tcp>");
            String movedWithoutId = moved.replaceFirst(";nid=[^;>]+", "").replaceFirst(";sn=[^;>]+", "");
            String target = "sip:x@127.0.0.1:" + victimUdp.getLocalPort();
            String callId = call.callId;

            alice.send("BYE " + target + " SIP/2.0\r\n" + alice.via() + "\r\nMax-Forwards: 70\r\n"
                    + "From: <sip:alice@" + DOMAIN + ">;tag=a1\r\nTo: <" + target + ">;tag=b1\r\nCall-ID: " + callId
                    + "\r\nCSeq: 99 BYE\r\nRoute: " + movedWithoutId + "\r\nContent-Length: 0\r\n\r\n");
            SipResponse refused = alice.awaitResponse(r -> r.callId().equals(callId) && r.cseq().number() == 99,
                    Duration.ofSeconds(5));
            assertThat(refused.status()).isEqualTo(480);

            alice.send("BYE " + target + " SIP/2.0\r\n" + alice.via() + "\r\nMax-Forwards: 70\r\n"
                    + "From: <sip:alice@" + DOMAIN + ">;tag=a1\r\nTo: <" + target + ">;tag=b1\r\nCall-ID: " + callId
                    + "\r\nCSeq: 100 BYE\r\nRoute: " + moved + "\r\nContent-Length: 0\r\n\r\n");
            // From a tag that is not the caller's: the node sends it over the caller's recorded flow
            SipRequest along = alice.awaitRequest("BYE", Duration.ofSeconds(5));
            assertThat(along.cseq().number()).isEqualTo(100);
            assertThat(receivesNothing(victimUdp, new byte[2048])).isTrue();
            assertThatThrownBy(victimTcp::accept).isInstanceOf(java.net.SocketTimeoutException.class);
        }
    }

    /**
     * telephony.branchResponseTimeout is for a new call's devices only: a re-INVITE (hold, session
     * refresh) to a slow PBX or B2BUA that sends no 100 is waited for, since a 408 to it would end
     * the established call (RFC 3261 §12.2.1.2). Here bob answers alice's re-INVITE after 2.5 s,
     * with the timeout at 1 s, and alice gets that 200.
     */
    @Test
    void aReInviteAnsweredAfterTheBranchResponseTimeoutGetsItsAnswer() throws Exception {
        node.close();
        node = new TelephonyNode(dir.resolve("slow"), Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false",
                "SWITCHBOARD_TELEPHONY_BRANCH_RESPONSE_TIMEOUT", "1s"));
        createAccounts("alice", "bob");
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");

        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        bob.awaitInvite().answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));

        int reInvite = call.sendInDialog("INVITE");
        SipRequest atBob = bob.awaitRequest("INVITE", Duration.ofSeconds(5));
        Thread.sleep(2_500); // no 100, no answer: well past the 1 s
        bob.respond(atBob, 200, "OK");
        assertThat(alice.awaitResponse(r -> r.cseq().number() == reInvite && r.status() >= 200, Duration.ofSeconds(5)).status())
                .isEqualTo(200);
        call.ackInDialog(reInvite);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
    }

    /**
     * {@code telephony.maxCallDuration} ends an answered call at both phones, as Kamailio's dialog
     * module does: each gets a BYE in the other's name, to its Contact, with the dialog's tags and
     * a CSeq above every one it sent (here after each side sent an INFO), and the record is closed
     * with endedBy timeout. The caller is on UDP, the callee on TCP (two Record-Route entries).
     * Both moved their Contact during the call (the callee's re-INVITE and the caller's 2xx to it,
     * RFC 3261 §12.2): the BYEs go to the new ones.
     */
    @Test
    void anAnsweredCallPastTheMaximumDurationIsHungUpAtBothPhones() throws Exception {
        node.close();
        node = new TelephonyNode(dir.resolve("limited"), Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false",
                "SWITCHBOARD_TELEPHONY_MAX_CALL_DURATION", "1s"));
        createAccounts("alice", "bob");
        SipPhone alice = udpPhone("alice");
        SipPhone bob = tcpPhone("bob");

        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.headers().values("Record-Route")).hasSize(2);
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        int callerInfo = call.sendInDialog("INFO");
        bob.respond(bob.awaitRequest("INFO", Duration.ofSeconds(5)), 200, "OK");
        assertThat(alice.awaitResponse(r -> r.cseq().number() == callerInfo, Duration.ofSeconds(5)).status()).isEqualTo(200);
        int calleeInfo = atBob.sendInDialog("INFO");
        alice.respond(alice.awaitRequest("INFO", Duration.ofSeconds(5)), 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().number() == calleeInfo, Duration.ofSeconds(5)).status()).isEqualTo(200);
        // a target refresh: bob's re-INVITE names a new Contact, and so does alice's 2xx to it
        bob.claimedContact = "<sip:bob-moved@" + bob.sentBy() + ";transport=tcp>";
        int reInvite = atBob.sendInDialog("INVITE");
        SipRequest reInviteAtAlice = alice.awaitRequest("INVITE", Duration.ofSeconds(5));
        alice.claimedContact = "<sip:alice-moved@" + alice.sentBy() + ">";
        alice.respond(reInviteAtAlice, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().number() == reInvite && r.status() >= 200, Duration.ofSeconds(5)).status())
                .isEqualTo(200);
        atBob.ackInDialog(reInvite);
        alice.awaitRequest("ACK", Duration.ofSeconds(5));

        // the sweep runs every 5 s: the call is past 1 s at the next one
        SipRequest atCallee = bob.awaitRequest("BYE", Duration.ofSeconds(12));
        SipRequest atCaller = alice.awaitRequest("BYE", Duration.ofSeconds(5));
        bob.respond(atCallee, 200, "OK");
        alice.respond(atCaller, 200, "OK");
        assertThat(atCallee.requestUri()).isEqualTo(NameAddress.parse(bob.contact()).uri());
        assertThat(atCallee.requestUri().user()).isEqualTo("bob-moved");
        assertThat(atCallee.callId()).isEqualTo(call.callId);
        assertThat(atCallee.from().tag()).isEqualTo(ok.from().tag());
        assertThat(atCallee.to().tag()).isEqualTo(atBob.localTag);
        assertThat(atCallee.cseq().number()).isGreaterThan(callerInfo);
        assertThat(atCaller.requestUri()).isEqualTo(NameAddress.parse(alice.contact()).uri());
        assertThat(atCaller.requestUri().user()).isEqualTo("alice-moved");
        assertThat(atCaller.from().tag()).isEqualTo(atBob.localTag);
        assertThat(atCaller.to().tag()).isEqualTo(ok.from().tag());
        assertThat(atCaller.cseq().number()).isGreaterThan(reInvite);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("callId").asText()).isEqualTo(call.callId);
            assertThat(record.path("status").asText()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).isEqualTo("timeout");
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(
                metric("switchboard_call_hangups_total{result=\"answered\"}")).isEqualTo(2.0));
        assertThat(metric("switchboard_call_hangups_total{result=\"unsent\"}")).isZero();
    }

    private static boolean receivesNothing(java.net.DatagramSocket socket, byte[] buffer) throws Exception {
        try {
            socket.receive(new java.net.DatagramPacket(buffer, buffer.length));
            return false;
        } catch (java.net.SocketTimeoutException e) {
            return true;
        }
    }

    @Test
    void callsInProgressCanBeHungUpAfterTheNodeRestarts() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        int port = node.sipPort(Transport.UDP);
        node.close();
        node = new TelephonyNode(dir, Map.of("sip", "udp:127.0.0.1:" + port), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"));
        Thread answerer = answerByeInBackground(bob, atBob);
        assertThat(call.bye().status()).isEqualTo(200);
        answerer.join();
    }

    @Test
    void aDeviceThatAnswersAfterTheCallerGaveUpIsHungUp() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite(); // bob never rings: it cannot be cancelled yet (RFC 3261 §9.1)
        call.cancel();
        assertThat(call.awaitFinal().status()).isEqualTo(487); // after the node's grace period
        atBob.answer();
        SipRequest ack = bob.awaitRequest("ACK", Duration.ofSeconds(5));
        SipRequest bye = bob.awaitRequest("BYE", Duration.ofSeconds(5));
        assertThat(bye.callId()).isEqualTo(ack.callId()).isEqualTo(atBob.invite.callId());
        assertThat(alice.receivesNo("BYE", Duration.ofMillis(300))).isTrue();
    }

    @Test
    void aDeviceMayNameTheNodeAsItsOutboundProxyByDomain() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite("Route: <sip:" + DOMAIN + ";lr>\r\n");
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.headers().values("Route")).isEmpty();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }
}
