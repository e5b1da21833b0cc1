package io.switchboard.server.node;

import io.micrometer.core.instrument.Gauge;
import io.switchboard.chat.Chat;
import io.switchboard.monitor.Monitor;
import io.switchboard.telephony.Telephony;
import io.switchboard.platform.config.ListenAddress;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.config.NodeConfigLoader;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.lifecycle.NodeModule;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wiring: which feature modules this build's node runs, in order. This is the one place
 * that knows all modules; they do not know each other.
 *
 * <p>To add a module: put its facade (a {@link NodeModule}) in {@link #modules()}. Its name
 * becomes an allowed config section, its migrations run, and its {@code assemble} adds routes,
 * readiness checks, meters, components and listeners.
 */
public final class NodeAssembly {
    private static final Logger log = LoggerFactory.getLogger(NodeAssembly.class);
    /** The module that opens {@link NodeConfig#sipListeners()}. */
    private static final String SIP_MODULE = "telephony";

    private NodeAssembly() {
    }

    /** Feature modules in start order. Telephony (which opens the SIP listeners) goes here. */
    public static List<NodeModule> modules() {
        return List.of(new Telephony(), new Chat(), new Monitor());
    }

    /** A loader that accepts exactly the config sections of the wired modules. */
    public static NodeConfigLoader configLoader() {
        return new NodeConfigLoader(modules().stream().map(NodeModule::name).toList());
    }

    /** A node with every wired module and the server's own routes; not started. */
    public static Node create(NodeConfig config) {
        return create(config, modules());
    }

    /** A node with the given module instances (tests keep them to ask, say, for bound SIP ports). */
    public static Node create(NodeConfig config, List<NodeModule> modules) {
        Node node = new Node(config, modules);
        node.http().addRoutes(new NodeInfoRoutes(node));
        // /readyz as a meter, for alerting rules (dist/prometheus): a node that is up but not ready
        // shows only here, since Prometheus's own `up` stays 1.
        Gauge.builder("switchboard.node.ready", node.readiness(), readiness -> readiness.isReady() ? 1 : 0)
                .description("1 when /readyz answers 200; 0 while starting, draining or with a failing check")
                .register(node.metrics().registry());
        reportSipListeners(config, modules);
        return node;
    }

    private static void reportSipListeners(NodeConfig config, List<NodeModule> modules) {
        if (config.sipListeners().isEmpty()) {
            log.info("SIP: no listeners configured");
            return;
        }
        // The telephony module opens the SIP listeners and logs each one. Without it, say so
        // plainly instead of letting the operator believe SIP is being served.
        if (modules.stream().noneMatch(module -> module.name().equals(SIP_MODULE))) {
            log.warn("SIP: this build wires no {} module; not listening on {}", SIP_MODULE,
                    config.sipListeners().stream().map(ListenAddress::toString).collect(Collectors.joining(", ")));
        }
    }
}
