package io.switchboard.platform.auth;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.HttpRoutes;
import io.switchboard.platform.http.QueryParams;
import io.switchboard.platform.http.RequestBodies;
import io.switchboard.platform.http.TrustedProxies;
import io.switchboard.platform.http.Uuids;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * People over HTTP: sign-up, sign-in, refresh, sign-out ({@code /api/v1/auth/*}); one's own
 * profile and password ({@code /api/v1/me}); looking people up ({@code /api/v1/users}, any signed-in
 * person, to find whom to chat with); creating and removing people, setting passwords and clearing
 * sign-in lockouts ({@code /api/v1/users}, admin).
 */
public final class AuthApi implements HttpRoutes {
    private static final int MAX_LIST = 200;

    private final PersonAuth auth;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;

    public AuthApi(PersonAuth auth, AdminAuth adminAuth, ObjectMapper json) {
        this.auth = auth;
        this.adminAuth = adminAuth;
        this.json = json;
    }

    @Override
    public void register(RoutesConfig routes) {
        routes.post("/api/v1/auth/sign-up", this::signUp);
        routes.post("/api/v1/auth/sign-in", this::signIn);
        routes.post("/api/v1/auth/refresh", this::refresh);
        routes.post("/api/v1/auth/sign-out", this::signOut);
        routes.get("/api/v1/me", this::me);
        routes.put("/api/v1/me/password", this::changePassword);
        routes.post("/api/v1/me/sign-out-everywhere", this::signOutEverywhere);
        routes.get("/api/v1/users", this::list);
        routes.post("/api/v1/users", this::create);
        routes.get("/api/v1/users/{id}", this::show);
        routes.delete("/api/v1/users/{id}", this::remove);
        routes.put("/api/v1/users/{id}/password", this::setPassword);
        routes.post("/api/v1/users/{id}/unlock", this::unlock);
    }

    /**
     * Sign-up, sign-in, refresh and sign-out take no token, and bodies sent as {@code text/plain}
     * are read as JSON, so a page of any web site could send them through its visitors' browsers
     * (a form or {@code fetch} needs no CORS preflight for that): accounts made, or a visitor
     * signed in as someone else. A browser says where a request comes from; one from another
     * site is refused. {@code Sec-Fetch-Site} (Fetch Metadata) is what a browser sets and a proxy
     * leaves alone; a browser too old to send it is judged by {@code Origin} (RFC 6454 §7) against
     * the host it asked for: {@code Host}, or {@code X-Forwarded-Host} when a trusted proxy sent
     * the request (anyone else's would let the page name its own site there). Clients that are
     * not browsers send neither and are not affected. A refusal is counted under the operation's
     * meter ({@code switchboard.auth.<operation>{result="other_site"}}).
     *
     * @param operation the operation's meter: {@code sign_ups}, {@code sign_ins}, {@code refreshes}, {@code sign_outs}
     */
    private void refuseOtherSites(Context ctx, String operation) {
        String site = ctx.header("Sec-Fetch-Site");
        if (site != null) {
            site = site.strip().toLowerCase(java.util.Locale.ROOT);
            if (!site.equals("same-origin") && !site.equals("none")) {
                throw otherSite(operation, ctx.header("Origin"));
            }
            return;
        }
        String origin = ctx.header("Origin");
        if (origin == null) {
            return;
        }
        String authority;
        try {
            authority = java.net.URI.create(origin.strip()).getRawAuthority();
        } catch (IllegalArgumentException e) {
            authority = null; // "null" from a sandboxed page, or garbage: no site of the node's
        }
        String forwardedHost = TrustedProxies.forwardedHost(ctx);
        if (authority == null || !(authority.equalsIgnoreCase(String.valueOf(ctx.header("Host")))
                || (forwardedHost != null && authority.equalsIgnoreCase(forwardedHost.strip())))) {
            throw otherSite(operation, origin);
        }
    }

    private ApiProblem otherSite(String operation, String origin) {
        auth.count(operation, "other_site");
        return ApiProblem.forbidden("This request came from a page of another site"
                + (origin == null ? "" : " (" + (origin.length() > 80 ? origin.substring(0, 80) + "…" : origin) + ")")
                + ": signing up or in is only for pages served from the node's own origin.");
    }

    /** The body, a JSON object of no fields but {@code fields} (a misspelt one would be passed over). */
    private JsonNode body(Context ctx, String... fields) {
        JsonNode body = RequestBodies.object(json, ctx);
        RequestBodies.requireOnly(body, java.util.Set.of(fields));
        return body;
    }

    private void signUp(Context ctx) {
        refuseOtherSites(ctx, "sign_ups");
        JsonNode body = body(ctx, "username", "password", "displayName");
        PersonAuth.Session session = auth.signUp(text(body, "username"), text(body, "password"), text(body, "displayName"),
                ctx.ip());
        ctx.status(201).json(session(session.person(), session.tokens()));
    }

    private void signIn(Context ctx) {
        refuseOtherSites(ctx, "sign_ins");
        JsonNode body = body(ctx, "username", "password");
        PersonAuth.Session session = auth.signIn(text(body, "username"), text(body, "password"), ctx.ip());
        ctx.json(session(session.person(), session.tokens()));
    }

    private void refresh(Context ctx) {
        refuseOtherSites(ctx, "refreshes");
        JsonNode body = body(ctx, "refreshToken");
        String token = text(body, "refreshToken");
        if (token == null) {
            throw ApiProblem.badRequest("'refreshToken' is required.");
        }
        ctx.json(tokens(auth.refresh(token, ctx.ip())));
    }

    private void signOut(Context ctx) {
        refuseOtherSites(ctx, "sign_outs");
        JsonNode body = body(ctx, "refreshToken");
        String token = text(body, "refreshToken");
        if (token == null) {
            throw ApiProblem.badRequest("'refreshToken' is required.");
        }
        auth.tokens().revoke(token);
        ctx.status(204);
    }

    private void me(Context ctx) {
        Principal principal = auth.require(ctx);
        Person person = auth.people().byId(principal.personId())
                .orElseThrow(() -> ApiProblem.unauthorized("The person no longer exists."));
        ctx.json(view(person));
    }

    private void changePassword(Context ctx) {
        Principal principal = auth.require(ctx);
        JsonNode body = body(ctx, "currentPassword", "newPassword");
        auth.changePassword(principal, auth.sessionOf(ctx), text(body, "currentPassword"), text(body, "newPassword"));
        ctx.status(204);
    }

    private void signOutEverywhere(Context ctx) {
        Principal principal = auth.require(ctx);
        auth.signOutEverywhere(principal.personId());
        ctx.status(204);
    }

    /** Any signed-in person (or the admin) may look people up by user-name prefix: whom to chat with. */
    private void list(Context ctx) {
        requirePersonOrAdmin(ctx);
        String prefix = ctx.queryParam("username");
        String after = ctx.queryParam("after");
        int limit = QueryParams.intParam(ctx, "limit", 50, 1, MAX_LIST);
        List<Person> page = auth.people().list(prefix == null ? "" : PersonRules.fold(prefix),
                after, limit);
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("users", page.stream().map(AuthApi::view).toList());
        answer.put("nextAfter", page.size() == limit ? page.getLast().username() : null);
        ctx.json(answer);
    }

    private void show(Context ctx) {
        requirePersonOrAdmin(ctx);
        Person person = auth.people().byId(Uuids.folded(ctx.pathParam("id")))
                .orElseThrow(() -> ApiProblem.notFound("no user " + Uuids.folded(ctx.pathParam("id"))));
        ctx.json(view(person));
    }

    private void create(Context ctx) {
        adminAuth.requireAdmin(ctx);
        JsonNode body = body(ctx, "username", "password", "displayName", "admin");
        JsonNode admin = body.get("admin");
        if (admin != null && !admin.isBoolean()) {
            throw ApiProblem.badRequest("'admin' must be true or false.");
        }
        Person person = auth.create(text(body, "username"), text(body, "password"), text(body, "displayName"),
                admin != null && admin.asBoolean());
        ctx.status(201).json(view(person));
    }

    private void remove(Context ctx) {
        adminAuth.requireAdmin(ctx);
        if (!auth.remove(Uuids.folded(ctx.pathParam("id")))) {
            throw ApiProblem.notFound("no user " + Uuids.folded(ctx.pathParam("id")));
        }
        ctx.status(204);
    }

    private void setPassword(Context ctx) {
        adminAuth.requireAdmin(ctx);
        JsonNode body = body(ctx, "password");
        String id = Uuids.folded(ctx.pathParam("id"));
        if (auth.people().byId(id).isEmpty()) {
            throw ApiProblem.notFound("no user " + id);
        }
        auth.setPassword(id, text(body, "password"));
        ctx.status(204);
    }

    /** Clears the person's sign-in lockout on every node (admin). */
    private void unlock(Context ctx) {
        adminAuth.requireAdmin(ctx);
        Person person = auth.people().byId(Uuids.folded(ctx.pathParam("id")))
                .orElseThrow(() -> ApiProblem.notFound("no user " + Uuids.folded(ctx.pathParam("id"))));
        auth.unlock(person.username());
        ctx.status(204);
    }

    private void requirePersonOrAdmin(Context ctx) {
        if (BearerToken.from(ctx.header("Authorization")).filter(AdminAuth::isAdminToken).isPresent()) {
            adminAuth.requireAdmin(ctx);
        } else {
            auth.require(ctx);
        }
    }

    private static String text(JsonNode body, String field) {
        return RequestBodies.optionalText(body, field);
    }

    static Map<String, Object> view(Person person) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", person.id());
        view.put("username", person.username());
        view.put("displayName", person.displayName());
        view.put("admin", person.admin());
        view.put("createdAt", person.createdAt());
        return view;
    }

    private static Map<String, Object> session(Person person, SessionTokens.Issued issued) {
        Map<String, Object> answer = tokens(issued);
        answer.put("user", view(person));
        return answer;
    }

    private static Map<String, Object> tokens(SessionTokens.Issued issued) {
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("tokenType", "Bearer");
        answer.put("accessToken", issued.accessToken());
        answer.put("expiresIn", issued.expiresInSeconds());
        answer.put("refreshToken", issued.refreshToken());
        return answer;
    }
}
