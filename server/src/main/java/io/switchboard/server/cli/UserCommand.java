package io.switchboard.server.cli;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.auth.Person;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.auth.PersonRules;
import io.switchboard.platform.http.ApiProblem;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code switchboard user add|list|remove|passwd|unlock}: people who sign in (chat, API, console),
 * in the node's store. A running node on the same store sees a change within a second (it polls the
 * people revision the change moved): a removed person's or changed password's old tokens stop
 * working, and an unlocked user may sign in again.
 */
@Command(mixinStandardHelpOptions = true, name = "user", description = "Manage people who sign in (works while the node runs).")
public final class UserCommand implements Runnable {
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new UserCommand(), env, new Add(), new ListUsers(), new Remove(), new Passwd(),
                new Unlock());
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: add, list, remove, passwd or unlock");
    }

    abstract static class UserAction extends StoreAction {
        int withPeople(Function<PersonAuth, Integer> action) {
            try {
                return withStore(List.of(), (store, nodeConfig) -> action.apply(PersonAuth.fromConfig(
                        nodeConfig.section("auth"), store.jdbi(), Clock.systemUTC(), new SimpleMeterRegistry())));
            } catch (ApiProblem e) {
                return fail(e.detail().replace("'", ""));
            } catch (PasswordPrompt.Unavailable e) {
                return fail(e.getMessage());
            }
        }

        Person find(PersonAuth people, String username) {
            return people.people().byUsername(PersonRules.username(username))
                    .orElseThrow(() -> ApiProblem.notFound("no user " + username));
        }

    }

    @Command(mixinStandardHelpOptions = true, name = "add", description = "Add a person; the password is stored only as a salted Argon2id hash.")
    static final class Add extends UserAction {
        @Parameters(paramLabel = "USERNAME", description = "3-32 of a-z 0-9 . _ - (case does not matter).")
        String username;

        @Option(names = "--password", paramLabel = "P", description = "Password, 8-256 characters (asked for when omitted).")
        String password;

        @Option(names = "--display-name", paramLabel = "NAME", description = "How the person is shown, e.g. 'Anna, flat 42'.")
        String displayName;

        @Option(names = "--admin", description = "May use the admin API with their own access token.")
        boolean admin;

        @Override
        public Integer call() {
            return withPeople(people -> {
                Person person = people.create(username, PasswordPrompt.read(password), displayName, admin);
                say("added " + person.username() + (person.admin() ? " (admin)" : "") + " id " + person.id());
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "list", description = "List people.")
    static final class ListUsers extends UserAction {
        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withPeople(people -> {
                String after = null;
                int shown = 0;
                while (true) {
                    List<Person> page = people.people().list("", after, 500);
                    for (Person p : page) {
                        // the same four columns for everyone, so a display name reading "admin" is not a role
                        say(p.username() + "\t" + (p.admin() ? "admin" : "person") + "\t"
                                + (p.displayName() == null ? "-" : p.displayName()) + "\t" + p.id());
                    }
                    shown += page.size();
                    if (page.size() < 500) {
                        break;
                    }
                    after = page.getLast().username();
                }
                if (shown == 0) {
                    say("no users; add one with: switchboard user add NAME --password P");
                }
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "remove", description = "Remove a person; their sessions end.")
    static final class Remove extends UserAction {
        @Parameters(paramLabel = "USERNAME")
        String username;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withPeople(people -> {
                Person person = find(people, username);
                people.remove(person.id());
                say("removed " + person.username());
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "unlock", description = {
            "Clear a person's sign-in lockout on every node within a second.",
            "Their failed sign-ins are forgotten, so the right password works again at once",
            "(failures counted per address stay)."})
    static final class Unlock extends UserAction {
        @Parameters(paramLabel = "USERNAME")
        String username;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withPeople(people -> {
                Person person = find(people, username);
                people.unlock(person.username());
                say("sign-in lockout of " + person.username() + " cleared");
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "passwd", description = "Set a new password; the person's sessions end.")
    static final class Passwd extends UserAction {
        @Parameters(paramLabel = "USERNAME")
        String username;

        @Option(names = "--password", paramLabel = "P", description = "New password (asked for when omitted).")
        String password;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withPeople(people -> {
                Person person = find(people, username);
                people.setPassword(person.id(), PasswordPrompt.read(password));
                say("password changed for " + person.username());
                return 0;
            });
        }
    }
}
