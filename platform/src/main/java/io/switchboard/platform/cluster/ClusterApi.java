package io.switchboard.platform.cluster;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.HttpRoutes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /api/v1/cluster} (admin): every node the store knows, its state (alive, dead, left),
 * addresses, version, start, the age of its last heartbeat and its load, and which one answered.
 * Read from the store at each request (ages are the database's); when the store does not answer,
 * the view this node last read, marked {@code "stale": true}. {@code strangers}: nodes this node
 * hears on the bus that are not in its store (another database shares the bus exchange; see
 * {@link ClusterMembership}), by id with the age of the last time heard.
 */
public final class ClusterApi implements HttpRoutes {
    private final ClusterMembership membership;
    private final ClusterTable table;
    private final AdminAuth adminAuth;

    public ClusterApi(ClusterMembership membership, ClusterTable table, AdminAuth adminAuth) {
        this.membership = membership;
        this.table = table;
        this.adminAuth = adminAuth;
    }

    @Override
    public void register(RoutesConfig routes) {
        routes.before("/api/v1/cluster", adminAuth::requireAdmin);
        routes.get("/api/v1/cluster", this::show);
    }

    private void show(Context ctx) {
        List<NodeRecord> nodes;
        boolean stale = false;
        try {
            nodes = table.read(membership.nodeId(), membership.expiry());
        } catch (RuntimeException e) {
            nodes = membership.view().nodes();
            stale = true;
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("self", membership.nodeId());
        body.put("member", membership.inGoodStanding());
        body.put("heartbeatMs", membership.heartbeat().toMillis());
        body.put("expiryMs", membership.expiry().toMillis());
        body.put("alive", nodes.stream().filter(NodeRecord::isAlive).count());
        if (stale) {
            body.put("stale", true);
        }
        body.put("nodes", nodes.stream().map(ClusterApi::node).toList());
        long now = System.currentTimeMillis();
        body.put("strangers", membership.strangers().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .map(stranger -> Map.of("id", stranger.getKey(), "lastHeardAgeMs", Math.max(0, now - stranger.getValue())))
                .toList());
        ctx.json(body);
    }

    static Map<String, Object> node(NodeRecord node) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("id", node.id());
        out.put("state", node.state().label());
        out.put("self", node.self());
        out.put("addresses", node.addresses());
        out.put("version", node.version());
        out.put("started", node.started().toString());
        out.put("lastHeartbeatAgeMs", node.heartbeatAgeMs());
        Map<String, Object> load = new LinkedHashMap<>();
        load.put("systemLoadAverage", node.loadAverage());
        out.put("load", load);
        return out;
    }
}
