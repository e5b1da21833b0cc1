package io.switchboard.server.node;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** A whole node, as {@code switchboard run} assembles it, on ephemeral ports and a temp data dir. */
class NodeStartTest {
    @TempDir
    static Path dataDir;
    static Node node;
    static final HttpClient client = HttpClient.newHttpClient();
    static final ObjectMapper json = new ObjectMapper();

    static final ListAppender<ILoggingEvent> startLog = new ListAppender<>();

    @BeforeAll
    static void startNode() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Level level = root.getLevel();
        root.setLevel(Level.INFO); // another test in this JVM may have set the level of a 'run'
        startLog.start();
        root.addAppender(startLog);
        try {
            NodeConfig config = NodeAssembly.configLoader().load(null, Map.of(),
                    Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", ""));
            node = NodeAssembly.create(config);
            node.start();
        } finally {
            root.detachAppender(startLog);
            root.setLevel(level);
        }
    }

    @AfterAll
    static void stopNode() {
        if (node != null) {
            node.stop();
        }
    }

    private static HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path));
        if (headers.length > 0) {
            request.headers(headers);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private record Run(int exitCode, String out, String err) {
    }

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void modulesDoNotRepeatTheirNameInTheirStartLines() {
        // the log pattern already names the logger ("Telephony: ..."), so a message does not start with it again
        List<ILoggingEvent> events = List.copyOf(startLog.list);
        assertThat(events).anySatisfy(e -> {
            assertThat(e.getLoggerName()).endsWith(".Telephony");
            assertThat(e.getFormattedMessage()).startsWith("domain ");
        });
        assertThat(events).anySatisfy(e -> {
            assertThat(e.getLoggerName()).endsWith(".Monitor");
            assertThat(e.getFormattedMessage()).startsWith("monitors scheduled: ");
        });
        for (String module : List.of("Telephony", "Chat", "Monitor")) {
            assertThat(events).filteredOn(e -> e.getLoggerName().endsWith("." + module))
                    .allSatisfy(e -> assertThat(e.getFormattedMessage().toLowerCase(Locale.ROOT))
                            .doesNotStartWith(module.toLowerCase(Locale.ROOT) + ":"));
        }
    }

    @Test
    void healthEndpointsAnswer() throws Exception {
        for (String path : new String[] {"/livez", "/liveness", "/readyz"}) {
            HttpResponse<String> response = get(path);
            assertThat(response.statusCode()).as(path).isEqualTo(200);
            assertThat(json.readTree(response.body()).get("status").asText()).as(path).isEqualTo("ok");
        }
    }

    @Test
    void metricsExposeJvmAndPoolMeters() throws Exception {
        HttpResponse<String> response = get("/metrics");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain; version=0.0.4");
        assertThat(response.body()).contains("jvm_memory_used_bytes", "jvm_gc_", "hikaricp_connections");
        assertThat(response.body()).contains("\nswitchboard_node_ready 1.0\n");
    }

    /**
     * Every meter dist/prometheus/switchboard-rules.yml alerts on exists on a node's /metrics, so
     * that renaming a meter breaks this test, not the alerting. A few meters appear only once they
     * have something to count or only on some nodes; they are named here with the reason.
     */
    @Test
    void everyMeterTheAlertingRulesNameIsExposed() throws Exception {
        Map<String, String> appearLater = Map.of(
                "switchboard_bus_dropped_total", "only on nodes with a RabbitMQ bus (bus.url)",
                "switchboard_monitor_notifications_failed_total", "registered per channel when the channel is (this node has none)",
                "switchboard_tls_certificate_expiry_seconds", "only on nodes with a certificate (TlsNodeTest checks it)",
                "switchboard_tls_certificate_pending_refused", "only on nodes with a certificate (TlsNodeTest checks it)",
                "up", "Prometheus's own");
        String rules = Files.readString(Path.of("..", "dist", "prometheus", "switchboard-rules.yml"));
        java.util.Set<String> named = new java.util.TreeSet<>();
        java.util.regex.Matcher expr = java.util.regex.Pattern.compile("\\b(up|(?:switchboard|hikaricp|jvm)_[a-z_]+)\\b")
                .matcher(rules.replaceAll("(?m)^\\s*(#|summary:|description:).*$", ""));
        while (expr.find()) {
            named.add(expr.group(1));
        }
        assertThat(named).contains("switchboard_node_ready", "switchboard_sip_registered_contacts", "hikaricp_connections_pending");
        // Micrometer registers jvm_gc_pause_seconds at the JVM's first collection, which a short
        // run may not have had yet (the node runs in this JVM): one is asked for.
        System.gc();
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                .until(() -> get("/metrics").body().contains("jvm_gc_pause_seconds_sum"));
        String metrics = get("/metrics").body();
        for (String meter : named) {
            if (!appearLater.containsKey(meter)) {
                assertThat(metrics).as("/metrics has %s, which the alerting rules use", meter)
                        .containsPattern("(?m)^" + meter + "[{ ]");
            }
        }
    }

    @Test
    void unknownRouteIsAProblemDocument() throws Exception {
        HttpResponse<String> response = get("/api/v1/nothing-here");
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.headers().firstValue("Content-Type").orElseThrow()).startsWith("application/problem+json");
        JsonNode problem = json.readTree(response.body());
        assertThat(problem.get("status").asInt()).isEqualTo(404);
        assertThat(problem.get("title").asText()).isEqualTo("Not Found");
        assertThat(problem.get("detail").asText()).contains("/api/v1/nothing-here");
    }

    @Test
    void firstStartWritesAnAdminTokenThatOpensTheAdminApi() throws Exception {
        Path tokenFile = dataDir.resolve("admin.token");
        assertThat(Files.getPosixFilePermissions(tokenFile)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        String token = Files.readString(tokenFile).strip();

        HttpResponse<String> without = get("/api/v1/node");
        assertThat(without.statusCode()).isEqualTo(401);
        assertThat(without.headers().firstValue("WWW-Authenticate").orElseThrow()).startsWith("Bearer");
        HttpResponse<String> wrong = get("/api/v1/node", "Authorization", "Bearer sbat_wrong");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.headers().firstValue("WWW-Authenticate").orElseThrow()).contains("invalid_token");

        HttpResponse<String> with = get("/api/v1/node", "Authorization", "Bearer " + token);
        assertThat(with.statusCode()).isEqualTo(200);
        JsonNode info = json.readTree(with.body());
        assertThat(info.get("config").get("dataDir").asText()).isEqualTo(dataDir.toString());
        assertThat(info.get("http").asText()).isEqualTo(node.http().boundAddress().toString());
    }

    @Test
    void adminTokenCommandPrintsANewWorkingToken() throws Exception {
        Run run = cli("admin", "token", "--data-dir", dataDir.toString());

        assertThat(run.exitCode()).as(run.err()).isZero();
        String token = run.out().strip();
        assertThat(token).startsWith("sbat_").doesNotContain("\n");
        assertThat(get("/api/v1/node", "Authorization", "Bearer " + token).statusCode()).isEqualTo(200);

        Path mistyped = dataDir.resolve("no-such-data-dir");
        Run elsewhere = cli("admin", "token", "--data-dir", mistyped.toString());
        assertThat(elsewhere.exitCode()).isEqualTo(2);
        assertThat(elsewhere.err()).startsWith("switchboard: no store at " + mistyped.resolve("switchboard.db"));
        assertThat(elsewhere.out()).as("no token for a store no node uses").isEmpty();
        assertThat(mistyped).doesNotExist();
    }

    @Test
    void invalidConfigIsOneLineAndExitCodeTwo() {
        Run run = cli("run", "--data-dir", dataDir.toString(), "--http", "127.0.0.1:99999");

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).isEqualTo(
                "switchboard: invalid config: http: \"127.0.0.1:99999\" has port 99999; expected 0..65535 (from --http)"
                        + System.lineSeparator());
    }

    @Test
    void aDataDirThatIsAFileIsAConfigErrorAndAnHttpHostThatDoesNotResolveAFailedStart() throws Exception {
        Path file = Files.writeString(dataDir.resolve("a-file"), "x");
        Run fileInTheWay = cli("run", "--data-dir", file.toString(), "--http", "127.0.0.1:0", "--sip", "");
        assertThat(fileInTheWay.exitCode()).as(fileInTheWay.err()).isEqualTo(2);
        assertThat(fileInTheWay.err()).isEqualTo("switchboard: invalid config: dataDir: " + file + " is a file, not a directory"
                + System.lineSeparator());
        Run underAFile = cli("run", "--data-dir", file.resolve("data").toString(), "--http", "127.0.0.1:0", "--sip", "");
        assertThat(underAFile.exitCode()).as(underAFile.err()).isEqualTo(2);
        assertThat(underAFile.err()).startsWith("switchboard: invalid config: dataDir: cannot create " + file.resolve("data")
                + ": Not a directory");
        Run nowhere = cli("run", "--data-dir", dataDir.resolve("nowhere").toString(), "--http", "nosuchhost.invalid:8080",
                "--sip", "");
        assertThat(nowhere.exitCode()).as(nowhere.err()).isEqualTo(1); // DNS may come later: a supervisor retries
        assertThat(nowhere.err()).startsWith("switchboard: cannot start: http: HTTP cannot listen on nosuchhost.invalid:8080:"
                + " \"nosuchhost.invalid\" does not resolve");
    }

    @Test
    void unknownYamlKeyIsNamed() throws Exception {
        Path file = Files.writeString(dataDir.resolve("bad.yaml"), "htttp: 127.0.0.1:0\n");
        Run run = cli("run", "--config", file.toString());

        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).startsWith("switchboard: invalid config: htttp: unknown key");
    }

    @Test
    void aTypoInsideAModuleBlockStopsTheNodeBeforeItTouchesAnything() throws Exception {
        String[][] typos = {{"telephony:\n  minExpire: 30\n", "telephony.minExpire: unknown setting"},
                {"chat:\n  maxMessageLenght: 10\n", "chat.maxMessageLenght: unknown setting"},
                {"monitor:\n  rawRetention: 1h\n", "monitor.rawRetention"},
                {"auth:\n  signUp: maybe\n", "auth.signUp"},
                {"bus:\n  url: http://example.org\n", "bus.url"},
                {"telephony:\n  sha256Domains: [\"not a domain\"]\n", "telephony.sha256Domains: domain must be a host name"},
                {"telephony:\n  digestAlgorithms: [SHA-1]\n", "telephony.digestAlgorithms: unknown digest algorithm 'SHA-1'"},
                {"telephony:\n  nonceLifetime: 0s\n", "telephony.nonceLifetime: 0s is below 1s"},
                {"telephony:\n  partialMessageTimeout: 100ms\n", "telephony.partialMessageTimeout: 100ms is below 1s"},
                {"telephony:\n  idleConnectionTimeout: 500ms\n", "telephony.idleConnectionTimeout: 500ms is below 1s"},
                {"auth:\n  signInWindow: 0s\n", "auth.signInWindow: 0s is below 1s"}};
        for (String[] typo : typos) {
            Path fresh = dataDir.resolve("never-created-" + Math.abs(typo[0].hashCode()));
            Path file = Files.writeString(dataDir.resolve("typo.yaml"), typo[0]);
            Run run = cli("run", "--config", file.toString(), "--data-dir", fresh.toString(), "--http", "127.0.0.1:0",
                    "--sip", "");
            assertThat(run.exitCode()).as(typo[0]).isEqualTo(2);
            assertThat(run.err().lines()).as(typo[0]).singleElement().asString()
                    .startsWith("switchboard: invalid config: " + typo[1]);
            assertThat(fresh).as("no data directory, no store, no admin token for " + typo[0]).doesNotExist();
        }
    }

    @Test
    void aSipUdpPortAnotherProcessHoldsIsRefusedNotShared() throws Exception {
        // Held the way another node holds it: with SO_REUSEPORT, which would let a plain bind of ours succeed.
        try (java.nio.channels.DatagramChannel taken = java.nio.channels.DatagramChannel.open()) {
            taken.setOption(java.net.StandardSocketOptions.SO_REUSEPORT, true);
            taken.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0));
            int port = ((java.net.InetSocketAddress) taken.getLocalAddress()).getPort();
            // Bounded: were the port shared, the node would start and serve instead of returning.
            Run run = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                    cli("run", "--data-dir", dataDir.resolve("udp-taken").toString(), "--http", "127.0.0.1:0",
                            "--sip", "udp:127.0.0.1:" + port));
            assertThat(run.exitCode()).isEqualTo(1);
            assertThat(run.err()).contains("cannot start").contains("udp 127.0.0.1:" + port + " is already in use");
        }
    }

    /** A TCP port another process holds: the line names the listener that could not listen. */
    @Test
    void aSipTcpPortAnotherProcessHoldsIsNamedInOneLine() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            Run run = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                    cli("run", "--data-dir", dataDir.resolve("tcp-taken").toString(), "--http", "127.0.0.1:0",
                            "--sip", "udp:127.0.0.1:0,tcp:127.0.0.1:" + port));
            assertThat(run.exitCode()).isEqualTo(1);
            assertThat(run.err().lines().filter(line -> line.startsWith("switchboard: ")))
                    .singleElement().asString().contains("cannot start")
                    .contains("tcp:127.0.0.1:" + port + " cannot listen: Address already in use")
                    .doesNotContain("bind(..)");
        }
    }

    @Test
    void badUsageIsOneLineAndExitCodeTwo() {
        for (String[] args : new String[][] {{"run", "--no-such-flag"}, {"frobnicate"}, {}, {"run", "--http"}}) {
            Run run = cli(args);
            assertThat(run.exitCode()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(run.err().lines()).as(String.join(" ", args)).singleElement()
                    .asString().startsWith("switchboard: ");
        }
        Run typo = cli("acount", "add", "1003");
        assertThat(typo.exitCode()).isEqualTo(2);
        assertThat(typo.err().strip()).startsWith("switchboard: unknown command 'acount' (did you mean 'account'?); commands: run, account");
    }
}
