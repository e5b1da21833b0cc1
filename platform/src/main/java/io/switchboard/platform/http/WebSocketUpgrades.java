package io.switchboard.platform.http;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.websocket.WsConfig;
import java.util.function.Consumer;

/**
 * Registers a module's WebSocket endpoint: an optional check before the upgrade, whose
 * {@link ApiProblem} becomes a problem-details refusal like any other request's, and no content
 * type on the 101.
 *
 * <p>Sessions: Javalin 7 asks for a servlet session on every upgrade request, even to a path
 * without an endpoint, before any route runs. {@link HttpServer} configures Jetty to keep none
 * and send no cookie, which covers every upgrade; nothing is needed here for that.
 */
public final class WebSocketUpgrades {
    private WebSocketUpgrades() {
    }

    /** A WebSocket endpoint at {@code path} whose upgrades are not checked. */
    public static void register(RoutesConfig routes, String path, Consumer<WsConfig> ws) {
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::noContentType);
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::versionThirteen);
        routes.ws(path, ws);
    }

    /**
     * A WebSocket endpoint at {@code path}; {@code check} runs before each upgrade and refuses it
     * by throwing (an {@link ApiProblem} becomes the response).
     */
    public static void register(RoutesConfig routes, String path, Handler check, Consumer<WsConfig> ws) {
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::noContentType);
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::versionThirteen);
        routes.wsBeforeUpgrade(path, check);
        routes.ws(path, ws);
    }

    /**
     * Answers a plain {@code GET} (and so {@code HEAD}) of the WebSocket endpoint at {@code path}
     * with 426 Upgrade Required and {@code Upgrade: websocket} (RFC 9110 §15.5.22: the server
     * MUST name the protocol to upgrade to) and a detail saying how to connect, instead of the
     * 404 a route-less path gets, which told someone checking with curl that there was no such
     * endpoint. The example URL is {@code wss://} when the request came over TLS: a client told
     * {@code ws://} at the HTTPS port would be answered with a 400 for plain HTTP there.
     *
     * @param query       what follows the path in the example ({@code ?access_token=<token>}), or ""
     * @param requirement what the client must also do, as words after the URL, or ""
     */
    public static void answerPlainRequests(RoutesConfig routes, String path, String query, String requirement) {
        routes.get(path, ctx -> {
            throw new ApiProblem(426, "Upgrade Required", "This is a WebSocket endpoint: connect with a WebSocket client,"
                    + " e.g. " + webSocketScheme(ctx) + "://<node>" + path + query + requirement + ".")
                    .withHeader("Upgrade", "websocket");
        });
    }

    /**
     * {@code wss} for a request that came over TLS (RFC 6455 §3), here or to a trusted proxy that
     * ended it and says so ({@code X-Forwarded-Proto: https}, the balancer of a cluster), else
     * {@code ws}. Only a trusted proxy's word counts: the header is the client's own otherwise.
     */
    static String webSocketScheme(Context ctx) {
        if (ctx.req().isSecure()) {
            return "wss";
        }
        String forwarded = ctx.header("X-Forwarded-Proto");
        boolean fromTrustedProxy = Boolean.TRUE.equals(ctx.attribute(TrustedProxies.PEER_IS_TRUSTED_PROXY));
        // a chain of proxies lists one scheme each; the first is what the client used
        return fromTrustedProxy && forwarded != null
                && forwarded.split(",")[0].strip().equalsIgnoreCase("https") ? "wss" : "ws";
    }

    /**
     * RFC 6455 §4.4: a version the server does not speak is answered 426 with the one it does
     * (Jetty would pass the request on as a plain GET, and the servlet's default answer is a 405).
     */
    private static void versionThirteen(Context ctx) {
        String version = ctx.header("Sec-WebSocket-Version");
        if (version != null && !version.strip().equals("13")) {
            throw new ApiProblem(426, "Upgrade Required", "WebSocket version " + version.strip()
                    + " is not spoken here; use version 13 (RFC 6455).").withHeader("Sec-WebSocket-Version", "13");
        }
    }

    /** A 101 carries no body, so no content type (a refusal sets its own). */
    private static void noContentType(Context ctx) {
        ctx.res().setContentType(null);
    }
}
