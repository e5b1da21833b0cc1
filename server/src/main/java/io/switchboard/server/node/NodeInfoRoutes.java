package io.switchboard.server.node;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.http.HttpRoutes;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.Main;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code GET /api/v1/node} (admin): what this node is and how it is configured, secrets
 * masked, so an operator can check a running node without reading its log.
 */
final class NodeInfoRoutes implements HttpRoutes {
    private final Node node;

    NodeInfoRoutes(Node node) {
        this.node = node;
    }

    @Override
    public void register(RoutesConfig routes) {
        routes.get("/api/v1/node", this::info);
    }

    private void info(Context ctx) {
        node.adminAuth().requireAdmin(ctx);
        long uptimeMillis = ManagementFactory.getRuntimeMXBean().getUptime();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("version", Main.version());
        body.put("domain", node.config().domain());
        body.put("startedAt", Instant.now().minusMillis(uptimeMillis));
        body.put("uptimeSeconds", Duration.ofMillis(uptimeMillis).toSeconds());
        body.put("http", node.http().boundAddress().toString());
        body.put("config", node.config().describe());
        ctx.json(body);
    }
}
