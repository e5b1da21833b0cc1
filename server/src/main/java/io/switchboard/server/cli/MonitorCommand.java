package io.switchboard.server.cli;

import io.switchboard.monitor.definition.Catalog;
import io.switchboard.monitor.definition.CatalogFile;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.DefinitionException;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.history.ResultStore;
import io.switchboard.monitor.incident.MonitorStatus;
import io.switchboard.monitor.incident.StateSnapshot;
import io.switchboard.platform.store.PrivateFile;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
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
 * {@code switchboard monitor import|export|list|pause|resume}: the monitor file and the monitors in
 * the node's store. Works whether a node runs on the same data dir or not; a running node sees a
 * change within a second (it polls the monitor revision).
 */
@Command(mixinStandardHelpOptions = true, name = "monitor",
        description = "Monitors, channels and maintenance windows from a YAML file (works while the node runs).")
public final class MonitorCommand implements Runnable {
    public static CommandLine commandLine(Map<String, String> env) {
        return StoreAction.family(new MonitorCommand(), env, new Import(), new Export(), new ListMonitors(), new Pause(),
                new Resume());
    }

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: import, export, list, pause or resume");
    }

    /** Shared: open the store of the configured node, run an action on its monitor catalog. */
    abstract static class MonitorAction extends StoreAction {
        int withCatalog(Function<MonitorCatalog, Integer> action) {
            return withCatalog(false, action);
        }

        /** As above; {@code readOnly}: list and export, which must not make a store where there is none (a mistyped --data-dir). */
        int withCatalog(boolean readOnly, Function<MonitorCatalog, Integer> action) {
            try {
                return withStore(List.of("monitor"), readOnly, (store, nodeConfig) ->
                        action.apply(new MonitorCatalog(store.jdbi(), Clock.systemUTC())));
            } catch (DefinitionException e) {
                return fail(e.describe());
            }
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "import", description = {
            "Create or replace the channels, monitors and maintenance windows of a YAML file, in one transaction.",
            "Nothing is changed when any entry is invalid."})
    static final class Import extends MonitorAction {
        @Parameters(paramLabel = "FILE", description = "The monitor file (YAML: channels, monitors, maintenance); - for stdin.")
        String file;

        @Option(names = "--prune", description = "Also remove monitors, windows and unused channels the file does not name.")
        boolean prune;

        @Option(names = "--allow-empty", description = "With --prune, accept a file that defines no monitors, and so remove them all.")
        boolean allowEmpty;

        /**
         * An import may make the store of a node named by --data-dir, --config or the environment,
         * to set it up before the node's first start; not the ./data a forgotten --data-dir falls
         * back to, where no node would ever check what it imported (exit 0 all the same).
         */
        @Override
        boolean mayCreateStore() {
            return config.configFile != null || config.dataDir != null || env.containsKey("SWITCHBOARD_DATA_DIR")
                    || env.containsKey("SWITCHBOARD_STORE_URL");
        }

        @Override
        public Integer call() {
            if (allowEmpty && !prune) {
                // on its own it changes nothing: most likely --prune was meant too, or neither
                return fail("--allow-empty goes with --prune (it lets a file that defines no monitors remove them all)");
            }
            String text;
            try {
                text = file.equals("-") ? StandardCharsets.UTF_8.newDecoder()
                        .decode(java.nio.ByteBuffer.wrap(System.in.readAllBytes())).toString()
                        : Files.readString(Path.of(file));
            } catch (NoSuchFileException e) {
                return fail(file + ": no such file");
            } catch (AccessDeniedException e) {
                return fail(file + ": permission denied");
            } catch (java.nio.charset.CharacterCodingException e) {
                return fail(file + ": is not UTF-8 text (a monitor file is YAML)");
            } catch (IOException e) {
                return fail(file + ": cannot be read: " + e.getMessage());
            }
            return withCatalog(catalog -> {
                Catalog content;
                try {
                    content = CatalogFile.read(text, new HashSet<>(catalog.channels().stream().map(ChannelDefinition::name).toList()));
                } catch (DefinitionException e) {
                    return fail(file + ": " + e.describe());
                }
                int stored = catalog.monitors().size();
                if (prune && !allowEmpty && content.monitors().isEmpty() && (stored > 0 || (content.channels().isEmpty()
                        && content.maintenance().isEmpty()))) {
                    // an empty or cut-off file (a failed download, a redirect gone wrong) would
                    // otherwise wipe the whole catalogue and exit 0
                    return fail(file + ": defines no monitors, and with --prune that would remove "
                            + (stored > 0 ? "all " + count(stored, "monitor") : "every channel and window")
                            + "; add --allow-empty if that is what you mean");
                }
                MonitorCatalog.ImportSummary summary;
                try {
                    summary = catalog.importCatalog(content, prune);
                } catch (DefinitionException e) {
                    return fail(file + ": " + e.describe());
                }
                MonitorCatalog.Counts all = summary.all();
                say("imported " + count(summary.channels().total(), "channel") + ", " + count(summary.monitors().total(), "monitor")
                        + ", " + count(summary.maintenance().total(), "maintenance window") + " from " + file + ": "
                        + all.added() + " added, " + all.changed() + " changed, " + all.unchanged() + " unchanged"
                        + (summary.removed().isEmpty() ? "" : "; removed " + String.join(", ", summary.removed())));
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "export", description = {
            "Write every channel, monitor and maintenance window as a monitor file (YAML) that import reads back.",
            "It holds the channels' secrets: a file is written readable by its owner only."})
    static final class Export extends MonitorAction {
        @Parameters(paramLabel = "FILE", arity = "0..1", description = "Where to write; default (or -): stdout.")
        String file;

        @Override
        public Integer call() {
            return withCatalog(true, catalog -> {
                Catalog written = catalog.load();
                String yaml = CatalogFile.write(written);
                if (file == null || file.equals("-")) {
                    spec.commandLine().getOut().print(yaml);
                    spec.commandLine().getOut().flush();
                    return 0;
                }
                Path target = Path.of(file).toAbsolutePath();
                if (Files.isDirectory(target)) {
                    return fail(file + ": is a directory; name a file in it, e.g. " + target.resolve("monitors.yaml"));
                }
                if (!Files.isDirectory(target.getParent())) {
                    // a mistyped path would otherwise get its directories made, and the secrets put there
                    return fail(file + ": no directory " + target.getParent());
                }
                try {
                    PrivateFile.write(target, yaml);
                } catch (IOException e) {
                    return fail(file + ": cannot be written: " + e.getMessage());
                }
                say("exported " + count(written.channels().size(), "channel") + ", " + count(written.monitors().size(), "monitor")
                        + ", " + count(written.maintenance().size(), "maintenance window") + " to " + file);
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "list",
            description = "List monitors: name, type, target, interval, state (as last stored), channels.")
    static final class ListMonitors extends MonitorAction {
        private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss 'UTC'").withZone(ZoneOffset.UTC);

        @Override
        public Integer call() {
            try {
                return withStore(List.of("monitor"), true, (store, nodeConfig) -> {
                    List<MonitorDefinition> all = new MonitorCatalog(store.jdbi(), Clock.systemUTC()).monitors();
                    Map<String, StateSnapshot> states = new ResultStore(store.jdbi(), Clock.systemUTC()).states();
                    for (MonitorDefinition m : all) {
                        say(m.name() + "\t" + m.type().wireName() + "\t" + m.target() + "\tevery " + DurationText.format(m.interval())
                                + "\t" + state(m, states.get(m.name()))
                                + (m.channels().isEmpty() ? "" : "\t-> " + String.join(", ", m.channels())));
                    }
                    if (all.isEmpty()) {
                        say("no monitors; import a file with: switchboard monitor import monitors.yaml");
                    }
                    return 0;
                });
            } catch (DefinitionException e) {
                return fail(e.describe());
            }
        }

        /** The monitor's standing as the node that checks it last stored it (a moment behind the API's). */
        static String state(MonitorDefinition monitor, StateSnapshot state) {
            if (monitor.paused()) {
                return "paused";
            }
            if (state == null || state.status() == MonitorStatus.UNKNOWN) {
                return "not checked yet";
            }
            String since = state.statusSince() == null ? "" : " since " + WHEN.format(Instant.ofEpochMilli(state.statusSince()));
            // one line per monitor, its columns split by tabs: an error text's own breaks become spaces
            String error = state.lastError() == null ? "" : ": " + state.lastError().replaceAll("[\\t\\r\\n]+", " ");
            return switch (state.status()) {
                case UP -> "up" + since;
                case DEGRADED -> "degraded" + since;
                case PENDING -> "failing (" + state.consecutiveFailures() + " in a row)" + error;
                case DOWN -> "DOWN" + since + error;
                case UNKNOWN -> "not checked yet";
            };
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "pause", description = "Stop checking a monitor (its history and incidents stay).")
    static final class Pause extends MonitorAction {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withCatalog(catalog -> {
                catalog.setPaused(name, true);
                say("paused " + name);
                return 0;
            });
        }
    }

    @Command(mixinStandardHelpOptions = true, name = "resume", description = "Check a paused monitor again.")
    static final class Resume extends MonitorAction {
        @Parameters(paramLabel = "NAME")
        String name;

        @Override
        boolean mayCreateStore() {
            return false;
        }

        @Override
        public Integer call() {
            return withCatalog(catalog -> {
                catalog.setPaused(name, false);
                say("resumed " + name);
                return 0;
            });
        }
    }

    static String count(int n, String what) {
        return n + " " + what + (n == 1 ? "" : "s");
    }
}
