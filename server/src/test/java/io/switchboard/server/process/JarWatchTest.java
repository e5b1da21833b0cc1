package io.switchboard.server.process;

import io.switchboard.server.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A node whose jar is rewritten in place stops with exit code 1 and says why; a jar replaced by a
 * rename (how the launcher and the build leave a running node alone) does not disturb it.
 */
class JarWatchTest {
    @TempDir
    Path dir;

    @Test
    void aRewriteInPlaceIsSeenAndARenameOrDeletionIsNot() throws Exception {
        Path jar = dir.resolve("app.jar");
        Files.write(jar, jarBytes("first"));
        JarWatch watch = JarWatch.forJar(jar).orElseThrow();
        assertThat(watch.changed()).isFalse();

        Path next = dir.resolve("next.jar");
        Files.write(next, jarBytes("second build"));
        Files.move(next, jar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        assertThat(watch.changed()).as("renamed over: the watch still reads the old file").isFalse();
        Files.delete(jar);
        assertThat(watch.changed()).as("deleted: the old file stays readable").isFalse();

        Path inPlace = dir.resolve("in-place.jar");
        Files.write(inPlace, jarBytes("first"));
        JarWatch inPlaceWatch = JarWatch.forJar(inPlace).orElseThrow();
        byte[] sameSize = jarBytes("firsT");
        assertThat(sameSize).hasSameSizeAs(Files.readAllBytes(inPlace));
        Files.write(inPlace, sameSize); // truncates and writes the same inode
        assertThat(inPlaceWatch.changed()).as("rewritten with a jar of the same size").isTrue();
    }

    @Test
    void classesFromADirectoryAreNotWatched() {
        // Under Maven, Main comes from target/classes
        assertThat(JarWatch.forJarOf(Main.class)).isEmpty();
    }

    @Test
    void aNodeWhoseJarIsRewrittenStopsWithExitCodeOne() throws Exception {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path jar = dir.resolve("switchboard.jar");
        Files.write(jar, jarOf(classes, "build 1"));
        List<String> classpath = new ArrayList<>(List.of(jar.toString()));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!Path.of(entry).toAbsolutePath().equals(classes.toAbsolutePath())) {
                classpath.add(entry);
            }
        }
        Path data = Files.createDirectory(dir.resolve("data"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process node = new ProcessBuilder(java, "-cp", String.join(File.pathSeparator, classpath),
                "io.switchboard.server.Main", "run", "--data-dir", data.toString(), "--http", "127.0.0.1:0",
                "--sip", "udp:127.0.0.1:0", "--domain", "jar.test")
                .redirectErrorStream(true).start();
        List<String> log = new CopyOnWriteArrayList<>();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader out = new BufferedReader(new InputStreamReader(node.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = out.readLine()) != null; ) {
                    log.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        try {
            await().atMost(Duration.ofSeconds(90)).alias("node started")
                    .until(() -> log.stream().anyMatch(l -> l.contains("node started")) || !node.isAlive());
            assertThat(node.isAlive()).as(String.join("\n", log)).isTrue();
            int httpPort = log.stream().map(Pattern.compile("HTTP listening on http://127\\.0\\.0\\.1:(\\d+)")::matcher)
                    .filter(Matcher::find).map(m -> Integer.parseInt(m.group(1))).findFirst().orElseThrow();

            // What the build and the launcher do: a new file renamed over the old name. The node
            // keeps the old file (inode), still reachable through a second name, a hard link.
            Path nodesFile = Files.createLink(dir.resolve("the-node-runs-this.jar"), jar);
            Path next = dir.resolve("switchboard.jar.new");
            Files.write(next, jarOf(classes, "build 2"));
            Files.move(next, jar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Thread.sleep(3 * JarWatch.INTERVAL_MILLIS);
            assertThat(node.isAlive()).as(String.join("\n", log)).isTrue();
            assertThat(readyz(httpPort)).isEqualTo(200);

            // What broke nodes: the file they run rewritten in place.
            try (OutputStream out = Files.newOutputStream(nodesFile)) {
                out.write(jarOf(classes, "build 3"));
            }
            assertThat(node.waitFor(30, TimeUnit.SECONDS)).as(String.join("\n", log)).isTrue();
            reader.join(5000);
            assertThat(node.exitValue()).as(String.join("\n", log)).isEqualTo(1);
            assertThat(String.join("\n", log)).contains("switchboard: fatal: the jar this process runs from, " + jar
                    + ", was rewritten while it ran, so its classes can no longer be loaded").contains("stopping with exit code 1");
        } finally {
            node.destroyForcibly();
        }
    }

    @Test
    void aThreadThatCannotLoadItsCodeHaltsTheProcess() throws Exception {
        ProbeRun linkage = probe("linkage");
        assertThat(linkage.exitCode()).as(linkage.output()).isEqualTo(1);
        assertThat(linkage.output()).contains("switchboard: fatal: thread \"sip-io-1\" could not load the code it runs: "
                + "java.lang.NoClassDefFoundError: io/switchboard/Gone").contains("stopping with exit code 1");

        ProbeRun other = probe("runtime");
        assertThat(other.exitCode()).as("another exception ends only its thread").isZero();
        assertThat(other.output()).contains("Exception in thread \"worker\" java.lang.IllegalStateException: only this thread")
                .doesNotContain("fatal");
    }

    @Test
    void linkageFailuresAreFoundAmongCauses() {
        assertThat(FatalErrors.isLinkageFailure(new RuntimeException(new NoClassDefFoundError("x")))).isTrue();
        assertThat(FatalErrors.isLinkageFailure(new ExceptionInInitializerError("y"))).isTrue();
        assertThat(FatalErrors.isLinkageFailure(new IllegalStateException(new IOException("z")))).isFalse();
    }

    record ProbeRun(int exitCode, String output) {
    }

    private ProbeRun probe(String what) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                UncaughtErrorProbe.class.getName(), what).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new ProbeRun(process.exitValue(), output);
    }

    /** Runs in a JVM of its own: installs the handler, then lets a thread die of {@code args[0]}. */
    public static final class UncaughtErrorProbe {
        public static void main(String[] args) throws InterruptedException {
            FatalErrors.install();
            boolean linkage = args[0].equals("linkage");
            Thread thread = new Thread(() -> {
                if (linkage) {
                    throw new NoClassDefFoundError("io/switchboard/Gone");
                }
                throw new IllegalStateException("only this thread");
            }, linkage ? "sip-io-1" : "worker");
            thread.start();
            thread.join();
            Thread.sleep(200);
            System.exit(0);
        }
    }

    private static int readyz(int port) throws Exception {
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
            return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/readyz"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        }
    }

    private static byte[] jarBytes(String marker) throws IOException {
        var bytes = new ByteArrayOutputStream();
        try (JarOutputStream out = new JarOutputStream(bytes)) {
            out.putNextEntry(new JarEntry("marker.txt"));
            out.write(marker.getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
            // The jar's last bytes stay the same from build to build, as a dependency's classes do.
            out.putNextEntry(new JarEntry("dependency.txt"));
            out.write("the same in every build".repeat(100).getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        return bytes.toByteArray();
    }

    /** The classes of a directory as a jar, with a marker entry that makes each build different. */
    private static byte[] jarOf(Path classes, String marker) throws IOException {
        var bytes = new ByteArrayOutputStream();
        try (JarOutputStream out = new JarOutputStream(bytes); Stream<Path> files = Files.walk(classes)) {
            for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile).sorted()::iterator) {
                out.putNextEntry(new JarEntry(classes.relativize(file).toString().replace('\\', '/')));
                out.write(Files.readAllBytes(file));
                out.closeEntry();
            }
            out.putNextEntry(new JarEntry("build-marker.txt"));
            out.write(marker.getBytes(StandardCharsets.UTF_8));
            out.closeEntry();
        }
        return bytes.toByteArray();
    }
}
