package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.testing.UnderUmask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PrivateFileTest {
    @TempDir
    Path dir;

    /**
     * Written by a JVM whose umask masks nothing ({@link UnderUmask}): under {@code umask 077} a
     * file written with no mode of its own is owner-only too, and the check proved nothing.
     */
    @Test
    void writesOwnerOnlyAndLeavesNoTemporaryFile() throws Exception {
        Path file = dir.resolve("nested/monitors.yaml");
        UnderUmask.run(Write.class, file.toString(), "secret: one\n");

        assertThat(Files.readString(file)).isEqualTo("secret: one\n");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        try (Stream<Path> entries = Files.list(file.getParent())) {
            assertThat(entries).containsExactly(file);
        }
    }

    /** Writes {@code args[1]} to the file {@code args[0]} names. */
    public static final class Write {
        public static void main(String[] args) throws Exception {
            PrivateFile.write(Path.of(args[0]), args[1]);
        }
    }

    @Test
    void replacesAWorldReadableFileWithAnOwnerOnlyOne() throws Exception {
        Path file = dir.resolve("token");
        Files.writeString(file, "old");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

        PrivateFile.write(file, "new");

        assertThat(Files.readString(file)).isEqualTo("new");
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }
}
