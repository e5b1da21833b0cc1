package io.switchboard.server.cluster;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * One Switchboard node as an operating-system process, on fixed loopback ports so that it comes
 * back where the balancer expects it after a restart. Its output goes line by line to a list (for
 * assertions) and to {@code <name>.log} in the cluster's directory (kept across restarts, for a
 * person reading a failure). It is ended by its PID: {@link #kill()} is {@code kill -9},
 * {@link #terminate()} is SIGTERM followed by the node's own drain.
 *
 * <p>The command is {@code java -jar <jar> run ...} when {@code SWITCHBOARD_NODE_JAR} names the
 * shaded jar (the benchmark does), and otherwise {@code java -cp <test class path>
 * io.switchboard.server.Main run ...}: inside {@code mvn verify} the tests run before the jar is
 * shaded, so the class path is the code under test.
 */
public final class NodeProcess {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final String name;
    final int httpPort;
    final int sipPort;
    /** The address the node listens at, HTTP and SIP (127.0.0.1 unless the cluster gives each node its own). */
    final String host;
    private final Path dataDir;
    private final Path logFile;
    private final Map<String, String> environment;
    private final List<String> jvmOptions;
    private final List<String> log = new CopyOnWriteArrayList<>();
    private volatile Process process;
    private volatile Thread reader;
    private int starts;

    NodeProcess(String name, Path clusterDir, int httpPort, int sipPort, Map<String, String> environment,
                List<String> jvmOptions) {
        this(name, clusterDir, httpPort, "127.0.0.1", sipPort, environment, jvmOptions);
    }

    NodeProcess(String name, Path clusterDir, int httpPort, String host, int sipPort, Map<String, String> environment,
                List<String> jvmOptions) {
        this.name = name;
        this.httpPort = httpPort;
        this.host = host;
        this.sipPort = sipPort;
        this.dataDir = clusterDir.resolve(name);
        this.logFile = clusterDir.resolve(name + ".log");
        this.environment = environment;
        this.jvmOptions = jvmOptions;
    }

    /** Starts the process (again, after a stop: same ports, same data directory). */
    synchronized void start() {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException(name + " is already running");
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java));
        command.addAll(jvmOptions);
        String jar = System.getenv("SWITCHBOARD_NODE_JAR");
        if (jar != null && !jar.isBlank()) {
            command.addAll(List.of("-jar", jar));
        } else {
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.switchboard.server.Main"));
        }
        command.addAll(List.of("run", "--data-dir", dataDir.toString(), "--http", host + ":" + httpPort,
                "--sip", "tcp:" + host + ":" + sipPort, "--domain", ClusterUnderTest.DOMAIN));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        // the node reads SWITCHBOARD_* from its environment: none of the caller's may leak in
        builder.environment().keySet().removeIf(key -> key.startsWith("SWITCHBOARD_") || key.equals("JAVA_OPTS"));
        builder.environment().putAll(environment);
        log.clear();
        starts++;
        try {
            Files.createDirectories(dataDir);
            Files.writeString(logFile, "=== start " + starts + " of " + name + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            Process started = builder.start();
            process = started;
            reader = Thread.ofPlatform().daemon().name("log-" + name).start(() -> copyOutput(started));
        } catch (IOException e) {
            throw new UncheckedIOException("starting node " + name, e);
        }
    }

    private void copyOutput(Process started) {
        try (BufferedReader out = new BufferedReader(new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8));
             PrintWriter file = new PrintWriter(Files.newBufferedWriter(logFile, StandardCharsets.UTF_8,
                     StandardOpenOption.CREATE, StandardOpenOption.APPEND), true)) {
            String line;
            while ((line = out.readLine()) != null) {
                log.add(line);
                file.println(line);
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    boolean isAlive() {
        Process p = process;
        return p != null && p.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** True when {@code /readyz} answers 200 directly (not through the balancer). */
    boolean isReady() {
        if (!isAlive()) {
            return false;
        }
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + host + ":" + httpPort + "/readyz"))
                    .timeout(Duration.ofSeconds(2)).build();
            return HTTP.send(request, HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The node's {@code /metrics} text, or empty when it does not answer within two seconds. */
    String scrape() {
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + host + ":" + httpPort + "/metrics"))
                    .timeout(Duration.ofSeconds(2)).build();
            HttpResponse<String> response = HTTP.send(request, HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? response.body() : "";
        } catch (IOException e) {
            return "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    /** Waits until the node is ready; fails with its log when it exits or takes longer than {@code within}. */
    void awaitReady(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!isReady()) {
            if (!isAlive()) {
                throw new AssertionError("node " + name + " exited with " + process.exitValue() + ":\n" + text());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("node " + name + " not ready within " + within + ":\n" + text());
            }
            Thread.sleep(200);
        }
    }

    /** {@code kill -9}: no drain, no goodbye; sockets are reset by the kernel. */
    void kill() throws InterruptedException {
        Process p = process;
        p.toHandle().destroyForcibly();
        if (!p.waitFor(20, TimeUnit.SECONDS)) {
            throw new AssertionError("node " + name + " (pid " + p.pid() + ") survived SIGKILL for 20 s");
        }
        joinReader();
    }

    /**
     * SIGTERM, then waits for the node's drain and exit; returns the exit code. Through the process
     * handle: {@code Process.destroy()} would also close our end of its output.
     */
    int terminate(Duration within) throws InterruptedException {
        Process p = process;
        p.toHandle().destroy();
        if (!p.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("node " + name + " did not exit within " + within + " of SIGTERM:\n" + text());
        }
        joinReader();
        return p.exitValue();
    }

    /** Ends the process whatever its state (clean-up). */
    void destroy() {
        Process p = process;
        if (p != null && p.isAlive()) {
            p.toHandle().destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void joinReader() throws InterruptedException {
        Thread r = reader;
        if (r != null) {
            r.join(5000);
        }
    }

    /** What the node logged since its last start. */
    String text() {
        return String.join("\n", log);
    }

    Path dataDir() {
        return dataDir;
    }

    Path logFile() {
        return logFile;
    }

    @Override
    public String toString() {
        return name + " (http " + httpPort + ", sip tcp " + host + ":" + sipPort + ")";
    }
}
