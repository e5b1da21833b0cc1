package io.switchboard.platform.http;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.websocket.WsConfig;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpSession;
import java.util.List;
import java.util.function.Consumer;

/**
 * Registers a module's WebSocket endpoint so that its upgrade leaves no HTTP session behind.
 *
 * <p>Javalin 7 snapshots the session attributes of every upgrade request when it builds the
 * upgrade context ({@code UpgradeRequestData.sessionAttributeMap} calls
 * {@code HttpServletRequest.getSession()}), so Jetty creates a servlet session for each upgrade,
 * refused or not, and sends its {@code JSESSIONID} cookie with the 101 or the refusal. The node
 * uses no sessions (clients authenticate with bearer tokens), and Jetty's default session handler
 * never expires them, so each upgrade would also leave a session in memory. The first
 * before-upgrade handler registered here invalidates that new session and takes its cookie off
 * the response, before the endpoint's own checks run (they may refuse the upgrade).
 *
 * <p>A refused upgrade answers with problem details like any other request: throw
 * {@link ApiProblem} from the check.
 */
public final class WebSocketUpgrades {
    private static final String DEFAULT_SESSION_COOKIE = "JSESSIONID";
    private static final String COOKIE_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT";

    private WebSocketUpgrades() {
    }

    /** A WebSocket endpoint at {@code path} whose upgrades are not checked. */
    public static void register(RoutesConfig routes, String path, Consumer<WsConfig> ws) {
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::discardSession);
        routes.ws(path, ws);
    }

    /**
     * A WebSocket endpoint at {@code path}; {@code check} runs before each upgrade and refuses it
     * by throwing (an {@link ApiProblem} becomes the response).
     */
    public static void register(RoutesConfig routes, String path, Handler check, Consumer<WsConfig> ws) {
        routes.wsBeforeUpgrade(path, WebSocketUpgrades::discardSession);
        routes.wsBeforeUpgrade(path, check);
        routes.ws(path, ws);
    }

    /**
     * Invalidates the session created for this upgrade request and removes its {@code Set-Cookie}
     * (and the {@code Expires} Jetty sends along with a cookie) from the response; a 101 also
     * carries no content type. A session the request already had
     * (not new) is left alone.
     */
    static void discardSession(Context ctx) {
        HttpServletResponse res = ctx.res();
        res.setContentType(null);
        HttpSession session = ctx.req().getSession(false);
        if (session == null || !session.isNew()) {
            return;
        }
        String id = session.getId();
        session.invalidate();
        String name = ctx.req().getServletContext().getSessionCookieConfig().getName();
        String cookie = (name == null ? DEFAULT_SESSION_COOKIE : name) + "=" + id;
        List<String> others = res.getHeaders("Set-Cookie").stream().filter(c -> !c.startsWith(cookie)).toList();
        res.setHeader("Set-Cookie", null); // Jetty removes the header
        others.forEach(c -> res.addHeader("Set-Cookie", c));
        if (others.isEmpty() && COOKIE_EXPIRES.equals(res.getHeader("Expires"))) {
            res.setHeader("Expires", null); // Jetty adds it with a cookie, to keep caches from storing it
        }
    }
}
