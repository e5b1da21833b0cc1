package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.clients.Linphonec;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real phone that crashes and comes back over TCP: linphonec killed with SIGKILL sends no
 * un-REGISTER, and started again it listens on a new random port, so it registers a new Contact
 * URI over a new connection. What names it as the same device is the {@code +sip.instance} it sends
 * (a uuid liblinphone keeps in its config file): by RFC 5626 §6 that registration replaces the old
 * binding. Matched by Contact URI alone, every restart left one more dead binding (connection
 * closed) until the account hit its contact limit and was refused with 403.
 */
class RealClientRestartTest {
    private static final String DOMAIN = "intercom.test";
    private static final String USER = "1003";
    private static final String AOR = "sip:" + USER + "@" + DOMAIN;
    private static final Duration STEP = Duration.ofSeconds(10);
    private static final int RESTARTS = 3;

    @TempDir
    Path dir;
    TelephonyNode node;
    Linphonec linphonec;

    @AfterEach
    void stop() {
        try {
            if (linphonec != null) {
                linphonec.close();
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    @Test
    void aKilledAndRestartedLinphonecKeepsOneBinding() throws Exception {
        Linphonec.BINARY.assumeAvailable();
        node = new TelephonyNode(dir.resolve("node"), Map.of());
        var created = node.api("POST", "/api/v1/accounts", "{\"username\":\"" + USER + "\",\"password\":\"secret\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(USER, DOMAIN).isPresent());
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(Transport.TCP));

        linphonec = Linphonec.start(dir.resolve("linphone"), USER, "secret", DOMAIN, sip, Linphonec.Transport.TCP, true);
        try {
            linphonec.awaitRegistered(STEP);
            awaitOneConnectedBinding("at the first start");
            String instance = instanceId();
            assertThat(instance).as("linphonec's +sip.instance").isNotBlank();

            for (int restart = 1; restart <= RESTARTS; restart++) {
                linphonec = linphonec.killAndRestart();
                linphonec.awaitRegistered(STEP);
                awaitOneConnectedBinding("after restart " + restart);
                // the same device each time (its Contact, on a random port at each start, may even repeat by chance)
                assertThat(instanceId()).as("+sip.instance after restart " + restart).isEqualTo(instance)
                        .contains(linphonec.savedInstanceId()); // "<urn:uuid:…>", the uuid from its config
            }
            assertThat(sent("403")).as("REGISTERs refused (more than telephony.maxContacts contacts)").isZero();
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + linphonec.describe(), e);
        }
    }

    /**
     * Waits until the account has exactly one binding and its TCP connection is open: before the
     * new REGISTER the only binding is the killed phone's (connection closed), after it there is
     * one (replaced) or, when replacement fails, two.
     */
    private JsonNode awaitOneConnectedBinding(String when) {
        JsonNode[] found = new JsonNode[1];
        await().atMost(STEP).untilAsserted(() -> {
            List<JsonNode> bindings = bindings();
            assertThat(bindings).as("%s's bindings %s", USER, when).hasSize(1);
            assertThat(bindings.get(0).path("connected").asBoolean()).as(bindings.get(0).toString()).isTrue();
            found[0] = bindings.get(0);
        });
        return found[0];
    }

    private List<JsonNode> bindings() throws Exception {
        List<JsonNode> bindings = new ArrayList<>();
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            if (r.path("aor").asText().equals(AOR)) {
                bindings.add(r);
            }
        }
        return bindings;
    }

    /** The +sip.instance of the account's one binding (the API does not show it; the node's location service does). */
    private String instanceId() {
        List<Binding> bindings = node.telephony.location().all().stream().filter(b -> b.aor().equals(AOR)).toList();
        assertThat(bindings).hasSize(1);
        return bindings.get(0).instanceId();
    }

    private double sent(String status) throws Exception {
        double v = node.metric("switchboard_sip_messages_total{direction=\"out\",method_or_status=\"" + status + "\"}");
        return Double.isNaN(v) ? 0 : v;
    }
}
