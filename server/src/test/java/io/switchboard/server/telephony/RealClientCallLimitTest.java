package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.clients.Linphonec;
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
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code telephony.maxCallDuration} against phones nobody here wrote: baresip over TCP and
 * linphonec over UDP call each other through a node that allows two seconds, neither hangs up, and
 * each call ends at both phones on the node's BYEs (a phone answers 481 to a BYE whose tags,
 * CSeq or target it does not recognise, and stays in the call), with the record closed as
 * {@code timeout} and every BYE answered 2xx.
 */
class RealClientCallLimitTest {
    private static final String DOMAIN = "intercom.test";
    /** The limit (2 s) plus the sweep's period (5 s) plus room for two busy cores. */
    private static final Duration HUNG_UP_WITHIN = Duration.ofSeconds(15);
    private static final Duration STEP = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    TelephonyNode node;
    Baresip baresip;
    Linphonec linphonec;

    @AfterEach
    void stop() {
        try {
            if (baresip != null) {
                baresip.close();
            }
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
    void phonesThatKeepTalkingAreHungUpAtTheLimitBothWays() throws Exception {
        Baresip.BINARY.assumeAvailable();
        Linphonec.BINARY.assumeAvailable();
        node = new TelephonyNode(dir.resolve("node"), Map.of(), Map.of("SWITCHBOARD_TELEPHONY_MAX_CALL_DURATION", "2s"));
        addAccount("bare", "bare-secret");
        addAccount("linphone", "linphone-secret");
        baresip = Baresip.start(dir.resolve("bare"), "bare", "bare-secret", DOMAIN,
                new InetSocketAddress("127.0.0.1", node.sipPort(Transport.TCP)), Baresip.Transport.TCP, true);
        linphonec = Linphonec.start(dir.resolve("linphone"), "linphone", "linphone-secret", DOMAIN,
                new InetSocketAddress("127.0.0.1", node.sipPort(Transport.UDP)), Linphonec.Transport.UDP, true);
        try {
            baresip.awaitRegistered(STEP);
            linphonec.awaitRegistered(STEP);

            // baresip (TCP) calls linphonec (UDP), then linphonec calls baresip; nobody hangs up
            List<Dial> directions = List.of(() -> baresip.dial("sip:linphone@" + DOMAIN),
                    () -> linphonec.call("sip:bare@" + DOMAIN));
            for (int i = 0; i < directions.size(); i++) {
                int mark = linphonec.mark();
                directions.get(i).dial();
                baresip.awaitEvent("CALL_ESTABLISHED", STEP);
                linphonec.awaitLine(callLine("bare", "connected"), mark, STEP);
                baresip.awaitEvent("CALL_CLOSED", HUNG_UP_WITHIN);
                linphonec.awaitLine(callLine("bare", "ended"), mark, STEP);
                awaitHangUpsAnswered(2 * (i + 1));
            }
        } catch (AssertionError | RuntimeException e) {
            throw new AssertionError(e.getMessage() + "\n" + baresip.describe() + linphonec.describe(), e);
        }

        List<String> timedOut = new ArrayList<>();
        for (JsonNode record : node.json(node.api("GET", "/api/v1/call-records?limit=10", null)).path("records")) {
            assertThat(record.path("status").asText()).as(record.toString()).isEqualTo("completed");
            assertThat(record.path("endedBy").asText()).as(record.toString()).isEqualTo("timeout");
            timedOut.add(record.path("caller").asText() + " -> " + record.path("dialed").asText());
        }
        assertThat(timedOut).containsExactlyInAnyOrder("bare -> linphone", "linphone -> bare");
    }

    /** Places a call from one of the two phones. */
    private interface Dial {
        void dial() throws Exception;
    }

    /** Every BYE the node sent at the limit so far was answered 2xx, and none failed. */
    private void awaitHangUpsAnswered(int expected) throws Exception {
        await().atMost(STEP).untilAsserted(() -> assertThat(hangUps("answered")).isEqualTo(expected));
        assertThat(hangUps("refused") + hangUps("no_answer") + hangUps("unsent")).isZero();
    }

    private double hangUps(String result) throws Exception {
        double v = node.metric("switchboard_call_hangups_total{result=\"" + result + "\"}");
        return Double.isNaN(v) ? 0 : v;
    }

    private void addAccount(String user, String password) throws Exception {
        var created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
    }

    /** linphonec's line for a call with {@code user}: "Call 2 with sip:bare@intercom.test connected." */
    private static Pattern callLine(String user, String state) {
        return Pattern.compile("Call \\d+ with sip:" + Pattern.quote(user) + "@\\S+ " + state);
    }
}
