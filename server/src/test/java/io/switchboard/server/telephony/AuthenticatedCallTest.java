package io.switchboard.server.telephony;

import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Calls on a node that authenticates devices (RFC 3261 §22.3: 407) and trusts configured peers. */
class AuthenticatedCallTest {
    @TempDir
    Path dir;
    TelephonyNode node;

    @AfterEach
    void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void devicesMustAuthenticateTheirCalls() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        node.api("POST", "/api/v1/accounts", "{\"username\":\"alice\",\"password\":\"secret-alice\"}");
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(2))
                .until(() -> node.telephony.accounts().lookup("alice", "intercom.test").isPresent());
        try (SipPhone alice = SipPhone.udp("alice", "intercom.test", node.sipPort(Transport.UDP))) {
            SipPhone.Call call = alice.call("sip:nobody@intercom.test");
            call.invite(null);
            SipResponse challenge = call.awaitFinal();
            assertThat(challenge.status()).isEqualTo(407);
            assertThat(challenge.headers().fields("Proxy-Authenticate")).isNotEmpty();

            SipPhone.Call retry = alice.call("sip:nobody@intercom.test");
            retry.invite(retry.proxyAuthorization(challenge, "secret-alice"));
            // authenticated, then routed: the callee does not exist
            assertThat(retry.awaitFinal().status()).isEqualTo(404);

            SipPhone.Call wrong = alice.call("sip:nobody@intercom.test");
            wrong.invite(wrong.proxyAuthorization(challenge, "not-the-password"));
            assertThat(wrong.awaitFinal().status()).isEqualTo(403);
        }
    }

    /** The default challenge is exactly one, MD5; credentials may sign this node's own address and port instead of the Request-URI, as SIPp does. */
    @Test
    void oneMd5ChallengeAndADigestUriNamingTheNode() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice", "secret-alice", null);
        int port = node.sipPort(Transport.UDP);
        try (SipPhone alice = SipPhone.udp("alice", "intercom.test", port)) {
            SipPhone.Call call = alice.call("sip:nobody@intercom.test");
            call.invite(null);
            SipResponse challenge = call.awaitFinal();
            assertThat(challenge.headers().fields("Proxy-Authenticate")).singleElement().asString()
                    .contains("algorithm=MD5").contains("qop=\"auth\"");

            // each signature on a fresh challenge: the phone's nonce-count is always 1 (RFC 7616 §3.4)
            assertThat(callSigning(alice, "sip:127.0.0.1:" + port).status()).isEqualTo(404); // authenticated, then routed
            assertThat(callSigning(alice, "sip:intercom.test").status()).isEqualTo(404);
            assertThat(callSigning(alice, "sip:intercom.test:" + port).status()).isEqualTo(404);
            SipResponse refused = callSigning(alice, "sip:bob@elsewhere.example");
            assertThat(refused.status()).isEqualTo(400);
            assertThat(refused.reason()).isEqualTo("Bad Request - digest uri names neither the Request-URI nor this node");
            assertThat(callSigning(alice, "sip:nobody@127.0.0.1:" + port).status()).as("a user's URI is not the node's")
                    .isEqualTo(400);
        }
    }

    /**
     * RFC 7616 §3.4.6: credentials that sign the node's address (as SIPp's do) name no callee, so the
     * node takes them only with a nonce from its challenge to the same Request-URI. An eavesdropper
     * who copies alice's credentials from her call to one number into a call to another, and gets
     * there first, receives a fresh 407 (stale=true, the digest was right) and no call; alice's own
     * request still goes through.
     */
    @Test
    void nodeSignedCredentialsCapturedOnOneCallCannotCallAnotherNumber() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice", "secret-alice", null);
        int port = node.sipPort(Transport.UDP);
        double before = orZero(node.metric("switchboard_sip_auth_failures_total{reason=\"nonce_for_other_uri\"}"));
        try (SipPhone alice = SipPhone.udp("alice", "intercom.test", port);
             SipPhone eavesdropper = SipPhone.udp("alice", "intercom.test", port)) {
            SipPhone.Call first = alice.call("sip:nobody@intercom.test");
            first.invite(null);
            SipResponse challenge = first.awaitFinal();
            SipPhone.Call signed = alice.call("sip:nobody@intercom.test");
            String captured = signed.proxyAuthorization(challenge, "secret-alice", "sip:127.0.0.1:" + port);

            SipPhone.Call elsewhere = eavesdropper.call("sip:somebody-else@intercom.test");
            elsewhere.invite(captured);
            SipResponse refused = elsewhere.awaitFinal();
            assertThat(refused.status()).isEqualTo(407);
            assertThat(refused.headers().fields("Proxy-Authenticate")).singleElement().asString().contains("stale=true");
            assertThat(node.metric("switchboard_sip_auth_failures_total{reason=\"nonce_for_other_uri\"}"))
                    .isEqualTo(before + 1);

            signed.invite(captured);
            assertThat(signed.awaitFinal().status()).as("authenticated, then routed").isEqualTo(404);
        }
    }

    private static double orZero(double value) {
        return Double.isNaN(value) ? 0 : value;
    }

    private static SipResponse callSigning(SipPhone phone, String digestUri) throws Exception {
        SipPhone.Call first = phone.call("sip:nobody@intercom.test");
        first.invite(null);
        SipResponse challenge = first.awaitFinal();
        SipPhone.Call call = phone.call("sip:nobody@intercom.test");
        call.invite(call.proxyAuthorization(challenge, "secret-alice", digestUri));
        return call.awaitFinal();
    }

    /** SHA-256 opted into for a domain: its callers get one SHA-256 challenge, and SHA-256 credentials pass. */
    @Test
    void aSha256DomainChallengesCallsWithSha256Only() throws Exception {
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_SHA256_DOMAINS", "intercom.test"));
        addAccount("alice", "secret-alice", null);
        assertSha256Call("alice", "secret-alice");
    }

    /** SHA-256 opted into for one account through the API: that account alone gets one SHA-256 challenge. */
    @Test
    void anAccountMarkedSha256IsChallengedWithSha256Only() throws Exception {
        node = new TelephonyNode(dir, Map.of());
        addAccount("alice", "secret-alice", "SHA-256");
        addAccount("bob", "secret-bob", null);
        assertSha256Call("alice", "secret-alice");
        try (SipPhone bob = SipPhone.udp("bob", "intercom.test", node.sipPort(Transport.UDP))) {
            SipPhone.Call call = bob.call("sip:nobody@intercom.test");
            call.invite(null);
            assertThat(call.awaitFinal().headers().fields("Proxy-Authenticate")).singleElement().asString()
                    .contains("algorithm=MD5");
        }
    }

    private void assertSha256Call(String user, String password) throws Exception {
        try (SipPhone phone = SipPhone.udp(user, "intercom.test", node.sipPort(Transport.UDP))) {
            SipPhone.Call call = phone.call("sip:nobody@intercom.test");
            call.invite(null);
            SipResponse challenge = call.awaitFinal();
            assertThat(challenge.status()).isEqualTo(407);
            assertThat(challenge.headers().fields("Proxy-Authenticate")).singleElement().asString()
                    .contains("algorithm=SHA-256").contains("qop=\"auth\"");
            SipPhone.Call retry = phone.call("sip:nobody@intercom.test");
            retry.invite(retry.proxyAuthorization(challenge, password));
            assertThat(retry.awaitFinal().status()).isEqualTo(404);
        }
    }

    private void addAccount(String user, String password, String digest) throws Exception {
        var created = node.api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"" + password
                + "\"" + (digest == null ? "" : ",\"digest\":\"" + digest + "\"") + "}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(2))
                .until(() -> node.telephony.accounts().lookup(user, "intercom.test").isPresent());
    }

    @Test
    void trustedPeersCallWithoutCredentials() throws Exception {
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_TRUSTED_PEERS", "127.0.0.0/8"));
        try (SipPhone panel = SipPhone.udp("panel", "intercom.test", node.sipPort(Transport.UDP))) {
            SipPhone.Call call = panel.call("sip:nobody@intercom.test");
            call.invite(null);
            assertThat(call.awaitFinal().status()).isEqualTo(404);
        }
    }
}
