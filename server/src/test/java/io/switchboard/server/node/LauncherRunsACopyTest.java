package io.switchboard.server.node;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./switchboard run} starts the JVM on a copy of the jar named by its content, so a build,
 * which rewrites server/target/switchboard.jar, never touches the file a running node reads. Copies
 * no process names are removed; the copy a running process names is kept. The launcher runs in a
 * checkout of its own (nothing to build) with a stand-in JDK whose {@code java} records its
 * arguments.
 */
class LauncherRunsACopyTest {
    @TempDir
    Path dir;

    Path root;
    Path jar;
    Path javaSaw;

    void checkout() throws Exception {
        root = Files.createDirectories(dir.resolve("checkout"));
        Files.copy(LauncherTestCommandTest.LAUNCHER, root.resolve("switchboard"));
        jar = Files.createDirectories(root.resolve("server/target")).resolve("switchboard.jar");
        Path jdk = Files.createDirectories(dir.resolve("jdk/bin"));
        Files.writeString(dir.resolve("jdk/release"), "JAVA_VERSION=\"21.0.5\"\n");
        javaSaw = dir.resolve("java-saw.txt");
        Path java = jdk.resolve("java");
        Files.writeString(java, "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + javaSaw + "'\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    /** Runs {@code ./switchboard run --domain x.test} and returns the jar the JVM was given. */
    Path run() throws Exception {
        ProcessBuilder process = new ProcessBuilder("bash", root.resolve("switchboard").toString(), "run", "--domain", "x.test")
                .redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile());
        process.environment().put("JAVA_HOME", dir.resolve("jdk").toString());
        process.environment().remove("JAVA_OPTS");
        Process started = process.start();
        assertThat(started.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(started.exitValue()).as(Files.readString(dir.resolve("out.txt"))).isZero();
        List<String> args = Files.readAllLines(javaSaw);
        int jarAt = args.indexOf("-jar");
        assertThat(jarAt).as(args.toString()).isNotNegative();
        assertThat(args.subList(jarAt + 2, args.size())).containsExactly("run", "--domain", "x.test");
        return Path.of(args.get(jarAt + 1));
    }

    void build(String content) throws Exception {
        Path next = dir.resolve("next.jar");
        Files.writeString(next, content);
        Files.move(next, jar, StandardCopyOption.REPLACE_EXISTING);
    }

    static String sha256Prefix(Path file) throws Exception {
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
        return HexFormat.of().formatHex(digest).substring(0, 16);
    }

    List<Path> copies() throws Exception {
        try (Stream<Path> files = Files.list(root.resolve("run"))) {
            return files.sorted().toList();
        }
    }

    @Test
    void nodesRunFromAContentNamedCopyAndUnusedCopiesGo() throws Exception {
        checkout();
        build("build 1");
        Path first = run();
        assertThat(first).isEqualTo(root.resolve("run/switchboard-" + sha256Prefix(jar) + ".jar"));
        assertThat(Files.readString(first, StandardCharsets.UTF_8)).isEqualTo("build 1");
        assertThat(run()).as("the same jar, the same copy").isEqualTo(first);

        build("build 2");
        Path second = run();
        assertThat(second).isNotEqualTo(first);
        assertThat(Files.readString(second)).isEqualTo("build 2");
        assertThat(copies()).as("a copy made within the last minute may be about to start").containsExactly(first, second)
                .allSatisfy(copy -> assertThat(copy.getFileName().toString()).startsWith("switchboard-"));

        // An hour later: the first build's copy is what a running node names, the second's nobody.
        FileTime hourAgo = FileTime.from(Instant.now().minusSeconds(3600));
        Files.setLastModifiedTime(first, hourAgo);
        Files.setLastModifiedTime(second, hourAgo);
        Process node = new ProcessBuilder("bash", "-c", "sleep 60; exit 0", first.toString()).start();
        try {
            build("build 3");
            Path third = run();
            assertThat(copies()).containsExactlyInAnyOrder(first, third);
        } finally {
            node.destroyForcibly();
            node.waitFor(10, TimeUnit.SECONDS);
        }
        Path fourth;
        build("build 4");
        fourth = run();
        assertThat(copies()).as("nobody names the first copy any more; the third is recent").doesNotContain(first)
                .contains(fourth);
    }
}
