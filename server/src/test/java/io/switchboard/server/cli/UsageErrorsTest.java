package io.switchboard.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.switchboard.server.Main;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ParameterException;
import org.junit.jupiter.api.Test;

/** The one-line texts of usage errors, on the switchboard command tree. */
class UsageErrorsTest {
    /** Stands in for {@code run}, whose options do not matter here. */
    @Command(name = "run")
    static final class Run implements Runnable {
        @Override
        public void run() {
        }
    }

    /** The tree {@code Main.execute} builds, with {@code run} stood in for. */
    private static CommandLine tree() {
        Map<String, String> env = Map.of();
        return new CommandLine(new Main())
                .addSubcommand("run", new Run())
                .addSubcommand("account", AccountCommand.commandLine(env))
                .addSubcommand("number", NumberCommand.commandLine(env))
                .addSubcommand("user", UserCommand.commandLine(env))
                .addSubcommand("monitor", MonitorCommand.commandLine(env))
                .addSubcommand("admin", new CommandLine(new AdminCommand()).addSubcommand("token", new AdminTokenCommand(env)));
    }

    private static String describe(String... args) {
        ParameterException e = catchThrowableOfType(ParameterException.class, () -> tree().parseArgs(args));
        assertThat(e).as(String.join(" ", args)).isNotNull();
        String text = UsageErrors.describe(e, java.util.List.of(args));
        assertThat(text).as(String.join(" ", args)).doesNotContain("\n");
        return text;
    }

    @Test
    void aMistypedCommandIsUnknownAndTheCommandsAreListed() {
        assertThat(describe("acount", "add", "1003")).isEqualTo("unknown command 'acount' (did you mean 'account'?);"
                + " commands: run, account, number, user, monitor, admin");
        assertThat(describe("frobnicate")).isEqualTo("unknown command 'frobnicate'; commands: run, account, number,"
                + " user, monitor, admin");
        assertThat(describe("usr", "list")).startsWith("unknown command 'usr' (did you mean 'user'?); ");
        assertThat(describe("moniotr")).startsWith("unknown command 'moniotr' (did you mean 'monitor'?); ");
    }

    @Test
    void aMistypedSubcommandNamesItsFamily() {
        assertThat(describe("account", "ad", "1003")).isEqualTo("unknown command 'account ad' (did you mean"
                + " 'account add'?); account commands: add, list, remove, passwd, set, import");
        assertThat(describe("admin", "tokn")).isEqualTo("unknown command 'admin tokn' (did you mean 'admin token'?);"
                + " admin commands: token");
    }

    @Test
    void aMistypedOptionNamesTheNearestAndTheCommandsOptions() {
        assertThat(describe("account", "add", "1005", "--pasword", "xxxxxxx")).startsWith("unknown option '--pasword' for"
                + " 'account add' (did you mean '--password'?); options: ").contains("--domain");
        // a required option mistyped: the typo, not only that the option is missing
        assertThat(describe("number", "add", "44", "--acounts", "1001")).startsWith("unknown option '--acounts' for"
                + " 'number add' (did you mean '--accounts'?); options: ");
        assertThat(describe("account", "add", "1005", "--pasword=x")).startsWith("unknown option '--pasword' for 'account add'");
        assertThat(describe("account", "list", "--zzzzzzzz")).startsWith("unknown option '--zzzzzzzz' for 'account list';"
                + " options: ");
        // a negative number or what follows "--" is no option
        assertThat(describe("account", "add", "1003", "-5")).startsWith("unexpected argument '-5' for 'account add', which takes ");
        assertThat(describe("account", "add", "1003", "--", "--pasword=x")).doesNotContain("unknown option");
    }

    @Test
    void aWordTooManyNamesWhatTheCommandTakesAndOtherErrorsKeepPicocliFirstLine() {
        assertThat(describe("--no-such-flag")).startsWith("unknown option '--no-such-flag'; options: ");
        assertThat(describe("account", "add", "1003", "surplus")).startsWith("unexpected argument 'surplus' for 'account add',"
                + " which takes ");
        assertThat(describe("monitor", "list", "extra")).isEqualTo("unexpected argument 'extra' for 'monitor list', which takes"
                + " no arguments");
        assertThat(describe("account", "add")).startsWith("Missing required parameter");
    }
}
