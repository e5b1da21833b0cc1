package io.switchboard.server.node;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./switchboard test} runs the suite with CI=true, so SIPp tests cannot skip silently, and
 * says so when sipp is missing. A stand-in {@code mvn} first on the PATH records what the
 * launcher hands Maven instead of building.
 */
class LauncherTestCommandTest {
    static final Path LAUNCHER = Path.of("..", "switchboard").toAbsolutePath().normalize();

    @TempDir
    Path bin;

    record Run(int exitCode, String mavenSaw, String stderr) {
    }

    Run launcherTest(Map<String, String> env) throws Exception {
        return launcherTest(env, "-pl", "sip");
    }

    Run launcherTest(Map<String, String> env, String... args) throws Exception {
        Path record = bin.resolve("mvn-saw.txt");
        Path mvn = bin.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\nprintf 'CI=%s\\nargs=%s\\n' \"$CI\" \"$*\" > '" + record + "'\n");
        Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> command = new ArrayList<>(List.of("bash", LAUNCHER.toString(), "test"));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(bin.resolve("stderr.txt").toFile());
        Map<String, String> environment = builder.environment();
        environment.put("PATH", bin + ":" + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        environment.put("JAVA_HOME", System.getProperty("java.home"));
        environment.putAll(env);
        Process process = builder.start();
        try {
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("the launcher finished").isTrue();
        } finally {
            process.destroyForcibly();
        }
        String saw = Files.exists(record) ? Files.readString(record, StandardCharsets.UTF_8) : "";
        return new Run(process.exitValue(), saw, Files.readString(bin.resolve("stderr.txt"), StandardCharsets.UTF_8));
    }

    @Test
    void theSuiteRunsWithCiTrueEvenWhenTheCallerSaysOtherwise() throws Exception {
        Map<String, String> env = new HashMap<>();
        env.put("CI", "false");
        env.put("SIPP_BIN", "/bin/true"); // an executable: sipp counts as present, nothing is installed
        Run run = launcherTest(env);
        assertThat(run.exitCode()).as(run.stderr()).isZero();
        assertThat(run.mavenSaw()).contains("CI=true\n").contains("args=-B -Dstyle.color=never verify -pl sip");
        assertThat(run.stderr()).doesNotContain("sipp not found");
    }

    @Test
    void aMissingSippIsNamedAndTheSuiteStillRunsAsCi() throws Exception {
        // SIPP_BIN set: the launcher installs nothing, it only reports
        Run run = launcherTest(Map.of("SIPP_BIN", bin.resolve("no-such-sipp").toString()), "-pl", "server");
        assertThat(run.stderr()).contains("sipp not found").contains("sip-tester").contains("SIPP_BIN")
                .contains("will fail, not skip");
        assertThat(run.mavenSaw()).contains("CI=true\n");

        Run whole = launcherTest(Map.of("SIPP_BIN", bin.resolve("no-such-sipp").toString()), "-DskipTests");
        assertThat(whole.stderr()).as("the whole suite").contains("sipp not found");
    }

    @Test
    void modulesWithoutTheServersTestsNeitherInstallPeersNorAskForSipp() throws Exception {
        Run run = launcherTest(Map.of("SIPP_BIN", bin.resolve("no-such-sipp").toString()), "-pl", "sip,chat");
        assertThat(run.exitCode()).as(run.stderr()).isZero();
        assertThat(run.stderr()).doesNotContain("sipp not found").doesNotContain("installing");
        assertThat(run.mavenSaw()).contains("CI=true\n").contains("verify -pl sip,chat -am");
    }

    /** Tests of one module, by package, as the launcher asks surefire for them. */
    private static String testsOf(String module) {
        String p = "io/switchboard/" + module + "/**/";
        return p + "Test*.java," + p + "*Test.java," + p + "*Tests.java," + p + "*TestCase.java";
    }

    @Test
    void oneModuleGetsTheModulesItNeedsAndOnlyItsOwnTests() throws Exception {
        // Without -am, Maven cannot find the platform's test jar outside the reactor; with it, the
        // upstream modules' tests would run too, so they are filtered out by package.
        Run run = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "-pl", "telephony");
        assertThat(run.exitCode()).as(run.stderr()).isZero();
        assertThat(run.mavenSaw()).contains("args=-B -Dstyle.color=never verify -pl telephony -am "
                + "-Dsurefire.failIfNoSpecifiedTests=false -Dtest=" + testsOf("telephony") + "\n");

        Run two = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "--projects=./chat,:switchboard-monitor/");
        assertThat(two.mavenSaw()).contains("verify --projects=./chat,:switchboard-monitor/ -am "
                + "-Dsurefire.failIfNoSpecifiedTests=false -Dtest=" + testsOf("chat") + "," + testsOf("monitor") + "\n");
    }

    @Test
    void theCallersOwnTestFilterAndAlsoMakeAreKept() throws Exception {
        Run filtered = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "-pl", "server", "-Dtest=JarWatchTest");
        assertThat(filtered.mavenSaw()).contains("args=-B -Dstyle.color=never verify -pl server -Dtest=JarWatchTest -am "
                + "-Dsurefire.failIfNoSpecifiedTests=false\n");

        Run alsoMake = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "-pl", "server", "-am");
        assertThat(alsoMake.mavenSaw()).contains("args=-B -Dstyle.color=never verify -pl server -am\n");

        Run excluded = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "-pl", "!server");
        assertThat(excluded.mavenSaw()).contains("args=-B -Dstyle.color=never verify -pl !server\n");

        Run unknown = launcherTest(Map.of("SIPP_BIN", "/bin/true"), "-pl", "nosuch");
        assertThat(unknown.mavenSaw()).as("Maven names the unknown module itself").contains("args=-B -Dstyle.color=never verify -pl nosuch\n");
    }
}
