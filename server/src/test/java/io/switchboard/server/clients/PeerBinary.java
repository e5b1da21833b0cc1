package io.switchboard.server.clients;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A real SIP client installed from a Debian package, found the way {@code Sipp} finds sipp: an
 * environment variable naming the binary, else the {@code PATH}, else {@code /usr/bin}. A test
 * calls {@link #assumeAvailable()}: without the binary it is skipped on a developer machine and
 * fails under {@code CI=true}, where {@code ./switchboard test} installs the package and a missing
 * binary is a broken environment, not a reason to skip.
 *
 * @param command        the executable's name ({@code baresip})
 * @param environment    the variable that may name the binary instead ({@code BARESIP_BIN})
 * @param debianPackage  the package that ships it ({@code baresip-core})
 */
public record PeerBinary(String command, String environment, String debianPackage) {

    public Optional<Path> find() {
        String configured = System.getenv(environment);
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        List<String> dirs = new ArrayList<>(List.of(Optional.ofNullable(System.getenv("PATH")).orElse("").split(":")));
        dirs.add("/usr/bin");
        dirs.add("/usr/sbin"); // haproxy, kamailio: not on a normal user's PATH
        for (String dir : dirs) {
            if (!dir.isEmpty()) {
                Path p = Path.of(dir, command);
                if (Files.isRegularFile(p) && Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            }
        }
        return Optional.empty();
    }

    /** The binary; call {@link #assumeAvailable()} first. */
    public Path path() {
        return find().orElseThrow(() -> new IllegalStateException(command + " is not installed"));
    }

    /** Skips the calling test when the binary is missing on a developer machine; fails it under CI=true. */
    public void assumeAvailable() {
        assumeAvailable(find(), underCi());
    }

    /** {@link #assumeAvailable()} for a given lookup result and CI flag. */
    void assumeAvailable(Optional<Path> binary, boolean underCi) {
        if (binary.isPresent()) {
            return;
        }
        String message = command + " not found (set " + environment + " or install Debian package " + debianPackage
                + ": apt-get install -y " + debianPackage + "; ./switchboard test installs it)";
        if (underCi) {
            Assertions.fail(message + " - CI=true, so a missing " + command + " fails the suite instead of skipping");
        }
        System.err.println("SKIPPED " + command + " tests: " + message);
        Assumptions.abort("skipped: " + message);
    }

    static boolean underCi() {
        String ci = System.getenv("CI");
        return ci != null && (ci.equalsIgnoreCase("true") || ci.equals("1"));
    }

    /**
     * A TCP port free on 127.0.0.1 at the moment of asking, for a client that must be told its
     * control port before it starts (a caller retries on "address in use").
     */
    static int freeTcpPort() {
        try (ServerSocket socket = new ServerSocket()) {
            socket.setReuseAddress(false);
            socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
