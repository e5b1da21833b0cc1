package io.switchboard.server.telephony;

import io.switchboard.platform.http.RawUpgrade;
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
    void theSipWebSocketUpgradeSetsNoSessionCookie() throws Exception {
        RawUpgrade accepted = RawUpgrade.attempt(node.node.http().baseUrl(), "/sip", Map.of("Sec-WebSocket-Protocol", "sip"));
        assertThat(accepted.status()).isEqualTo(101);
        assertThat(accepted.header("Sec-WebSocket-Protocol")).hasValue("sip");
        assertThat(accepted.header("Set-Cookie")).isEmpty();
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
        HttpResponse<String> wrongToken = TelephonyNode.HTTP.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(node.node.http().baseUrl() + "/api/v1/accounts"))
                .header("Authorization", "Bearer wrongtoken").build(), HttpResponse.BodyHandlers.ofString());
        assertThat(wrongToken.statusCode()).isEqualTo(401);
        assertThat(node.json(wrongToken).get("detail").asText())
                .startsWith("The bearer token is neither an admin token nor a valid access token of a person")
                .contains("admin.token");

        assertThat(node.json(node.api("GET", "/api/v1/accounts", null)).get("accounts").toString())
                .contains("flat42-hall");
        assertThat(node.api("PUT", "/api/v1/accounts/flat42-hall/password", "{\"password\":\"another-one\"}")
                .statusCode()).isEqualTo(200);
        assertThat(node.api("DELETE", "/api/v1/accounts/flat42-hall", null).statusCode()).isEqualTo(204);
        assertThat(node.api("DELETE", "/api/v1/accounts/flat42-hall", null).statusCode()).isEqualTo(404);
    }

    /** An account's digest choice: set, shown and changed through the API and the CLI; bad values are 400 / exit 2. */
    @Test
    void digestChoiceThroughApiAndCli() throws Exception {
        HttpResponse<String> created = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"secure-panel\",\"password\":\"door-phone-1\",\"digest\":\"SHA-256\"}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        assertThat(node.json(created).get("digest").asText()).isEqualTo("SHA-256");
        HttpResponse<String> cleared = node.api("PUT", "/api/v1/accounts/secure-panel/digest", "{\"digest\":null}");
        assertThat(cleared.statusCode()).as(cleared.body()).isEqualTo(200);
        assertThat(node.json(cleared).get("digest").isNull()).isTrue();
        assertThat(node.json(node.api("PUT", "/api/v1/accounts/secure-panel/digest", "{\"digest\":\"md5\"}"))
                .get("digest").asText()).isEqualTo("MD5");
        HttpResponse<String> bad = node.api("PUT", "/api/v1/accounts/secure-panel/digest", "{\"digest\":\"SHA-1\"}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(node.json(bad).get("detail").asText()).isEqualTo("'digest': digest must be sha-256, md5 or default (got 'SHA-1')");
        assertThat(node.api("PUT", "/api/v1/accounts/secure-panel/digest", "{}").statusCode()).isEqualTo(400);
        assertThat(node.api("PUT", "/api/v1/accounts/nobody-here/digest", "{\"digest\":\"SHA-256\"}").statusCode())
                .isEqualTo(404);
        assertThat(node.api("POST", "/api/v1/accounts",
                "{\"username\":\"other-panel\",\"password\":\"door-phone-1\",\"digest\":\"sha-1\"}").statusCode())
                .isEqualTo(400);
        // a misspelt field is refused, not passed over with its setting lost
        HttpResponse<String> misspelt = node.api("POST", "/api/v1/accounts",
                "{\"username\":\"other-panel\",\"password\":\"door-phone-1\",\"digets\":\"SHA-256\"}");
        assertThat(misspelt.statusCode()).isEqualTo(400);
        assertThat(node.json(misspelt).get("detail").asText())
                .isEqualTo("'digets' is not a field here; expected digest, domain, password, username");

        String data = dataDir.toString();
        CliRun add = cliWithOutput("account", "add", "grace", "--password", "grace-phone", "--digest", "sha-256",
                "--data-dir", data);
        assertThat(add.exitCode()).isZero();
        assertThat(add.out()).contains("added sip:grace@intercom.test (digest SHA-256)");
        await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup("grace", null)
                .map(a -> a.digest() == io.switchboard.telephony.accounts.DigestAlgorithm.SHA_256).orElse(false));
        assertThat(node.json(node.api("GET", "/api/v1/accounts/grace", null)).get("digest").asText()).isEqualTo("SHA-256");
        assertThat(cliWithOutput("account", "list", "--data-dir", data).out())
                .containsPattern("sip:grace@intercom.test\tdigest SHA-256\t")
                .containsPattern("sip:secure-panel@intercom.test\tdigest MD5\t");
        CliRun set = cliWithOutput("account", "set", "grace", "--digest", "default", "--data-dir", data);
        assertThat(set.exitCode()).isZero();
        assertThat(set.out()).contains("sip:grace@intercom.test digest default");
        assertThat(cli("account", "set", "grace", "--digest", "sha-512", "--data-dir", data)).isEqualTo(2);
        assertThat(cli("account", "add", "henry", "--password", "henry-phone", "--digest", "sha1", "--data-dir", data))
                .isEqualTo(2);
        assertThat(cliWithOutput("account", "list", "--data-dir", data).out())
                .containsPattern("sip:grace@intercom.test\tdigest default\t").doesNotContain("sip:henry@");
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
    void aSingleNodeAnnouncesNoRegistrationOnItsBus() throws Exception {
        // A node's bus without RabbitMQ reaches no other node: announcing each commit there would
        // only cost the registrar's writer. It delivers at once, on the publishing thread, and a
        // commit is announced before its 200 leaves, so anything announced is seen by now.
        assertThat(cli("account", "add", "erin", "--password", "erin-phone-1", "--data-dir", dataDir.toString())).isZero();
        awaitAccountVisible("erin");
        java.util.List<Object> announced = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (io.switchboard.platform.bus.Bus.Subscription ignored = node.node.bus()
                .subscribe("telephony.binding.changed", Object.class, announced::add);
             SipPhone erin = SipPhone.tcp("erin", "intercom.test", node.sipPort(Transport.TCP))) {
            assertThat(erin.register(600, "erin-phone-1").status()).isEqualTo(200);
            assertThat(erin.register(0, "erin-phone-1").status()).isEqualTo(200);
        }
        assertThat(node.node.bus().spansNodes()).isFalse();
        assertThat(announced).isEmpty();
    }

    @Test
    void malformedInputAndGarbageNeverStopTheNode() throws Exception {
        Sipp.assumeAvailable();
        int udp = node.sipPort(Transport.UDP);
        double errorsBefore = node.metric("switchboard_sip_parse_errors_total{transport=\"udp\"}");
        int invalid = 0;
        // RFC 4475 §3.1.2 / RFC 5118: each invalid request is answered with the status its RFC asks
        // for (400, 505 for an unknown version, 501 or 400 for an unknown method) and a reason that
        // says what is wrong; an invalid response is dropped without an answer
        try (DatagramSocket vectors = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            for (InvalidVector vector : invalidTortureVectors()) {
                send(vectors, Files.readAllBytes(vector.file()), udp);
                invalid++;
                String answer = receive(vectors, vector.dropped() ? Duration.ofMillis(300) : Duration.ofSeconds(5));
                if (vector.dropped()) {
                    assertThat(answer).as("%s is an invalid response: dropped", vector.file()).isNull();
                    continue;
                }
                assertThat(answer).as("%s gets an answer", vector.file()).isNotNull();
                String statusLine = answer.lines().findFirst().orElseThrow();
                int status = Integer.parseInt(statusLine.split(" ")[1]);
                assertThat(status).as("%s: %s", vector.file(), statusLine).isIn(vector.statuses());
                if (status == 400) {
                    assertThat(statusLine).as(vector.file().toString()).matches("SIP/2\\.0 400 Bad Request - \\S.*");
                }
            }
        }
        try (DatagramSocket socket = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            Random random = new Random(2026);
            for (int i = 0; i < 500; i++) {
                byte[] garbage = new byte[1 + random.nextInt(1400)];
                random.nextBytes(garbage);
                garbage[0] = (byte) ('A' + random.nextInt(26)); // not a STUN/keep-alive lookalike
                send(socket, garbage, udp);
            }
            send(socket, new byte[65_000], udp);
        }
        // RFC 3261 §8.2.2.1: a well-formed request for a scheme the node does not serve gets 416
        try (DatagramSocket schemes = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            int n = 0;
            for (String uri : List.of("http://x", "tel:+4930123")) {
                String branch = "z9hG4bK-scheme-" + n++;
                String options = "OPTIONS " + uri + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + schemes.getLocalPort()
                        + ";branch=" + branch + "\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <" + uri
                        + ">\r\nCall-ID: scheme-" + branch + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
                send(schemes, options.getBytes(StandardCharsets.US_ASCII), udp);
                String answer = receive(schemes, Duration.ofSeconds(5));
                assertThat(answer).as(uri).isNotNull();
                assertThat(answer.lines().findFirst().orElseThrow()).as(uri).startsWith("SIP/2.0 416 Unsupported URI Scheme");
            }
            // a CANCEL is answered 200 or 481 whatever its URI (§9.2): here nothing matches it
            String cancel = "CANCEL tel:+4930123 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + schemes.getLocalPort()
                    + ";branch=z9hG4bK-scheme-cancel\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\n"
                    + "To: <tel:+4930123>\r\nCall-ID: scheme-cancel\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
            send(schemes, cancel.getBytes(StandardCharsets.US_ASCII), udp);
            assertThat(receive(schemes, Duration.ofSeconds(5)).lines().findFirst().orElseThrow())
                    .startsWith("SIP/2.0 481 Call/Transaction Does Not Exist");
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

    /**
     * A vector the sip module's table marks REJECT, with the statuses its RFC allows; an empty
     * set (status 0 in the table) means the message is dropped without an answer.
     */
    record InvalidVector(Path file, List<Integer> statuses) {
        boolean dropped() {
            return statuses.isEmpty();
        }
    }

    /** The RFC 4475 §3.1.2 and RFC 5118 messages the sip module's vector table marks as rejected. */
    static List<InvalidVector> invalidTortureVectors() throws Exception {
        Path torture = Path.of("..", "sip", "src", "test", "resources", "torture");
        try (Stream<String> rows = Files.lines(torture.resolve("expectations.csv"))) {
            List<InvalidVector> vectors = rows.filter(row -> !row.startsWith("#") && row.contains(",REJECT"))
                    .map(row -> {
                        String[] columns = row.split(",", 7); // file,rfc,section,title,outcome,status,notes
                        List<Integer> statuses = Stream.of(columns[5].split("/")).map(String::trim)
                                .map(Integer::valueOf).filter(status -> status != 0).toList();
                        return new InvalidVector(torture.resolve(columns[0]), statuses);
                    })
                    .toList();
            assertThat(vectors).hasSizeGreaterThanOrEqualTo(19);
            assertThat(vectors).filteredOn(v -> v.statuses().contains(400)).hasSizeGreaterThanOrEqualTo(15);
            return vectors;
        }
    }

    /** One datagram as text, or null when none comes within the time. */
    private static String receive(DatagramSocket socket, Duration within) throws Exception {
        socket.setSoTimeout((int) within.toMillis());
        byte[] buffer = new byte[65_535];
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
            socket.receive(packet);
        } catch (java.net.SocketTimeoutException e) {
            return null;
        }
        return new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
    }

    /** A running node sees accounts the CLI adds within a second (it polls the account revision). */
    static void awaitAccountVisible(String user) {
        await().atMost(Duration.ofSeconds(1)).until(() -> node.telephony.accounts().lookup(user, null).isPresent());
    }

    private static void send(DatagramSocket socket, byte[] data, int port) throws Exception {
        socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), port));
    }

    /**
     * A command that adds something makes the store a node will find at its first start, and says
     * so; one that lists or changes what must be there refuses a data dir without a store.
     */
    @Test
    void aCommandOnADataDirWithoutAStoreSaysItCreatesOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path elsewhere) {
        String listed = elsewhere.resolve("dtaa").toString();
        assertThat(cliErr("account", "list", "--data-dir", listed)).startsWith("switchboard: no store at ");
        assertThat(elsewhere.resolve("dtaa").resolve("switchboard.db")).doesNotExist();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String mistyped = elsewhere.resolve("daat").toString();
        int code = Main.execute(Map.of(), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), "account", "add", "early-bird", "--password", "early-bird-1",
                "--data-dir", mistyped);
        assertThat(code).isZero();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("no store at " + mistyped)
                .contains("a node must run with this data dir");
        // the node's own data dir has its store: nothing said
        ByteArrayOutputStream quiet = new ByteArrayOutputStream();
        Main.execute(Map.of(), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(quiet, true, StandardCharsets.UTF_8), "account", "list", "--data-dir", dataDir.toString());
        assertThat(quiet.toString(StandardCharsets.UTF_8)).doesNotContain("no store at");
    }

    @Test
    void aCommandOnTheDataDirOfANodeWhoseStoreIsElsewhereRefusesToMakeOne(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        // what a node on PostgreSQL leaves in its data dir: its id, its admin token, no switchboard.db
        java.nio.file.Files.writeString(dir.resolve(io.switchboard.platform.cluster.NodeIdentity.FILE), "node-on-postgres\n");
        // those that make a store, and those that only read or change what must be there
        for (String[] command : List.of(new String[] {"admin", "token", "--label", "ops"},
                new String[] {"account", "add", "erin", "--password", "secret-erin"},
                new String[] {"admin", "token", "list"}, new String[] {"admin", "token", "revoke", "0123456789ab"},
                new String[] {"account", "list"}, new String[] {"account", "remove", "erin"},
                new String[] {"number", "list"}, new String[] {"user", "list"}, new String[] {"user", "unlock", "erin"},
                new String[] {"monitor", "list"}, new String[] {"monitor", "export"}, new String[] {"monitor", "pause", "web"},
                new String[] {"cluster", "status"})) {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            List<String> args = new java.util.ArrayList<>(List.of(command));
            args.addAll(List.of("--data-dir", dir.toString()));
            int code = Main.execute(Map.of(), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8), args.toArray(String[]::new));
            assertThat(code).as(String.join(" ", command)).isEqualTo(2);
            assertThat(err.toString(StandardCharsets.UTF_8)).as(String.join(" ", command))
                    .startsWith("switchboard: a node ran with " + dir + " but its store is not there").contains("--config");
        }
        assertThat(dir.resolve("switchboard.db")).doesNotExist();
    }

    record CliRun(int exitCode, String out) {
    }

    /** An account file imported: what the file holds decides, one line on stderr and exit 2 when it is wrong. */
    @Test
    void anAccountFileIsImportedOrRefusedNamingTheLine() throws Exception {
        String data = dataDir.toString();
        Path good = Files.writeString(dataDir.resolve("accounts.txt"), "# the stairwell\nimp-1;imp-phone-1\nimp-2;imp-phone-2\n");
        assertThat(cliWithOutput("account", "import", good.toString(), "--data-dir", data).exitCode()).isZero();

        Path twice = Files.writeString(dataDir.resolve("twice.txt"), "imp-3;imp-phone-3\nimp-4;imp-phone-4\nimp-3;other-phone\n");
        assertThat(cliErr("account", "import", twice.toString(), "--data-dir", data))
                .isEqualTo("switchboard: " + twice + " line 3: imp-3 is given twice (also line 1)\n");
        Path binary = Files.write(dataDir.resolve("binary.txt"), new byte[] {'a', ';', (byte) 0xff, 'b', '\n'});
        assertThat(cliErr("account", "import", binary.toString(), "--data-dir", data))
                .isEqualTo("switchboard: " + binary + ": is not UTF-8 text (expected user;password lines)\n");
        Path missing = dataDir.resolve("missing.txt");
        assertThat(cliErr("account", "import", missing.toString(), "--data-dir", data))
                .isEqualTo("switchboard: " + missing + ": no such file\n");
        // nothing of a refused file was written
        assertThat(node.api("GET", "/api/v1/accounts/imp-4", null).statusCode()).isEqualTo(404);
    }

    /** The error output of a command that must fail with exit code 2. */
    static String cliErr(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        assertThat(code).as(err.toString(StandardCharsets.UTF_8)).isEqualTo(2);
        return err.toString(StandardCharsets.UTF_8);
    }

    static CliRun cliWithOutput(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), args);
        return new CliRun(code, out.toString(StandardCharsets.UTF_8));
    }

    Sipp.Result registerWithSipp(String scenario, String user, String password) {
        return Sipp.scenario(scenario).remote("127.0.0.1", node.sipPort(Transport.UDP))
                .service(user).auth(user, password).calls(1).timeout(Duration.ofSeconds(20)).run();
    }

    /**
     * `account passwd` and `account remove` on the data dir of a running node: each succeeds, and
     * the node acts on it within a second (it polls the account revision): after passwd the old
     * password gets 403 and the new one registers; after remove the account cannot register.
     */
    @Test
    void cliPasswdAndRemoveReachARunningNodeWithinASecond() throws Exception {
        Sipp.assumeAvailable();
        String data = dataDir.toString();
        assertThat(cli("account", "add", "frank", "--password", "first-secret", "--data-dir", data)).isZero();
        awaitAccountVisible("frank");
        Sipp.Result first = registerWithSipp("register_auth.xml", "frank", "first-secret");
        assertThat(first.succeeded()).as(first.describe()).isTrue();

        var before = node.telephony.accounts().lookup("frank", null).orElseThrow();
        CliRun passwd = cliWithOutput("account", "passwd", "frank", "--password", "second-secret", "--data-dir", data);
        assertThat(passwd.exitCode()).isZero();
        assertThat(passwd.out()).contains("password changed for sip:frank@intercom.test");
        await().atMost(Duration.ofSeconds(1)).until(() ->
                !node.telephony.accounts().lookup("frank", null).orElseThrow().ha1Md5().equals(before.ha1Md5()));
        Sipp.Result oldRefused = registerWithSipp("register_wrong_password.xml", "frank", "first-secret");
        assertThat(oldRefused.succeeded()).as("401, then 403 for the old password: " + oldRefused.describe()).isTrue();
        Sipp.Result newAccepted = registerWithSipp("register_auth.xml", "frank", "second-secret");
        assertThat(newAccepted.succeeded()).as(newAccepted.describe()).isTrue();

        double unknownBefore = orZero(node.metric("switchboard_sip_auth_failures_total{reason=\"unknown_user\"}"));
        CliRun remove = cliWithOutput("account", "remove", "frank", "--data-dir", data);
        assertThat(remove.exitCode()).isZero();
        assertThat(remove.out()).contains("removed sip:frank@intercom.test");
        await().atMost(Duration.ofSeconds(1)).until(() -> node.telephony.accounts().lookup("frank", null).isEmpty());
        Sipp.Result removedRefused = registerWithSipp("register_wrong_password.xml", "frank", "second-secret");
        assertThat(removedRefused.succeeded()).as("401, then 403 for a removed account: " + removedRefused.describe())
                .isTrue();
        assertThat(node.metric("switchboard_sip_auth_failures_total{reason=\"unknown_user\"}")).isEqualTo(unknownBefore + 1);
        assertThat(cliWithOutput("account", "list", "--data-dir", data).out()).doesNotContain("sip:frank@");
    }

    private static double orZero(double value) {
        return Double.isNaN(value) ? 0 : value;
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
