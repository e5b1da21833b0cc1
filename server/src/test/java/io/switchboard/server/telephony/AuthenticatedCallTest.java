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
