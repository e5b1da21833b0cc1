package io.switchboard.server.dist;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.fail;

/**
 * A command-line tool from a Debian package that a test runs. Missing, it skips the test on a
 * developer machine and fails it under {@code CI=true}, where {@code ./switchboard test} installs
 * the package: there a missing tool is a broken environment, not a reason to skip.
 */
record DebianTool(Path binary) {
    /** The rules, unit files and scripts these tests check live in the repository's dist/. */
    static final Path DIST = Path.of("..", "dist").toAbsolutePath().normalize();

    record Run(int exitCode, String output) {
    }

    static DebianTool require(String name, String debianPackage) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(File.pathSeparator)) {
            Path candidate = Path.of(dir, name);
            if (Files.isExecutable(candidate)) {
                return new DebianTool(candidate);
            }
        }
        String message = name + " not found on the PATH; install the Debian package " + debianPackage
                + " (./switchboard test does it as root)";
        if ("true".equals(System.getenv("CI"))) {
            fail(message);
        }
        Assumptions.abort(message);
        throw new AssertionError("unreachable");
    }

    /** Runs the tool in {@code dir} with the arguments; output is stdout and stderr together. */
    Run run(Path dir, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(binary.toString()));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                fail(command + " did not finish within 60 s");
            }
            return new Run(process.exitValue(), output);
        } finally {
            process.destroyForcibly();
        }
    }
}
