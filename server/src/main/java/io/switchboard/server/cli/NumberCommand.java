package io.switchboard.server.cli;

import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.numbers.NumberEntry;
import io.switchboard.telephony.numbers.NumberException;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.telephony.numbers.RingGroup;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code switchboard number add|set|remove|list}: numbers (a flat, an extension, a ring group) and
 * the accounts each one rings. Works whether a node runs on the same data dir or not; a running
 * node sees a change within a second (it polls the number revision).
 */
@Command(mixinStandardHelpOptions = true, name = "number", description = "Manage numbers: what people dial and which accounts ring (works while the node runs).")
public final class NumberCommand implements Runnable {
    /** The command with its subcommands, each reading config from {@code env} like {@code run} does. */
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new NumberCommand(), env, new Add(), new SetMembers(), new Remove(), new ListNumbers());
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: add, set, remove or list");
    }

    /** Shared: open the store of the configured node, run an action on its numbers. */
    abstract static class NumberAction extends StoreAction {
        int withNumbers(Function<Context, Integer> action) {
            try {
                return withStore(List.of("telephony"), (store, nodeConfig) -> {
                    Clock clock = Clock.systemUTC();
                    // Numbers live in the domain a node on this store serves, like the accounts they ring
                    String defaultDomain = new AccountStore(store.jdbi(), clock).nodeDomain().orElse(nodeConfig.domain());
                    return action.apply(new Context(new NumberStore(store.jdbi(), clock), defaultDomain,
                            () -> awaitRunningNodesPoll(store, nodeConfig)));
                });
            } catch (NumberException e) {
                return fail(e.getMessage());
            }
        }
    }

    /** {@code settle}: after a change, waits for running nodes to take it (see {@link StoreAction#awaitRunningNodesPoll}). */
    record Context(NumberStore numbers, String defaultDomain, Runnable settle) {
        String domain(String given) {
            return given == null ? defaultDomain : given;
        }
    }

    static String describe(RingGroup group) {
        return group.uri() + " -> " + (group.members().isEmpty() ? "no accounts (calls get 480)"
                : String.join(", ", group.members()))
                + (group.label() == null ? "" : "\t(" + group.label() + ")");
    }

    @Command(mixinStandardHelpOptions = true, name = "add", description = {"Create a number ringing these accounts, or add them to an existing one.",
            "The number may not be an account's username in the same domain."})
    static final class Add extends NumberAction {
        @Parameters(paramLabel = "NUMBER", description = "1-32 digits, letters or * # + - . _, e.g. 42 or flat42.")
        String number;

        @Option(names = "--accounts", paramLabel = "USERS", split = ",", required = true,
                description = "Usernames of existing accounts, comma-separated: alice,bob.")
        List<String> accounts;

        @Option(names = "--label", paramLabel = "L", description = "A name for people, e.g. 'Flat 42'.")
        String label;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        public Integer call() {
            return withNumbers(c -> {
                NumberStore.Saved saved = c.numbers().addMembers(number, c.domain(domain), label, accounts);
                c.settle().run();
                say((saved.created() ? "added " : "updated ") + describe(saved.entry().group()));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "set", description = "Make a number ring exactly these accounts (creates it when missing).")
    static final class SetMembers extends NumberAction {
        @Parameters(paramLabel = "NUMBER")
        String number;

        @Option(names = "--accounts", paramLabel = "USERS", split = ",", required = true,
                description = "Usernames of existing accounts, comma-separated: alice,bob.")
        List<String> accounts;

        @Option(names = "--label", paramLabel = "L", description = "A name for people; '' removes it; default: keep.")
        String label;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        public Integer call() {
            return withNumbers(c -> {
                NumberStore.Saved saved = c.numbers().put(number, c.domain(domain), label, accounts);
                c.settle().run();
                say((saved.created() ? "added " : "set ") + describe(saved.entry().group()));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "remove", description = "Remove a number, or with --accounts only those accounts from it.")
    static final class Remove extends NumberAction {
        @Parameters(paramLabel = "NUMBER")
        String number;

        @Option(names = "--accounts", paramLabel = "USERS", split = ",",
                description = "Take only these accounts out of the number.")
        List<String> accounts;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withNumbers(c -> {
                if (accounts == null) {
                    c.numbers().remove(number, c.domain(domain));
                    c.settle().run();
                    say("removed sip:" + io.switchboard.sip.message.SipUri.escapeUser(number) + "@"
                            + NumberStore.validDomain(c.domain(domain)));
                } else {
                    NumberEntry entry = c.numbers().removeMembers(number, c.domain(domain), accounts);
                    c.settle().run();
                    say("updated " + describe(entry.group()));
                }
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "list", description = "List numbers and the accounts they ring.")
    static final class ListNumbers extends NumberAction {
        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withNumbers(c -> {
                List<NumberEntry> all = c.numbers().list();
                for (NumberEntry entry : all) {
                    say(describe(entry.group()));
                }
                if (all.isEmpty()) {
                    say("no numbers; add one with: switchboard number add 42 --accounts alice,bob");
                }
                return 0;
            });
        }
    }
}
