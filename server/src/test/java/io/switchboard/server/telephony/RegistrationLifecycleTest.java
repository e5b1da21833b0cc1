package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Bindings over time: they expire on schedule, can be removed, and outlive a node restart. */
class RegistrationLifecycleTest {
    static final Map<String, String> SHORT_EXPIRY = Map.of("SWITCHBOARD_TELEPHONY_MIN_EXPIRES", "1");

    @TempDir
    Path dataDir;

    private static void addAccount(TelephonyNode node, String user, String password) throws Exception {
        assertThat(node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}").statusCode()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(1)).until(() -> node.telephony.accounts().lookup(user, null).isPresent());
    }

    private static int registrations(TelephonyNode node) throws Exception {
        JsonNode body = node.json(node.api("GET", "/api/v1/registrations", null));
        return body.get("registrations").size();
    }

    @Test
    void bindingExpiresOnTime() throws Exception {
        Sipp.assumeAvailable();
        try (TelephonyNode node = new TelephonyNode(dataDir, Map.of(), SHORT_EXPIRY)) {
            addAccount(node, "panel1", "entrance-1");
            Sipp.Result result = Sipp.scenario("register_expire.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                    .service("panel1").auth("panel1", "entrance-1").calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(result.succeeded()).as(result.describe()).isTrue();
            assertThat(node.metric("switchboard_sip_registered_contacts")).isEqualTo(1.0);
            long start = System.nanoTime();
            await().atMost(Duration.ofSeconds(5)).until(() -> node.metric("switchboard_sip_registered_contacts") == 0.0);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(3500));
            assertThat(registrations(node)).isZero();
        }
    }

    @Test
    void deviceRemovesItsBindingWithExpiresZero() throws Exception {
        Sipp.assumeAvailable();
        try (TelephonyNode node = new TelephonyNode(dataDir, Map.of())) {
            addAccount(node, "handset", "kitchen-1");
            int port = Sipp.freePort();
            Sipp.Result registered = Sipp.scenario("register_auth.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                    .localPort(port).service("handset").auth("handset", "kitchen-1").calls(1)
                    .timeout(Duration.ofSeconds(20)).run();
            assertThat(registered.succeeded()).as(registered.describe()).isTrue();
            assertThat(registrations(node)).isEqualTo(1);
            Sipp.Result removed = Sipp.scenario("unregister.xml").remote("127.0.0.1", node.sipPort(Transport.UDP))
                    .localPort(port).service("handset").auth("handset", "kitchen-1").calls(1)
                    .timeout(Duration.ofSeconds(20)).run();
            assertThat(removed.succeeded()).as(removed.describe()).isTrue();
            assertThat(registrations(node)).isZero();
            assertThat(node.metric("switchboard_sip_registrations_total{result=\"removed\"}")).isEqualTo(1.0);
        }
    }

    /** "connected" of each registration: null for UDP; for TCP, whether its connection is open on this node. */
    private static Map<String, JsonNode> connectedByAor(TelephonyNode node) throws Exception {
        Map<String, JsonNode> out = new java.util.HashMap<>();
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            out.put(r.path("aor").asText(), r.get("connected"));
        }
        return out;
    }

    /**
     * A TCP device's binding outlives its connection (until it expires or the device registers
     * again), but is not rung over it meanwhile (only over a new connection, when its Contact says
     * transport=tcp): the list says whether its connection is open,
     * also after a restart of the node, which ended every connection. UDP has none (null).
     */
    @Test
    void registrationsSayWhetherAStreamDevicesConnectionIsOpen() throws Exception {
        try (TelephonyNode first = new TelephonyNode(dataDir, Map.of())) {
            addAccount(first, "desk", "desk-phone-1");
            addAccount(first, "panel", "door-panel-1");
            try (SipPhone desk = SipPhone.tcp("desk", "intercom.test", first.sipPort(Transport.TCP));
                 SipPhone panel = SipPhone.udp("panel", "intercom.test", first.sipPort(Transport.UDP))) {
                assertThat(desk.register(600, "desk-phone-1").status()).isEqualTo(200);
                assertThat(panel.register(600, "door-panel-1").status()).isEqualTo(200);
                Map<String, JsonNode> connected = connectedByAor(first);
                assertThat(connected.get("sip:desk@intercom.test").asBoolean()).isTrue();
                assertThat(connected.get("sip:panel@intercom.test").isNull()).isTrue();
            }
            // the desk phone's connection closed: still registered, but not connected
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(connectedByAor(first).get("sip:desk@intercom.test").isBoolean()
                            && !connectedByAor(first).get("sip:desk@intercom.test").asBoolean()).isTrue());
        }
        try (TelephonyNode second = new TelephonyNode(dataDir, Map.of())) {
            Map<String, JsonNode> connected = connectedByAor(second);
            assertThat(connected).containsKeys("sip:desk@intercom.test", "sip:panel@intercom.test");
            assertThat(connected.get("sip:desk@intercom.test").isBoolean()).isTrue();
            assertThat(connected.get("sip:desk@intercom.test").asBoolean()).isFalse();
            assertThat(connected.get("sip:panel@intercom.test").isNull()).isTrue();
        }
    }

    @Test
    void bindingsSurviveARestart() throws Exception {
        Sipp.assumeAvailable();
        try (TelephonyNode first = new TelephonyNode(dataDir, Map.of())) {
            addAccount(first, "flat42", "upstairs-1");
            Sipp.Result result = Sipp.scenario("register_auth.xml").remote("127.0.0.1", first.sipPort(Transport.UDP))
                    .service("flat42").auth("flat42", "upstairs-1").calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(result.succeeded()).as(result.describe()).isTrue();
        }
        try (TelephonyNode second = new TelephonyNode(dataDir, Map.of())) {
            assertThat(registrations(second)).isEqualTo(1);
            assertThat(second.json(second.api("GET", "/api/v1/registrations", null)).toString())
                    .contains("sip:flat42@intercom.test");
            assertThat(second.metric("switchboard_sip_registered_contacts")).isEqualTo(1.0);
        }
    }
}
