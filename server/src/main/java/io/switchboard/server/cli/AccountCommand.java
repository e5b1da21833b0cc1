package io.switchboard.server.cli;

import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountException;
import io.switchboard.telephony.accounts.AccountStore;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * {@code switchboard account add|list|remove|passwd|set|import}: device accounts in the node's store.
 * Works whether a node runs on the same data dir or not; a running node sees a change within a
 * second (it polls the account revision).
 */
@Command(mixinStandardHelpOptions = true, name = "account", description = "Manage SIP device accounts (works while the node runs).")
public final class AccountCommand implements Runnable {
    /** The command with its subcommands, each reading config from {@code env} like {@code run} does. */
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new AccountCommand(), env, new Add(), new ListAccounts(), new Remove(), new Passwd(),
                new SetOptions(), new Import());
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "missing subcommand: add, list, remove, passwd, set or import");
    }

    /** Shared: open the store of the configured node, run an action on its accounts. */
    abstract static class AccountAction extends StoreAction {
        int withAccounts(Function<Context, Integer> action) {
            try {
                return withStore(List.of("telephony"), (store, nodeConfig) -> {
                    AccountStore accounts = new AccountStore(store.jdbi(), Clock.systemUTC());
                    // The domain a node on this store serves, so accounts land in the realm it challenges with
                    String defaultDomain = accounts.nodeDomain().orElse(nodeConfig.domain());
                    return action.apply(new Context(accounts, defaultDomain, () -> awaitRunningNodesPoll(store, nodeConfig)));
                });
            } catch (AccountException e) {
                return fail(e.getMessage());
            }
        }

        /** The password from the flag, else asked twice on a terminal, else the first line of stdin. */
        String password(String given) {
            try {
                return PasswordPrompt.read(given);
            } catch (PasswordPrompt.Unavailable e) {
                throw new AccountException(AccountException.Kind.INVALID, e.getMessage());
            }
        }
    }

    /** {@code settle}: after a change, waits for running nodes to take it (see {@link StoreAction#awaitRunningNodesPoll}). */
    record Context(AccountStore accounts, String defaultDomain, Runnable settle) {
        String domain(String given) {
            return given == null ? defaultDomain : given;
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "add", description = "Add an account; its password is stored only as digest HA1 values.")
    static final class Add extends AccountAction {
        @Parameters(paramLabel = "USER", description = "SIP username, e.g. 1001 or alice.")
        String user;

        @Option(names = "--password", paramLabel = "P", description = "Password (asked for when omitted).")
        String password;

        @Option(names = "--domain", paramLabel = "D", description = "Domain (realm); default: the node's domain.")
        String domain;

        @Option(names = "--digest", paramLabel = "ALG", description = {"Challenge this account with sha-256 only, or md5 only;",
                "default: as its domain and the node say (MD5 unless configured)."})
        String digest;

        @Override
        public Integer call() {
            return withAccounts(c -> {
                var choice = AccountStore.validDigest(digest); // before asking for a password
                Account a = c.accounts().add(user, c.domain(domain), password(password), choice);
                c.settle().run();
                say("added sip:" + a.address() + (a.digest() == null ? "" : " (digest " + a.digest().token() + ")"));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "list", description = "List accounts.")
    static final class ListAccounts extends AccountAction {
        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withAccounts(c -> {
                List<Account> all = c.accounts().list();
                for (Account a : all) {
                    say("sip:" + a.address() + "\tdigest " + (a.digest() == null ? "default" : a.digest().token())
                            + "\tcreated " + a.createdAt());
                }
                if (all.isEmpty()) {
                    say("no accounts; add one with: switchboard account add USER --password P");
                }
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "remove", description = "Remove an account.")
    static final class Remove extends AccountAction {
        @Parameters(paramLabel = "USER")
        String user;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withAccounts(c -> {
                c.accounts().remove(user, c.domain(domain));
                c.settle().run();
                say("removed sip:" + user + "@" + c.domain(domain));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "passwd", description = "Set a new password.")
    static final class Passwd extends AccountAction {
        @Parameters(paramLabel = "USER")
        String user;

        @Option(names = "--password", paramLabel = "P", description = "New password (asked for when omitted).")
        String password;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withAccounts(c -> {
                c.accounts().changePassword(user, c.domain(domain), password(password));
                c.settle().run();
                say("password changed for sip:" + user + "@" + c.domain(domain));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "set", description = "Change an account's settings.")
    static final class SetOptions extends AccountAction {
        @Parameters(paramLabel = "USER")
        String user;

        @Option(names = "--digest", paramLabel = "ALG", required = true, description = {
                "sha-256: challenge with SHA-256 only; md5: MD5 only;",
                "default: as its domain and the node say."})
        String digest;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withAccounts(c -> {
                Account a = c.accounts().setDigest(user, c.domain(domain), AccountStore.validDigest(digest));
                c.settle().run();
                say("sip:" + a.address() + " digest " + (a.digest() == null ? "default" : a.digest().token()));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "import", description = {"Add or update many accounts from a file of 'user;password' lines",
            "('#' starts a comment). One transaction: all lines or none."})
    static final class Import extends AccountAction {
        @Parameters(paramLabel = "FILE")
        Path file;

        @Option(names = "--domain", paramLabel = "D", description = "Domain; default: the node's domain.")
        String domain;

        @Override
        public Integer call() {
            List<String[]> pairs = new ArrayList<>();
            List<String> lines;
            try {
                lines = Files.readAllLines(file, StandardCharsets.UTF_8);
            } catch (java.nio.file.NoSuchFileException e) {
                return fail(file + ": no such file");
            } catch (java.nio.file.AccessDeniedException e) {
                return fail(file + ": permission denied");
            } catch (java.nio.charset.CharacterCodingException e) {
                return fail(file + ": is not UTF-8 text (expected user;password lines)");
            } catch (IOException e) {
                return fail("cannot read " + file + ": " + e.getMessage());
            }
            Map<String, Integer> lineOf = new java.util.HashMap<>();
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i).strip();
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                int sep = line.indexOf(';');
                if (sep <= 0) {
                    return fail(file + " line " + (i + 1) + ": expected user;password");
                }
                String user = line.substring(0, sep);
                try {
                    AccountStore.validUsername(user);
                    AccountStore.validPassword(line.substring(sep + 1));
                } catch (AccountException e) {
                    return fail(file + " line " + (i + 1) + " ('" + user + "'): " + e.getMessage());
                }
                Integer earlier = lineOf.putIfAbsent(user, i + 1);
                if (earlier != null) {
                    // the last line would silently win: which password was meant?
                    return fail(file + " line " + (i + 1) + ": " + user + " is given twice (also line " + earlier + ")");
                }
                pairs.add(new String[]{user, line.substring(sep + 1)});
            }
            return withAccounts(c -> {
                int written = c.accounts().importAll(pairs, c.domain(domain));
                c.settle().run();
                say("imported " + written + " accounts into " + c.domain(domain));
                return 0;
            });
        }
    }
}
