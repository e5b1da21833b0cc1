package io.switchboard.monitor.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.monitor.definition.DefinitionReader;
import io.switchboard.monitor.definition.DefinitionWriter;
import io.switchboard.monitor.definition.MaintenanceWindow;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;

/** /api/v1/maintenance-windows, for admins: times during which notifications are held back. */
public final class MaintenanceApi {
    private static final String BASE = "/api/v1/maintenance-windows";

    private final MonitorCatalog catalog;
    private final Runnable applyChanges;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;
    private final Clock clock;

    public MaintenanceApi(MonitorCatalog catalog, Runnable applyChanges, AdminAuth adminAuth, ObjectMapper json, Clock clock) {
        this.catalog = catalog;
        this.applyChanges = applyChanges;
        this.adminAuth = adminAuth;
        this.json = json;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.before(BASE, adminAuth::requireAdmin);
        routes.before(BASE + "/*", adminAuth::requireAdmin);
        routes.get(BASE, ApiSupport.takingNone(ctx -> ctx.json(Map.of("windows", catalog.windows().stream().map(this::view).toList()))));
        routes.get(BASE + "/{name}", ApiSupport.takingNone(ctx -> ctx.json(view(catalog.window(ctx.pathParam("name"))
                .orElseThrow(() -> ApiProblem.notFound("no maintenance window " + ctx.pathParam("name")))))));
        routes.put(BASE + "/{name}", ApiSupport.takingNone(this::put));
        routes.delete(BASE + "/{name}", ApiSupport.takingNone(ctx -> {
            ApiSupport.run(() -> catalog.removeWindow(ctx.pathParam("name")));
            applyChanges.run();
            ctx.status(204);
        }));
    }

    private void put(Context ctx) {
        String name = ctx.pathParam("name");
        JsonNode body = RequestBodies.object(json, ctx);
        JsonNode given = body.get("name");
        if (given != null && !given.isNull() && !name.equals(given.asText())) {
            throw ApiProblem.badRequest("'name': the body says " + given.asText() + " but the URL says " + name);
        }
        ((ObjectNode) body).put("name", name);
        // read-only, added by a GET: passed over so a GET edited and PUT back works
        ((ObjectNode) body).remove("activeNow");
        MaintenanceWindow window = ApiSupport.call(() -> DefinitionReader.maintenance(body));
        MonitorCatalog.Saved<MaintenanceWindow> saved = ApiSupport.call(() -> catalog.putWindow(window));
        applyChanges.run();
        if (saved.created()) {
            ctx.status(201).header("Location", BASE + "/" + name);
        }
        ctx.json(view(window));
    }

    private Map<String, Object> view(MaintenanceWindow window) {
        Map<String, Object> out = new LinkedHashMap<>(DefinitionWriter.maintenance(window));
        out.putIfAbsent("repeat", "none");
        out.putIfAbsent("monitors", java.util.List.of());
        out.put("activeNow", window.isActive(clock.instant()));
        return out;
    }
}
