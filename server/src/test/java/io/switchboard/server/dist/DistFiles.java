package io.switchboard.server.dist;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shipped files of dist/ as tests use them: read as they are, with only the example values a
 * user replaces (addresses, ports, paths) swapped for the test's. A replacement whose text is no
 * longer in the file fails the test, so the file and its test cannot drift apart unnoticed.
 */
public final class DistFiles {
    private DistFiles() {
    }

    /** A file under the repository's dist/ (tests run in the server module's directory). */
    public static String read(String name) throws IOException {
        return Files.readString(DebianTool.DIST.resolve(name));
    }

    /** {@code config} with every {@code literal} replaced; the literal must be there. */
    public static String replace(String config, String literal, String replacement) {
        assertThat(config).as("dist file still has: " + literal).contains(literal);
        return config.replace(literal, replacement);
    }

    /** {@code config} without the line that contains {@code literal} (a node the test does not run); it must be there. */
    public static String dropLine(String config, String literal) {
        assertThat(config).as("dist file still has: " + literal).contains(literal);
        return config.replaceAll("(?m)^.*" + java.util.regex.Pattern.quote(literal) + ".*\\R", "");
    }
}
