package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real phone registered over TCP stays reachable across a restart of the node: baresip 1.0.0
 * registers {@code Contact: <sip:…@127.0.0.1:PORT;transport=tcp>} and listens for TCP there; the
 * restart ends its connection, and with {@code regint=600} it does not register again for minutes.
 * A call to it meanwhile reaches it over a new TCP connection the node opens to the address it
 * registered from and its Contact's port (RFC 3261 §18.1.1), where before it got 480 until baresip
 * refreshed its registration. The node comes back on the same store and the same SIP ports, as a
 * restarted service does (baresip's outbound proxy names them).
 */
class RealClientTcpAfterRestartTest {
    private static final String DOMAIN = "intercom.test";
    private static final String CALLEE = "bare-tcp-restart";
    private static final String CALLER = "sipp-restart";
    private static final Duration STEP = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    TelephonyNode node;
    Baresip baresip;

    @AfterEach
    void stop() {
        try {
            if (baresip != null) {
                baresip.close();
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    @Test
    void baresipOverTcpIsCalledAfterTheNodeRestartedBeforeItRegistersAgain() throws Exception {
        Baresip.BINARY.assumeAvailable();
        Sipp.assumeAvailable();
        int udp = freePort(25240);
        int tcp = freePort(udp + 1);
        Map<String, String> flags = Map.of("sip", "udp:127.0.0.1:" + udp + ",tcp:127.0.0.1:" + tcp);
        node = new TelephonyNode(dir.resolve("node"), flags);
        addAccount(CALLEE, "callee-secret");
        addAccount(CALLER, "caller-secret");

        baresip = Baresip.start(dir.resolve("baresip"), CALLEE, "callee-secret", DOMAIN,
                new InetSocketAddress("127.0.0.1", tcp), Baresip.Transport.TCP, true);
        try {
            baresip.awaitRegistered(STEP);
            Binding registered = binding();
            assertThat(registered.transport()).isEqualToIgnoringCase("TCP");
            assertThat(registered.contact()).as("baresip's Contact asks for TCP").containsIgnoringCase(";transport=tcp");

            node.close();
            node = new TelephonyNode(dir.resolve("node"), flags);
            // baresip's connection ended with the node, and it has not registered again
            JsonNode listed = registration();
            assertThat(listed.path("connected").asBoolean(true)).as(listed.toString()).isFalse();

            Sipp.Result call = Sipp.scenario("uac_auth.xml").remote("127.0.0.1", udp).transport(Sipp.Transport.UDP)
                    .service(CALLEE).key("caller", CALLER).auth(CALLER, "caller-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(call.succeeded()).as(call.describe()).isTrue();
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            baresip.awaitEvent("CALL_CLOSED", STEP);
            // reached through its old registration, not a new one it made meanwhile
            assertThat(binding().version()).as("the binding baresip registered before the restart")
                    .isEqualTo(registered.version());
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + baresip.describe(), e);
        }
    }

    /** The first port from {@code from} (in this test's range) nothing listens on over TCP or UDP. */
    private static int freePort(int from) throws IOException {
        for (int port = from; port < 25300; port++) {
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress());
                 java.net.DatagramSocket d = new java.net.DatagramSocket(port, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException taken) {
                // try the next one
            }
        }
        throw new IOException("no free port in 25240-25299");
    }

    private void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    private Binding binding() {
        List<Binding> bindings = node.telephony.location().all().stream()
                .filter(b -> b.aor().equals("sip:" + CALLEE + "@" + DOMAIN)).toList();
        assertThat(bindings).hasSize(1);
        return bindings.get(0);
    }

    private JsonNode registration() throws Exception {
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            if (r.path("aor").asText().equals("sip:" + CALLEE + "@" + DOMAIN)) {
                return r;
            }
        }
        throw new AssertionError(CALLEE + " is not listed in /api/v1/registrations");
    }
}
