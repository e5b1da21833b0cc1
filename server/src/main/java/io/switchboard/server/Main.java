package io.switchboard.server;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.lifecycle.NodeStartException;
import io.switchboard.platform.store.StoreException;
import io.switchboard.server.cli.AccountCommand;
import io.switchboard.server.cli.AdminCommand;
import io.switchboard.server.cli.AdminTokenCommand;
import io.switchboard.server.cli.ClusterCommand;
import io.switchboard.server.cli.HelpCommand;
import io.switchboard.server.cli.MonitorCommand;
import io.switchboard.server.cli.NumberCommand;
import io.switchboard.server.cli.RunCommand;
import io.switchboard.server.cli.TerminalSafeWriter;
import io.switchboard.server.cli.UsageErrors;
import io.switchboard.server.cli.UserCommand;
import io.switchboard.server.process.FatalErrors;
import io.switchboard.server.process.JarWatch;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The {@code switchboard} command. Exit codes: 0 done, 1 failed while running (store down,
 * port taken), 2 bad usage or invalid configuration. Errors are one line on stderr.
 */
@Command(name = "switchboard", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Switchboard: SIP registrar and proxy, chat and monitoring in one server.")
public final class Main implements Callable<Integer> {
    public static final int EXIT_FAILED = 1;
    public static final int EXIT_USAGE = 2;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        // Before anything else: a node whose classes vanish must end, loudly, not hang (see JarWatch).
        FatalErrors.install();
        JarWatch.forJarOf(Main.class).ifPresent(JarWatch::start);
        int code;
        try {
            code = execute(System.getenv(), System.out, System.err, args);
        } catch (Throwable fatal) {
            if (FatalErrors.isLinkageFailure(fatal)) {
                FatalErrors.halt("could not load the code it runs: " + fatal, fatal);
            }
            // An Error (a broken classpath, out of memory while starting) must not leave a half-started
            // process behind: report it and exit, whatever threads are still running.
            System.err.println("switchboard: fatal: " + fatal);
            fatal.printStackTrace(System.err);
            code = EXIT_FAILED;
        }
        System.exit(code);
    }

    /**
     * Runs the command line and returns its exit code instead of exiting, so tests can call it.
     * {@code run} returns only once the node has stopped.
     */
    public static int execute(Map<String, String> env, PrintStream out, PrintStream err, String... args) {
        // what an error quotes was typed by someone: its control characters are shown, not obeyed
        // by the terminal (lines of a listing are made safe where they are written, StoreAction.say)
        PrintWriter errWriter = new PrintWriter(new TerminalSafeWriter(new java.io.OutputStreamWriter(err,
                java.nio.charset.Charset.defaultCharset())), true);
        CommandLine cli = new CommandLine(new Main())
                .addSubcommand("run", new RunCommand(env))
                .addSubcommand("account", AccountCommand.commandLine(env))
                .addSubcommand("number", NumberCommand.commandLine(env))
                .addSubcommand("user", UserCommand.commandLine(env))
                .addSubcommand("monitor", MonitorCommand.commandLine(env))
                .addSubcommand("cluster", ClusterCommand.commandLine(env))
                .addSubcommand("admin", new CommandLine(new AdminCommand())
                        .addSubcommand("token", AdminTokenCommand.commandLine(env)))
                .addSubcommand("help", new HelpCommand());
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(errWriter);
        cli.setParameterExceptionHandler((e, arguments) -> {
            String help = e.getCommandLine().getCommandSpec().qualifiedName();
            errWriter.println("switchboard: " + UsageErrors.describe(e, java.util.List.of(arguments)) + " (see '" + help
                    + " --help')");
            return EXIT_USAGE;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            switch (e) {
                case ConfigException c -> {
                    errWriter.println("switchboard: invalid config: " + c.key() + ": " + c.problem());
                    return EXIT_USAGE;
                }
                case NodeStartException s -> errWriter.println("switchboard: cannot start: " + s.getMessage()
                        + " (--log-level debug shows the stack trace)");
                case StoreException s -> errWriter.println("switchboard: " + s.getMessage());
                default -> {
                    errWriter.println("switchboard: failed: " + e);
                    e.printStackTrace(errWriter);
                }
            }
            return EXIT_FAILED;
        });
        return cli.execute(args);
    }

    /** Without a subcommand there is nothing to do: say what to type instead. */
    @Override
    public Integer call() {
        spec.commandLine().getErr().println(
                "switchboard: missing command; try 'switchboard run', 'switchboard admin token' or 'switchboard --help'");
        return EXIT_USAGE;
    }


    /** The version from the jar manifest, or "dev" when running from classes. */
    public static String version() {
        String version = Main.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"switchboard " + version()};
        }
    }
}
