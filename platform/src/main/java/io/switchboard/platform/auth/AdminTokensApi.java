package io.switchboard.platform.auth;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.HttpRoutes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code /api/v1/admin-tokens}, for admins: the admin tokens in the store, by id and label (never
 * the token), and revoking one. Creating tokens stays with the CLI ({@code switchboard admin
 * token}), which prints a token once to whoever holds the data directory or store.
 */
public final class AdminTokensApi implements HttpRoutes {
    private final AdminTokens tokens;
    private final AdminAuth adminAuth;

    public AdminTokensApi(AdminTokens tokens, AdminAuth adminAuth) {
        this.tokens = tokens;
        this.adminAuth = adminAuth;
    }

    @Override
    public void register(RoutesConfig routes) {
        routes.before("/api/v1/admin-tokens", adminAuth::requireAdmin);
        routes.before("/api/v1/admin-tokens/*", adminAuth::requireAdmin);
        routes.get("/api/v1/admin-tokens", this::list);
        routes.delete("/api/v1/admin-tokens/{id}", this::revoke);
    }

    private void list(Context ctx) {
        Optional<String> current = BearerToken.from(ctx.header("Authorization"))
                .filter(AdminAuth::isAdminToken).map(AdminTokens::idOfToken);
        List<Map<String, Object>> out = tokens.list().stream().map(info -> {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("id", info.id());
            view.put("label", info.label());
            view.put("createdAt", info.createdAt().toString());
            view.put("current", current.filter(info.id()::equals).isPresent());
            return view;
        }).toList();
        ctx.json(Map.of("adminTokens", out));
    }

    /** 204; 404 for an unknown id; 409 for the last token unless {@code ?force=true}. */
    private void revoke(Context ctx) {
        String force = ctx.queryParam("force");
        if (force != null && !force.equals("true") && !force.equals("false")) {
            throw ApiProblem.badRequest("'force' must be true or false.");
        }
        try {
            tokens.revoke(ctx.pathParam("id"), "true".equals(force));
        } catch (AdminTokens.UnknownToken e) {
            throw ApiProblem.notFound(e.getMessage());
        } catch (AdminTokens.LastToken e) {
            throw ApiProblem.conflict(e.getMessage().replace("force it", "add ?force=true"));
        }
        ctx.status(204);
    }
}
