package io.switchboard.server.node;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.http.HttpRoutes;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.tls.ServerCredentials;
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
        body.put("http", node.http().servesHttp() ? node.http().boundAddress().toString() : "none");
        body.put("https", node.http().servesHttps() ? node.http().boundHttpsAddress().toString() : "none");
        node.certificate().ifPresent(certificate -> body.put("tls", certificate(certificate.current())));
        body.put("config", node.config().describe());
        ctx.json(body);
    }

    /** The certificate the node presents now: what an operator checks after a renewal. */
    private static Map<String, Object> certificate(ServerCredentials current) {
        Map<String, Object> tls = new LinkedHashMap<>();
        tls.put("subject", current.certificate().getSubjectX500Principal().getName());
        tls.put("names", current.names());
        tls.put("issuer", current.certificate().getIssuerX500Principal().getName());
        tls.put("serial", current.serial());
        tls.put("sha256", current.fingerprint());
        tls.put("notBefore", current.certificate().getNotBefore().toInstant());
        tls.put("notAfter", current.notAfter());
        tls.put("expiresInSeconds", Duration.between(Instant.now(), current.notAfter()).toSeconds());
        tls.put("clientCas", current.clientCas().size());
        return tls;
    }
}
