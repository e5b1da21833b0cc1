package io.switchboard.server.cli;

import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.node.NodeAssembly;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(mixinStandardHelpOptions = true, name = "run", description = "Start a node and serve until SIGTERM or Ctrl-C.")
public final class RunCommand implements Callable<Integer> {
    private final Map<String, String> env;

    @Mixin
    ConfigOptions config;

    @Option(names = "--http", paramLabel = "HOST:PORT",
            description = "HTTP listen address, or none with --https (default 127.0.0.1:8080; env SWITCHBOARD_HTTP).")
    String http;

    @Option(names = "--https", paramLabel = "HOST:PORT",
            description = "HTTPS listen address; needs tls.certificate and tls.key (default none; env SWITCHBOARD_HTTPS).")
    String https;

    @Option(names = "--sip", paramLabel = "LIST",
            description = "SIP listeners, e.g. udp:0.0.0.0:5060,tcp:[::]:5060,tls:0.0.0.0:5061 (tls needs tls.certificate; default udp and tcp on 0.0.0.0:5060; "
                    + "env SWITCHBOARD_SIP).")
    String sip;

    @Option(names = "--domain", paramLabel = "NAME",
            description = "SIP domain served (default: this machine's host name; env SWITCHBOARD_DOMAIN).")
    String domain;

    @Option(names = "--node-id", paramLabel = "ID",
            description = "This node's id in the cluster (default: generated once and kept in the data directory;"
                    + " env SWITCHBOARD_CLUSTER_NODEID).")
    String nodeId;

    @Option(names = "--log-level", paramLabel = "LEVEL",
            description = "trace, debug, info, warn or error (default info; env SWITCHBOARD_LOG_LEVEL).")
    String logLevel;

    public RunCommand(Map<String, String> env) {
        this.env = env;
    }

    @Override
    public Integer call() throws InterruptedException {
        Map<String, String> flags = config.flags();
        putIfGiven(flags, "http", http);
        putIfGiven(flags, "https", https);
        putIfGiven(flags, "sip", sip);
        putIfGiven(flags, "domain", domain);
        putIfGiven(flags, "log.level", logLevel);
        putIfGiven(flags, "cluster.nodeid", nodeId); // the key SWITCHBOARD_CLUSTER_NODEID sets, so the flag wins over it
        NodeConfig nodeConfig = NodeAssembly.configLoader().load(config.configFile, env, flags);
        RootLogLevel.set(nodeConfig.logLevel());

        Node node = NodeAssembly.create(nodeConfig);
        node.stopOnSignals();
        node.start();
        node.awaitStopped();
        return 0;
    }

    private static void putIfGiven(Map<String, String> flags, String key, String value) {
        if (value != null) {
            flags.put(key, value);
        }
    }
}
