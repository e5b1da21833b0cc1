package io.switchboard.platform.http;

import io.javalin.config.RoutesConfig;

/**
 * A module's contribution to the node's one HTTP server: REST routes, WebSocket endpoints,
 * before-handlers. Called once, before the server starts, with Javalin's route configuration:
 *
 * <pre>{@code
 * http.addRoutes(routes -> {
 *     routes.get("/api/v1/accounts", accounts::list);
 *     routes.before("/api/v1/accounts/*", adminAuth::requireAdmin);
 *     WebSocketUpgrades.register(routes, "/ws/chat", ws -> ws.onMessage(chat::onMessage));
 * });
 * }</pre>
 *
 * Register WebSocket endpoints through {@link WebSocketUpgrades}, not {@code routes.ws} alone:
 * it keeps Javalin's per-upgrade HTTP session (and its {@code JSESSIONID} cookie) out.
 *
 * Modules do not see each other's routes; a path registered twice fails the node's start.
 * Handlers run on virtual threads and may block. Throw {@link ApiProblem} for client errors.
 * Use paths under {@code /api/v1/<module>/} to stay clear of other modules.
 */
@FunctionalInterface
public interface HttpRoutes {
    void register(RoutesConfig routes);
}
