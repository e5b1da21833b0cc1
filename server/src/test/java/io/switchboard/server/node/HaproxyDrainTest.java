package io.switchboard.server.node;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.server.clients.PeerBinary;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
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
 * Two node processes on one PostgreSQL database behind a real HAProxy (Debian's haproxy) that
 * health-checks {@code /readyz} every 500 ms. Clients keep sending API requests through HAProxy
 * while one node gets SIGTERM: its readiness goes at once, it serves on for its drain delay while
 * HAProxy takes it out of rotation, then it stops. No client sees a reset or a 5xx, the other
 * node carries on, and the drained node exits 0.
 */
class HaproxyDrainTest {
    /** Debian's haproxy: missing, the test fails under CI=true and is skipped otherwise, like the other peers. */
    private static final PeerBinary HAPROXY = new PeerBinary("haproxy", "HAPROXY_BIN", "haproxy");
    private static final Pattern HTTP_PORT = Pattern.compile("HTTP listening on http://127\\.0\\.0\\.1:(\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    PostgresTestDatabase database;
    final List<Process> processes = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Process process : processes) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
        if (database != null) {
            database.close();
        }
    }

    /** A node process and what it logs. */
    private record NodeProcess(Process process, List<String> log, Thread reader) {
        String text() {
            return String.join("\n", log);
        }

        int httpPort() {
            for (String line : log) {
                Matcher m = HTTP_PORT.matcher(line);
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
                "--sip", "", "--domain", "drain.test").redirectErrorStream(true);
        builder.environment().put("SWITCHBOARD_STORE_URL", database.settings().url());
        builder.environment().put("SWITCHBOARD_STORE_USER", database.settings().user());
        // HAProxy takes the node out after two failed checks 500 ms apart, 1-1.5 s after /readyz
        // turns 503 (more when a loaded machine delays a check): 4 s leaves that twice over. The
        // test still fails without a drain: with drainDelay 0 the clients see 503s.
        builder.environment().put("SWITCHBOARD_DRAIN_DELAY", "4s");
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

    private Process startHaproxy(int frontendPort, int portA, int portB) throws IOException {
        Path config = dir.resolve("haproxy.cfg");
        Files.writeString(config, """
                global
                    maxconn 200
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                    option redispatch
                    retries 2
                frontend api
                    bind 127.0.0.1:%d
                    default_backend nodes
                backend nodes
                    balance roundrobin
                    option httpchk GET /readyz
                    http-check expect status 200
                    timeout check 2s
                    default-server inter 500ms fall 2 rise 2
                    server a 127.0.0.1:%d check
                    server b 127.0.0.1:%d check
                """.formatted(frontendPort, portA, portB));
        Process haproxy = new ProcessBuilder(HAPROXY.path().toString(), "-db", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy.log").toFile()).start();
        processes.add(haproxy);
        return haproxy;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void aNodeDrainedBehindHaproxyCostsNoClientAResetOrA5xx() throws Exception {
        HAPROXY.assumeAvailable();
        database = PostgresTestDatabase.create();
        NodeProcess a = startNode("a");
        NodeProcess b = startNode("b");
        for (NodeProcess node : List.of(a, b)) {
            await().atMost(Duration.ofSeconds(90)).alias(node.text())
                    .until(() -> node.text().contains("HTTP listening on") || !node.process().isAlive());
            assertThat(node.process().isAlive()).as(node.text()).isTrue();
        }
        int portA = a.httpPort();
        int portB = b.httpPort();
        // the first node to migrate the shared store made the first admin token
        Path tokenFile = Files.exists(dir.resolve("a/admin.token")) ? dir.resolve("a/admin.token") : dir.resolve("b/admin.token");
        String token = Files.readString(tokenFile).strip();
        int frontend = freePort();
        Process haproxy = startHaproxy(frontend, portA, portB);

        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + frontend + "/api/v1/node"))
                .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(20)).build();
        await().atMost(Duration.ofSeconds(20)).ignoreExceptions()
                .until(() -> client.send(request, HttpResponse.BodyHandlers.ofString()).statusCode() == 200);

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
        assertThat(servedBy).as("both nodes serve through HAProxy").containsKeys("127.0.0.1:" + portA, "127.0.0.1:" + portB);

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
        haproxy.destroy();
    }
}
