package io.switchboard.server.sipp;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs the {@code sipp} binary (Debian {@code sip-tester}, SIPp 3.6.1) as a real SIP peer from tests.
 *
 * <pre>{@code
 * Sipp.assumeAvailable();
 * Sipp.Result r = Sipp.scenario("register_auth.xml")
 *         .remote("127.0.0.1", node.sipPort())
 *         .service("alice").auth("alice", "secret")
 *         .calls(1)
 *         .run();
 * assertThat(r.succeeded()).as(r.describe()).isTrue();
 * }</pre>
 *
 * <p>Each run gets its own working directory holding the scenario, the {@code -inf} CSV, the
 * statistics CSV ({@code -trace_stat}), the error log ({@code -trace_err}), the final screen
 * ({@code -trace_screen}) and sipp's stdout/stderr. SIPp is always started with {@code -nostdin},
 * its control socket on the local IP ({@code -ci}), and a global {@code -timeout}; the Java side
 * kills the process by PID when it outlives that timeout by a grace period, and always on
 * {@link Running#close()}. A temp working directory is deleted after a run in which every call
 * succeeded and kept otherwise (its path is in {@link Result#describe()}); one given with
 * {@link Builder#workDir(Path)} is always kept.
 *
 * <p>SIPp exit codes: 0 all calls succeeded, 1 at least one call failed, 97 exit on an internal
 * command, 99 normal exit without calls processed, 255 fatal error (also the {@code -timeout}
 * reached, with {@code -timeout_error}), 254 fatal error binding a socket. When the local port was picked here and sipp fails with 254, the run is retried once
 * on a fresh port.
 *
 * <p>The binary is {@code $SIPP_BIN} (or system property {@code sipp.bin}), else {@code sipp} on
 * the {@code PATH}. Tests call {@link #assumeAvailable()}: it skips with a clear message on a
 * developer machine without sipp, and fails under {@code CI=true}, where {@code ./switchboard test}
 * installs sip-tester and a missing binary is a broken environment, not a reason to skip.
 */
public final class Sipp {

    /** SIPp's transport modes: one socket for all calls. */
    public enum Transport {
        UDP("u1"), TCP("t1");

        final String flag;

        Transport(String flag) {
            this.flag = flag;
        }
    }

    /** Where test scenarios live on the test classpath. */
    public static final String RESOURCE_DIR = "sipp/";

    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration KILL_GRACE = Duration.ofSeconds(5);
    private static final int MAX_LOG_CHARS = 16_000;

    private Sipp() {
    }

    // ---------------------------------------------------------------- availability

    /** The sipp binary, if installed. */
    public static Optional<Path> binary() {
        String configured = System.getenv("SIPP_BIN");
        if (configured == null || configured.isBlank()) {
            configured = System.getProperty("sipp.bin");
        }
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = Optional.ofNullable(System.getenv("PATH")).orElse("/usr/bin:/bin");
        List<String> dirs = new ArrayList<>(List.of(path.split(":")));
        dirs.add("/usr/bin");
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path p = Path.of(dir, "sipp");
            if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    public static boolean available() {
        return binary().isPresent();
    }

    /** True when the suite runs under CI ({@code CI=true}), where sipp must be present. */
    public static boolean underCi() {
        String ci = System.getenv("CI");
        return ci != null && (ci.equalsIgnoreCase("true") || ci.equals("1"));
    }

    /**
     * Skips the calling test when sipp is missing on a developer machine; fails it under CI=true.
     */
    public static void assumeAvailable() {
        assumeAvailable(binary(), underCi());
    }

    /** {@link #assumeAvailable()} for a given lookup result and CI flag. */
    static void assumeAvailable(Optional<Path> binary, boolean underCi) {
        if (binary.isPresent()) {
            return;
        }
        String message = "sipp not found (set SIPP_BIN or install Debian package sip-tester: "
                + "apt-get install -y sip-tester; ./switchboard test installs it)";
        if (underCi) {
            Assertions.fail(message + " - CI=true, so a missing sipp fails the suite instead of skipping");
        }
        System.err.println("SKIPPED SIPp tests: " + message);
        Assumptions.abort("skipped: " + message);
    }

    // ---------------------------------------------------------------- builders

    /**
     * A scenario from the test classpath: a bare file name is looked up under {@code sipp/}
     * ({@code "register_auth.xml"}), a name with a slash as given.
     */
    public static Builder scenario(String resource) {
        String name = resource.contains("/") ? resource : RESOURCE_DIR + resource;
        return new Builder(name, null, null);
    }

    /** A scenario file on disk; it is copied to the run's working directory. */
    public static Builder scenarioFile(Path file) {
        return new Builder(null, file, null);
    }

    /** One of SIPp's built-in scenarios ({@code uac}, {@code uas}, {@code regexp}, ...), run with {@code -sn}. */
    public static Builder builtin(String name) {
        return new Builder(null, null, name);
    }

    /** A free port on 127.0.0.1 for UDP (and TCP, so either transport can bind it). */
    public static int freePort() {
        for (int attempt = 0; attempt < 20; attempt++) {
            try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
                int port = udp.getLocalPort();
                try (ServerSocket tcp = new ServerSocket()) {
                    tcp.setReuseAddress(false);
                    tcp.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                    return port;
                } catch (IOException busyOnTcp) {
                    // try another
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new IllegalStateException("no free port on 127.0.0.1 after 20 attempts");
    }

    public static final class Builder {
        private final String resource;
        private final Path file;
        private final String builtin;
        private String remoteHost;
        private int remotePort;
        private String localIp = "127.0.0.1";
        private int localPort;
        private Transport transport = Transport.UDP;
        private String service;
        private List<String> csv;
        private Integer calls;
        private Double rate;
        private Integer limit;
        private final Map<String, String> variables = new LinkedHashMap<>();
        private final Map<String, String> keywords = new LinkedHashMap<>();
        private String authUser;
        private String authPassword;
        private Duration timeout = DEFAULT_TIMEOUT;
        private boolean timeoutIsError = true;
        private Duration recvTimeout;
        private boolean traceMessages;
        private Path workDir;
        private final List<String> extraArgs = new ArrayList<>();
        private String outOfCallResource;

        private Builder(String resource, Path file, String builtin) {
            this.resource = resource;
            this.file = file;
            this.builtin = builtin;
        }

        /** The peer to send to; omit for a server (UAS) scenario. */
        public Builder remote(String host, int port) {
            this.remoteHost = host;
            this.remotePort = port;
            return this;
        }

        public Builder remote(InetSocketAddress address) {
            return remote(address.getHostString(), address.getPort());
        }

        /** {@code -i}; 127.0.0.1 unless set. */
        public Builder localIp(String ip) {
            this.localIp = ip;
            return this;
        }

        /** {@code -p}; a free port is picked when not set (or 0). */
        public Builder localPort(int port) {
            this.localPort = port;
            return this;
        }

        /** {@code -t u1} (default) or {@code -t t1}. */
        public Builder transport(Transport transport) {
            this.transport = transport;
            return this;
        }

        /** {@code -s}: the [service] keyword, the user part registered or called. */
        public Builder service(String service) {
            this.service = service;
            return this;
        }

        /**
         * {@code -inf}: lines of a SIPp injection file, fields separated by ';'. When the first
         * line is not a mode ({@code SEQUENTIAL}, {@code RANDOM}, {@code USER}), {@code SEQUENTIAL}
         * is put before it.
         */
        public Builder csv(List<String> lines) {
            this.csv = List.copyOf(lines);
            return this;
        }

        public Builder csv(String... lines) {
            return csv(List.of(lines));
        }

        /** {@code -m}: stop after this many calls. */
        public Builder calls(int count) {
            this.calls = count;
            return this;
        }

        /** {@code -r}: new calls per second. */
        public Builder rate(double callsPerSecond) {
            this.rate = callsPerSecond;
            return this;
        }

        /** {@code -l}: most simultaneous calls. */
        public Builder limit(int simultaneousCalls) {
            this.limit = simultaneousCalls;
            return this;
        }

        /** {@code -set NAME VALUE}: a global variable, declared in the scenario with {@code <Global variables="NAME"/>}. */
        public Builder set(String variable, String value) {
            variables.put(variable, value);
            return this;
        }

        /** {@code -key NAME VALUE}: a keyword usable as {@code [NAME]} in the scenario. */
        public Builder key(String keyword, String value) {
            keywords.put(keyword, value);
            return this;
        }

        /** {@code -au USER -ap PASSWORD}: credentials used by {@code [authentication]}. */
        public Builder auth(String user, String password) {
            this.authUser = user;
            this.authPassword = password;
            return this;
        }

        /**
         * {@code -timeout}: the whole run's limit (default 30 s); the process is killed by PID when
         * it is still alive this long plus a 5 s grace after start.
         */
        public Builder timeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /**
         * Whether reaching {@code -timeout} is a failure ({@code -timeout_error}, the default).
         * Turn it off for a server scenario that is meant to run until stopped.
         */
        public Builder timeoutIsError(boolean error) {
            this.timeoutIsError = error;
            return this;
        }

        /** {@code -recv_timeout}: a call that waits this long for an expected message fails. */
        public Builder recvTimeout(Duration timeout) {
            this.recvTimeout = timeout;
            return this;
        }

        /** {@code -trace_msg}: log every message sent and received (in {@link Result#messages()}). */
        public Builder traceMessages(boolean trace) {
            this.traceMessages = trace;
            return this;
        }

        /** Run in this directory and keep it; by default a fresh temp directory is used. */
        public Builder workDir(Path dir) {
            this.workDir = dir;
            return this;
        }

        /**
         * {@code -oocsf}: a scenario from the test classpath (as in {@link Sipp#scenario}) that
         * handles each request belonging to no call of the main scenario, e.g. the INVITEs a phone
         * gets once its main scenario has registered it.
         */
        public Builder outOfCallScenario(String resource) {
            this.outOfCallResource = resource.contains("/") ? resource : RESOURCE_DIR + resource;
            return this;
        }

        /** Further sipp arguments, appended as given. */
        public Builder args(String... args) {
            extraArgs.addAll(List.of(args));
            return this;
        }

        /** Runs sipp to completion (or its timeout) and returns what happened. */
        public Result run() {
            try (Running running = start()) {
                return running.await();
            }
        }

        /** Starts sipp in the background, e.g. a UAS that a later UAC run calls. */
        public Running start() {
            Path bin = binary().orElseThrow(() -> new IllegalStateException(
                    "sipp not found; call Sipp.assumeAvailable() first"));
            boolean pickPort = localPort == 0;
            boolean ownDir = workDir == null;
            Path dir;
            try {
                dir = ownDir ? Files.createTempDirectory("sipp-") : Files.createDirectories(workDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            int attempts = pickPort ? 2 : 1;
            Running running = null;
            for (int attempt = 1; attempt <= attempts; attempt++) {
                int port = pickPort ? freePort() : localPort;
                running = launch(bin, dir, port, ownDir);
                if (!running.awaitBound(transport) && pickPort && attempt < attempts) {
                    continue; // exited with 254: someone took the port between pick and bind
                }
                return running;
            }
            return running;
        }

        private Running launch(Path bin, Path dir, int port, boolean ownDir) {
            List<String> cmd = new ArrayList<>();
            cmd.add(bin.toString());
            if (remoteHost != null) {
                cmd.add(remoteHost + ":" + remotePort);
            }
            try {
                if (builtin != null) {
                    cmd.add("-sn");
                    cmd.add(builtin);
                } else {
                    Path scenario = file != null ? copyFile(file, dir) : copyResource(resource, dir);
                    cmd.add("-sf");
                    cmd.add(scenario.getFileName().toString());
                }
                if (outOfCallResource != null) {
                    cmd.add("-oocsf");
                    cmd.add(copyResource(outOfCallResource, dir).getFileName().toString());
                }
                if (csv != null) {
                    List<String> lines = new ArrayList<>(csv);
                    if (lines.isEmpty() || !lines.get(0).matches("(?i)(SEQUENTIAL|RANDOM|USER)\\b.*")) {
                        lines.add(0, "SEQUENTIAL");
                    }
                    Files.write(dir.resolve("inject.csv"), lines, StandardCharsets.UTF_8);
                    cmd.add("-inf");
                    cmd.add("inject.csv");
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            cmd.addAll(List.of("-i", localIp, "-p", Integer.toString(port), "-t", transport.flag));
            // control socket and media (RTP echo) sockets on the local IP too; media from a free
            // port rather than SIPp's default 6000, which benchmarks and other peers use
            cmd.addAll(List.of("-ci", localIp, "-mi", localIp, "-mp", Integer.toString(freePort())));
            if (service != null) {
                cmd.addAll(List.of("-s", service));
            }
            if (calls != null) {
                cmd.addAll(List.of("-m", Integer.toString(calls)));
            }
            if (rate != null) {
                cmd.addAll(List.of("-r", formatRate(rate)));
            }
            if (limit != null) {
                cmd.addAll(List.of("-l", Integer.toString(limit)));
            }
            variables.forEach((k, v) -> cmd.addAll(List.of("-set", k, v)));
            keywords.forEach((k, v) -> cmd.addAll(List.of("-key", k, v)));
            if (authUser != null) {
                cmd.addAll(List.of("-au", authUser));
            }
            if (authPassword != null) {
                cmd.addAll(List.of("-ap", authPassword));
            }
            cmd.addAll(List.of("-timeout", Math.max(1, timeout.toMillis()) + "ms"));
            if (timeoutIsError) {
                cmd.add("-timeout_error");
            }
            if (recvTimeout != null) {
                cmd.addAll(List.of("-recv_timeout", Math.max(1, recvTimeout.toMillis()) + "ms"));
            }
            cmd.addAll(List.of("-nostdin",
                    "-trace_stat", "-stf", STAT_FILE, "-fd", "1",
                    "-trace_err", "-error_file", ERROR_FILE,
                    "-trace_screen", "-screen_file", SCREEN_FILE));
            if (traceMessages) {
                cmd.addAll(List.of("-trace_msg", "-message_file", MESSAGE_FILE));
            }
            cmd.addAll(extraArgs);

            for (String f : List.of(STAT_FILE, ERROR_FILE, SCREEN_FILE, MESSAGE_FILE, STDOUT_FILE, STDERR_FILE)) {
                try {
                    Files.deleteIfExists(dir.resolve(f));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .directory(dir.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectOutput(dir.resolve(STDOUT_FILE).toFile())
                    .redirectError(dir.resolve(STDERR_FILE).toFile());
            try {
                Process process = pb.start();
                return new Running(process, List.copyOf(cmd), dir, port, ownDir, timeout.plus(KILL_GRACE));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start " + cmd, e);
            }
        }
    }

    private static final String STAT_FILE = "stat.csv";
    private static final String ERROR_FILE = "errors.log";
    private static final String SCREEN_FILE = "screen.log";
    private static final String MESSAGE_FILE = "messages.log";
    private static final String STDOUT_FILE = "stdout.log";
    private static final String STDERR_FILE = "stderr.log";

    private static String formatRate(double rate) {
        return rate == Math.rint(rate) ? Long.toString((long) rate) : String.format(Locale.ROOT, "%.3f", rate);
    }

    private static Path copyResource(String resource, Path dir) throws IOException {
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        if (loader == null) {
            loader = Sipp.class.getClassLoader();
        }
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalArgumentException("scenario not on the test classpath: " + resource);
            }
            Path target = dir.resolve(Path.of(resource).getFileName().toString());
            Files.copy(in, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            return target;
        }
    }

    private static Path copyFile(Path file, Path dir) throws IOException {
        Path target = dir.resolve(file.getFileName().toString());
        if (!file.toAbsolutePath().normalize().equals(target.toAbsolutePath().normalize())) {
            Files.copy(file, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    // ---------------------------------------------------------------- a running sipp

    /** A started sipp process; {@link #close()} always ends it. */
    public static final class Running implements AutoCloseable {
        private final Process process;
        private final List<String> command;
        private final Path dir;
        private final int localPort;
        private final boolean ownDir;
        private final long deadlineNanos;
        private Result result;

        private Running(Process process, List<String> command, Path dir, int localPort, boolean ownDir,
                Duration hardLimit) {
            this.process = process;
            this.command = command;
            this.dir = dir;
            this.localPort = localPort;
            this.ownDir = ownDir;
            this.deadlineNanos = System.nanoTime() + hardLimit.toNanos();
        }

        public long pid() {
            return process.pid();
        }

        public int localPort() {
            return localPort;
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        public Path workDir() {
            return dir;
        }

        /** Waits for sipp to exit on its own; kills it by PID past its timeout plus grace. */
        public Result await() {
            if (result != null) {
                return result;
            }
            boolean killed = false;
            try {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0 || !process.waitFor(left, TimeUnit.NANOSECONDS)) {
                    killed = true;
                    kill();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                kill();
                killed = true;
            }
            return finish(killed);
        }

        /**
         * Asks sipp to stop (SIGUSR1: no new calls, end smoothly), waits up to the given time,
         * then kills it by PID, and returns what happened.
         */
        public Result stop(Duration wait) {
            if (result != null) {
                return result;
            }
            boolean killed = false;
            if (process.isAlive()) {
                signal("USR1");
                try {
                    if (!process.waitFor(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                        killed = true;
                        kill();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    killed = true;
                    kill();
                }
            }
            return finish(killed);
        }

        /** Stops sipp if still running (see {@link #stop(Duration)}); never throws. */
        @Override
        public void close() {
            if (result == null) {
                stop(Duration.ofSeconds(3));
            }
        }

        /**
         * Waits (up to 3 s) until sipp holds its local port or has exited. Returns false only when
         * it exited with 254 (fatal error binding a socket).
         */
        boolean awaitBound(Transport transport) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (System.nanoTime() < end) {
                if (!process.isAlive()) {
                    return process.exitValue() != 254;
                }
                if (portTaken(transport, localPort)) {
                    return true;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return true;
                }
            }
            return true;
        }

        /** Reads the kernel's socket tables rather than binding, so the probe never races sipp's bind. */
        private static boolean portTaken(Transport transport, int port) {
            String hexPort = String.format(Locale.ROOT, ":%04X", port);
            List<String> tables = transport == Transport.TCP
                    ? List.of("/proc/net/tcp", "/proc/net/tcp6")
                    : List.of("/proc/net/udp", "/proc/net/udp6");
            boolean readAny = false;
            for (String table : tables) {
                List<String> lines;
                try {
                    lines = Files.readAllLines(Path.of(table));
                    readAny = true;
                } catch (IOException e) {
                    continue;
                }
                for (String line : lines) {
                    String[] f = line.trim().split("\\s+");
                    // sl local_address rem_address st ...; TCP listeners have state 0A
                    if (f.length > 3 && f[1].endsWith(hexPort)
                            && (transport != Transport.TCP || f[3].equals("0A"))) {
                        return true;
                    }
                }
            }
            return !readAny; // no /proc: cannot tell, do not wait
        }

        private void signal(String name) {
            try {
                Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(process.pid()))
                        .redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                        .start();
                kill.waitFor(2, TimeUnit.SECONDS);
            } catch (IOException e) {
                process.destroy();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private void kill() {
            process.destroyForcibly();
            try {
                process.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private Result finish(boolean killed) {
            if (result != null) {
                return result;
            }
            if (process.isAlive()) {
                kill();
            }
            int exit = process.isAlive() ? -1 : process.exitValue();
            Map<String, String> stats = readStats(dir.resolve(STAT_FILE));
            String screen = read(dir.resolve(SCREEN_FILE));
            long ok = counter(stats, "SuccessfulCall(C)", screen, "Successful call");
            long failed = counter(stats, "FailedCall(C)", screen, "Failed call");
            long retrans = stats.containsKey("Retransmissions(C)") ? parseLong(stats.get("Retransmissions(C)")) : -1;
            long created = stats.containsKey("TotalCallCreated") ? parseLong(stats.get("TotalCallCreated")) : -1;
            result = new Result(exit, killed, localPort, ok, failed, retrans, created, stats,
                    read(dir.resolve(ERROR_FILE)), screen, read(dir.resolve(MESSAGE_FILE)),
                    read(dir.resolve(STDOUT_FILE)) + read(dir.resolve(STDERR_FILE)),
                    command, dir);
            if (ownDir && result.succeeded()) {
                deleteTree(dir);
            }
            return result;
        }
    }

    // ---------------------------------------------------------------- results

    /**
     * What one sipp run did. Counts are -1 when sipp wrote no statistics (a fatal start error).
     *
     * @param killed    sipp was killed by PID: it outlived its timeout plus grace, or did not end on SIGUSR1
     * @param localPort the port sipp sent from and listened on
     * @param stats the last row of the {@code -trace_stat} CSV, by column name
     *              ({@code SuccessfulCall(C)}, {@code FailedCall(C)}, {@code Retransmissions(C)}, ...)
     */
    public record Result(int exitCode, boolean killed, int localPort, long successfulCalls, long failedCalls,
            long retransmissions, long callsCreated, Map<String, String> stats, String errorLog,
            String screen, String messages, String output, List<String> command, Path workDir) {

        /** Exit code 0 and sipp not killed: every call succeeded. */
        public boolean succeeded() {
            return exitCode == 0 && !killed;
        }

        public String exitMeaning() {
            return switch (exitCode) {
                case 0 -> "all calls succeeded";
                case 1 -> "at least one call failed";
                case 97 -> "exit on internal command";
                case 99 -> "normal exit without calls processed";
                case 254 -> "fatal error binding a socket";
                case 255 -> "fatal error, or the -timeout was reached";
                default -> killed ? "killed after its timeout" : "unexpected exit code";
            };
        }

        /** One block for assertion messages: outcome, counts, command, logs. */
        public String describe() {
            StringBuilder b = new StringBuilder();
            b.append("sipp exit ").append(exitCode).append(" (").append(exitMeaning()).append(')');
            if (killed) {
                b.append(", killed by PID after its timeout");
            }
            b.append(": ").append(successfulCalls).append(" successful, ").append(failedCalls)
                    .append(" failed, ").append(retransmissions).append(" retransmissions\n");
            b.append("command: ").append(String.join(" ", command)).append('\n');
            b.append("work dir: ").append(workDir).append('\n');
            appendSection(b, "error log", errorLog);
            appendSection(b, "output", output);
            appendSection(b, "messages", messages);
            return b.toString();
        }

        @Override
        public String toString() {
            return describe();
        }

        private static void appendSection(StringBuilder b, String title, String text) {
            if (text == null || text.isBlank()) {
                return;
            }
            String t = text.strip();
            if (t.length() > MAX_LOG_CHARS) {
                t = "...\n" + t.substring(t.length() - MAX_LOG_CHARS);
            }
            b.append("--- ").append(title).append(" ---\n").append(t).append('\n');
        }
    }

    // ---------------------------------------------------------------- parsing

    /** The last complete row of SIPp's statistics CSV (';'-separated, header on the first line). */
    static Map<String, String> readStats(Path file) {
        if (!Files.isRegularFile(file)) {
            return Map.of();
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return Map.of();
        }
        if (lines.size() < 2) {
            return Map.of();
        }
        String[] header = lines.get(0).split(";", -1);
        for (int i = lines.size() - 1; i >= 1; i--) {
            String[] row = lines.get(i).split(";", -1);
            if (row.length >= header.length - 1 && row.length > 1) {
                Map<String, String> m = new HashMap<>();
                for (int c = 0; c < Math.min(header.length, row.length); c++) {
                    if (!header[c].isEmpty()) {
                        m.put(header[c], row[c].trim());
                    }
                }
                return Map.copyOf(m);
            }
        }
        return Map.of();
    }

    private static long counter(Map<String, String> stats, String column, String screen, String screenLabel) {
        if (stats.containsKey(column)) {
            return parseLong(stats.get(column));
        }
        if (screen != null) {
            // "  Successful call        |        0                  |        5   " (last match: final screen)
            Matcher m = Pattern.compile("^\\s*" + Pattern.quote(screenLabel) + "\\s*\\|[^|]*\\|\\s*(\\d+)",
                    Pattern.MULTILINE).matcher(screen);
            long last = -1;
            while (m.find()) {
                last = Long.parseLong(m.group(1));
            }
            return last;
        }
        return -1;
    }

    private static long parseLong(String s) {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String read(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "";
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // a leftover temp file is harmless
                }
            });
        } catch (IOException ignored) {
            // same
        }
    }
}
