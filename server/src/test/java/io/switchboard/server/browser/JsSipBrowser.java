package io.switchboard.server.browser;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * JsSIP phones in headless Debian Chromium, for tests: each phone is one page of one Chromium,
 * driven by {@code src/test/browser/jssip-driver.mjs} (playwright-core) in a {@code node}
 * subprocess, one JSON command per line on its stdin and one JSON answer per line on its stdout.
 *
 * <pre>{@code
 * JsSipBrowser.assumeAvailable();
 * try (JsSipBrowser browser = JsSipBrowser.launch()) {
 *     browser.phone("alice", wsUrl, "sip:alice@intercom.test", "secret");
 *     browser.await("alice", "registered");
 *     String call = browser.call("alice", "sip:bob@intercom.test");
 *     browser.await("alice", "confirmed");
 *     browser.hangUp("alice", call);
 * }
 * }</pre>
 *
 * <p>Every answer is awaited for a bounded time; a command that gets none fails the test with the
 * driver's stderr (page console output, Playwright errors) in the message. {@link #close()} asks
 * the driver to close Chromium and exit, then ends what is left — the node process and every
 * process it started (Chromium and its helpers) — by PID. The driver also exits by itself when
 * its stdin ends or no command comes for two minutes, closing Chromium first.
 *
 * <p>What it needs: {@code node} on the {@code PATH}, Debian's Chromium at {@code /usr/bin/chromium}
 * (or {@code $CHROMIUM_BIN}), and {@code npm ci} run in {@code src/test/browser} (which
 * {@code ./switchboard test} does). The JsSIP bundle ({@code build/jssip.js}) is made here with
 * {@code npm run build} (esbuild) when it is missing or older than the lock file.
 * {@link #assumeAvailable()} skips on a developer machine without them and fails under
 * {@code CI=true}, like {@code Sipp.assumeAvailable()}.
 */
public final class JsSipBrowser implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The npm project, relative to the server module (Maven runs tests there). */
    static final Path PROJECT = Path.of("src/test/browser");
    private static final String DRIVER = "jssip-driver.mjs";
    private static final Path BUNDLE = PROJECT.resolve("build/jssip.js");
    private static final Duration COMMAND_MARGIN = Duration.ofSeconds(5);
    private static final Duration DEFAULT_WAIT = Duration.ofSeconds(20);
    /** Starting Chromium and loading the first page may take a while on a busy two-core machine. */
    private static final Duration PHONE_TIMEOUT = Duration.ofSeconds(45);
    private static final Duration BUILD_TIMEOUT = Duration.ofSeconds(60);
    private static final int STDERR_LINES = 400;

    private final Process process;
    private final OutputStream stdin;
    private final BlockingQueue<JsonNode> answers = new LinkedBlockingQueue<>();
    private final Deque<String> stderr = new ArrayDeque<>();
    private final List<ProcessHandle> started = new ArrayList<>();
    private long nextId = 1;
    private boolean closed;

    private JsSipBrowser(Process process) {
        this.process = process;
        this.stdin = process.getOutputStream();
        Thread.ofVirtual().name("jssip-driver-stdout").start(() -> readAnswers(process));
        Thread.ofVirtual().name("jssip-driver-stderr").start(() -> readStderr(process));
    }

    // ---------------------------------------------------------------- availability

    /** Chromium's binary: {@code $CHROMIUM_BIN}, else Debian's {@code /usr/bin/chromium}. */
    static Path chromium() {
        String configured = System.getenv("CHROMIUM_BIN");
        return Path.of(configured == null || configured.isBlank() ? "/usr/bin/chromium" : configured);
    }

    static Optional<Path> nodeBinary() {
        String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin");
        return Stream.concat(Stream.of(path.split(":")), Stream.of("/usr/bin"))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, "node"))
                .filter(p -> Files.isRegularFile(p) && Files.isExecutable(p))
                .findFirst();
    }

    /** What is missing to run browser tests, or empty when nothing is. */
    static Optional<String> missing() {
        return missing(nodeBinary(), chromium(), PROJECT);
    }

    static Optional<String> missing(Optional<Path> node, Path chromium, Path project) {
        if (node.isEmpty()) {
            return Optional.of("node not found on the PATH (Node.js 20 with npm)");
        }
        if (!Files.isExecutable(chromium)) {
            return Optional.of(chromium + " not found (Debian package chromium: apt-get install -y chromium; "
                    + "./switchboard test installs it as root; CHROMIUM_BIN points elsewhere)");
        }
        for (String pkg : List.of("playwright-core", "jssip", "esbuild")) {
            if (!Files.isDirectory(project.resolve("node_modules").resolve(pkg))) {
                return Optional.of("npm package " + pkg + " not installed in " + project
                        + " (run `npm ci` there; ./switchboard test does it)");
            }
        }
        return Optional.empty();
    }

    /** True when the suite runs under CI ({@code CI=true}), where the browser tests must run. */
    static boolean underCi() {
        String ci = System.getenv("CI");
        return ci != null && (ci.equalsIgnoreCase("true") || ci.equals("1"));
    }

    /** Skips the calling test when Chromium, node or the npm packages are missing; fails it under CI=true. */
    public static void assumeAvailable() {
        assumeAvailable(missing(), underCi());
    }

    static void assumeAvailable(Optional<String> missing, boolean underCi) {
        if (missing.isEmpty()) {
            return;
        }
        String message = "browser tests cannot run: " + missing.get();
        if (underCi) {
            Assertions.fail(message + " - CI=true, so this fails the suite instead of skipping");
        }
        System.err.println("SKIPPED browser tests: " + message);
        Assumptions.abort("skipped: " + message);
    }

    // ---------------------------------------------------------------- start

    /** Builds the JsSIP bundle when needed and starts the driver (Chromium starts with the first phone). */
    public static JsSipBrowser launch() {
        return launch(List.of());
    }

    /**
     * As {@link #launch()}, with more Chromium flags, e.g. {@link #trustingSpki(X509Certificate)}
     * for a node serving {@code wss://} with a certificate from a test CA.
     */
    public static JsSipBrowser launch(List<String> chromiumArgs) {
        buildBundle();
        ProcessBuilder pb = new ProcessBuilder(nodeBinary().orElseThrow().toString(), DRIVER)
                .directory(PROJECT.toFile());
        pb.environment().put("CHROMIUM_BIN", chromium().toString());
        try {
            pb.environment().put("CHROMIUM_EXTRA_ARGS", JSON.writeValueAsString(chromiumArgs));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            return new JsSipBrowser(pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start node " + DRIVER, e);
        }
    }

    /**
     * The Chromium flag that accepts a server certificate whose chain does not validate (a test CA
     * Chromium does not know) when one certificate in it has this public key, and no other error:
     * {@code --ignore-certificate-errors-spki-list=} the base64 SHA-256 of the certificate's
     * SubjectPublicKeyInfo (what {@code openssl x509 -pubkey | openssl pkey -pubin -outform der |
     * openssl dgst -sha256 -binary | base64} prints). Everything else is still checked.
     */
    public static String trustingSpki(X509Certificate certificate) {
        try {
            byte[] spki = certificate.getPublicKey().getEncoded(); // X.509 SubjectPublicKeyInfo, DER
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(spki);
            return "--ignore-certificate-errors-spki-list=" + Base64.getEncoder().encodeToString(hash);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** {@code npm run build} once per JVM, or when the bundle is older than the lock file. */
    private static synchronized void buildBundle() {
        try {
            Path lock = PROJECT.resolve("package-lock.json");
            if (Files.isRegularFile(BUNDLE) && !Files.getLastModifiedTime(BUNDLE).toInstant()
                    .isBefore(newest(lock, PROJECT.resolve("package.json")).toInstant())) {
                return;
            }
            Path log = Files.createTempFile("jssip-build", ".log");
            try {
                Process build = new ProcessBuilder("npm", "run", "build").directory(PROJECT.toFile())
                        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
                if (!build.waitFor(BUILD_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                    build.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                    throw new IllegalStateException("npm run build (JsSIP bundle) took over " + BUILD_TIMEOUT
                            + ":\n" + Files.readString(log));
                }
                if (build.exitValue() != 0 || !Files.isRegularFile(BUNDLE)) {
                    throw new IllegalStateException("npm run build (JsSIP bundle) failed with exit "
                            + build.exitValue() + ":\n" + Files.readString(log));
                }
            } finally {
                Files.deleteIfExists(log);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the JsSIP bundle in " + PROJECT, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the JsSIP bundle", e);
        }
    }

    private static FileTime newest(Path a, Path b) throws IOException {
        FileTime ta = Files.getLastModifiedTime(a);
        FileTime tb = Files.getLastModifiedTime(b);
        return ta.compareTo(tb) >= 0 ? ta : tb;
    }

    // ---------------------------------------------------------------- phones

    /** Opens a page with a JsSIP user agent that connects to {@code wsUrl} and registers {@code uri}. */
    public void phone(String name, String wsUrl, String uri, String password) {
        ObjectNode command = command("phone", name).put("wsUrl", wsUrl).put("uri", uri).put("password", password);
        JsonNode result = send(command, PHONE_TIMEOUT);
        if (!result.path("secureContext").asBoolean()) {
            throw new AssertionError("the phone page is not a secure context: WebRTC would be unavailable\n" + diagnostics());
        }
    }

    /**
     * From now on the phone answers every incoming call (audio from Chromium's fake device), or
     * with {@code false} lets them ring (JsSIP sends 180 by itself).
     */
    public void answerCalls(String name, boolean answer) {
        send(command("answerCalls", name).put("enabled", answer), DEFAULT_WAIT);
    }

    /** Places a call (audio only); returns the call's id on that phone. */
    public String call(String name, String target) {
        return send(command("call", name).put("target", target), DEFAULT_WAIT).asText();
    }

    /** Ends a call: BYE when established, CANCEL while ringing out, a rejection while ringing in. */
    public void hangUp(String name, String callId) {
        send(command("hangUp", name).put("callId", callId), DEFAULT_WAIT);
    }

    /**
     * Puts a call on hold with a re-INVITE (a=sendonly); false when JsSIP is not ready to offer
     * again yet (an earlier re-INVITE is still in progress) or the call is already held.
     */
    public boolean hold(String name, String callId) {
        return send(command("hold", name).put("callId", callId), DEFAULT_WAIT).asBoolean();
    }

    /** Takes a call off hold with a re-INVITE; false as for {@link #hold}. */
    public boolean unhold(String name, String callId) {
        return send(command("unhold", name).put("callId", callId), DEFAULT_WAIT).asBoolean();
    }

    /** Sends DTMF tones as SIP INFO requests ({@code application/dtmf-relay}), one per tone. */
    public void sendDtmf(String name, String callId, String tones) {
        send(command("sendDtmf", name).put("callId", callId).put("tones", tones), DEFAULT_WAIT);
    }

    public void unregister(String name) {
        send(command("unregister", name), DEFAULT_WAIT);
    }

    /**
     * Waits (up to 10 s) for the first event of the phone, from the start, whose type is one of
     * {@code types}, and returns it ({@code type}, {@code index}, and the event's fields). List
     * the failure types beside the one you expect ({@code "registered", "registrationFailed"}) so
     * that a failure answers at once instead of after the timeout.
     */
    public JsonNode await(String name, String... types) {
        return await(name, 0, DEFAULT_WAIT, types);
    }

    /** As {@link #await(String, String...)}, from event {@code fromIndex} on, for up to {@code timeout}. */
    public JsonNode await(String name, int fromIndex, Duration timeout, String... types) {
        ObjectNode command = command("wait", name).put("from", fromIndex).put("timeoutMs", timeout.toMillis());
        types(command, types);
        return send(command, timeout);
    }

    /** As {@link #await(String, String...)} for events of one call. */
    public JsonNode awaitCall(String name, String callId, String... types) {
        ObjectNode command = command("wait", name).put("from", 0).put("timeoutMs", DEFAULT_WAIT.toMillis());
        types(command, types);
        command.putObject("match").put("id", callId);
        return send(command, DEFAULT_WAIT);
    }

    /** Everything the phone saw so far, oldest first. */
    public JsonNode events(String name) {
        return send(command("events", name), DEFAULT_WAIT);
    }

    private static void types(ObjectNode command, String... types) {
        var array = command.putArray("types");
        for (String type : types) {
            array.add(type);
        }
    }

    private ObjectNode command(String op, String name) {
        return JSON.createObjectNode().put("id", nextId++).put("op", op).put("name", name);
    }

    // ---------------------------------------------------------------- the driver

    private synchronized JsonNode send(ObjectNode command, Duration timeout) {
        if (closed) {
            throw new IllegalStateException("browser closed");
        }
        long id = command.path("id").asLong();
        try {
            stdin.write((command.toString() + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
        } catch (IOException e) {
            throw new AssertionError("the JsSIP driver is gone (" + e.getMessage() + ")\n" + diagnostics(), e);
        }
        long deadline = System.nanoTime() + timeout.plus(COMMAND_MARGIN).toNanos();
        try {
            while (true) {
                JsonNode answer = answers.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (answer == null) {
                    throw new AssertionError("no answer from the JsSIP driver to " + command + " within "
                            + timeout.plus(COMMAND_MARGIN) + (process.isAlive() ? "" : " (the driver exited "
                            + process.exitValue() + ")") + "\n" + diagnostics());
                }
                if (answer.path("id").asLong() != id) {
                    continue; // an answer to a command that timed out earlier
                }
                if (!answer.path("ok").asBoolean()) {
                    throw new AssertionError(command.path("op").asText() + " " + command.path("name").asText()
                            + " failed: " + answer.path("error").asText() + "\ncommand: " + command
                            + "\n" + diagnostics());
                }
                return answer.path("result");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted waiting for the JsSIP driver", e);
        }
    }

    private void readAnswers(Process p) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                try {
                    answers.add(JSON.readTree(line));
                } catch (IOException notJson) {
                    keepStderr("stdout: " + line);
                }
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    private void readStderr(Process p) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                keepStderr(line);
            }
        } catch (IOException ignored) {
            // the process ended
        }
    }

    private void keepStderr(String line) {
        synchronized (stderr) {
            stderr.addLast(line);
            while (stderr.size() > STDERR_LINES) {
                stderr.removeFirst();
            }
        }
    }

    /** The driver's last stderr lines (page console, Playwright), for failure messages. */
    public String diagnostics() {
        synchronized (stderr) {
            return stderr.isEmpty() ? "(the driver wrote nothing on stderr)"
                    : "--- driver stderr (last " + stderr.size() + " lines) ---\n" + String.join("\n", stderr);
        }
    }

    public long pid() {
        return process.pid();
    }

    /**
     * Asks the driver to close Chromium and exit (up to 10 s), then ends the driver and every
     * process it started by PID. Chromium's processes are looked up while the driver still lives:
     * once it is gone they would belong to init and could no longer be told apart.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        remember();
        try {
            stdin.write((command("close", "").toString() + "\n").getBytes(StandardCharsets.UTF_8));
            stdin.flush();
            stdin.close();
        } catch (IOException alreadyGone) {
            // then only the kills below remain
        }
        closed = true;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (process.isAlive() && System.nanoTime() < deadline) {
                remember();
                process.waitFor(100, TimeUnit.MILLISECONDS);
            }
            if (process.isAlive()) {
                remember();
                process.destroy(); // SIGTERM: the driver closes Chromium itself
                process.waitFor(5, TimeUnit.SECONDS);
            }
            if (process.isAlive()) {
                remember();
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
            // Chromium's helpers (zygotes, renderers) follow the browser process out within moments
            awaitExit(started, Duration.ofSeconds(3));
            started.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
            awaitExit(started, Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            started.forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
        }
    }

    private static void awaitExit(List<ProcessHandle> processes, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (processes.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
    }

    /** Processes started by the driver (Chromium and its helpers) that are alive now. */
    public List<ProcessHandle> children() {
        return process.descendants().filter(ProcessHandle::isAlive).toList();
    }

    /** The processes this browser started, alive or not, as far as they were seen. */
    public List<ProcessHandle> startedProcesses() {
        remember();
        return List.copyOf(started);
    }

    private void remember() {
        process.descendants().forEach(h -> {
            if (started.stream().noneMatch(s -> s.pid() == h.pid())) {
                started.add(h);
            }
        });
    }
}
