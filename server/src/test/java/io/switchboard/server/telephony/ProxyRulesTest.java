package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * RFC 3261 §16 rules of the proxy that a plain call does not exercise: Timer C, a 6xx ending a
 * fork, loop detection, in-dialog requests other than BYE in both directions, and the transaction
 * gauge over a call's life. Phones are the test's own {@link SipPhone}s, so every message the
 * node sends is seen and every answer is the test's choice.
 */
class ProxyRulesTest {
    static final String DOMAIN = "intercom.test";
    /** RFC 3261 asks for more than three minutes; the node accepts down to a second, so tests need not wait. */
    static final String SHORT_TIMER_C = "2s";

    @TempDir
    Path dir;
    TelephonyNode node;
    final List<SipPhone> phones = new ArrayList<>();

    /** A node without device authentication; {@code env} adds SWITCHBOARD_* settings. */
    void startNode(Map<String, String> env) throws Exception {
        Map<String, String> all = new HashMap<>(env);
        all.put("SWITCHBOARD_TELEPHONY_AUTH", "false");
        node = new TelephonyNode(dir, Map.of(), all);
        for (String user : List.of("alice", "bob", "carol", "dave")) {
            assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}")
                    .statusCode()).isEqualTo(201);
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup("dave", DOMAIN).isPresent());
    }

    @AfterEach
    void stop() {
        phones.forEach(SipPhone::close);
        if (node != null) {
            node.close();
        }
    }

    SipPhone udpPhone(String user) throws Exception {
        return registered(SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP)));
    }

    SipPhone tcpPhone(String user) throws Exception {
        return registered(SipPhone.tcp(user, DOMAIN, node.sipPort(Transport.TCP)));
    }

    SipPhone browser(String user) throws Exception {
        return registered(SipPhone.webSocket(user, DOMAIN, node.node.http().baseUrl()));
    }

    private SipPhone registered(SipPhone phone) throws Exception {
        phones.add(phone);
        assertThat(phone.register(600).status()).isEqualTo(200);
        return phone;
    }

    static String target(String user) {
        return "sip:" + user + "@" + DOMAIN;
    }

    JsonNode lastRecord() throws Exception {
        JsonNode records = node.json(node.api("GET", "/api/v1/call-records?limit=1", null)).path("records");
        assertThat(records).isNotEmpty();
        return records.get(0);
    }

    CallMeters meters() {
        return CallMeters.read(node.node.http().baseUrl());
    }

    void number(String number, String... members) throws Exception {
        assertThat(node.api("PUT", "/api/v1/numbers/" + number, "{\"accounts\":[\"" + String.join("\",\"", members) + "\"]}")
                .statusCode()).isIn(200, 201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.numbers().lookup(number, DOMAIN).isPresent());
    }

    // ---- Timer C ------------------------------------------------------------------------------

    /**
     * RFC 3261 §16.8: when Timer C fires on a branch that has answered provisionally, the proxy
     * CANCELs it and the branch counts as a 408 (Request Timeout); with no other branch, the
     * caller hears 408 and the call is recorded unanswered (no_answer).
     */
    @Test
    void timerCCancelsARingingDeviceAndTheCallerGets408() throws Exception {
        startNode(Map.of("SWITCHBOARD_TELEPHONY_TIMER_C", SHORT_TIMER_C));
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        CallMeters before = meters();

        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing");
        assertThat(call.await(180).status()).isEqualTo(180);
        long rang = System.nanoTime();

        // nobody picks up: Timer C (restarted by the 180, §16.7 step 2) runs out and the node cancels
        SipRequest cancel = bob.awaitRequest("CANCEL", Duration.ofSeconds(15));
        assertThat(Duration.ofNanos(System.nanoTime() - rang)).as("Timer C is %s", SHORT_TIMER_C)
                .isGreaterThanOrEqualTo(Duration.ofMillis(1500));
        assertThat(cancel.requestUri()).isEqualTo(atBob.invite.requestUri()); // §9.1: the INVITE's Request-URI and branch
        assertThat(cancel.topVia().branch()).isEqualTo(atBob.invite.topVia().branch());
        atBob.acceptCancel(cancel);

        SipResponse timeout = call.awaitFinal();
        assertThat(timeout.status()).as(timeout.startLine()).isEqualTo(408);
        call.ackFailure(timeout);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("status").asText()).isEqualTo("no_answer");
            assertThat(record.path("finalCode").asInt()).isEqualTo(408);
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneFailedCallSince(before, "no_answer", true);
            assertThat(after.active()).isZero();
        });
    }

    /** §16.8: a branch that never answered at all when Timer C fires is treated as a 408 and not cancelled (§9.1). */
    @Test
    void timerCGivesUpOnASilentDeviceWith408() throws Exception {
        startNode(Map.of("SWITCHBOARD_TELEPHONY_TIMER_C", SHORT_TIMER_C));
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        bob.awaitInvite(); // and never answers, not even 180
        SipResponse timeout = call.awaitFinal();
        assertThat(timeout.status()).as(timeout.startLine()).isEqualTo(408);
        call.ackFailure(timeout);
        assertThat(bob.receivesNo("CANCEL", Duration.ofMillis(500))).isTrue();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("no_answer"));
    }

    // ---- 6xx ----------------------------------------------------------------------------------

    /**
     * §16.7 step 5: a 6xx from one branch ends the fork; the proxy cancels every other pending
     * branch and, once they are done, the caller gets the 6xx (step 6 prefers it to the 487s).
     */
    @Test
    void aDeclineFromOneDeviceEndsTheForkForEveryDevice() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone carol = udpPhone("carol");
        SipPhone dave = browser("dave");
        number("42", "bob", "carol", "dave");
        CallMeters before = meters();

        SipPhone.Call call = alice.call(target("42"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        SipPhone.Incoming atCarol = carol.awaitInvite();
        SipPhone.Incoming atDave = dave.awaitInvite();
        atBob.respond(180, "Ringing");
        atCarol.respond(180, "Ringing");
        atDave.respond(180, "Ringing");
        call.await(180);

        atBob.respond(603, "Decline");
        bob.awaitRequest("ACK", Duration.ofSeconds(5)); // the node's ACK for the 6xx, hop by hop
        SipRequest cancelAtCarol = carol.awaitRequest("CANCEL", Duration.ofSeconds(5));
        SipRequest cancelAtDave = dave.awaitRequest("CANCEL", Duration.ofSeconds(5));
        // "not immediately forwarded": the caller waits while the cancelled branches finish
        assertThat(alice.receivesNoResponse(r -> r.callId().equals(call.callId) && r.status() >= 200,
                Duration.ofMillis(300))).isTrue();
        atCarol.acceptCancel(cancelAtCarol);
        atDave.acceptCancel(cancelAtDave);

        SipResponse declined = call.awaitFinal();
        assertThat(declined.status()).as(declined.startLine()).isEqualTo(603);
        call.ackFailure(declined);
        assertThat(bob.receivesNo("CANCEL", Duration.ofMillis(300))).as("a finished branch is not cancelled").isTrue();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            JsonNode record = lastRecord();
            assertThat(record.path("finalCode").asInt()).isEqualTo(603);
            assertThat(record.path("status").asText()).isEqualTo("declined");
        });
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            CallMeters after = meters();
            after.assertOneFailedCallSince(before, "declined", true);
            assertThat(after.active()).isZero();
        });
    }

    /** alice calls flat 42 (bob and carol), and both phones have the INVITE. */
    private record FlatCall(SipPhone alice, SipPhone carol, SipPhone.Call call, SipPhone.Incoming atBob,
                            SipPhone.Incoming atCarol) {
    }

    private FlatCall callFlat42() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone carol = udpPhone("carol");
        number("42", "bob", "carol");
        SipPhone.Call call = alice.call(target("42"));
        call.invite(null);
        return new FlatCall(alice, carol, call, bob.awaitInvite(), carol.awaitInvite());
    }

    /**
     * A device that never answers at all (a stale registration: a phone that went away without
     * unregistering) cannot be cancelled (§9.1); once another device declines, the caller gets the
     * 6xx at once instead of ringing on for that device's Timer B (32 s). Should it answer later,
     * its ringing gets the CANCEL it was owed and never reaches the caller.
     */
    @Test
    void aDeclineIsNotHeldBackByADeviceThatNeverAnswered() throws Exception {
        FlatCall flat = callFlat42();
        SipPhone alice = flat.alice();
        SipPhone carol = flat.carol();
        SipPhone.Call call = flat.call();
        SipPhone.Incoming atBob = flat.atBob();
        SipPhone.Incoming atCarol = flat.atCarol(); // and carol stays silent
        atBob.respond(180, "Ringing");
        call.await(180);
        long declinedAt = System.nanoTime();
        atBob.respond(603, "Decline");

        SipResponse declined = call.awaitFinal();
        assertThat(declined.status()).as(declined.startLine()).isEqualTo(603);
        assertThat(Duration.ofNanos(System.nanoTime() - declinedAt)).isLessThan(Duration.ofSeconds(1));
        call.ackFailure(declined);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("declined"));

        atCarol.respond(180, "Ringing"); // late
        SipRequest owed = carol.awaitRequest("CANCEL", Duration.ofSeconds(5));
        atCarol.acceptCancel(owed);
        assertThat(alice.receivesNoResponse(r -> r.callId().equals(call.callId) && r.status() == 180,
                Duration.ofMillis(300))).isTrue();
    }

    /** A device that rang and then ignores its CANCEL keeps a declined caller waiting at most 2 s. */
    @Test
    void aDeclineReachesTheCallerWithinTheGraceWhenACancelledDeviceSaysNothing() throws Exception {
        FlatCall flat = callFlat42();
        SipPhone carol = flat.carol();
        SipPhone.Call call = flat.call();
        SipPhone.Incoming atBob = flat.atBob();
        SipPhone.Incoming atCarol = flat.atCarol();
        atBob.respond(180, "Ringing");
        atCarol.respond(180, "Ringing");
        call.await(180);
        long declinedAt = System.nanoTime();
        atBob.respond(603, "Decline");
        carol.awaitRequest("CANCEL", Duration.ofSeconds(5)); // and carol answers neither it nor the INVITE

        SipResponse declined = call.awaitFinal();
        assertThat(declined.status()).as(declined.startLine()).isEqualTo(603);
        assertThat(Duration.ofNanos(System.nanoTime() - declinedAt)).isBetween(Duration.ofMillis(1500), Duration.ofSeconds(5));
        call.ackFailure(declined);
    }

    // ---- loops --------------------------------------------------------------------------------

    /**
     * §16.3 step 4: a request that comes back carrying this proxy's own Via with the branch it
     * would compute for it again (same Request-URI, tags, Call-ID, CSeq: §16.6 step 8) is a loop
     * and gets 482. A device that forwards its call back to the address it was called at makes
     * one. The same request sent on to another address is a spiral, not a loop, and is forwarded.
     */
    @Test
    void aCallForwardedBackToTheSameAddressIsALoopButForwardingElsewhereIsASpiral() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone carol = udpPhone("carol");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.vias()).hasSize(2); // the node's Via on top of alice's
        atBob.respond(180, "Ringing"); // stops the node retransmitting the INVITE (§17.1.1.2)
        call.await(180);

        // bob forwards the INVITE, every Via kept, back to sip:bob@domain: the node sees itself again
        String looped = forwardedBy(bob, atBob.invite, target("bob"));
        bob.send(looped);
        SipResponse loop = bob.awaitResponse(r -> r.callId().equals(call.callId) && r.status() >= 200,
                Duration.ofSeconds(5));
        assertThat(loop.status()).as(loop.startLine()).isEqualTo(482);
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(500))).as("the loop is not forwarded to bob again").isTrue();

        // the same request towards carol is a spiral (another Request-URI): it rings carol
        bob.send(forwardedBy(bob, atBob.invite, target("carol")));
        SipPhone.Incoming atCarol = carol.awaitInvite();
        assertThat(atCarol.invite.callId()).isEqualTo(call.callId);
        assertThat(atCarol.invite.vias()).hasSize(4);
        atCarol.respond(486, "Busy Here");
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }

    /**
     * A phone whose domain is the node's address and whose outbound proxy is the node's port (the
     * node is not on 5060) dials sip:user@address, no port: it rings, as its REGISTER to that
     * address was taken; another host is still refused (no relaying).
     */
    @Test
    void aCallToTheNodesAddressWithoutItsPortIsACallWithinTheNode() throws Exception {
        startNode(Map.of());
        assertThat(node.sipPort(Transport.UDP)).isNotEqualTo(5060);
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call("sip:bob@127.0.0.1");
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);

        SipPhone.Call elsewhere = alice.call("sip:bob@192.0.2.1");
        elsewhere.invite(null);
        assertThat(elsewhere.awaitFinal().status()).isEqualTo(403);
    }

    /**
     * Behind a balancer on another port than 5060, a phone whose domain is the balancer's address
     * dials sip:user@balancer, no port: the node takes the address the connection reached (its
     * PROXY header) as its own, as it does its own address, and rings the callee; another host is
     * still refused.
     */
    @Test
    void aCallToTheBalancersAddressWithoutItsPortIsACallWithinTheNode() throws Exception {
        startNode(Map.of("SWITCHBOARD_TELEPHONY_PROXY_PROTOCOL_FROM", "127.0.0.1"));
        InetSocketAddress balancer = new InetSocketAddress(InetAddress.getByName("192.0.2.10"), 5070);
        SipPhone alice = registered(SipPhone.tcpThroughBalancer("alice", DOMAIN, node.sipPort(Transport.TCP), balancer));
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call("sip:bob@192.0.2.10");
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);

        SipPhone.Call elsewhere = alice.call("sip:bob@192.0.2.11");
        elsewhere.invite(null);
        assertThat(elsewhere.awaitFinal().status()).isEqualTo(403);
    }

    /**
     * Towards a phone behind a balancer the node's Via names the balancer, not the node, with the
     * node's id ({@code nid}) so that the node still knows its own Via: a request that comes back
     * through the balancer carrying it is a loop (RFC 3261 §16.3 step 4), though no address in
     * that Via is the node's.
     */
    @Test
    void aCallLoopedBackThroughTheBalancerIsKnownByTheNodeIdInItsVia() throws Exception {
        startNode(Map.of("SWITCHBOARD_TELEPHONY_PROXY_PROTOCOL_FROM", "127.0.0.1"));
        SipPhone alice = udpPhone("alice");
        InetSocketAddress balancer = new InetSocketAddress(InetAddress.getByName("192.0.2.10"), 5060);
        SipPhone bob = registered(SipPhone.tcpThroughBalancer("bob", DOMAIN, node.sipPort(Transport.TCP), balancer));
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        Via nodeVia = atBob.invite.vias().get(0);
        assertThat(nodeVia.host() + ":" + nodeVia.port()).as("the node's Via names the balancer")
                .isEqualTo("192.0.2.10:5060");
        assertThat(nodeVia.param("nid")).isNotBlank();
        atBob.respond(180, "Ringing");
        call.await(180);

        bob.send(forwardedBy(bob, atBob.invite, target("bob")));
        SipResponse loop = bob.awaitResponse(r -> r.callId().equals(call.callId) && r.status() >= 200,
                Duration.ofSeconds(5));
        assertThat(loop.status()).as(loop.startLine()).isEqualTo(482);
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(500))).as("the loop is not forwarded to bob again").isTrue();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }

    /**
     * A tel: Contact stored before the registrar refused them (or by a node of an earlier
     * version) is nothing the node can send to: a call rings the callee's SIP Contact only.
     */
    @Test
    void aStoredTelContactIsNotRung() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        var location = node.telephony.location();
        var sip = location.lookup(target("bob"), System.currentTimeMillis()).get(0);
        var tel = new io.switchboard.telephony.registrar.Binding(sip.aor(), "tel:+15551234567", "<tel:+15551234567>",
                sip.callId() + "-tel", sip.cseq(), sip.qValue(), sip.expiresAtMillis(), sip.registeredAtMillis(),
                sip.transport(), sip.remoteAddress(), sip.remotePort(), sip.localAddress(), sip.localPort(), sip.flowId(),
                sip.userAgent(), null, 0, sip.node(), sip.path(), sip.version());
        location.merge(List.of(tel), System.currentTimeMillis());
        assertThat(location.lookup(target("bob"), System.currentTimeMillis())).hasSize(2);

        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.requestUri().scheme()).isEqualTo("sip");
        atBob.respond(180, "Ringing"); // the node's INVITE is not retransmitted (Timer A), which would look like a second
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(500))).as("no INVITE for the tel: Contact").isTrue();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }

    /**
     * RFC 3261 §8.2.2.2: the same INVITE (From tag, Call-ID, CSeq) arriving again as another
     * transaction, by a second path after a fork upstream, is a merged request. It is answered 482
     * without ringing the callee again, and the call is recorded once, its record ended by the
     * first INVITE's answer.
     */
    @Test
    void aMergedInviteIsAnswered482AndTheCallIsRecordedOnce() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing"); // the node's INVITE is not retransmitted (Timer A), which would look like a second

        String secondPath = call.inviteByAnotherPath();
        SipResponse merged = alice.awaitResponse(r -> r.callId().equals(call.callId) && r.status() >= 200
                && secondPath.equals(r.vias().get(0).branch()), Duration.ofSeconds(5));
        assertThat(merged.status()).isEqualTo(482);
        assertThat(merged.reason()).contains("merged");
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(500))).as("bob is not rung twice").isTrue();

        // a leg of the same INVITE for another user (a group forked in parallel upstream) is a
        // call of its own, not a merge
        SipPhone carol = udpPhone("carol");
        call.inviteByAnotherPath(target("carol"));
        SipPhone.Incoming atCarol = carol.awaitInvite();
        atCarol.respond(486, "Busy Here");

        atBob.respond(486, "Busy Here");
        SipResponse first = alice.awaitResponse(r -> r.callId().equals(call.callId) && r.status() >= 200
                && call.branch.equals(r.vias().get(0).branch()), Duration.ofSeconds(5));
        assertThat(first.status()).isEqualTo(486);
        await().atMost(Duration.ofSeconds(5)).until(() -> recordsOf(call.callId).size() == 2
                && recordsOf(call.callId).stream().allMatch(r -> r.path("endedAt").isTextual()));
        Thread.sleep(300); // a third record would be written by now
        List<JsonNode> records = recordsOf(call.callId);
        assertThat(records).as("one record for bob's leg, one for carol's").hasSize(2);
        assertThat(records).allSatisfy(r -> assertThat(r.path("finalCode").asInt()).as(r.toString()).isEqualTo(486));
    }

    private List<JsonNode> recordsOf(String callId) throws Exception {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode record : node.json(node.api("GET", "/api/v1/call-records?limit=50", null)).path("records")) {
            if (record.path("callId").asText().equals(callId)) {
                found.add(record);
            }
        }
        return found;
    }

    /**
     * A phone whose outbound proxy is a name of the node (the name on its TLS certificate) puts
     * that name in a preloaded Route (RFC 3261 §8.1.2): with {@code telephony.aliases} naming it,
     * and for {@code localhost} always, the node pops its own Route and rings the callee; a name
     * that is not the node's is another host, which the node does not relay to (403).
     */
    @Test
    void aRouteNamingTheNodeByAnAliasIsTheNodeAndOtherNamesAreNot() throws Exception {
        startNode(Map.of("SWITCHBOARD_TELEPHONY_ALIASES", "SIP.Intercom.Example, edge.intercom.example"));
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        int port = node.sipPort(Transport.UDP);
        for (String host : List.of("sip.intercom.example", "edge.intercom.example", "localhost")) {
            SipPhone.Call call = alice.call(target("bob"));
            call.invite("Route: <sip:" + host + ":" + port + ";lr>\r\n");
            SipPhone.Incoming atBob = bob.awaitInvite();
            assertThat(atBob.invite.callId()).as(host).isEqualTo(call.callId);
            assertThat(atBob.invite.headers().values("Route")).as(host).isEmpty();
            atBob.respond(486, "Busy Here");
            assertThat(call.awaitFinal().status()).as(host).isEqualTo(486);
        }
        SipPhone.Call elsewhere = alice.call(target("bob"));
        elsewhere.invite("Route: <sip:other.intercom.example:" + port + ";lr>\r\n");
        SipResponse refused = elsewhere.awaitFinal();
        assertThat(refused.status()).isEqualTo(403);
        assertThat(refused.reason()).contains("other hosts");
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(300))).isTrue();
    }

    @Test
    void anAliasThatIsNotAHostNameStopsTheNode() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> startNode(Map.of("SWITCHBOARD_TELEPHONY_ALIASES", "sip example")))
                .hasMessageContaining("telephony.aliases").hasMessageContaining("not a host name");
    }

    /** The INVITE {@code received} as a forwarding device sends it on: its Via on top, Request-URI {@code to}. */
    private static String forwardedBy(SipPhone device, SipRequest received, String to) {
        SipRequest copy = received.copy();
        copy.setRequestUri(io.switchboard.sip.message.SipUri.parse(to));
        copy.headers().set("Max-Forwards", Integer.toString(received.maxForwards() - 1));
        copy.headers().addFirst("Via", device.via().substring("Via: ".length()));
        return new String(copy.encode(), java.nio.charset.StandardCharsets.UTF_8);
    }

    // ---- in-dialog requests -------------------------------------------------------------------

    /**
     * §16.12 and §12.2: once a call is up, re-INVITE (with its ACK), UPDATE (RFC 3311) and INFO
     * (RFC 6086) from either side follow the route set from the Record-Route through the node to
     * the other side, and their responses come back the same way.
     */
    @Test
    void reInviteUpdateAndInfoFollowTheRecordRouteBothWays() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        exchangeInDialogRequests(alice, bob, 1);
    }

    /** The same across transports (UDP phone ↔ WebSocket browser), where the node Record-Routes twice (RFC 5658). */
    @Test
    void reInviteUpdateAndInfoCrossTransportsBothWays() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone dave = browser("dave");
        exchangeInDialogRequests(alice, dave, 2);
    }

    private void exchangeInDialogRequests(SipPhone caller, SipPhone callee, int recordRoutes) throws Exception {
        SipPhone.Call call = caller.call(target(callee.user));
        call.invite(null);
        SipPhone.Incoming incoming = callee.awaitInvite();
        assertThat(incoming.invite.headers().values("Record-Route")).hasSize(recordRoutes);
        incoming.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        callee.awaitRequest("ACK", Duration.ofSeconds(5));
        assertThat(call.routeSet).hasSize(recordRoutes);

        // caller → callee
        int reInvite = call.sendInDialog("INVITE");
        SipRequest atCallee = callee.awaitRequest("INVITE", Duration.ofSeconds(5));
        assertRelayed(atCallee, callee, call.callId);
        callee.respond(atCallee, 200, "OK");
        SipResponse reInviteOk = caller.awaitResponse(r -> r.callId().equals(call.callId)
                && r.cseq().method().equals("INVITE") && r.cseq().number() == reInvite && r.status() == 200, Duration.ofSeconds(5));
        assertThat(reInviteOk.topVia().sentBy()).isEqualTo(caller.sentBy());
        call.ackInDialog(reInvite);
        SipRequest reInviteAck = callee.awaitRequest("ACK", Duration.ofSeconds(5));
        assertRelayed(reInviteAck, callee, call.callId);
        assertThat(reInviteAck.cseq().number()).isEqualTo(reInvite);
        for (String method : List.of("UPDATE", "INFO")) {
            Answerer answering = answerInBackground(callee, method, call.callId);
            SipResponse answered = call.inDialog(method);
            assertThat(answered.status()).as(method + " caller to callee").isEqualTo(200);
            answering.join();
        }

        // callee → caller
        int calleeReInvite = incoming.sendInDialog("INVITE");
        SipRequest atCaller = caller.awaitRequest("INVITE", Duration.ofSeconds(5));
        assertRelayed(atCaller, caller, call.callId);
        caller.respond(atCaller, 200, "OK");
        SipResponse calleeReInviteOk = callee.awaitResponse(r -> r.callId().equals(call.callId)
                && r.cseq().method().equals("INVITE") && r.cseq().number() == calleeReInvite && r.status() == 200,
                Duration.ofSeconds(5));
        assertThat(calleeReInviteOk.topVia().sentBy()).isEqualTo(callee.sentBy());
        incoming.ackInDialog(calleeReInvite);
        assertRelayed(caller.awaitRequest("ACK", Duration.ofSeconds(5)), caller, call.callId);
        for (String method : List.of("UPDATE", "INFO")) {
            Answerer answering = answerInBackground(caller, method, call.callId);
            SipResponse answered = incoming.inDialog(method);
            assertThat(answered.status()).as(method + " callee to caller").isEqualTo(200);
            answering.join();
        }

        Answerer byeAnswered = answerInBackground(callee, "BYE", call.callId);
        assertThat(call.bye().status()).isEqualTo(200);
        byeAnswered.join();
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("completed"));
    }

    /**
     * What a request relayed by the node looks like at the far end (§16.6, §16.12): the Route
     * entries naming the node are gone, the node's Via is on top of the sender's, and Max-Forwards
     * went down by one.
     */
    private static void assertRelayed(SipRequest request, SipPhone receiver, String callId) {
        assertThat(request.callId()).isEqualTo(callId);
        assertThat(request.headers().values("Route")).as(request.startLine()).isEmpty();
        assertThat(request.vias()).as(request.startLine()).hasSize(2);
        assertThat(request.maxForwards()).as(request.startLine()).isEqualTo(69);
        assertThat(request.requestUri().toString()).as(request.startLine()).contains(receiver.user);
    }

    /** Answers 200 to the next {@code method} the phone receives; {@link Answerer#join()} fails the test with what went wrong there. */
    private static Answerer answerInBackground(SipPhone phone, String method, String callId) {
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread thread = Thread.ofVirtual().start(() -> {
            try {
                SipRequest request = phone.awaitRequest(method, Duration.ofSeconds(10));
                phone.respond(request, 200, "OK");
                assertRelayed(request, phone, callId);
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        return new Answerer(thread, failure);
    }

    private record Answerer(Thread thread, java.util.concurrent.atomic.AtomicReference<Throwable> failure) {
        void join() throws InterruptedException {
            assertThat(thread.join(Duration.ofSeconds(15))).as("the answering phone finished").isTrue();
            assertThat(failure.get()).as("the answering phone").isNull();
        }
    }

    // ---- transactions gauge -------------------------------------------------------------------

    /**
     * RFC 6026 §7.1-§7.2 after an answer over UDP: the callee's retransmitted 200 (its ACK is
     * late) reaches the caller through the Accepted client and server transactions, the caller's
     * retransmitted INVITE is absorbed (no second INVITE at the callee), and a CANCEL that crossed
     * the 200 gets 200 (RFC 3261 §16.10) and goes no further.
     */
    @Test
    void retransmissionsAfterTheAnswerAreHandled() throws Exception {
        startNode(Map.of());
        SipPhone alice = udpPhone("alice");
        SipPhone bob = udpPhone("bob");
        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);

        atBob.answer(); // the callee's ACK is late: it retransmits its 200
        SipResponse again = call.awaitFinal();
        assertThat(again.status()).isEqualTo(200);
        assertThat(again.headers().fields("Via")).isEqualTo(ok.headers().fields("Via"));

        call.invite(null); // the caller missed the 200 and retransmits its INVITE
        call.cancel(); // and gives up at the same moment
        SipResponse cancelled = alice.awaitResponse(r -> r.callId().equals(call.callId)
                && r.cseq().method().equals("CANCEL"), Duration.ofSeconds(5));
        assertThat(cancelled.status()).isEqualTo(200);
        assertThatThrownBy(() -> bob.awaitRequest("INVITE", Duration.ofMillis(700)))
                .as("the retransmitted INVITE is absorbed").isInstanceOf(AssertionError.class);
        assertThatThrownBy(() -> bob.awaitRequest("CANCEL", Duration.ofMillis(100)))
                .as("a CANCEL after the answer goes no further").isInstanceOf(AssertionError.class);

        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        atBob.bye();
        SipRequest bye = alice.awaitRequest("BYE", Duration.ofSeconds(5));
        alice.respond(bye, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(5)).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() ->
                assertThat(lastRecord().path("status").asText()).isEqualTo("completed"));
    }

    /**
     * switchboard_sip_transactions counts transactions in progress or lingering (RFC 3261 §17):
     * a ringing call holds at least the caller's INVITE server transaction and the callee's
     * INVITE client transaction; once the call fails and the failure is ACKed, over TCP nothing
     * lingers (Timers I and D are zero on reliable transports, §17.2.1 and §17.1.1.2).
     */
    @Test
    void theTransactionGaugeRisesDuringACallAndFallsBackAfterIt() throws Exception {
        startNode(Map.of());
        SipPhone alice = tcpPhone("alice");
        SipPhone bob = tcpPhone("bob");
        double idle = meters().value(CallMeters.TRANSACTIONS);
        assertThat(idle).isGreaterThanOrEqualTo(0);

        SipPhone.Call call = alice.call(target("bob"));
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing");
        call.await(180);
        assertThat(meters().value(CallMeters.TRANSACTIONS)).isGreaterThanOrEqualTo(idle + 2);

        atBob.respond(486, "Busy Here");
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        SipResponse busy = call.awaitFinal();
        assertThat(busy.status()).isEqualTo(486);
        call.ackFailure(busy);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(meters().value(CallMeters.TRANSACTIONS)).isLessThanOrEqualTo(idle));
    }
}
