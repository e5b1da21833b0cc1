package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node on ::1 with a phone on ::1: addresses with a port in API answers read {@code [::1]:port}
 * (RFC 3986 §3.2.2), never the ambiguous {@code 0:0:0:0:0:0:0:1:5070}.
 */
class Ipv6AddressesTest {
    @TempDir
    Path dataDir;

    @Test
    void registrationSourcesAndTheNodesAddressesAreBracketed() throws Exception {
        try (TelephonyNode node = new TelephonyNode(dataDir, Map.of("sip", "udp:[::1]:0", "http", "[::1]:0"),
                Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false"))) {
            assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"alice\",\"password\":\"secret-alice\"}")
                    .statusCode()).isEqualTo(201);
            await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup("alice", "intercom.test").isPresent());
            try (SipPhone phone = SipPhone.udp6("alice", "intercom.test", node.sipPort(Transport.UDP))) {
                assertThat(phone.register(600).status()).isEqualTo(200);

                JsonNode registrations = node.json(node.api("GET", "/api/v1/registrations", null)).get("registrations");
                assertThat(registrations).hasSize(1);
                assertThat(registrations.get(0).get("source").asText()).isEqualTo("[::1]:" + phone.localPort());
                assertThat(registrations.get(0).get("contact").asText()).contains("@[::1]:" + phone.localPort());

                JsonNode info = node.json(node.api("GET", "/api/v1/node", null));
                assertThat(info.get("http").asText()).as(info.toString()).matches("\\[::1]:\\d+");
                assertThat(info.toString()).contains("udp:[::1]:").doesNotContain("0:0:0:0:0:0:0:1");
            }
        }
    }
}
