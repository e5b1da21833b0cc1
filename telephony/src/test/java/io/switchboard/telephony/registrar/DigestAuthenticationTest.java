package io.switchboard.telephony.registrar;

import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.auth.DigestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Digest authentication as devices and attackers meet it, for REGISTER (401) and for calls (407):
 * an unknown name is answered exactly like a wrong password at every step, stale is said only to a
 * device whose digest was right (RFC 7616 §3.3), and a digest-uri naming the node instead of the
 * Request-URI is taken only with a nonce from a challenge to that same Request-URI (RFC 7616 §3.4.6).
 */
class DigestAuthenticationTest {
    private static final String DOMAIN = RegistrarFixture.DOMAIN;
    private static final String CALLEE_A = "sip:nobody@" + DOMAIN;
    private static final String CALLEE_B = "sip:somebody-else@" + DOMAIN;
    /** Headers echoed from the request (RFC 3261 §8.2.6.2), which differ with the request, not with the answer. */
    private static final Set<String> ECHOED = Set.of("via", "from", "to", "call-id", "cseq");

    @TempDir
    Path dir;
    RegistrarFixture node;
    TestPhone alice;
    TestPhone mallory;

    @BeforeEach
    void start() throws Exception {
        node = RegistrarFixture.sqlite(dir, RegistrarSettings.defaults());
        node.accounts.add("alice", DOMAIN, "wonderland");
        node.accounts.add("carol", RegistrarFixture.SECURE_DOMAIN, "carol-secret"); // a second domain of the node
        node.directory.refresh();
        alice = new TestPhone("alice", "wonderland", node.port);
        mallory = new TestPhone("mallory", "whatever1", node.port); // no such account
    }

    @AfterEach
    void stop() {
        alice.close();
        mallory.close();
        node.close();
    }

    /** How a probe is answered: what a client can compare, with the per-request parts left out. */
    private static List<String> answer(SipResponse response) {
        List<String> seen = new ArrayList<>();
        seen.add(response.status() + " " + response.reason());
        for (int i = 0; i < response.headers().size(); i++) {
            String name = response.headers().name(i);
            if (!ECHOED.contains(name.toLowerCase())) {
                seen.add(name + ": " + response.headers().value(i).replaceAll("nonce=\"[^\"]*\"", "nonce=\"…\""));
            }
        }
        return seen;
    }

    private interface Probe {
        /** Answers a challenge to {@code phone} with something that must not authenticate it. */
        String credentials(String challenge, TestPhone phone, String method, String uri);
    }

    private SipResponse registerProbe(TestPhone phone, Probe probe) throws Exception {
        SipResponse challenge = phone.send(phone.register("Contact: " + phone.contact(), "600", null));
        assertThat(challenge.status()).isEqualTo(401);
        String uri = "sip:" + DOMAIN;
        return phone.send(phone.register("Contact: " + phone.contact(), "600",
                probe.credentials(challenge.header("WWW-Authenticate"), phone, "REGISTER", uri)));
    }

    private SipResponse inviteProbe(TestPhone phone, Probe probe) throws Exception {
        SipResponse challenge = phone.invite(CALLEE_A, null);
        assertThat(challenge.status()).isEqualTo(407);
        return phone.invite(CALLEE_A, probe.credentials(challenge.header("Proxy-Authenticate"), phone, "INVITE", CALLEE_A));
    }

    /** The same probe for alice (an account) and mallory (none): both answers, REGISTER then INVITE. */
    private List<List<String>> probeBoth(Probe probe) throws Exception {
        List<List<String>> answers = new ArrayList<>();
        for (TestPhone phone : List.of(alice, mallory)) {
            answers.add(answer(registerProbe(phone, probe)));
        }
        for (TestPhone phone : List.of(alice, mallory)) {
            answers.add(answer(inviteProbe(phone, probe)));
        }
        return answers;
    }

    private static void assertSameForBoth(List<List<String>> answers, int registerStatus, int inviteStatus) {
        assertThat(answers.get(1)).as("REGISTER: an unknown name is answered like an account").isEqualTo(answers.get(0));
        assertThat(answers.get(3)).as("INVITE: an unknown name is answered like an account").isEqualTo(answers.get(2));
        assertThat(answers.get(0).get(0)).startsWith(Integer.toString(registerStatus));
        assertThat(answers.get(2).get(0)).startsWith(Integer.toString(inviteStatus));
    }

    /** SHA-256 credentials on the MD5 node, with a made-up response: a fresh challenge for every name. */
    @Test
    void aWrongAlgorithmIsAnsweredAlikeForKnownAndUnknownNames() throws Exception {
        List<List<String>> answers = probeBoth((challenge, phone, method, uri) -> DigestClient.authorization(
                challenge.replace("algorithm=MD5", "algorithm=SHA-256"), phone.user, "made-up", method, uri,
                phone.nc++, "c1"));
        assertSameForBoth(answers, 401, 407);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "wrong_algorithm")).isEqualTo(4);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "unknown_user")).isZero();
    }

    /** A nonce this node never issued: a fresh challenge for every name, with or without the password. */
    @Test
    void aForgedNonceIsAnsweredAlikeForKnownAndUnknownNames() throws Exception {
        String forged = Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[32]);
        List<List<String>> answers = probeBoth((challenge, phone, method, uri) -> DigestClient.authorization(
                challenge.replaceAll("nonce=\"[^\"]*\"", "nonce=\"" + forged + "\""), phone.user, "made-up", method,
                uri, phone.nc++, "c1"));
        assertSameForBoth(answers, 401, 407);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "unknown_user")).isZero();
    }

    /** An expired nonce with a wrong response is a wrong password (RFC 7616 §3.3: stale only for a valid digest). */
    @Test
    void aStaleNonceIsAnsweredAlikeForKnownAndUnknownNames() throws Exception {
        List<List<String>> answers = probeBoth((challenge, phone, method, uri) -> {
            node.clock.advance(Duration.ofMinutes(10)); // past the 5 min lifetime
            return DigestClient.authorization(challenge, phone.user, "not-the-password", method, uri, phone.nc++, "c1");
        });
        assertSameForBoth(answers, 403, 403);
        assertThat(answers.get(0)).noneMatch(line -> line.contains("stale"));
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "wrong_password")).isEqualTo(2);
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "unknown_user")).isEqualTo(2);
    }

    @Test
    void aWrongPasswordIsAnsweredAlikeForKnownAndUnknownNames() throws Exception {
        List<List<String>> answers = probeBoth((challenge, phone, method, uri) ->
                DigestClient.authorization(challenge, phone.user, "not-the-password", method, uri, phone.nc++, "c1"));
        assertSameForBoth(answers, 403, 403);
        assertThat(node.location.size()).isZero();
    }

    /** With the right password an expired nonce is stale: the device retries on its own, and gets in. */
    @Test
    void anExpiredNonceWithTheRightPasswordIsStale() throws Exception {
        SipResponse challenge = alice.send(alice.register("Contact: " + alice.contact(), "600", null));
        node.clock.advance(Duration.ofMinutes(10));
        SipResponse stale = alice.send(alice.register("Contact: " + alice.contact(), "600", DigestClient.authorization(
                challenge.header("WWW-Authenticate"), "alice", "wonderland", "REGISTER", "sip:" + DOMAIN, alice.nc++, "c1")));
        assertThat(stale.status()).isEqualTo(401);
        assertThat(stale.header("WWW-Authenticate")).contains("stale=true");
        SipResponse ok = alice.send(alice.register("Contact: " + alice.contact(), "600", DigestClient.authorization(
                stale.header("WWW-Authenticate"), "alice", "wonderland", "REGISTER", "sip:" + DOMAIN, 1, "c2")));
        assertThat(ok.status()).isEqualTo(200);
    }

    /**
     * An eavesdropper copies alice's INVITE credentials, which sign the node's address (as SIPp
     * does), and sends them first in an INVITE to another callee: the nonce was issued for callee A,
     * so the request gets a fresh 407 (stale=true: the digest itself was right), not a call.
     * Alice's own request still goes through, and so do credentials that sign the Request-URI.
     */
    @Test
    void nodeSignedCredentialsCannotCallAnotherCallee() throws Exception {
        String nodeUri = "sip:127.0.0.1:" + node.port;
        SipResponse challenge = alice.invite(CALLEE_A, null);
        String captured = DigestClient.authorization(challenge.header("Proxy-Authenticate"), "alice", "wonderland",
                "INVITE", nodeUri, 1, "c1");

        SipResponse replayed = mallory.invite(CALLEE_B, captured);
        assertThat(replayed.status()).isEqualTo(407);
        assertThat(replayed.header("Proxy-Authenticate")).contains("stale=true");
        assertThat(node.counter("switchboard.sip.auth.failures", "reason", "nonce_for_other_uri")).isEqualTo(1);
        // the refused copy used no nonce-count up: alice's own request is authenticated, then routed (404)
        assertThat(alice.invite(CALLEE_A, captured).status()).isEqualTo(404);

        // alice herself reusing that nonce (a new nc) for callee B recovers in one round trip
        SipResponse fresh = alice.invite(CALLEE_B, DigestClient.authorization(challenge.header("Proxy-Authenticate"),
                "alice", "wonderland", "INVITE", nodeUri, 2, "c2"));
        assertThat(fresh.status()).isEqualTo(407);
        assertThat(alice.invite(CALLEE_B, DigestClient.authorization(fresh.header("Proxy-Authenticate"),
                "alice", "wonderland", "INVITE", nodeUri, 1, "c3")).status()).isEqualTo(404);
        // signing the Request-URI itself, any valid nonce will do
        assertThat(alice.invite(CALLEE_B, DigestClient.authorization(challenge.header("Proxy-Authenticate"),
                "alice", "wonderland", "INVITE", CALLEE_B, 3, "c4")).status()).isEqualTo(404);
        // the realm's domain names the node as well, under the same rule
        assertThat(alice.invite(CALLEE_B, DigestClient.authorization(challenge.header("Proxy-Authenticate"),
                "alice", "wonderland", "INVITE", "sip:" + DOMAIN, 4, "c5")).status()).isEqualTo(407);
    }

    /**
     * Behind a PROXY-protocol balancer a client signs the balancer's address, where it sent the
     * request (SIPp does): a digest-uri naming the address the request reached names this node,
     * under the same nonce rule as a listener's address. Another address is still refused.
     */
    @Test
    void aUriNamingTheAddressTheRequestReachedNamesThisNode() throws Exception {
        java.net.InetSocketAddress balancer = new java.net.InetSocketAddress("203.0.113.1", 5060);
        assertThat(verifySignedFor("sip:203.0.113.1:5060", balancer))
                .isEqualTo(io.switchboard.telephony.auth.DigestAuthenticator.Status.OK);
        assertThat(verifySignedFor("sip:203.0.113.2:5060", balancer))
                .isEqualTo(io.switchboard.telephony.auth.DigestAuthenticator.Status.BAD_CREDENTIALS);
    }

    /** Alice's INVITE credentials for a fresh challenge, signed for {@code uri}, checked as reaching {@code reachedAt}. */
    private io.switchboard.telephony.auth.DigestAuthenticator.Status verifySignedFor(String uri,
            java.net.InetSocketAddress reachedAt) throws Exception {
        SipResponse challenge = alice.invite(CALLEE_A, null);
        String signed = DigestClient.authorization(challenge.header("Proxy-Authenticate"), "alice", "wonderland",
                "INVITE", uri, 1, "c1");
        return node.authenticator.verify(signed, DOMAIN, "INVITE", io.switchboard.sip.message.SipUri.parse(CALLEE_A),
                reachedAt).status();
    }

    /**
     * A node-naming uri names the realm's domain or a SIP listener: not another domain of the node,
     * not its HTTP port. Those, like any uri naming neither, are 400 with the reason.
     */
    @Test
    void aNodeUriNamesTheRealmOrASipListener() throws Exception {
        for (String uri : List.of("sip:" + DOMAIN, "sip:" + DOMAIN + ":" + node.port, "sip:127.0.0.1:" + node.port)) {
            SipResponse challenge = alice.invite(CALLEE_A, null);
            assertThat(alice.invite(CALLEE_A, DigestClient.authorization(challenge.header("Proxy-Authenticate"),
                    "alice", "wonderland", "INVITE", uri, 1, "c1")).status()).as(uri).isEqualTo(404);
        }
        for (String uri : List.of("sip:" + RegistrarFixture.SECURE_DOMAIN, "sip:127.0.0.1:" + node.httpPort,
                "sip:" + DOMAIN + ":" + node.httpPort)) {
            SipResponse challenge = alice.invite(CALLEE_A, null);
            SipResponse refused = alice.invite(CALLEE_A, DigestClient.authorization(challenge.header("Proxy-Authenticate"),
                    "alice", "wonderland", "INVITE", uri, 1, "c1"));
            assertThat(refused.status()).as(uri).isEqualTo(400);
            assertThat(refused.reason()).isEqualTo("Bad Request - digest uri names neither the Request-URI nor this node");
        }
    }
}
