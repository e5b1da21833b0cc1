package io.switchboard.server.node;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A real node process: it says where it listens and where its data is, and SIGTERM ends it with 0. */
class SignalDrainTest {
    @TempDir
    Path dataDir;

    @Test
    void sigtermDrainsAndExitsZero() throws Exception {
        assertThat(runAndSignal(p -> kill("-TERM", p))).isZero();
    }

    /** kill(1), not Process.destroy: that closes the process's output too, and the log after the signal would be lost. */
    private static void kill(String signal, Process process) {
        try {
            new ProcessBuilder("kill", signal, Long.toString(process.pid())).start().waitFor(5, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A HUP drains too, and exits as a signal's exit would, so systemd's Restart=on-failure starts the node again. */
    @Test
    void sighupDrainsAndExits129() throws Exception {
        assertThat(runAndSignal(p -> kill("-HUP", p))).isEqualTo(129);
    }

    /** Starts a node, sends it {@code signal} once it listens, and returns its exit status. */
    private int runAndSignal(java.util.function.Consumer<Process> signal) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder builder = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                "io.switchboard.server.Main", "run", "--data-dir", dataDir.toString(), "--http", "127.0.0.1:0",
                "--sip", "udp:127.0.0.1:0,tcp:[::1]:0", "--domain", "signal.test")
                .redirectErrorStream(true);
        // the drain itself is tested elsewhere (NodeTest, HaproxyDrainTest); not the default's 10 s here
        builder.environment().put("SWITCHBOARD_DRAIN_DELAY", "1s");
        Process process = builder.start();
        List<String> log = new CopyOnWriteArrayList<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    log.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        reader.start();
        try {
            // "node started": the signal handlers are in place by then (before, the JVM's own
            // handling would answer the signal, and the test would not see the node's)
            await().atMost(Duration.ofSeconds(60)).alias(String.join("\n", log))
                    .until(() -> log.stream().anyMatch(l -> l.contains("node started")) || !process.isAlive());
            assertThat(process.isAlive()).as(String.join("\n", log)).isTrue();
            String started = String.join("\n", log);
            assertThat(started).contains("SIP listening on udp:127.0.0.1:").contains("http://127.0.0.1:")
                    .contains(dataDir.toAbsolutePath().toString());

            signal.accept(process);
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).as(String.join("\n", log)).isTrue();
            reader.join(5000);
            assertThat(String.join("\n", log)).contains("received").contains("draining");
            return process.exitValue();
        } finally {
            process.destroyForcibly();
        }
    }
}
