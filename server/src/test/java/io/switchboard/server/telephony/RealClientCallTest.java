package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.clients.Linphonec;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real clients nobody here wrote — baresip 1.0.0, linphonec (liblinphone 5.1) and SIPp 3.6.1,
 * from their Debian packages — register and call each other through a node on the default
 * configuration, over UDP and over TCP: digest with one MD5 challenge, for REGISTER (401) and for
 * every call (407), no trusted peers. Each client places one call that is answered and torn down:
 * baresip → linphonec, linphonec → baresip, SIPp → baresip (SIPp signs the node's own address as
 * the digest uri). Media (G.711 from a tone file) stays on 127.0.0.1.
 */
class RealClientCallTest {
    private static final String DOMAIN = "intercom.test";
    private static final Duration STEP = Duration.ofSeconds(10);

    @TempDir
    static Path dir;
    static TelephonyNode node;

    @BeforeAll
    static void start() {
        node = new TelephonyNode(dir.resolve("node"), Map.of());
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void baresipLinphonecAndSippCallEachOtherOverUdp() throws Exception {
        callEachOther(Transport.UDP);
    }

    @Test
    void baresipLinphonecAndSippCallEachOtherOverTcp() throws Exception {
        callEachOther(Transport.TCP);
    }

    private void callEachOther(Transport transport) throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        Sipp.assumeAvailable();
        String t = transport.name().toLowerCase(Locale.ROOT);
        String bare = "bare-" + t;
        String linphone = "linphone-" + t;
        String sipp = "sipp-" + t;
        for (String user : List.of(bare, linphone, sipp)) {
            addAccount(user, user + "-secret");
        }
        InetSocketAddress sip = new InetSocketAddress("127.0.0.1", node.sipPort(transport));

        Baresip baresip = null;
        Linphonec linphonec = null;
        try {
            baresip = Baresip.start(dir.resolve(bare), bare, bare + "-secret", DOMAIN, sip,
                    Baresip.Transport.valueOf(transport.name()), true);
            linphonec = Linphonec.start(dir.resolve(linphone), linphone, linphone + "-secret", DOMAIN, sip,
                    Linphonec.Transport.valueOf(transport.name()), true);
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);
            assertRegisteredOver(bare, transport);
            assertRegisteredOver(linphone, transport);

            // baresip calls linphonec, and hangs up
            double challenged = challenges();
            int mark = linphonec.mark();
            baresip.dial("sip:" + linphone + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(Pattern.compile("Call \\d+ with sip:" + bare + "@" + DOMAIN + " connected"), mark, STEP);
            baresip.hangup();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(Pattern.compile("Call \\d+ with sip:" + bare + "@" + DOMAIN + " ended"), mark, STEP);
            challenged = assertChallenged(bare, challenged);

            // linphonec calls baresip, and hangs up
            mark = linphonec.mark();
            linphonec.call("sip:" + bare + "@" + DOMAIN);
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            linphonec.awaitLine(Pattern.compile("Call \\d+ with sip:" + bare + "@" + DOMAIN + " connected"), mark, STEP);
            linphonec.terminate();
            baresip.awaitEvent("CALL_CLOSED", STEP);
            linphonec.awaitLine(Pattern.compile("Call \\d+ with sip:" + bare + "@" + DOMAIN + " ended"), mark, STEP);
            challenged = assertChallenged(linphone, challenged);

            // SIPp calls baresip, and hangs up after a second
            Sipp.Result call = Sipp.scenario("uac_auth.xml").remote(sip)
                    .transport(transport == Transport.TCP ? Sipp.Transport.TCP : Sipp.Transport.UDP)
                    .service(bare).key("caller", sipp).auth(sipp, sipp + "-secret")
                    .calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(call.succeeded()).as(call.describe() + baresip.describe()).isTrue();
            baresip.awaitEvent("CALL_ESTABLISHED", STEP);
            baresip.awaitEvent("CALL_CLOSED", STEP);
            assertChallenged(sipp, challenged);
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + (baresip == null ? "" : baresip.describe())
                    + (linphonec == null ? "" : linphonec.describe()), e);
        } finally {
            if (baresip != null) {
                baresip.close();
            }
            if (linphonec != null) {
                linphonec.close();
            }
        }

        // every call was placed by the authenticated account (each challenged above), answered, completed:
        // the caller as authenticated, the callee as the node resolved it
        List<String> expected = List.of(bare + " -> sip:" + linphone + "@" + DOMAIN, linphone + " -> sip:" + bare + "@" + DOMAIN,
                sipp + " -> sip:" + bare + "@" + DOMAIN);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<String> completed = new ArrayList<>();
            for (JsonNode record : node.json(node.api("GET", "/api/v1/call-records?limit=50", null)).path("records")) {
                if (record.path("status").asText().equals("completed") && record.path("finalCode").asInt() == 200) {
                    completed.add(record.path("caller").asText() + " -> " + record.path("callee").asText());
                }
            }
            assertThat(completed).containsAll(expected);
        });
    }

    private static void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    private static void assertRegisteredOver(String user, Transport transport) throws Exception {
        boolean found = false;
        for (JsonNode r : node.json(node.api("GET", "/api/v1/registrations", null)).path("registrations")) {
            found |= r.path("aor").asText().equals("sip:" + user + "@" + DOMAIN)
                    && r.path("transport").asText().equalsIgnoreCase(transport.name());
        }
        assertThat(found).as(user + " registered over " + transport).isTrue();
    }

    /** The 407 challenges the node has sent. */
    private static double challenges() throws Exception {
        return orZero(node.metric("switchboard_sip_messages_total{direction=\"out\",method_or_status=\"407\"}"));
    }

    /**
     * The calls run one after the other and nothing else is challenged with 407 meanwhile (REGISTER
     * gets 401), so a call placed without a 407 since the previous one was let in unauthenticated.
     *
     * @return the count now, the baseline for the next call
     */
    private static double assertChallenged(String caller, double before) throws Exception {
        double now = challenges();
        assertThat(now).as(caller + "'s call was challenged (407) before it went through").isGreaterThan(before);
        return now;
    }

    private static double orZero(double value) {
        return Double.isNaN(value) ? 0 : value;
    }
}
