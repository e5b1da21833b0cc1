package io.switchboard.server.cli;

import io.switchboard.platform.cluster.ClusterSettings;
import io.switchboard.platform.cluster.ClusterTable;
import io.switchboard.platform.cluster.NodeIdentity;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;
import io.switchboard.server.node.NodeAssembly;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code switchboard cluster status}: the nodes in the configured store and their state, read
 * from the store itself (ages by the database's clock), so it works from any machine that reaches
 * the store, with or without a node running beside it.
 */
@Command(mixinStandardHelpOptions = true, name = "cluster", description = "The cluster's nodes as the shared store knows them.")
public final class ClusterCommand implements Runnable {
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new ClusterCommand(), env, new Status());
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: status");
    }

    @Command(mixinStandardHelpOptions = true, name = "status", description = {
            "Every node the store knows: state (alive, dead, left), last heartbeat, start, version, load, addresses.",
            "The node of this data directory is marked with *."})
    static final class Status extends StoreAction {
        @CommandLine.Option(names = "--node-id", paramLabel = "ID", description = {
                "The node to mark with *, as given to switchboard run --node-id (default: cluster.nodeId,",
                "else the id kept in the data directory)."})
        String nodeId;

        @Override
        public Integer call() {
            // Checked before the store is opened (or created): a bad block is one line, exit 2.
            ClusterSettings settings = ClusterSettings.from(
                    NodeAssembly.configLoader().load(config.configFile, env, config.flags()).section("cluster"));
            return withStore(List.of(), true, (store, nodeConfig) -> {
                String self = nodeId != null ? nodeId
                        : settings.nodeId().orElseGet(() -> keptId(nodeConfig.dataDir()).orElse(null));
                List<NodeRecord> nodes = new ClusterTable(store.jdbi(), store.isSqlite()).read(self, settings.expiry());
                say(String.format("%d alive, %d dead, %d left (expiry %d ms)", count(nodes, NodeState.ALIVE),
                        count(nodes, NodeState.DEAD), count(nodes, NodeState.LEFT), settings.expiry().toMillis()));
                if (nodes.isEmpty()) {
                    say("no nodes have registered in this store yet; start one with: switchboard run");
                    return 0;
                }
                List<String[]> rows = new ArrayList<>();
                rows.add(new String[] {"NODE", "STATE", "HEARTBEAT", "STARTED", "VERSION", "LOAD", "ADDRESSES"});
                for (NodeRecord node : nodes) {
                    rows.add(new String[] {
                        (node.self() ? "*" : "") + node.id(),
                        node.state().label(),
                        age(node.heartbeatAgeMs()) + " ago",
                        node.started().toString().replaceFirst("\\.\\d+Z$", "Z"),
                        node.version(),
                        node.loadAverage() == null ? "-" : String.format("%.2f", node.loadAverage()),
                        // by name, the same order on every line; an empty one (a node holding no
                        // floating address) left out
                        new java.util.TreeMap<>(node.addresses()).entrySet().stream()
                                .filter(e -> !addressText(e.getValue()).isEmpty())
                                .map(e -> e.getKey() + "=" + addressText(e.getValue()))
                                .collect(Collectors.joining(" "))});
                }
                table(rows);
                if (nodeId != null && nodes.stream().noneMatch(NodeRecord::self)) {
                    say("(no node named " + nodeId + " in this store)");
                }
                return 0;
            });
        }

        private static long count(List<NodeRecord> nodes, NodeState state) {
            return nodes.stream().filter(n -> n.state() == state).count();
        }

        private static Optional<String> keptId(Path dataDir) {
            try {
                return Optional.of(Files.readString(dataDir.resolve(NodeIdentity.FILE)).strip());
            } catch (IOException e) {
                return Optional.empty();
            }
        }

        private static String addressText(Object value) {
            return value instanceof List<?> list ? list.stream().map(String::valueOf).collect(Collectors.joining(","))
                    : String.valueOf(value);
        }

        static String age(long ms) {
            if (ms < 10_000) {
                return String.format("%.1fs", ms / 1000.0);
            }
            if (ms < 120_000) {
                return ms / 1000 + "s";
            }
            if (ms < 7_200_000) {
                return ms / 60_000 + "m";
            }
            return ms / 3_600_000 + "h";
        }

        private void table(List<String[]> rows) {
            int columns = rows.getFirst().length;
            int[] widths = new int[columns];
            for (String[] row : rows) {
                for (int i = 0; i < columns; i++) {
                    widths[i] = Math.max(widths[i], row[i].length());
                }
            }
            for (String[] row : rows) {
                StringBuilder line = new StringBuilder();
                for (int i = 0; i < columns; i++) {
                    line.append(i == columns - 1 ? row[i] : String.format("%-" + widths[i] + "s  ", row[i]));
                }
                say(line.toString().stripTrailing());
            }
        }
    }
}
