package io.switchboard.server.cli;

import io.switchboard.server.Main;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --help} says only what this build has: every command's help, found by following the
 * "Commands:" lists from the top, names no capability that does not exist yet (rooms, media,
 * the console), and names the ones that do.
 */
class HelpTest {
    /** Capabilities of later issues, by a word their help would use. */
    static final List<String> NOT_BUILT_YET = List.of("room", "media", "rtp", "webrtc", "janus", "console", "video");

    record Help(int exitCode, String text) {
    }

    static Help help(List<String> command) {
        List<String> args = new ArrayList<>(command);
        args.add("--help");
        return run(args);
    }

    static Help run(List<String> args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Main.execute(Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), args.toArray(String[]::new));
        return new Help(code, out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8));
    }

    /** Every command path and its help, top first. */
    static Map<List<String>, String> everyHelp() {
        Map<List<String>, String> helps = new LinkedHashMap<>();
        List<List<String>> toVisit = new ArrayList<>(List.of(List.of()));
        Pattern subcommand = Pattern.compile("(?m)^  ([a-z][a-z-]*)  ");
        while (!toVisit.isEmpty()) {
            List<String> command = toVisit.removeFirst();
            Help help = help(command);
            assertThat(help.exitCode()).as("%s --help", command).isZero();
            helps.put(command, help.text());
            int commands = help.text().indexOf("\nCommands:\n");
            if (commands >= 0) {
                Matcher names = subcommand.matcher(help.text().substring(commands));
                while (names.find()) {
                    List<String> child = new ArrayList<>(command);
                    child.add(names.group(1));
                    toVisit.add(child);
                }
            }
        }
        return helps;
    }

    @Test
    void helpNamesOnlyWhatExists() {
        Map<List<String>, String> helps = everyHelp();
        assertThat(helps.keySet()).contains(List.of("run"), List.of("account", "add"), List.of("number", "set"),
                List.of("user", "add"), List.of("monitor", "import"), List.of("admin", "token"));
        helps.forEach((command, text) -> {
            for (String word : NOT_BUILT_YET) {
                assertThat(text.toLowerCase()).as("switchboard %s --help:%n%s", String.join(" ", command), text)
                        .doesNotContain(word);
            }
        });
        assertThat(helps.get(List.of())).contains("SIP registrar and proxy, chat and monitoring");
    }

    @Test
    void helpCommandPrintsWhatHelpOptionPrints() {
        Map<List<String>, String> helps = everyHelp();
        assertThat(helps.keySet()).contains(List.of("help"));
        helps.forEach((command, text) -> {
            List<String> args = new ArrayList<>(List.of("help"));
            args.addAll(command);
            Help help = run(args);
            assertThat(help.exitCode()).as("switchboard %s", String.join(" ", args)).isZero();
            assertThat(help.text()).as("switchboard %s", String.join(" ", args)).isEqualTo(text);
        });
    }

    @Test
    void helpForNoCommandIsAUsageError() {
        Help unknown = run(List.of("help", "frobnicate"));
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.text()).isEqualTo("switchboard: unknown command 'frobnicate'; commands: run, account, number,"
                + " user, monitor, cluster, admin, help (see 'switchboard --help')\n");
        Help typo = run(List.of("help", "monitor", "imprt"));
        assertThat(typo.exitCode()).isEqualTo(2);
        assertThat(typo.text()).startsWith("switchboard: unknown command 'monitor imprt' (did you mean 'monitor import'?);");
        Help surplus = run(List.of("help", "monitor", "import", "more"));
        assertThat(surplus.exitCode()).isEqualTo(2);
        assertThat(surplus.text()).startsWith("switchboard: unknown command 'monitor import more'; 'monitor import' has no"
                + " commands (see 'switchboard monitor import --help')");
        // help has no version of its own to print (it printed nothing and exited 0)
        assertThat(run(List.of("help", "--version")).exitCode()).isEqualTo(2);
    }
}
