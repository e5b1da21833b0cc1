package io.switchboard.server.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The second step of a drain, on the wire: once the node refuses new work, a new dialog and a
 * REGISTER get 503 with Retry-After (RFC 3261 §21.5.4) and a To tag (§8.2.6.2) so devices go to
 * another node, while a call being set up can still be cancelled and a call already established
 * is still re-INVITEd and ends normally (its in-dialog requests are served).
 */
class SipDrainTest {
    private static final String DOMAIN = "intercom.test";

    @TempDir
    Path dir;
    TelephonyNode node;
    final List<SipPhone> phones = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"));
        for (String user : List.of("alice", "bob")) {
            assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}")
                    .statusCode()).isEqualTo(201);
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup("bob", DOMAIN).isPresent());
    }

    @AfterEach
    void stop() {
        phones.forEach(SipPhone::close);
        if (node != null) {
            node.close();
        }
    }

    private SipPhone phone(String user) throws Exception {
        SipPhone phone = SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP));
        phones.add(phone);
        assertThat(phone.register(600).status()).isEqualTo(200);
        return phone;
    }

    /** A call from {@code caller} to {@code callee}, ringing (180) at both ends. */
    private record Ringing(SipPhone.Call call, SipPhone.Incoming atCallee) {
    }

    private static Ringing ringing(SipPhone caller, SipPhone callee) throws Exception {
        SipPhone.Call call = caller.call("sip:" + callee.user + "@" + DOMAIN);
        call.invite(null);
        SipPhone.Incoming atCallee = callee.awaitInvite();
        atCallee.respond(180, "Ringing");
        call.await(180);
        return new Ringing(call, atCallee);
    }

    @Test
    void newDialogsGet503WithRetryAfterWhileAnEstablishedCallStillEnds() throws Exception {
        SipPhone alice = phone("alice");
        SipPhone bob = phone("bob");
        SipPhone.Call call = alice.call("sip:bob@" + DOMAIN);
        call.invite(null);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest(SipRequest.ACK, Duration.ofSeconds(5));
        // a second call, still ringing when the node starts refusing
        Ringing second = ringing(alice, bob);
        SipPhone.Call ringing = second.call();
        SipPhone.Incoming ringingAtBob = second.atCallee();

        node.node.readiness().refuseNewWork();

        SipPhone.Call refused = alice.call("sip:bob@" + DOMAIN);
        refused.invite(null);
        SipResponse busy = refused.awaitFinal();
        assertThat(busy.status()).isEqualTo(503);
        assertThat(busy.headers().get(HeaderNames.RETRY_AFTER)).isNotBlank();
        // RFC 3261 §8.2.6.2: a final response the node makes itself carries a To tag of its own
        assertThat(busy.to().tag()).as("To tag of the 503").isNotBlank();
        refused.ackFailure(busy);
        assertThat(bob.receivesNo(SipRequest.INVITE, Duration.ofMillis(300))).isTrue();

        SipResponse register = bob.register(600);
        assertThat(register.status()).isEqualTo(503);
        assertThat(register.headers().get(HeaderNames.RETRY_AFTER)).isNotBlank();
        assertThat(register.to().tag()).as("To tag of the 503").isNotBlank();

        // the ringing call is cancelled: CANCEL belongs to its INVITE and is still served (§9.2)
        ringing.cancel();
        assertThat(alice.awaitResponse(r -> r.callId().equals(ringing.callId) && r.cseq().method().equals("CANCEL"),
                Duration.ofSeconds(5)).status()).isEqualTo(200);
        ringingAtBob.acceptCancel(bob.awaitRequest(SipRequest.CANCEL, Duration.ofSeconds(5)));
        SipResponse terminated = ringing.awaitFinal();
        assertThat(terminated.status()).isEqualTo(487);
        ringing.ackFailure(terminated);

        // a re-INVITE in the established dialog (RFC 3261 §14) is proxied, not refused
        int reInvite = call.sendInDialog(SipRequest.INVITE);
        SipRequest atCallee = bob.awaitRequest(SipRequest.INVITE, Duration.ofSeconds(5));
        assertThat(atCallee.callId()).isEqualTo(call.callId);
        bob.respond(atCallee, 200, "OK");
        assertThat(alice.awaitResponse(r -> r.callId().equals(call.callId) && r.cseq().method().equals("INVITE")
                && r.cseq().number() == reInvite && r.status() >= 200, Duration.ofSeconds(5)).status()).isEqualTo(200);
        call.ackInDialog(reInvite);

        // the callee hangs up the established call: the BYE is in the dialog and still proxied
        Thread answering = Thread.ofVirtual().start(() -> {
            try {
                alice.respond(alice.awaitRequest(SipRequest.BYE, Duration.ofSeconds(5)), 200, "OK");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        assertThat(atBob.inDialog(SipRequest.BYE).status()).isEqualTo(200);
        answering.join(5000);
    }

    @Test
    void aCallStillRingingWhenTheNodeStopsIsCancelledAndTheCallerToldToGoElsewhere() throws Exception {
        Ringing call = ringing(phone("alice"), phone("bob"));
        SipPhone.Call ringing = call.call();
        SipPhone.Incoming atBob = call.atCallee();
        SipPhone bob = phones.get(1);

        TelephonyNode stopping = node;
        node = null;
        Thread stop = Thread.ofVirtual().start(stopping::close);
        // the device stops ringing (RFC 3261 §16.10) before the sockets close
        atBob.acceptCancel(bob.awaitRequest(SipRequest.CANCEL, Duration.ofSeconds(15)));
        // and the caller is not left ringing: 503 with Retry-After, to call through another node (§21.5.4)
        SipResponse gone = ringing.awaitFinal();
        assertThat(gone.status()).isEqualTo(503);
        assertThat(gone.headers().get(HeaderNames.RETRY_AFTER)).isNotBlank();
        assertThat(gone.to().tag()).isNotBlank();
        ringing.ackFailure(gone);
        stop.join(Duration.ofSeconds(20));
        assertThat(stop.isAlive()).isFalse();
    }
}
