package io.switchboard.server.telephony;

import io.switchboard.server.Main;
import io.switchboard.server.sipp.Sipp;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The registrar as a user meets it: a node started the way {@code switchboard run} starts one,
 * accounts through the API and the CLI, SIPp as the phone, /metrics, restarts.
 */
class RegistrationTest {
    @TempDir
    static Path dataDir;
    static TelephonyNode node;

    @BeforeAll
    static void start() {
        node = new TelephonyNode(dataDir, Map.of());
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    static int cli(String... args) {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        return Main.execute(Map.of(), new PrintStream(sink, true, StandardCharsets.UTF_8),
                new PrintStream(sink, true, StandardCharsets.UTF_8), args);
    }

    @Test
    void accountsApiCreatesListsAndRejectsBadInput() throws Exception {
        HttpResponse<String> created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"flat42-hall\",\"password\":\"door-phone-1\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(node.json(created).get("address").asText()).isEqualTo("sip:flat42-hall@intercom.test");
        assertThat(created.body()).doesNotContain("door-phone-1").doesNotContain("ha1");

        HttpResponse<String> again = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"flat42-hall\",\"password\":\"door-phone-1\"}");
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(again.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).contains("problem+json"));

        assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"bad user\",\"password\":\"door-phone-1\"}")
                .statusCode()).isEqualTo(400);
        assertThat(node.api("POST", "/api/v1/accounts", "{\"username\":\"x\",\"password\":\"123\"}").statusCode())
                .isEqualTo(400);
        assertThat(node.api("POST", "/api/v1/accounts", "{not json").statusCode()).isEqualTo(400);
        assertThat(node.get("/api/v1/accounts").statusCode()).isEqualTo(401);

        assertThat(node.json(node.api("GET", "/api/v1/accounts", null)).get("accounts").toString())
                .contains("flat42-hall");
        assertThat(node.api("PUT", "/api/v1/accounts/flat42-hall/password", "{\"password\":\"another-one\"}")
                .statusCode()).isEqualTo(200);
        assertThat(node.api("DELETE", "/api/v1/accounts/flat42-hall", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/accounts/flat42-hall", null).statusCode()).isEqualTo(404);
    }

    @Test
    void phoneRegistersWithDigestAuthAndShowsInMetrics() throws Exception {
        Sipp.assumeAvailable();
        assertThat(cli("account", "add", "alice", "--password", "wonderland", "--data-dir", dataDir.toString()))
                .isZero();
        // the node polls the account revision: the new account is usable within a second
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
            Sipp.Result result = Sipp.scenario("register_auth.xml")
                    .remote("127.0.0.1", node.sipPort(Transport.UDP))
                    .service("alice").auth("alice", "wonderland").calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(result.succeeded()).as(result.describe()).isTrue();
        });

        await().atMost(Duration.ofSeconds(2)).untilAsserted(() ->
                assertThat(node.metric("switchboard_sip_registered_contacts")).isGreaterThanOrEqualTo(1));
        assertThat(node.metric("switchboard_sip_registrations_total{result=\"created\"}")).isGreaterThanOrEqualTo(1);
        assertThat(node.metric("switchboard_sip_messages_total{direction=\"in\",method_or_status=\"REGISTER\"}"))
                .isGreaterThanOrEqualTo(2);
        assertThat(node.json(node.api("GET", "/api/v1/registrations", null)).toString()).contains("sip:alice@intercom.test");
    }

    @Test
    void wrongPasswordIsRefusedWith403() throws Exception {
        Sipp.assumeAvailable();
        assertThat(cli("account", "add", "bob", "--password", "builder-1", "--data-dir", dataDir.toString())).isZero();
        awaitAccountVisible("bob");
        double before = node.metric("switchboard_sip_auth_failures_total{reason=\"wrong_password\"}");
        Sipp.Result result = Sipp.scenario("register_wrong_password.xml")
                .remote("127.0.0.1", node.sipPort(Transport.UDP))
                .service("bob").auth("bob", "not-his-password").calls(1).timeout(Duration.ofSeconds(20)).run();
        assertThat(result.succeeded()).as(result.describe()).isTrue();
        assertThat(node.metric("switchboard_sip_auth_failures_total{reason=\"wrong_password\"}")).isEqualTo(before + 1);
    }

    @Test
    void registrationOverTcpWorks() throws Exception {
        Sipp.assumeAvailable();
        assertThat(cli("account", "add", "carol", "--password", "tcp-phone-1", "--data-dir", dataDir.toString())).isZero();
        awaitAccountVisible("carol");
        Sipp.Result result = Sipp.scenario("register_auth.xml")
                .remote("127.0.0.1", node.sipPort(Transport.TCP)).transport(Sipp.Transport.TCP)
                .service("carol").auth("carol", "tcp-phone-1").calls(1).timeout(Duration.ofSeconds(20)).run();
        assertThat(result.succeeded()).as(result.describe()).isTrue();
    }

    @Test
    void malformedInputAndGarbageNeverStopTheNode() throws Exception {
        Sipp.assumeAvailable();
        int udp = node.sipPort(Transport.UDP);
        double errorsBefore = node.metric("switchboard_sip_parse_errors_total{transport=\"udp\"}");
        int invalid = 0;
        try (DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            for (Path vector : invalidTortureVectors()) {
                send(socket, Files.readAllBytes(vector), udp);
                invalid++;
            }
            Random random = new Random(2026);
            for (int i = 0; i < 500; i++) {
                byte[] garbage = new byte[1 + random.nextInt(1400)];
                random.nextBytes(garbage);
                garbage[0] = (byte) ('A' + random.nextInt(26)); // not a STUN/keep-alive lookalike
                send(socket, garbage, udp);
            }
            send(socket, new byte[65_000], udp);
        }
        try (Socket tcp = new Socket("127.0.0.1", node.sipPort(Transport.TCP))) {
            tcp.getOutputStream().write("GARBAGE / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            tcp.setSoTimeout(5000);
            InputStream in = tcp.getInputStream();
            while (in.read() >= 0) {
                // the node answers what it can and closes the connection
            }
        }
        int sent = invalid;
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(node.metric("switchboard_sip_parse_errors_total{transport=\"udp\"}"))
                        .isGreaterThanOrEqualTo(errorsBefore + sent));

        assertThat(cli("account", "add", "dave", "--password", "after-the-storm", "--data-dir", dataDir.toString())).isZero();
        awaitAccountVisible("dave");
        Sipp.Result result = Sipp.scenario("register_auth.xml").remote("127.0.0.1", udp)
                .service("dave").auth("dave", "after-the-storm").calls(1).timeout(Duration.ofSeconds(20)).run();
        assertThat(result.succeeded()).as(result.describe()).isTrue();
        assertThat(node.get("/readyz").statusCode()).isEqualTo(200);
    }

    /** The RFC 4475 §3.1.2 and RFC 5118 messages the sip module's vector table marks as rejected. */
    static List<Path> invalidTortureVectors() throws Exception {
        Path torture = Path.of("..", "sip", "src", "test", "resources", "torture");
        try (Stream<String> rows = Files.lines(torture.resolve("expectations.csv"))) {
            List<Path> vectors = rows.filter(row -> !row.startsWith("#") && row.contains(",REJECT"))
                    .map(row -> torture.resolve(row.substring(0, row.indexOf(','))))
                    .toList();
            assertThat(vectors).hasSizeGreaterThanOrEqualTo(19);
            return vectors;
        }
    }

    /** A running node sees accounts the CLI adds within a second (it polls the account revision). */
    static void awaitAccountVisible(String user) {
        await().atMost(Duration.ofSeconds(1)).until(() -> node.telephony.accounts().lookup(user, null).isPresent());
    }

    private static void send(DatagramSocket socket, byte[] data, int port) throws Exception {
        socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), port));
    }

    @Test
    void invalidCliInputIsOneLineAndExit2() {
        assertThat(cli("account", "add", "no spaces", "--password", "whatever1", "--data-dir", dataDir.toString()))
                .isEqualTo(2);
        assertThat(cli("account", "remove", "nobody", "--data-dir", dataDir.toString())).isEqualTo(2);
        assertThat(cli("account", "frobnicate")).isEqualTo(2);
    }

    @Test
    void listShowsAccounts() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        cli("account", "add", "erin", "--password", "listed-one", "--data-dir", dataDir.toString());
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), System.err,
                "account", "list", "--data-dir", dataDir.toString());
        assertThat(code).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("sip:erin@intercom.test");
    }
}
