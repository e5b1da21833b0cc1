package io.switchboard.server.dist;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * dist/switchboard.service passes {@code systemd-analyze verify} without a single complaint.
 * systemd-analyze exits 0 on settings it ignores (an unknown key, a value it cannot parse) and
 * only prints them, so the test wants no output at all, and shows that each kind of mistake is
 * caught. The unit is checked in a root of its own: the machine's targets (the unit's default
 * dependencies) and a stand-in for the JDK it runs, since verify checks that ExecStart exists.
 */
class SystemdUnitTest {
    static final Path UNIT = DebianTool.DIST.resolve("switchboard.service");

    @TempDir
    Path root;

    DebianTool.Run verify(String unit) throws Exception {
        DebianTool analyze = DebianTool.require("systemd-analyze", "systemd");
        Path units = Files.createDirectories(root.resolve("etc/systemd/system"));
        Path targets = Files.createDirectories(root.resolve("usr/lib/systemd/system"));
        try (Stream<Path> machine = Files.list(Path.of("/usr/lib/systemd/system"))) {
            for (Path target : (Iterable<Path>) machine.filter(p -> p.toString().endsWith(".target"))::iterator) {
                Files.copy(target, targets.resolve(target.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
        Path java = root.resolve("opt/switchboard/jdk/bin/java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, "#!/bin/sh\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(units.resolve("switchboard.service"), unit);
        return analyze.run(root, "verify", "--root=" + root, "/etc/systemd/system/switchboard.service");
    }

    @Test
    void theUnitVerifiesWithoutAnyComplaint() throws Exception {
        DebianTool.Run run = verify(Files.readString(UNIT));
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(run.output()).as("warnings of systemd-analyze verify").isBlank();
    }

    @Test
    void theUnitDrainsWithinItsStopTimeoutAndRunsHardened() throws Exception {
        String unit = Files.readString(UNIT);
        // 10 s drainDelay + up to 10 s of requests in flight + stopping: well within 60 s.
        assertThat(unit).contains("\nKillSignal=SIGTERM\n", "\nTimeoutStopSec=60\n", "\nUser=switchboard\n",
                "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n", "\nReadWritePaths=/var/lib/switchboard\n",
                "\nCapabilityBoundingSet=\n", "\nRestartPreventExitStatus=2\n",
                "--config /etc/switchboard/switchboard.yaml --data-dir /var/lib/switchboard");
        // as settings, not in the comments that say when to add them (port 443) or why not (the JIT)
        assertThat(unit).doesNotContainPattern("(?m)^\\s*AmbientCapabilities=")
                .doesNotContainPattern("(?m)^\\s*MemoryDenyWriteExecute=yes");
    }

    @Test
    void eachKindOfMistakeIsCaught() throws Exception {
        String unit = Files.readString(UNIT);
        Map<String, List<String>> mistakes = Map.of(
                "a misspelt key", List.of("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
                "a value systemd cannot parse", List.of("TimeoutStopSec=60", "TimeoutStopSec=sixty"),
                "an unknown service type", List.of("Type=exec", "Type=executable"),
                "a missing binary", List.of("/opt/switchboard/jdk/bin/java", "/opt/switchboard/jre/bin/java"),
                "a misspelt section", List.of("[Service]", "[Servce]"));
        for (Map.Entry<String, List<String>> mistake : mistakes.entrySet()) {
            String broken = unit.replace(mistake.getValue().get(0), mistake.getValue().get(1));
            assertThat(broken).isNotEqualTo(unit);
            DebianTool.Run run = verify(broken);
            assertThat(run.exitCode() != 0 || !run.output().isBlank()).as(mistake.getKey()).isTrue();
        }
    }
}
