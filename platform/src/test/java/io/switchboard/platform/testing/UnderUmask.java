package io.switchboard.platform.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a class's {@code main} in a JVM of its own whose umask is 000, for tests of files made
 * readable by their owner only. In the test's own JVM the umask is whatever the suite was started
 * with: under {@code umask 077} every new file is {@code rw-------} whatever the code asked for, so
 * a check of the mode there passes even when the code sets none. With nothing masked, the mode
 * seen is the one the code (or SQLite) chose. A JVM cannot change its own umask (no API for it, and
 * the FFM API is a preview in the Java 21 the project compiles for), hence the second JVM.
 */
public final class UnderUmask {
    private UnderUmask() {
    }

    /**
     * Runs {@code main} of {@code mainClass} with {@code args} under umask 000, and fails with its
     * output unless it exits 0 within 60 s. The child gets a temporary directory of its own, removed
     * afterwards: a child that ends with {@code Runtime.halt} runs no delete-on-exit, and SQLite's
     * JDBC driver would leave its native library in /tmp at every run.
     */
    public static void run(Class<?> mainClass, String... args) throws IOException, InterruptedException {
        Path tmp = Files.createTempDirectory("under-umask");
        Path output = tmp.resolve("output.txt");
        try {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", "umask 000 && exec \"$@\"", "sh",
                    java, "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), mainClass.getName()));
            command.addAll(List.of(args));
            // to a file, not a pipe read before waitFor: a child that hangs must not hang the test
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(mainClass.getName() + " under umask 000 did not end within 60 s:\n"
                        + new String(Files.readAllBytes(output), StandardCharsets.UTF_8));
            }
            if (process.exitValue() != 0) {
                throw new AssertionError(mainClass.getName() + " under umask 000 exited " + process.exitValue() + ":\n"
                        + new String(Files.readAllBytes(output), StandardCharsets.UTF_8));
            }
        } finally {
            try (var files = Files.walk(tmp)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
