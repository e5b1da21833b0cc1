package io.switchboard.server.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code switchboard help [COMMAND...]}: the help {@code switchboard [COMMAND...] --help} prints,
 * word for word ({@code help monitor import} is {@code monitor import --help}). A word that names
 * no command is the usage error a mistyped command is, with its suggestion (exit 2).
 */
@Command(name = "help",
        description = "Print a command's help, as 'COMMAND --help' does.")
public final class HelpCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** Its own help only: the standard mixin's --version would print nothing here. */
    @picocli.CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help message and exit.")
    boolean helpRequested;

    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "a command, and its subcommand: monitor import")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() {
        CommandLine target = spec.commandLine().getParent();
        for (int i = 0; i < command.size(); i++) {
            CommandLine sub = target.getSubcommands().get(command.get(i));
            if (target.getSubcommands().isEmpty()) {
                String path = String.join(" ", command.subList(0, i));
                throw new ParameterException(target, "unknown command '" + path + " " + command.get(i) + "'; '"
                        + path + "' has no commands");
            }
            if (sub == null || sub.getCommandSpec().usageMessage().hidden()) {
                throw new UnmatchedArgumentException(target, command.subList(i, command.size()));
            }
            target = sub;
        }
        target.usage(target.getOut());
        return 0;
    }
}
