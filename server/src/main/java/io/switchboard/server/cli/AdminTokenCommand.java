package io.switchboard.server.cli;

import io.switchboard.platform.auth.AdminTokens;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.store.Store;
import io.switchboard.server.node.NodeAssembly;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(mixinStandardHelpOptions = true, name = "token", description = {
        "Create a new admin API token and print it on stdout (the only time it is shown).",
        "Works on the node's store (--data-dir, or store.url from --config / SWITCHBOARD_STORE_URL),",
        "also while the node runs."})
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

    @Override
    public Integer call() {
        NodeConfig nodeConfig = NodeAssembly.configLoader().load(config.configFile, env, config.flags());
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
}
