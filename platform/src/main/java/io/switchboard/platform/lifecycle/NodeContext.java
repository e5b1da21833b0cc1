package io.switchboard.platform.lifecycle;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.http.HttpRoutes;
import io.switchboard.platform.http.HttpServer;
import io.switchboard.platform.store.Store;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What a {@link NodeModule} gets while it assembles: the node's shared machinery and the ways
 * to contribute to it. Valid only during {@link NodeModule#assemble(NodeContext)}; keep the
 * objects it hands out, not the context.
 */
public final class NodeContext {
    private final Node node;
    private final String moduleName;

    NodeContext(Node node, String moduleName) {
        this.node = node;
        this.moduleName = moduleName;
    }

    /**
     * This node's stable id in records it writes (call records, logs): {@code cluster.nodeId}, or
     * the one generated once and kept in the data directory.
     */
    public String nodeId() {
        return node.cluster().nodeId();
    }

    /**
     * The cluster: the live view, change notices, ownership of keys (rendezvous hashing over live
     * nodes) and leases for work done exactly once. A single node is a cluster of one.
     */
    public Cluster cluster() {
        return node.cluster();
    }

    public NodeConfig config() {
        return node.config();
    }

    /** This module's own config block (e.g. {@code telephony:}); empty when absent. */
    public ConfigSection section() {
        return node.config().section(moduleName);
    }

    /** The migrated store: {@code store().jdbi()} for queries. */
    public Store store() {
        return node.store();
    }

    /** Where to register meters; exported at {@code /metrics}. */
    public MeterRegistry meters() {
        return node.metrics().registry();
    }

    public Readiness readiness() {
        return node.readiness();
    }

    /** Guards admin routes: {@code routes.before("/api/v1/x/*", context.adminAuth()::requireAdmin)}. */
    public AdminAuth adminAuth() {
        return node.adminAuth();
    }

    /**
     * People and their access tokens: {@code context.personAuth().require(ctx)} in a handler gives
     * the person a request acts for, or answers 401.
     */
    public PersonAuth personAuth() {
        return node.personAuth();
    }

    /** Events within the node and, with a clustered bus, between nodes. */
    public Bus bus() {
        return node.bus();
    }

    /** The JSON mapper the HTTP server uses. */
    public ObjectMapper json() {
        return node.http().json();
    }

    /** Adds REST routes and WebSocket endpoints to the node's HTTP server. */
    public void addRoutes(HttpRoutes routes) {
        node.http().addRoutes(routes);
    }

    /** Adds a readiness check named {@code <module>.<name>}, e.g. {@code telephony.sip}. */
    public void addReadinessCheck(String name, Supplier<Optional<String>> check) {
        node.readiness().register(moduleName + "." + name, check);
    }

    /** Adds a component started after all modules are assembled and before HTTP starts. */
    public void addComponent(Component component) {
        node.addModuleComponent(component);
    }

    /**
     * Adds a listener: a component that accepts outside work (a SIP socket). Listeners start
     * last, after HTTP, and stop first.
     */
    public void addListener(Component listener) {
        node.addListener(listener);
    }

    /**
     * The node's TLS certificate for a module's TLS listener (SIP over TLS): take
     * {@code current()} when the listener starts and follow {@code onChange} for renewals. Empty
     * when the {@code tls:} block names none.
     */
    public Optional<io.switchboard.platform.tls.NodeCertificate> certificate() {
        return node.certificate();
    }

    /** For the server's wiring: the HTTP server itself (e.g. its bound port). */
    public HttpServer http() {
        return node.http();
    }
}
