package io.switchboard.server.cli;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The one-line text of a usage error, for {@code switchboard: <text> (see '... --help')}.
 *
 * <p>A word where a command is expected ({@code switchboard acount add 1003}) is an unknown
 * command: picocli reports it as "Unmatched arguments from index 0: 'acount', 'add', '1003'",
 * which does not say what went wrong. Here it reads
 * {@code unknown command 'acount' (did you mean 'account'?); commands: run, account, ...}, on
 * every level that has subcommands ({@code switchboard account ad 1003} names the account
 * commands). An unknown option likewise names the nearest option and the command's options, and
 * a word too many names what the command takes. Every other usage error is the first line of
 * picocli's message.
 */
public final class UsageErrors {
    private UsageErrors() {
    }

    /**
     * One line saying what is wrong with the command line, {@code typed} as it was given: picocli
     * drops a {@code --} (what follows it is never an option) before it reports what it could not match.
     */
    public static String describe(ParameterException e, List<String> typed) {
        if (e instanceof UnmatchedArgumentException unmatched) {
            String unknown = unknownCommand(unmatched);
            if (unknown != null) {
                return unknown;
            }
        }
        String option = unknownOption(e, typed);
        if (option != null) {
            return option;
        }
        if (e instanceof UnmatchedArgumentException unmatched) {
            String surplus = surplusArgument(unmatched);
            if (surplus != null) {
                return surplus;
            }
        }
        return firstLine(e.getMessage());
    }

    /**
     * A word beyond what the command takes ({@code monitor list extra}): picocli says "Unmatched
     * argument at index 2: 'extra'", counting from a place the user does not see. Here it names
     * the word and what the command takes. Null for anything else.
     */
    private static String surplusArgument(UnmatchedArgumentException e) {
        CommandLine command = e.getCommandLine();
        if (command == null || e.isUnknownOption() || e.getUnmatched().isEmpty() || e.getUnmatched().getFirst() == null) {
            return null;
        }
        String path = pathBelowRoot(command).strip();
        if (path.isEmpty()) {
            return null;
        }
        List<String> takes = command.getCommandSpec().positionalParameters().stream()
                .filter(p -> !p.hidden()).map(CommandLine.Model.PositionalParamSpec::paramLabel).toList();
        return "unexpected argument '" + e.getUnmatched().getFirst() + "' for '" + path + "', which takes "
                + (takes.isEmpty() ? "no arguments" : String.join(" ", takes));
    }

    /**
     * An option the command does not have, named with the one it most likely meant and the ones it
     * has: picocli listed the option's value as an unknown option too ({@code Unknown options:
     * '--pasword', 'secret'}) and, when a required option was the one mistyped, reported only that
     * it was missing ({@code number add 44 --acounts 1001}: "Missing required option
     * '--accounts=USERS'"), never the typo. Null when no unknown option was given.
     */
    private static String unknownOption(ParameterException e, List<String> typedArgs) {
        CommandLine command = e.getCommandLine();
        if (command == null) {
            return null;
        }
        if (e instanceof UnmatchedArgumentException u && !u.isUnknownOption()) {
            return null; // a surplus positional ("-5" too): surplusArgument says it
        }
        List<String> unmatched = e instanceof UnmatchedArgumentException u ? u.getUnmatched() : command.getUnmatchedArguments();
        int endOfOptions = typedArgs.indexOf("--");
        java.util.Set<String> afterEndOfOptions = endOfOptions < 0 ? java.util.Set.of()
                : java.util.Set.copyOf(typedArgs.subList(endOfOptions + 1, typedArgs.size()));
        String typed = null;
        for (String arg : unmatched) {
            if (arg != null && arg.startsWith("-") && arg.length() > 1 && !Character.isDigit(arg.charAt(1))
                    && !afterEndOfOptions.contains(arg)) {
                typed = arg;
                break;
            }
        }
        if (typed == null) {
            return null;
        }
        String name = typed.contains("=") ? typed.substring(0, typed.indexOf('=')) : typed;
        Set<String> names = new LinkedHashSet<>();
        for (CommandLine.Model.OptionSpec option : command.getCommandSpec().options()) {
            if (!option.hidden()) {
                names.add(option.longestName());
            }
        }
        String closest = closest(name, names);
        String path = pathBelowRoot(command);
        return "unknown option '" + name + "'" + (path.isEmpty() ? "" : " for '" + path.strip() + "'")
                + (closest == null ? "" : " (did you mean '" + closest + "'?)") + "; options: " + String.join(", ", names);
    }

    /** The unknown-command text, or null when the unmatched argument is not where a command belongs. */
    private static String unknownCommand(UnmatchedArgumentException e) {
        CommandLine command = e.getCommandLine();
        List<String> args = e.getUnmatched();
        if (command == null || args.isEmpty() || args.getFirst() == null || e.isUnknownOption()) {
            return null;
        }
        Set<String> names = new LinkedHashSet<>();
        command.getSubcommands().values().stream()
                .filter(sub -> !sub.getCommandSpec().usageMessage().hidden())
                .forEach(sub -> names.add(sub.getCommandName()));
        // A command with positional parameters of its own may have had one too many; not a command name.
        if (names.isEmpty() || !command.getCommandSpec().positionalParameters().isEmpty()) {
            return null;
        }
        String path = pathBelowRoot(command);
        String word = args.getFirst();
        String closest = closest(word, names);
        String suggestion = closest == null ? "" : " (did you mean '" + path + closest + "'?)";
        return "unknown command '" + path + word + "'" + suggestion + "; " + path + "commands: "
                + String.join(", ", names);
    }

    /**
     * The name a typo most likely meant: the nearest by edit distance (a swap of neighbours counts
     * once), if within 1 edit for words up to 4 letters and 2 for longer ones; null when none is.
     */
    static String closest(String word, Set<String> names) {
        String typed = word.toLowerCase(Locale.ROOT);
        int allowed = typed.length() <= 4 ? 1 : 2;
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String name : names) {
            int distance = distance(typed, name.toLowerCase(Locale.ROOT));
            if (distance <= allowed && distance < bestDistance) {
                best = name;
                bestDistance = distance;
            }
        }
        return best;
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
    private static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    /** "" at the root, "account " below it: how the user typed the command that failed. */
    private static String pathBelowRoot(CommandLine command) {
        StringBuilder path = new StringBuilder();
        for (CommandLine c = command; c.getParent() != null; c = c.getParent()) {
            path.insert(0, c.getCommandName() + " ");
        }
        return path.toString();
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "invalid arguments";
        }
        int newline = message.indexOf('\n');
        return (newline < 0 ? message : message.substring(0, newline)).strip();
    }
}
