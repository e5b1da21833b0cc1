package io.switchboard.server.cli;

import io.switchboard.platform.cluster.ClusterSettings;
import io.switchboard.platform.cluster.ClusterTable;
import io.switchboard.platform.cluster.NodeIdentity;
import io.switchboard.platform.cluster.NodeState;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.store.Store;
import io.switchboard.server.node.NodeAssembly;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A subcommand that works on the store of the configured node ({@code --config}, {@code --data-dir},
 * the environment), whether a node runs on it or not: {@code account}, {@code number}, {@code user},
 * {@code monitor}. A running node sees the change within a second (it polls the revision the change
 * moved). Refusals are one line on stderr and exit code 2.
 */
abstract class StoreAction implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ConfigOptions config;

    Map<String, String> env = System.getenv();

    /** What a family's actions do with the opened store. */
    @FunctionalInterface
    interface StoreWork {
        int run(Store store, NodeConfig config);
    }

    /** The command {@code root} with {@code actions} as its subcommands, each reading config from {@code env}. */
    static CommandLine family(Object root, Map<String, String> env, StoreAction... actions) {
        CommandLine line = new CommandLine(root);
        for (StoreAction action : actions) {
            action.env = env;
            line.addSubcommand(action);
        }
        return line;
    }

    /**
     * Whether this command may make the SQLite store when there is none (it adds something a node
     * will find at its first start). Those that list, change or remove what must already be there
     * say no: on a mistyped --data-dir they refuse instead of making an empty store and answering
     * from it ("no users", exit 0).
     */
    boolean mayCreateStore() {
        return true;
    }

    /** Opens the configured store with the platform's and {@code modules}' tables migrated, and runs {@code work}. */
    int withStore(List<String> modules, StoreWork work) {
        return withStore(modules, false, work);
    }

    /**
     * As above; a command that only reads ({@code readOnly}) refuses an SQLite store that does not
     * exist yet instead of creating it (one line, exit 2): there is nothing to read, and a file
     * made in a mistyped or a PostgreSQL node's data directory would only mislead later. Nor does
     * it migrate: a store where no node ran (a database named by mistake) is one line, exit 2.
     */
    int withStore(List<String> modules, boolean readOnly, StoreWork work) {
        NodeConfig nodeConfig = NodeAssembly.configLoader().load(config.configFile, env, config.flags());
        RootLogLevel.set("warn");
        // before "no store at": where a node ran on PostgreSQL, what to give is its --config
        String elsewhere = storeElsewhere(nodeConfig);
        if (elsewhere != null) {
            return fail(elsewhere);
        }
        if ((readOnly || !mayCreateStore()) && nodeConfig.store().isSqlite()
                && !java.nio.file.Files.exists(nodeConfig.store().sqliteFile())) {
            return fail(noStore(nodeConfig));
        }
        if (config.configFile == null && config.dataDir == null && !env.containsKey("SWITCHBOARD_DATA_DIR")
                && !env.containsKey("SWITCHBOARD_STORE_URL")) {
            // The commonest slip: the node runs with --data-dir X and the command is typed without it.
            spec.commandLine().getErr().println("switchboard: no --data-dir or --config given: using the store in "
                    + nodeConfig.dataDir() + " (a node started without --data-dir)");
        }
        if (nodeConfig.store().isSqlite() && !java.nio.file.Files.exists(nodeConfig.store().sqliteFile())) {
            // Legitimate before a node's first start, but also what a mistyped --data-dir looks like.
            spec.commandLine().getErr().println("switchboard: no store at " + nodeConfig.store().sqliteFile()
                    + " yet: creating it (a node must run with this data dir to see what this command does)");
        }
        try (Store store = Store.open(nodeConfig.store())) {
            if (readOnly) {
                // reads only: tables are not made where none are (a store named by mistake), nor
                // brought up to this build's version (older nodes may still run on it)
                for (String module : concat("platform", modules)) {
                    Store.SchemaState schema = store.schemaState(module);
                    if (schema.current().isEmpty()) {
                        return fail(noTables(nodeConfig));
                    }
                    if (!schema.upToDate()) {
                        return fail("the " + module + " tables in the store at " + nodeConfig.store().maskedUrl() + " are at version "
                                + schema.current().get() + ", this switchboard reads version " + schema.newest()
                                + ": use the switchboard of the nodes running on it, or start a node of this version (it migrates)");
                    }
                }
                return work.run(store, nodeConfig);
            }
            if (!mayCreateStore() && store.schemaState("platform").current().isEmpty()) {
                // what must already be there (list, remove, passwd) is not looked for in a
                // database no node has run on, as on a missing SQLite file above
                return fail(noTables(nodeConfig));
            }
            store.migrate("platform");
            for (String module : modules) {
                store.migrate(module);
            }
            return work.run(store, nodeConfig);
        }
    }

    /**
     * Nothing to read at the SQLite file the settings name. When a data dir was named (and nothing
     * of a node is in it: {@link #storeElsewhere}), asking for the node's --data-dir again reads as
     * nonsense: what is missing is a node that ran there, or the store settings a node on
     * PostgreSQL runs with.
     */
    String noStore(NodeConfig nodeConfig) {
        if (config.dataDir != null || env.containsKey("SWITCHBOARD_DATA_DIR")) {
            return "no store at " + nodeConfig.store().sqliteFile() + ": no node has run with this data dir; check the path,"
                    + " or for a node on PostgreSQL give the store settings the node runs with: its --config, or"
                    + " SWITCHBOARD_STORE_URL, _USER and _PASSWORD";
        }
        return "no store at " + nodeConfig.store().sqliteFile() + ": give the node's --data-dir or --config,"
                + " or for a cluster on PostgreSQL its SWITCHBOARD_STORE_URL, _USER and _PASSWORD";
    }

    private static String noTables(NodeConfig nodeConfig) {
        return "no Switchboard tables in the store at " + nodeConfig.store().maskedUrl()
                + ": no node has run on it (is it the cluster's database?)";
    }

    /**
     * After a change running nodes take from the store by polling (accounts and numbers, every
     * {@code telephony.directoryPoll}): waits two polls when a node is alive on this store, so a
     * device that registers, or a call placed, the moment the command returns finds the change
     * (a device refused with 403 may not try again for a minute). No wait without a live node, or
     * with a poll over a second (then the change holds within that poll, as documented).
     */
    static void awaitRunningNodesPoll(Store store, NodeConfig nodeConfig) {
        try {
            Duration poll = nodeConfig.section("telephony").duration("directoryPoll", Duration.ofMillis(250));
            if (poll.compareTo(Duration.ofSeconds(1)) > 0) {
                return;
            }
            ClusterSettings cluster = ClusterSettings.from(nodeConfig.section("cluster"));
            boolean nodeAlive = new ClusterTable(store.jdbi(), store.isSqlite()).read(null, cluster.expiry()).stream()
                    .anyMatch(node -> node.state() == NodeState.ALIVE);
            if (nodeAlive) {
                Thread.sleep(poll.multipliedBy(2).plusMillis(100));
            }
        } catch (RuntimeException e) {
            // the change is stored: the nodes take it at their next poll, waited for or not
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * What a node leaves in its data directory, whatever its store: its id when generated, the
     * store's first admin token (the first node only), the lock it holds while it runs (kept after),
     * and the claim its membership row names. A node started with --node-id on PostgreSQL, not the
     * first of its store, leaves only the last two.
     */
    private static final List<String> NODE_FILES = List.of(io.switchboard.platform.lifecycle.Node.DATA_DIR_LOCK_FILE,
            io.switchboard.platform.cluster.DataDirClaim.FILE, NodeIdentity.FILE, io.switchboard.platform.auth.AdminTokens.TOKEN_FILE);

    /**
     * Why a command must not make an SQLite store here, or null: a node ran with this data dir
     * (one of {@link #NODE_FILES} is there) but keeps its store elsewhere (PostgreSQL, from its
     * --config). A store made here would be one no node reads; a token or account written to it
     * would silently not work, and {@code cluster status} would read "0 alive" from it.
     */
    static String storeElsewhere(NodeConfig nodeConfig) {
        java.nio.file.Path dir = nodeConfig.dataDir();
        if (!nodeConfig.store().isSqlite() || java.nio.file.Files.exists(nodeConfig.store().sqliteFile())) {
            return null;
        }
        List<String> found = NODE_FILES.stream().filter(name -> java.nio.file.Files.exists(dir.resolve(name))).toList();
        if (found.isEmpty()) {
            return null;
        }
        return "a node ran with " + dir + " but its store is not there (" + String.join(", ", found) + " there, no "
                + nodeConfig.store().sqliteFile().getFileName() + "): for a node on PostgreSQL give this command the"
                + " node's --config (or SWITCHBOARD_STORE_URL, _USER and _PASSWORD); if its SQLite file was moved or"
                + " deleted, or its first start failed, start the node (it makes a new one) and run the command then";
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> all = new java.util.ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return all;
    }

    /** One line on stderr, exit code 2. */
    int fail(String message) {
        spec.commandLine().getErr().println("switchboard: " + message);
        return 2;
    }

    /** One line of output; what it quotes (a server's answer, a device's name) cannot steer the terminal. */
    void say(String line) {
        spec.commandLine().getOut().println(TerminalSafeWriter.visible(line));
        spec.commandLine().getOut().flush();
    }
}
