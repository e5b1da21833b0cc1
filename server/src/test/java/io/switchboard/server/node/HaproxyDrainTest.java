package io.switchboard.server.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.server.clients.PeerBinary;
import io.switchboard.server.dist.DistFiles;
import io.switchboard.server.sipp.Sipp;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two node processes on one PostgreSQL database behind a real HAProxy (Debian's haproxy) running
 * dist/haproxy.cfg, which health-checks {@code /readyz} every second; SIP over TCP passes through it. Clients keep sending API requests through HAProxy
 * while one node gets SIGTERM: its readiness goes at once, it serves on for its drain delay while
 * HAProxy takes it out of rotation, then it stops. No client sees a reset or a 5xx, the other
 * node carries on, and the drained node exits 0. SIPp (Debian's sip-tester) registers with digest
 * through the same balancer.
 */
class HaproxyDrainTest {
    /** Debian's haproxy: missing, the test fails under CI=true and is skipped otherwise, like the other peers. */
    private static final PeerBinary HAPROXY = new PeerBinary("haproxy", "HAPROXY_BIN", "haproxy");
    private static final Pattern HTTP_PORT = Pattern.compile("HTTP listening on http://127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern SIP_TCP_PORT = Pattern.compile("SIP listening on tcp:127\\.0\\.0\\.1:(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    PostgresTestDatabase database;
    /** The nodes' bus: two nodes on one store without one are not ready (each names the other). */
    final String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
    final List<Process> processes = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Process process : processes) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        try {
            if (!processes.isEmpty()) {
                com.rabbitmq.client.ConnectionFactory factory = new com.rabbitmq.client.ConnectionFactory();
                factory.setHost("127.0.0.1");
                factory.setConnectionTimeout(5000);
                try (com.rabbitmq.client.Connection c = factory.newConnection(); com.rabbitmq.client.Channel ch = c.createChannel()) {
                    ch.exchangeDelete(exchange);
                }
            }
        } finally {
            if (database != null) {
                database.close();
            }
        }
    }

    /** A node process and what it logs. */
    private record NodeProcess(Process process, List<String> log, Thread reader) {
        String text() {
            return String.join("\n", log);
        }

        int httpPort() {
            return port(HTTP_PORT);
        }

        int sipTcpPort() {
            return port(SIP_TCP_PORT);
        }

        private int port(Pattern pattern) {
            for (String line : log) {
                Matcher m = pattern.matcher(line);
                if (m.find()) {
                    return Integer.parseInt(m.group(1));
                }
            }
            throw new AssertionError("the node did not say where it listens:\n" + text());
        }
    }

    private NodeProcess startNode(String name) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "io.switchboard.server.Main", "run", "--data-dir", dir.resolve(name).toString(), "--http", "127.0.0.1:0",
                "--sip", "tcp:127.0.0.1:0", "--domain", "drain.test").redirectErrorStream(true);
        builder.environment().put("SWITCHBOARD_STORE_URL", database.settings().url());
        builder.environment().put("SWITCHBOARD_STORE_USER", database.settings().user());
        builder.environment().put("SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672");
        builder.environment().put("SWITCHBOARD_BUS_EXCHANGE", exchange);
        // dist/haproxy.cfg puts a PROXY v2 header in front of SIP over TCP (send-proxy-v2): the
        // nodes expect it from the balancer, as docs/cluster.md sets them up
        builder.environment().put("SWITCHBOARD_TELEPHONY_PROXY_PROTOCOL_FROM", HAPROXY_SOURCE);
        builder.environment().put("SWITCHBOARD_PROXIES_TRUSTED", "127.0.0.1");
        // The node's default drainDelay (10 s) against dist/haproxy.cfg's checks (out after two
        // failures a second apart, 2-3 s after /readyz turns 503): the shipped pair. The test still
        // fails without a drain: with SWITCHBOARD_DRAIN_DELAY=0s the clients see 503s.
        Process process = builder.start();
        processes.add(process);
        List<String> log = new CopyOnWriteArrayList<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    log.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        return new NodeProcess(process, log, reader);
    }

    /**
     * dist/haproxy.cfg as shipped, with only the example addresses replaced: the frontends on free
     * loopback ports, the two nodes instead of three (checks, timeouts and balancing untouched).
     */
    private Process startHaproxy(int frontendPort, int sipFrontendPort, int statsPort, NodeProcess a, NodeProcess b) throws Exception {
        String cfg = DistFiles.read("haproxy.cfg");
        cfg = DistFiles.replace(cfg, "    bind :80\n", "    bind 127.0.0.1:" + frontendPort + "\n");
        cfg = DistFiles.replace(cfg, "    bind :5060\n", "    bind " + SIP_FRONTEND_HOST + ":" + sipFrontendPort + "\n");
        cfg = DistFiles.replace(cfg, "bind 127.0.0.1:8404", "bind 127.0.0.1:" + statsPort);
        cfg = DistFiles.replace(cfg, "server node1 10.0.0.11:8080 check", "server node1 127.0.0.1:" + a.httpPort() + " check");
        cfg = DistFiles.replace(cfg, "server node2 10.0.0.12:8080 check", "server node2 127.0.0.1:" + b.httpPort() + " check");
        // HAProxy connects to the nodes' SIP from an address of its own (docs/cluster.md): the
        // nodes send each other SIP from 127.0.0.1, and a node expects a PROXY header only from
        // HAPROXY_SOURCE (a connection of the other node's without one would be refused)
        cfg = DistFiles.replace(cfg, "server node1 10.0.0.11:5060 check",
                "server node1 127.0.0.1:" + a.sipTcpPort() + " check port " + a.httpPort() + " source " + HAPROXY_SOURCE);
        cfg = DistFiles.replace(cfg, "server node2 10.0.0.12:5060 check",
                "server node2 127.0.0.1:" + b.sipTcpPort() + " check port " + b.httpPort() + " source " + HAPROXY_SOURCE);
        cfg = DistFiles.dropLine(cfg, "server node3 10.0.0.13:8080 check");
        cfg = DistFiles.dropLine(cfg, "server node3 10.0.0.13:5060 check");
        Path config = Files.writeString(dir.resolve("haproxy.cfg"), cfg);
        Process check = new ProcessBuilder(HAPROXY.path().toString(), "-c", "-f", config.toString()).redirectErrorStream(true).start();
        String checked = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(check.waitFor()).as("haproxy -c -f dist/haproxy.cfg: " + checked).isZero();
        Process haproxy = new ProcessBuilder(HAPROXY.path().toString(), "-db", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy.log").toFile()).start();
        processes.add(haproxy);
        return haproxy;
    }

    /**
     * OPTIONS to the node over one new TCP connection through HAProxy's SIP frontend; the status
     * line. The Via asks for rport (RFC 3581): the node must answer with this socket's own port,
     * which it knows only from HAProxy's PROXY header (without it, HAProxy's outgoing port).
     */
    private static String sipOptionsOverTcp(int port) throws IOException {
        try (Socket socket = new Socket(SIP_FRONTEND_HOST, port)) {
            socket.setSoTimeout(10_000);
            String callId = UUID.randomUUID().toString();
            socket.getOutputStream().write(("OPTIONS sip:drain.test SIP/2.0\r\n"
                    + "Via: SIP/2.0/TCP 127.0.0.1:" + socket.getLocalPort() + ";branch=z9hG4bK" + callId.substring(0, 8) + ";rport\r\n"
                    + "Max-Forwards: 70\r\nFrom: <sip:probe@drain.test>;tag=p1\r\nTo: <sip:drain.test>\r\n"
                    + "Call-ID: " + callId + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String status = in.readLine();
            StringBuilder headers = new StringBuilder();
            for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
                headers.append(line).append('\n');
            }
            assertThat(headers.toString()).as("the device's own port, from the PROXY header")
                    .contains(";rport=" + socket.getLocalPort());
            return status;
        }
    }

    /**
     * Where HAProxy's SIP frontend listens: a loopback address that is none of the node's (Linux
     * routes all of 127/8 to lo, but only 127.0.0.1 is an address of it), so a Request-URI or Route
     * naming the balancer is this cluster's only by the PROXY header, as with a balancer on a host
     * of its own.
     */
    private static final String SIP_FRONTEND_HOST = "127.0.0.3";
    /** Where HAProxy connects to the nodes' SIP from: not the address the nodes reach each other from. */
    private static final String HAPROXY_SOURCE = "127.0.0.2";

    /** One out-of-dialog request over a new TCP connection through HAProxy's SIP frontend; its status line. */
    private static String sipOverTcp(int port, String requestUri, String extraHeaders) throws IOException {
        try (Socket socket = new Socket(SIP_FRONTEND_HOST, port)) {
            socket.setSoTimeout(10_000);
            String callId = UUID.randomUUID().toString();
            socket.getOutputStream().write(("OPTIONS " + requestUri + " SIP/2.0\r\n"
                    + "Via: SIP/2.0/TCP 127.0.0.1:" + socket.getLocalPort() + ";branch=z9hG4bK" + callId.substring(0, 8) + ";rport\r\n"
                    + "Max-Forwards: 70\r\nFrom: <sip:probe@drain.test>;tag=p1\r\nTo: <" + requestUri + ">\r\n" + extraHeaders
                    + "Call-ID: " + callId + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            return new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /**
     * OPTIONS over one new TCP connection through HAProxy's SIP frontend, answering the node's 407
     * with digest credentials (RFC 3261 §22.3, RFC 7616: qop=auth, the challenge's algorithm); the
     * status line of the answer to the authenticated request, which the node routes only once it
     * knows the caller, so it is where a Request-URI the node does not serve is refused.
     */
    private static String sipOverTcpAuthenticated(int port, String requestUri, String user, String password) throws Exception {
        try (Socket socket = new Socket(SIP_FRONTEND_HOST, port)) {
            socket.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            String callId = UUID.randomUUID().toString();
            String head = "Max-Forwards: 70\r\nFrom: <sip:" + user + "@drain.test>;tag=p1\r\nTo: <" + requestUri + ">\r\n"
                    + "Call-ID: " + callId + "\r\n";
            socket.getOutputStream().write(("OPTIONS " + requestUri + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:"
                    + socket.getLocalPort() + ";branch=z9hG4bKa" + callId.substring(0, 8) + ";rport\r\n" + head
                    + "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            String challenge = null;
            String line = in.readLine();
            assertThat(line).isEqualTo("SIP/2.0 407 Proxy Authentication Required");
            while ((line = in.readLine()) != null && !line.isEmpty()) {
                if (line.regionMatches(true, 0, "Proxy-Authenticate:", 0, 19) && challenge == null) {
                    challenge = line.substring(19).strip();
                }
            }
            assertThat(challenge).isNotNull();
            String realm = digestParam(challenge, "realm");
            String nonce = digestParam(challenge, "nonce");
            String algorithm = digestParam(challenge, "algorithm");
            String hash = "SHA-256".equalsIgnoreCase(algorithm) ? "SHA-256" : "MD5";
            String cnonce = callId.substring(0, 8);
            String ha1 = hex(hash, user + ":" + realm + ":" + password);
            String ha2 = hex(hash, "OPTIONS:" + requestUri);
            String response = hex(hash, ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + ha2);
            String credentials = "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce + "\", uri=\""
                    + requestUri + "\", response=\"" + response + "\", algorithm=" + (algorithm == null ? "MD5" : algorithm)
                    + ", qop=auth, nc=00000001, cnonce=\"" + cnonce + "\"";
            socket.getOutputStream().write(("OPTIONS " + requestUri + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:"
                    + socket.getLocalPort() + ";branch=z9hG4bKb" + callId.substring(0, 8) + ";rport\r\n" + head
                    + "CSeq: 2 OPTIONS\r\nProxy-Authorization: " + credentials + "\r\nContent-Length: 0\r\n\r\n")
                    .getBytes(StandardCharsets.UTF_8));
            while ((line = in.readLine()) != null) {
                if (line.startsWith("SIP/2.0 ") && !line.startsWith("SIP/2.0 1")) {
                    return line;
                }
            }
            return null;
        }
    }

    private static String digestParam(String challenge, String name) {
        Matcher m = Pattern.compile("(?i)\\b" + name + "=(?:\"([^\"]*)\"|([^,\\s]+))").matcher(challenge);
        return m.find() ? (m.group(1) != null ? m.group(1) : m.group(2)) : null;
    }

    private static String hex(String algorithm, String text) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance(algorithm)
                .digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    /** Two nodes on one database behind HAProxy, both UP in both backends. */
    private record Balanced(NodeProcess a, NodeProcess b, Process haproxy, int frontend, int sipFrontend, String token, HttpClient client) {
        HttpResponse<String> api(String method, String path, String body) throws Exception {
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + frontend + path))
                    .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(20));
            request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            if (body != null) {
                request.header("Content-Type", "application/json");
            }
            return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    /** Two nodes on {@link #database} (made here unless the test made it first) behind HAProxy. */
    private Balanced twoNodesBehindHaproxy() throws Exception {
        HAPROXY.assumeAvailable();
        if (database == null) {
            database = PostgresTestDatabase.create();
        }
        NodeProcess a = startNode("a");
        NodeProcess b = startNode("b");
        for (NodeProcess node : List.of(a, b)) {
            await().atMost(Duration.ofSeconds(90)).alias(node.text())
                    .until(() -> node.text().contains("HTTP listening on") && node.text().contains("SIP listening on")
                            || !node.process().isAlive());
            assertThat(node.process().isAlive()).as(node.text()).isTrue();
        }
        // the first node to migrate the shared store made the first admin token
        Path tokenFile = Files.exists(dir.resolve("a/admin.token")) ? dir.resolve("a/admin.token") : dir.resolve("b/admin.token");
        String token = Files.readString(tokenFile).strip();
        int frontend = freePort();
        int sipFrontend = freePort();
        int stats = freePort();
        Process haproxy = startHaproxy(frontend, sipFrontend, stats, a, b);

        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Balanced balanced = new Balanced(a, b, haproxy, frontend, sipFrontend, token, client);
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                .until(() -> balanced.api("GET", "/api/v1/node", null).statusCode() == 200);
        // both nodes UP in both backends, as HAProxy's stats page says (a check that timed out on a
        // loaded machine while a node warmed up takes it out for `rise` checks)
        HttpRequest statsCsv = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + stats + "/;csv")).timeout(Duration.ofSeconds(5)).build();
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().alias("HAProxy has both nodes UP").until(() -> {
            String csv = client.send(statsCsv, HttpResponse.BodyHandlers.ofString()).body();
            return csv.lines().filter(l -> l.matches("switchboard_(http|sip_tcp),node[12],.*"))
                    .filter(l -> l.split(",", -1)[17].equals("UP")).count() == 4;
        });
        return balanced;
    }

    @Test
    void aNodeDrainedBehindHaproxyCostsNoClientAResetOrA5xx() throws Exception {
        Balanced balanced = twoNodesBehindHaproxy();
        NodeProcess a = balanced.a();
        NodeProcess b = balanced.b();
        int portA = a.httpPort();
        int portB = b.httpPort();
        int sipFrontend = balanced.sipFrontend();
        HttpClient client = balanced.client();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + balanced.frontend() + "/api/v1/node"))
                .header("Authorization", "Bearer " + balanced.token()).timeout(Duration.ofSeconds(20)).build();
        // SIP over TCP through the mode tcp frontend, on new connections spread over both nodes
        for (int i = 0; i < 2; i++) {
            assertThat(sipOptionsOverTcp(sipFrontend)).isEqualTo("SIP/2.0 200 OK");
        }

        Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicBoolean sending = new AtomicBoolean(true);
        ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor();
        for (int c = 0; c < 4; c++) {
            clients.submit(() -> {
                while (sending.get()) {
                    try {
                        HttpResponse<String> answer = client.send(request, HttpResponse.BodyHandlers.ofString());
                        if (answer.statusCode() != 200) {
                            failures.add(answer.statusCode() + " " + answer.body());
                        } else {
                            String node = JSON.readTree(answer.body()).get("http").asText();
                            servedBy.computeIfAbsent(node, k -> new AtomicInteger()).incrementAndGet();
                        }
                    } catch (IOException e) {
                        failures.add(e.toString());
                    }
                }
                return null;
            });
        }
        Thread.sleep(1000);
        assertThat(servedBy).as("both nodes serve through HAProxy (HAProxy log: %s)", Files.readString(dir.resolve("haproxy.log"))).containsKeys("127.0.0.1:" + portA, "127.0.0.1:" + portB);

        // SIGTERM through the process handle: Process.destroy() would also close our end of its output
        a.process().toHandle().destroy();
        assertThat(a.process().waitFor(40, TimeUnit.SECONDS)).as(a.text()).isTrue();
        a.reader().join(5000);
        int servedByBAtExit = servedBy.get("127.0.0.1:" + portB).get();
        Thread.sleep(1000); // and clients go on, on the other node
        sending.set(false);
        clients.shutdown();
        assertThat(clients.awaitTermination(30, TimeUnit.SECONDS)).isTrue();

        assertThat(failures).as("answers other than 200 seen by clients (HAProxy log: %s)",
                Files.readString(dir.resolve("haproxy.log"))).isEmpty();
        assertThat(a.process().exitValue()).as(a.text()).isZero();
        assertThat(a.text()).contains("draining: /readyz answers 503").contains("new work is refused");
        assertThat(servedBy.get("127.0.0.1:" + portB).get()).isGreaterThan(servedByBAtExit);
        assertThat(b.process().isAlive()).isTrue();
        balanced.haproxy().destroy();
    }

    /**
     * SIPp registering through HAProxy with digest, its Request-URI naming the domain: SIPp signs
     * {@code uri="sip:<balancer address>"}, the address the REGISTER reached. A node knows it from the
     * PROXY header and counts it as its own (RFC 3261 §22.4 leaves the uri's check to the server);
     * before, every such REGISTER got 400. Two runs on two TCP connections (the SIP backend balances
     * by least connections, so either node may take either).
     */
    @Test
    void sippRegistersWithDigestThroughHaproxy() throws Exception {
        Sipp.assumeAvailable();
        HAPROXY.assumeAvailable();
        // the account exists before the nodes start, so both load it (a node hears of accounts
        // added later through its poll of the store, a moment after the other)
        database = PostgresTestDatabase.create();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int added = io.switchboard.server.Main.execute(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                        "SWITCHBOARD_STORE_USER", database.settings().user()), new java.io.PrintStream(java.io.OutputStream.nullOutputStream()),
                new java.io.PrintStream(err, true, StandardCharsets.UTF_8),
                "account", "add", "alice", "--password", "alice-door-panel", "--domain", "drain.test");
        assertThat(added).as(err.toString(StandardCharsets.UTF_8)).isZero();
        Balanced balanced = twoNodesBehindHaproxy();
        String scenario = new String(HaproxyDrainTest.class.getResourceAsStream("/sipp/register_auth.xml").readAllBytes(), StandardCharsets.ISO_8859_1);
        String domainScenario = scenario.replace("REGISTER sip:[remote_ip]:[remote_port] SIP/2.0", "REGISTER sip:[domain] SIP/2.0")
                .replace("@[remote_ip]>", "@[domain]>");
        assertThat(domainScenario).doesNotContain("[remote_ip]");
        Path file = Files.writeString(dir.resolve("register_auth_domain.xml"), domainScenario, StandardCharsets.ISO_8859_1);
        for (int run = 0; run < 2; run++) {
            Sipp.Result registered = Sipp.scenarioFile(file)
                    .remote(SIP_FRONTEND_HOST, balanced.sipFrontend())
                    .transport(Sipp.Transport.TCP)
                    .key("domain", "drain.test")
                    .service("alice").auth("alice", "alice-door-panel")
                    .calls(2)
                    .workDir(dir.resolve("sipp-" + run))
                    .run();
            assertThat(registered.succeeded()).as("%s%nnode a:%n%s%nnode b:%n%s", registered.describe(),
                    balanced.a().text(), balanced.b().text()).isTrue();
            assertThat(registered.successfulCalls()).isEqualTo(2);
        }
        JsonNode registrations = JSON.readTree(balanced.api("GET", "/api/v1/registrations", null).body()).get("registrations");
        assertThat(registrations.toString()).contains("alice");

        // A phone behind the balancer knows only its address: in the Request-URI, or as its
        // outbound proxy in a Route. Either names this cluster (the node has it from the PROXY
        // header), not a host to relay to: the node asks who calls (407) as for any request it
        // serves, then routes the request to alice (whose SIPp registration is gone with its
        // connection: 480); both were 403 "not served here" / "routes through other hosts".
        String balancer = SIP_FRONTEND_HOST + ":" + balanced.sipFrontend();
        assertThat(sipOverTcp(balanced.sipFrontend(), "sip:alice@" + balancer + ";transport=tcp", ""))
                .isEqualTo("SIP/2.0 407 Proxy Authentication Required");
        assertThat(sipOverTcpAuthenticated(balanced.sipFrontend(), "sip:alice@" + balancer + ";transport=tcp", "alice",
                "alice-door-panel")).startsWith("SIP/2.0 480 ");
        assertThat(sipOverTcp(balanced.sipFrontend(), "sip:alice@drain.test",
                "Route: <sip:" + balancer + ";transport=tcp;lr>\r\n")).isEqualTo("SIP/2.0 407 Proxy Authentication Required");
        balanced.haproxy().destroy();
    }
}
