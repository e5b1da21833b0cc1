package io.switchboard.server.cli;

import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.auth.AdminTokens;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.store.Store;
import io.switchboard.server.node.NodeAssembly;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code switchboard admin token [list|revoke ID]}: admin API tokens in the node's store. Without a
 * subcommand it creates one and prints it (the only time it is shown). Tokens are checked against
 * the store on every request, so a revoked one stops working at once on every node.
 */
@Command(mixinStandardHelpOptions = true, name = "token", description = {
        "Create a new admin API token and print it on stdout (the only time it is shown).",
        "'list' shows the tokens (id, created, label); 'revoke ID' ends one.",
        "Works on the node's store (--data-dir, or store.url from --config or SWITCHBOARD_STORE_URL).",
        "Works also while the node runs."})
public final class AdminTokenCommand implements Callable<Integer> {
    private final Map<String, String> env;

    @Spec
    CommandSpec spec;

    @Mixin
    ConfigOptions config;

    @Option(names = "--label", paramLabel = "TEXT", defaultValue = "cli",
            description = "What the token is for, kept beside its hash (default: ${DEFAULT-VALUE}).")
    String label;

    public AdminTokenCommand(Map<String, String> env) {
        this.env = env;
    }

    /** The command with its subcommands. */
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new AdminTokenCommand(env), env, new ListTokens(), new Revoke());
    }

    @Override
    public Integer call() {
        NodeConfig nodeConfig = NodeAssembly.configLoader().load(config.configFile, env, config.flags());
        String elsewhere = StoreAction.storeElsewhere(nodeConfig);
        if (elsewhere != null) {
            spec.commandLine().getErr().println("switchboard: " + elsewhere);
            return 2;
        }
        if (nodeConfig.store().sqliteFile() != null && !java.nio.file.Files.exists(nodeConfig.store().sqliteFile())) {
            // a token in a store no node uses (a mistyped --data-dir) opens nothing; a node's first
            // start writes its own token to <dataDir>/admin.token
            // with --data-dir given, asking for it again would read as nonsense: say what is missing
            boolean named = config.dataDir != null || env.containsKey("SWITCHBOARD_DATA_DIR");
            spec.commandLine().getErr().println("switchboard: no store at " + nodeConfig.store().sqliteFile()
                    + (named ? ": no node has run with this data dir; check the path, or for a node on PostgreSQL give the"
                            + " store settings the node runs with: its --config, or SWITCHBOARD_STORE_URL, _USER and _PASSWORD"
                            : ": give the node's --data-dir or --config (a node's first start writes a token to admin.token there)"));
            return 2;
        }
        // Only problems on stderr: the token on stdout is meant to be captured by scripts.
        RootLogLevel.set("warn");
        try (Store store = Store.open(nodeConfig.store())) {
            store.migrate("platform");
            String token = new AdminTokens(store.jdbi(), Clock.systemUTC()).create(label);
            spec.commandLine().getOut().println(token);
            spec.commandLine().getOut().flush();
        }
        return 0;
    }

    @Command(mixinStandardHelpOptions = true, name = "list",
            description = "List admin tokens: id, when created, label (never the token itself).")
    static final class ListTokens extends StoreAction {
        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withStore(List.of(), (store, nodeConfig) -> {
                List<AdminTokens.Info> tokens = new AdminTokens(store.jdbi(), Clock.systemUTC()).list();
                for (AdminTokens.Info token : tokens) {
                    say(token.id() + "\t" + token.createdAt() + "\t" + token.label());
                }
                if (tokens.isEmpty()) {
                    say("no admin tokens; make one with: switchboard admin token --label NAME");
                }
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "revoke", description = {
            "Revoke an admin token by its id (from 'list'); it stops working at once on every node.",
            "The last token is kept unless --force."})
    static final class Revoke extends StoreAction {
        @Parameters(paramLabel = "ID", description = "The token's id as 'list' shows it (12 hex digits).")
        String id;

        @Option(names = "--force", description = "Revoke it even if it is the last admin token.")
        boolean force;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withStore(List.of(), (store, nodeConfig) -> {
                try {
                    // the token itself given for its id (here only: a URL of the API would log it): revoke that one
                    String wanted = id != null && AdminAuth.isAdminToken(id.strip()) ? AdminTokens.idOfToken(id.strip()) : id;
                    AdminTokens.Info revoked = new AdminTokens(store.jdbi(), Clock.systemUTC()).revoke(wanted, force);
                    say("revoked admin token " + revoked.id() + " (" + revoked.label() + ")");
                    return 0;
                } catch (AdminTokens.UnknownToken e) {
                    return fail(e.getMessage());
                } catch (AdminTokens.LastToken e) {
                    return fail(e.getMessage().replace("force it", "use --force"));
                }
            });
        }
    }
}
