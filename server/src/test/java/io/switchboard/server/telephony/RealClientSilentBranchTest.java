package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.clients.Baresip;
import io.switchboard.sip.transport.Transport;
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
 * {@code telephony.branchResponseTimeout} (5 s, the default) against a real phone that died:
 * baresip killed with SIGKILL over UDP keeps its binding and its closed port answers nothing (an
 * unconnected UDP socket gets no ICMP error), so without the timeout its branch would hold the
 * caller until Timer B (64*T1, 32 s, RFC 3261 §17.1.1.2). Account 1002 has that dead phone and a
 * live baresip that refuses the call (486); baresip of 1001 calls 1002 and hears the busy once the
 * dead branch is given up, then, with only the dead phone left, a 408.
 */
class RealClientSilentBranchTest {
    private static final String DOMAIN = "intercom.test";
    private static final Duration STEP = Duration.ofSeconds(10);
    /** The timeout (5 s) and room for two busy cores; far below Timer B's 32 s. */
    private static final Duration ANSWERED_WITHIN = Duration.ofSeconds(9);

    @TempDir
    Path dir;
    TelephonyNode node;
    final List<Baresip> phones = new ArrayList<>();

    @AfterEach
    void stop() {
        try {
            for (Baresip phone : phones) {
                phone.close();
            }
        } finally {
            if (node != null) {
                node.close();
            }
        }
    }

    @Test
    void aKilledPhoneHoldsTheCallerOnlyUntilTheBranchResponseTimeout() throws Exception {
        Baresip.BINARY.assumeAvailable();
        node = new TelephonyNode(dir.resolve("node"), Map.of());
        addAccount("1001", "secret-1001");
        addAccount("1002", "secret-1002");
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(Transport.UDP));
        Baresip dead = phone("1002", "1002-dies", sip, true);
        Baresip busy = phone("1002", "1002-busy", sip, false);
        Baresip caller = phone("1001", "1001", sip, false);
        try {
            dead.awaitRegistered(STEP);
            busy.awaitRegistered(STEP);
            caller.awaitRegistered(STEP);
            assertThat(bindingsOf("1002")).as("1002's phones").hasSize(2);
            dead.kill();
            assertThat(bindingsOf("1002")).as("1002's phones, one dead").hasSize(2);

            // the live phone refuses at once; the dead one's branch decides how long the caller waits
            long start = System.nanoTime();
            caller.dial("sip:1002@" + DOMAIN);
            busy.awaitEvent("CALL_INCOMING", STEP);
            busy.hangup(); // baresip rejects a call it has not answered with 486
            JsonNode closed = caller.awaitEvent("CALL_CLOSED", STEP);
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(closed.path("param").asText()).as("the caller's answer").contains("486");
            assertThat(took).as("time to the busy answer").isLessThan(ANSWERED_WITHIN)
                    // RFC 3261 §16.7 step 6: the 486 is held until the dead branch is given up
                    .isGreaterThanOrEqualTo(Duration.ofMillis(4_500));
            assertThat(silentBranches()).isEqualTo(1);
            awaitRecord(1, "busy", 486, "callee", 2);

            // the live phone leaves (it unregisters): only the dead binding is left, and nobody answers
            busy.close();
            await().atMost(STEP).untilAsserted(() -> assertThat(bindingsOf("1002")).hasSize(1));
            start = System.nanoTime();
            caller.dial("sip:1002@" + DOMAIN);
            closed = caller.awaitEvent("CALL_CLOSED", STEP);
            took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(closed.path("param").asText()).as("the caller's answer").contains("408");
            assertThat(took).as("time to the 408").isLessThan(ANSWERED_WITHIN)
                    .isGreaterThanOrEqualTo(Duration.ofMillis(4_500));
            assertThat(silentBranches()).isEqualTo(2);
            awaitRecord(2, "no_answer", 408, null, 1);
        } catch (AssertionError | RuntimeException e) {
            StringBuilder logs = new StringBuilder();
            phones.forEach(p -> logs.append(p.describe()));
            throw new AssertionError(e.getMessage() + "\n" + logs, e);
        }
    }

    /** A baresip for {@code user} over UDP in its own directory, closed after the test whatever happens. */
    private Baresip phone(String user, String name, InetSocketAddress sip, boolean autoAnswer) throws Exception {
        Baresip phone = Baresip.start(dir.resolve(name), user, "secret-" + user, DOMAIN, sip, Baresip.Transport.UDP,
                autoAnswer);
        phones.add(phone);
        return phone;
    }

    private void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    private List<JsonNode> bindingsOf(String user) throws Exception {
        List<JsonNode> bindings = new ArrayList<>();
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            if (r.path("aor").asText().equals("sip:" + user + "@" + DOMAIN)) {
                bindings.add(r);
            }
        }
        return bindings;
    }

    /** INVITE branches given up for sending nothing within telephony.branchResponseTimeout. */
    private double silentBranches() throws Exception {
        double v = node.metric("switchboard_call_branches_silent_total");
        return Double.isNaN(v) ? 0 : v;
    }

    /** Waits until there are {@code count} records and checks the newest: 1001's call to 1002, to that many devices, ended as given. */
    private void awaitRecord(int count, String status, int finalCode, String endedBy, int devicesRung) {
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            JsonNode records = node.json(node.api("GET", "/api/v1/call-records?limit=10", null)).path("records");
            assertThat(records).as(records.toString()).hasSize(count);
            JsonNode newest = records.get(0); // newest first
            assertThat(newest.path("caller").asText()).as(newest.toString()).isEqualTo("1001");
            assertThat(newest.path("dialed").asText()).as(newest.toString()).isEqualTo("1002");
            assertThat(newest.path("status").asText()).as(newest.toString()).isEqualTo(status);
            assertThat(newest.path("finalCode").asInt()).as(newest.toString()).isEqualTo(finalCode);
            assertThat(newest.path("devicesRung")).as(newest.toString()).hasSize(devicesRung);
            if (endedBy == null) {
                assertThat(newest.path("endedBy").isNull()).as(newest.toString()).isTrue();
            } else {
                assertThat(newest.path("endedBy").asText()).as(newest.toString()).isEqualTo(endedBy);
            }
        });
    }
}
