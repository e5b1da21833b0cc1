package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.Main;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Accounts and numbers take effect at once: an account added through the API registers in the
 * same breath; removing one ends its registrations (in memory and in the store, for good), its
 * places in numbers and the calls ringing its devices before the API answers; the CLI's changes
 * reach a running node within a second. Digest authentication is on, as on a default node.
 */
class AccountChangesTest {
    static final String DOMAIN = "intercom.test";
    @TempDir
    Path dir;
    TelephonyNode node;
    final List<SipPhone> phones = new ArrayList<>();

    @AfterEach
    void stop() {
        phones.forEach(SipPhone::close);
        if (node != null) {
            node.close();
        }
    }

    SipPhone phone(String user) throws Exception {
        SipPhone phone = SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP));
        phones.add(phone);
        return phone;
    }

    void addAccount(String user) throws Exception {
        HttpResponse<String> created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    }

    /** An INVITE with credentials: the first try is challenged (407, RFC 3261 §22.3), the second answers it. */
    static SipPhone.Call authenticatedCall(SipPhone caller, String target) throws Exception {
        SipPhone.Call probe = caller.call(target);
        probe.invite(null);
        SipResponse challenge = probe.awaitFinal();
        assertThat(challenge.status()).isEqualTo(407);
        probe.ackFailure(challenge);
        SipPhone.Call call = caller.call(target);
        call.invite(call.proxyAuthorization(challenge, "secret-" + caller.user));
        return call;
    }

    String registrations() throws Exception {
        return node.json(node.api("GET", "/api/v1/registrations", null)).toString();
    }

    long storedBindings(String user) {
        return node.node.store().jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM sip_bindings WHERE aor = :aor")
                .bind("aor", "sip:" + user + "@" + DOMAIN).mapTo(Long.class).one());
    }

    @Test
    void anAccountAddedThroughTheApiRegistersAtOnceAndANewPasswordTakesOverAtOnce() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        SipPhone erin = phone("erin");
        addAccount("erin");
        // no wait between the 201 and the REGISTER
        assertThat(erin.register(600, "secret-erin").status()).isEqualTo(200);

        HttpResponse<String> changed = node.api("PUT", "/api/v1/accounts/erin/password", "{\"password\":\"second-secret\"}");
        assertThat(changed.statusCode()).as(changed.body()).isEqualTo(200);
        assertThat(erin.register(600, "secret-erin").status()).isEqualTo(403);
        assertThat(erin.register(600, "second-secret").status()).isEqualTo(200);
    }

    @Test
    void removingAnAccountEndsItsRegistrationsNumbersAndRingingCallsBeforeTheApiAnswers() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        for (String user : List.of("alice", "bob", "carol")) {
            addAccount(user);
        }
        HttpResponse<String> number = node.api("PUT", "/api/v1/numbers/42", "{\"accounts\":[\"bob\",\"carol\"]}");
        assertThat(number.statusCode()).as(number.body()).isEqualTo(201);
        SipPhone alice = phone("alice");
        SipPhone bob = phone("bob");
        SipPhone carol = phone("carol");
        assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
        assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
        assertThat(registrations()).contains("sip:bob@" + DOMAIN);
        assertThat(storedBindings("bob")).isEqualTo(1);

        SipPhone.Call ringing = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(180, "Ringing");
        assertThat(ringing.await(180).status()).isEqualTo(180);

        assertThat(node.api("DELETE", "/api/v1/accounts/bob", null).statusCode()).isEqualTo(204);
        // in force when the answer came: no registration in memory, in the API or in the store
        assertThat(node.telephony.location().lookup("sip:bob@" + DOMAIN, System.currentTimeMillis())).isEmpty();
        assertThat(registrations()).doesNotContain("sip:bob@").contains("sip:carol@");
        assertThat(storedBindings("bob")).isZero();
        // out of the number, in the store and in what the node routes by
        JsonNode flat = node.json(node.api("GET", "/api/v1/numbers/42", null));
        assertThat(flat.get("accounts").toString()).isEqualTo("[\"carol\"]");
        assertThat(node.telephony.numbers().lookup("42", DOMAIN).orElseThrow().members()).containsExactly("carol");
        // the ringing call is cancelled at bob's phone (RFC 3261 §16.10) and the caller told 480
        SipRequest cancel = bob.awaitRequest("CANCEL", Duration.ofSeconds(2));
        atBob.acceptCancel(cancel);
        SipResponse ended = ringing.awaitFinal();
        assertThat(ended.status()).isEqualTo(480);
        ringing.ackFailure(ended);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.proxy().ringingCalls() == 0);

        // a new call to bob finds nobody, and bob's phone cannot come back
        SipPhone.Call again = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipResponse notFound = again.awaitFinal();
        assertThat(notFound.status()).isEqualTo(404);
        again.ackFailure(notFound);
        assertThat(bob.register(600, "secret-bob").status()).isEqualTo(403);
        // the number rings carol alone
        SipPhone.Call toFlat = authenticatedCall(alice, "sip:42@" + DOMAIN);
        SipPhone.Incoming atCarol = carol.awaitInvite();
        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(300))).isTrue();
        atCarol.respond(486, "Busy Here");
        SipResponse busy = toFlat.awaitFinal();
        assertThat(busy.status()).isEqualTo(486);
        toFlat.ackFailure(busy);

        // a restart brings back carol's registration, never bob's; a stored binding of an account
        // that no longer exists (left by a removal racing a registration) is dropped at start
        node.node.store().jdbi().useHandle(h -> h.execute("INSERT INTO sip_bindings (aor, contact, contact_header, "
                + "call_id, cseq, q, expires_at, registered_at, transport, remote_address, remote_port, local_address, "
                + "local_port, flow_id, user_agent, instance_id) VALUES ('sip:ghost@" + DOMAIN + "', "
                + "'sip:ghost@127.0.0.1:5999', '<sip:ghost@127.0.0.1:5999>', 'x', 1, 1000, "
                + (System.currentTimeMillis() + 600_000) + ", 0, 'UDP', '127.0.0.1', 5999, '127.0.0.1', 5060, 'f', null, null)"));
        node.close();
        node = new TelephonyNode(dir, Map.of());
        assertThat(registrations()).contains("sip:carol@").doesNotContain("sip:bob@").doesNotContain("ghost");
        assertThat(storedBindings("bob")).isZero();
        await().atMost(Duration.ofSeconds(2)).until(() -> storedBindings("ghost") == 0);
    }

    /**
     * A device that has not answered provisionally cannot be cancelled yet (RFC 3261 §9.1): the
     * caller is told 480 after a short grace instead of after Timer C.
     */
    @Test
    void aRemovedAccountsSilentDeviceIsGivenUpSoon() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice");
        addAccount("gus");
        SipPhone alice = phone("alice");
        SipPhone gus = phone("gus");
        assertThat(gus.register(600, "secret-gus").status()).isEqualTo(200);
        SipPhone.Call call = authenticatedCall(alice, "sip:gus@" + DOMAIN);
        gus.awaitInvite(); // and says nothing

        long removedAt = System.nanoTime();
        assertThat(node.api("DELETE", "/api/v1/accounts/gus", null).statusCode()).isEqualTo(204);
        SipResponse ended = call.awaitFinal();
        assertThat(ended.status()).isEqualTo(480);
        assertThat(ended.reason()).contains("account removed");
        assertThat(Duration.ofNanos(System.nanoTime() - removedAt)).isLessThan(Duration.ofSeconds(5));
        call.ackFailure(ended);
        assertThat(node.telephony.proxy().ringingCalls()).isZero();
    }

    /**
     * The caller was told 480 after the grace, but the removed account's device is not forgotten:
     * ringing later, it gets its CANCEL (§9.1); answering later, its 2xx is ACKed and ended with a
     * BYE, so it is not left in a half-open call.
     */
    @Test
    void aRemovedAccountsDeviceThatRingsOrAnswersAfterTheGraceIsStillEnded() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice");
        addAccount("ivy");
        addAccount("jon");
        SipPhone alice = phone("alice");
        SipPhone ivy = phone("ivy");
        SipPhone jon = phone("jon");
        assertThat(ivy.register(600, "secret-ivy").status()).isEqualTo(200);
        assertThat(jon.register(600, "secret-jon").status()).isEqualTo(200);
        SipPhone.Call toIvy = authenticatedCall(alice, "sip:ivy@" + DOMAIN);
        SipPhone.Incoming atIvy = ivy.awaitInvite(); // and says nothing, yet
        SipPhone.Call toJon = authenticatedCall(alice, "sip:jon@" + DOMAIN);
        SipPhone.Incoming atJon = jon.awaitInvite();
        assertThat(node.api("DELETE", "/api/v1/accounts/ivy", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/accounts/jon", null).statusCode()).isEqualTo(204);
        SipResponse ivyEnded = toIvy.awaitFinal();
        assertThat(ivyEnded.status()).isEqualTo(480);
        toIvy.ackFailure(ivyEnded);
        SipResponse jonEnded = toJon.awaitFinal();
        assertThat(jonEnded.status()).isEqualTo(480);
        toJon.ackFailure(jonEnded);

        atIvy.respond(180, "Ringing");
        atIvy.acceptCancel(ivy.awaitRequest("CANCEL", Duration.ofSeconds(1)));

        atJon.answer();
        SipRequest ack = jon.awaitRequest("ACK", Duration.ofSeconds(1));
        assertThat(ack.callId()).isEqualTo(atJon.invite.callId());
        SipRequest bye = jon.awaitRequest("BYE", Duration.ofSeconds(1));
        assertThat(bye.callId()).isEqualTo(atJon.invite.callId());
        atJon.respondTo(bye, 200);
        assertThat(alice.receivesNoResponse(r -> r.status() == 200 && r.cseq().method().equals("INVITE"),
                Duration.ofMillis(100))).isTrue();
    }

    /** A device that starts ringing after its account was removed gets its CANCEL then (§9.1); the caller never hears it ring. */
    @Test
    void aRemovedAccountsDeviceThatRingsLateIsCancelledThen() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice");
        addAccount("hal");
        SipPhone alice = phone("alice");
        SipPhone hal = phone("hal");
        assertThat(hal.register(600, "secret-hal").status()).isEqualTo(200);
        SipPhone.Call call = authenticatedCall(alice, "sip:hal@" + DOMAIN);
        SipPhone.Incoming atHal = hal.awaitInvite();
        assertThat(node.api("DELETE", "/api/v1/accounts/hal", null).statusCode()).isEqualTo(204);

        atHal.respond(180, "Ringing");
        atHal.acceptCancel(hal.awaitRequest("CANCEL", Duration.ofSeconds(1)));
        SipResponse ended = call.awaitFinal();
        assertThat(ended.status()).isEqualTo(480);
        call.ackFailure(ended);
        assertThat(alice.receivesNoResponse(r -> r.callId().equals(call.callId) && r.status() == 180,
                Duration.ofMillis(100))).isTrue();
    }

    @Test
    void theCliRemovingAnAccountReachesARunningNodeWithinASecond() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("dave");
        SipPhone dave = phone("dave");
        assertThat(dave.register(600, "secret-dave").status()).isEqualTo(200);

        assertThat(cli("account", "remove", "dave", "--data-dir", dir.toString())).isZero();
        assertThat(storedBindings("dave")).isZero(); // the CLI's own transaction
        await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(20)).until(() ->
                node.telephony.location().lookup("sip:dave@" + DOMAIN, System.currentTimeMillis()).isEmpty());
        assertThat(registrations()).doesNotContain("sip:dave@");
        assertThat(dave.register(600, "secret-dave").status()).isEqualTo(403);
    }

    static int cli(String... args) {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        return Main.execute(Map.of(), new PrintStream(sink, true, StandardCharsets.UTF_8),
                new PrintStream(sink, true, StandardCharsets.UTF_8), args);
    }
}
