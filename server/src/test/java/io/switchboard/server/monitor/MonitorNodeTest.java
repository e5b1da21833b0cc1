package io.switchboard.server.monitor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.Main;
import io.switchboard.server.node.NodeAssembly;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the "done when" asks, on a whole node in-process: import the monitor file with the
 * CLI while the node runs, take the target away, get a plain-words notification on the webhook,
 * see the incident and the uptime through the API, bring the target back and get the recovery.
 */
class MonitorNodeTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dataDir;
    Node node;
    LoopbackHttp shop;
    LoopbackHttp receiver;

    @BeforeEach
    void start() throws Exception {
        shop = new LoopbackHttp().answer("/health", 200, "ok");
        receiver = new LoopbackHttp().answer("/hook", 200, "");
        NodeConfig config = NodeAssembly.configLoader().load(null, Map.of(), Map.of("dataDir", dataDir.toString(),
                "http", "127.0.0.1:0", "sip", "udp:127.0.0.1:0", "domain", "monitor.test"));
        node = NodeAssembly.create(config);
        node.start();
    }

    @AfterEach
    void stop() {
        node.stop();
        shop.close();
        receiver.close();
    }

    record Run(int code, String out, String err) {
    }

    Run cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--data-dir", dataDir.toString()));
        return cliAsGiven(all.toArray(String[]::new));
    }

    Run cliAsGiven(String... all) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), all);
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * The CLI as a user runs it, in a JVM of its own: in {@code workDir} (what {@code ./data} means
     * depends on it, and this JVM's cannot be changed) and without any SWITCHBOARD_ variable.
     */
    Run cliIn(Path workDir, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dataDir, "cli", ".out");
        Path err = Files.createTempFile(dataDir, "cli", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(workDir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().keySet().removeIf(name -> name.startsWith("SWITCHBOARD_"));
        Process process = builder.start();
        try {
            assertThat(process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as("the CLI ended").isTrue();
        } finally {
            process.destroyForcibly();
        }
        return new Run(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    JsonNode api(String path) throws Exception {
        String token = Files.readString(dataDir.resolve("admin.token")).strip();
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
        return JSON.readTree(r.body());
    }

    List<JsonNode> hooks(String event) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (LoopbackHttp.Received r : receiver.received("/hook")) {
            JsonNode body = JSON.readTree(r.body());
            if (body.path("event").asText().equals(event)) {
                out.add(body);
            }
        }
        return out;
    }

    @Test
    void aNewUsersFirstOutageFromImportToRecovery() throws Exception {
        // the file, as written, with the loopback ports this test got
        String file = """
                channels:
                  - name: ops-hook
                    type: webhook            # also: telegram (botToken, chatId, apiUrl), email (smtp settings, to)
                    url: http://127.0.0.1:9000/hook
                monitors:
                  - name: shop
                    type: http
                    target: http://127.0.0.1:8000/health
                    interval: 1s
                    timeout: 2s
                    failureThreshold: 2
                    channels: [ops-hook]
                """.replace("127.0.0.1:9000", "127.0.0.1:" + receiver.port()).replace("127.0.0.1:8000", "127.0.0.1:" + shop.port());
        Path yaml = Files.writeString(dataDir.resolve("monitors.yaml"), file);
        Run imported = cli("monitor", "import", yaml.toString());
        assertThat(imported.code()).as(imported.err()).isZero();
        assertThat(imported.out()).startsWith("imported 1 channel, 1 monitor, 0 maintenance windows from ")
                .endsWith(": 2 added, 0 changed, 0 unchanged\n");
        assertThat(cli("monitor", "import", yaml.toString()).out()).as("the same file again")
                .endsWith(": 0 added, 0 changed, 2 unchanged\n");

        // the running node picks the file up within a second and checks every second
        await().atMost(WAIT).until(() -> api("/api/v1/monitors/shop").path("state").path("status").asText().equals("up"));

        shop.stop();
        await().atMost(WAIT).until(() -> hooks("monitor.down").size() == 1);
        String text = hooks("monitor.down").getFirst().path("text").asText();
        assertThat(text).startsWith("shop is DOWN.\nWhat is wrong: Nothing accepted the connection on 127.0.0.1 port "
                + shop.port() + " (connection refused: no service listens there).");
        assertThat(text).contains("2 checks in a row failed").contains("What still works: The host 127.0.0.1 is reachable")
                .contains("Last success: ").contains("Checked: the web address http://127.0.0.1:" + shop.port() + "/health");

        JsonNode incidents = api("/api/v1/incidents").path("incidents");
        assertThat(incidents).hasSize(1);
        assertThat(incidents.get(0).path("status").asText()).isEqualTo("open");
        assertThat(incidents.get(0).path("report").asText()).isEqualTo(text);
        JsonNode shopState = api("/api/v1/monitors/shop");
        assertThat(shopState.path("state").path("status").asText()).isEqualTo("down");
        // the command line shows the state as stored, a moment after the API's
        await().atMost(WAIT).until(() -> cli("monitor", "list").out().contains("\tDOWN since "));
        assertThat(cli("monitor", "list").out()).matches("shop\thttp\thttp://127\\.0\\.0\\.1:" + shop.port()
                + "/health\tevery 1s\tDOWN since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC: nothing accepted the connection on 127\\.0\\.0\\.1"
                + " port " + shop.port() + " \\(connection refused: no service listens there\\)\t-> ops-hook\n");
        // the failed checks reach the stored history through the writer, a moment after the state
        await().atMost(WAIT).until(() -> {
            JsonNode uptime = api("/api/v1/monitors/shop").path("uptime").path("24h").path("uptimePercent");
            return uptime.isNumber() && uptime.asDouble() < 100.0;
        });

        shop.restart();
        await().atMost(WAIT).until(() -> hooks("monitor.recovered").size() == 1);
        assertThat(hooks("monitor.recovered").getFirst().path("text").asText()).startsWith("shop is UP again");
        assertThat(api("/api/v1/incidents").path("incidents").get(0).path("status").asText()).isEqualTo("resolved");
        assertThat(api("/api/v1/monitors/shop").path("state").path("status").asText()).isEqualTo("up");

        // export gives the file back (defaults spelled out), and importing it again changes nothing
        Run exported = cli("monitor", "export");
        assertThat(exported.code()).isZero();
        assertThat(exported.out()).contains("name: shop").contains("interval: 1s").contains("failureThreshold: 2")
                .contains("url: http://127.0.0.1:" + receiver.port() + "/hook");
        Path again = Files.writeString(dataDir.resolve("exported.yaml"), exported.out());
        assertThat(cli("monitor", "import", again.toString()).code()).isZero();
        assertThat(cli("monitor", "export").out()).isEqualTo(exported.out());
        await().atMost(WAIT).until(() -> cli("monitor", "list").out().startsWith("shop\thttp\thttp://127.0.0.1:" + shop.port()
                + "/health\tevery 1s\tup since "));
        assertThat(cli("monitor", "pause", "shop").code()).isZero();
        assertThat(cli("monitor", "list").out()).isEqualTo("shop\thttp\thttp://127.0.0.1:" + shop.port()
                + "/health\tevery 1s\tpaused\t-> ops-hook\n");
    }

    @Test
    void badInputOnTheCommandLineIsOneLineAndExitCodeTwo() throws Exception {
        Run missing = cli("monitor", "import", dataDir.resolve("nope.yaml").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("switchboard: " + dataDir.resolve("nope.yaml") + ": no such file\n");

        Path bad = Files.writeString(dataDir.resolve("bad.yaml"), "monitors:\n  - name: shop\n    type: http\n"
                + "    target: http://127.0.0.1:1/\n    interval: 0s\n");
        Run invalid = cli("monitor", "import", bad.toString());
        assertThat(invalid.code()).isEqualTo(2);
        assertThat(invalid.err()).isEqualTo("switchboard: " + bad + ": monitors[0] (shop).interval: 0s is below the 1s minimum\n");

        Path unknown = Files.writeString(dataDir.resolve("unknown.yaml"), "monitors:\n  - {name: shop, type: tcp, "
                + "target: '127.0.0.1:1', channels: [pager]}\n");
        assertThat(cli("monitor", "import", unknown.toString()).err()).isEqualTo("switchboard: " + unknown
                + ": monitors[0] (shop).channels: no channel pager\n");

        Path broken = Files.writeString(dataDir.resolve("broken.yaml"), "monitors: [\n");
        Run syntax = cli("monitor", "import", broken.toString());
        assertThat(syntax.code()).isEqualTo(2);
        assertThat(syntax.err()).startsWith("switchboard: " + broken + ": not valid YAML at line").doesNotContain("\tat ");

        Path binary = Files.write(dataDir.resolve("binary.yaml"), new byte[] {(byte) 0xff, (byte) 0xfe, 0x00, 0x01});
        assertThat(cli("monitor", "import", binary.toString()).err())
                .isEqualTo("switchboard: " + binary + ": is not UTF-8 text (a monitor file is YAML)\n");

        assertThat(cli("monitor", "export", dataDir.toString()).err()).startsWith("switchboard: " + dataDir + ": is a directory;");
        Path unmade = dataDir.resolve("no-such-dir").resolve("monitors.yaml");
        assertThat(cli("monitor", "export", unmade.toString()).err())
                .isEqualTo("switchboard: " + unmade + ": no directory " + unmade.getParent() + "\n");
        assertThat(unmade.getParent()).doesNotExist();

        // an empty file with --prune would remove everything: refused unless said so
        Path empty = Files.writeString(dataDir.resolve("empty.yaml"), "# nothing yet\n");
        Run wipe = cli("monitor", "import", empty.toString(), "--prune");
        assertThat(wipe.code()).isEqualTo(2);
        assertThat(wipe.err()).contains("defines no monitors", "--allow-empty");
        Run alone = cli("monitor", "import", empty.toString(), "--allow-empty");
        assertThat(alone.code()).isEqualTo(2);
        assertThat(alone.err()).isEqualTo("switchboard: --allow-empty goes with --prune (it lets a file that defines no monitors"
                + " remove them all)\n");

        // a mistyped --data-dir: list and export only read, so they say so and make no store there
        Path typo = dataDir.resolveSibling(dataDir.getFileName() + "-typo");
        for (String command : List.of("list", "export")) {
            Run nowhere = cliAsGiven("monitor", command, "--data-dir", typo.toString());
            assertThat(nowhere.code()).as(nowhere.err()).isEqualTo(2);
            assertThat(nowhere.err()).startsWith("switchboard: no store at " + typo.resolve("switchboard.db")).endsWith("\n");
            assertThat(nowhere.err().strip().lines()).hasSize(1);
        }
        assertThat(typo).doesNotExist();

        Run pause = cli("monitor", "pause", "ghost");
        assertThat(pause.code()).isEqualTo(2);
        assertThat(pause.err()).isEqualTo("switchboard: no monitor ghost\n");
        assertThat(api("/api/v1/monitors").path("monitors")).isEmpty();

        // an import with nothing naming the store (a forgotten --data-dir) makes no ./data either:
        // run where ./data is known not to be, whatever the tests' own working directory holds
        Path workDir = Files.createDirectory(dataDir.resolve("elsewhere"));
        Path defaultDataDir = workDir.resolve("data");
        Run forgotten = cliIn(workDir, "monitor", "import", empty.toString());
        assertThat(forgotten.code()).as(forgotten.err()).isEqualTo(2);
        assertThat(forgotten.err()).startsWith("switchboard: no store at ").contains("give the node's --data-dir or --config");
        assertThat(forgotten.err().strip().lines()).hasSize(1);
        assertThat(defaultDataDir).doesNotExist();
        // named, a data dir with no store yet is set up for the node's first start
        Path fresh = dataDir.resolve("fresh-node");
        Run made = cliAsGiven("monitor", "import", empty.toString(), "--data-dir", fresh.toString());
        assertThat(made.code()).as(made.err()).isZero();
        assertThat(made.err()).contains("creating it");
        assertThat(fresh.resolve("switchboard.db")).exists();
    }
}
