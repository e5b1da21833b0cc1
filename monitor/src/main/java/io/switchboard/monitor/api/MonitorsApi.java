package io.switchboard.monitor.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.monitor.definition.DefinitionReader;
import io.switchboard.monitor.definition.DefinitionWriter;
import io.switchboard.monitor.definition.MonitorCatalog;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.history.ResultStore;
import io.switchboard.monitor.history.StoredResult;
import io.switchboard.monitor.incident.IncidentTracker;
import io.switchboard.monitor.incident.StateSnapshot;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/monitors, for admins: create, read, replace, delete, pause and resume monitors, and read
 * their state, recent results, uptime and aggregates. A write is answered after it is committed
 * and applied to this node's schedule; other nodes and the CLI see it within a second.
 */
public final class MonitorsApi {
    static final List<Duration> WINDOWS = List.of(Duration.ofHours(24), Duration.ofDays(7), Duration.ofDays(30));
    private static final List<String> WINDOW_NAMES = List.of("24h", "7d", "30d");

    private final MonitorCatalog catalog;
    private final Runnable applyChanges;
    private final IncidentTracker tracker;
    private final ResultStore results;
    private final AdminAuth adminAuth;
    private final ObjectMapper json;

    public MonitorsApi(MonitorCatalog catalog, Runnable applyChanges, IncidentTracker tracker, ResultStore results,
                       AdminAuth adminAuth, ObjectMapper json) {
        this.catalog = catalog;
        this.applyChanges = applyChanges;
        this.tracker = tracker;
        this.results = results;
        this.adminAuth = adminAuth;
        this.json = json;
    }

    public void register(RoutesConfig routes) {
        routes.before("/api/v1/monitors", adminAuth::requireAdmin);
        routes.before("/api/v1/monitors/*", adminAuth::requireAdmin);
        routes.get("/api/v1/monitors", ApiSupport.takingNone(this::list));
        routes.post("/api/v1/monitors", ApiSupport.takingNone(this::create));
        routes.get("/api/v1/monitors/{name}", ApiSupport.takingNone(this::get));
        routes.put("/api/v1/monitors/{name}", ApiSupport.takingNone(this::put));
        routes.delete("/api/v1/monitors/{name}", ApiSupport.takingNone(this::remove));
        routes.post("/api/v1/monitors/{name}/pause", ApiSupport.takingNone(ctx -> pause(ctx, true)));
        routes.post("/api/v1/monitors/{name}/resume", ApiSupport.takingNone(ctx -> pause(ctx, false)));
        routes.get("/api/v1/monitors/{name}/results", ApiSupport.taking(java.util.Set.of("limit", "before"), this::results));
        routes.get("/api/v1/monitors/{name}/uptime", ApiSupport.takingNone(this::uptime));
        routes.get("/api/v1/monitors/{name}/history", ApiSupport.taking(java.util.Set.of("period", "from", "to"), this::history));
    }

    private void list(Context ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        Map<String, Instant> paused = catalog.pausedAt(); // once for the list, not once per paused monitor
        for (MonitorDefinition m : catalog.monitors()) {
            out.add(view(m, paused));
        }
        ctx.json(Map.of("monitors", out));
    }

    private void create(Context ctx) {
        MonitorDefinition monitor = ApiSupport.call(() -> DefinitionReader.monitor(RequestBodies.object(json, ctx)));
        ApiSupport.call(() -> {
            DefinitionReader.requireFilesHere(monitor);
            return catalog.createMonitor(monitor);
        });
        applyChanges.run();
        ctx.status(201).header("Location", "/api/v1/monitors/" + monitor.name()).json(view(monitor));
    }

    private void put(Context ctx) {
        String name = ctx.pathParam("name");
        JsonNode body = RequestBodies.object(json, ctx);
        JsonNode given = body.get("name");
        if (given != null && !given.isNull() && !name.equals(given.asText())) {
            throw ApiProblem.badRequest("'name': the body says " + given.asText() + " but the URL says " + name
                    + "; renaming is a DELETE and a POST");
        }
        ((ObjectNode) body).put("name", name);
        // what a GET adds to the definition is read-only and passed over, so a GET edited and
        // PUT back works (any other unknown key stays a 400)
        ((ObjectNode) body).remove(List.of("state", "uptime"));
        MonitorDefinition monitor = ApiSupport.call(() -> DefinitionReader.monitor(body));
        MonitorCatalog.Saved<MonitorDefinition> saved = ApiSupport.call(() -> {
            DefinitionReader.requireFilesHere(monitor);
            return catalog.putMonitor(monitor);
        });
        applyChanges.run();
        if (saved.created()) {
            ctx.status(201).header("Location", "/api/v1/monitors/" + name);
        }
        ctx.json(view(monitor));
    }

    private void get(Context ctx) {
        MonitorDefinition monitor = find(ctx.pathParam("name"));
        Map<String, Object> out = view(monitor);
        out.put("uptime", uptimeView(monitor.name()));
        ctx.json(out);
    }

    private void remove(Context ctx) {
        ApiSupport.run(() -> catalog.removeMonitor(ctx.pathParam("name")));
        applyChanges.run();
        ctx.status(204);
    }

    private void pause(Context ctx, boolean paused) {
        MonitorDefinition monitor = ApiSupport.call(() -> catalog.setPaused(ctx.pathParam("name"), paused));
        applyChanges.run();
        ctx.json(view(monitor));
    }

    private void results(Context ctx) {
        MonitorDefinition monitor = find(ctx.pathParam("name"));
        int limit = ApiSupport.intParam(ctx, "limit", 50, 1, 1000);
        // an instant, as the other lists' times take (nextBefore gives epoch milliseconds, also taken)
        Instant before = ApiSupport.instantParam(ctx, "before");
        List<StoredResult> rows = results.recent(monitor.name(), limit, before == null ? null : before.toEpochMilli());
        List<Map<String, Object>> out = new ArrayList<>();
        for (StoredResult r : rows) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("startedAt", r.startedAt().toString());
            v.put("status", r.status());
            v.put("latencyMs", r.latencyMillis());
            v.put("latenessMs", r.latenessMillis());
            v.put("error", r.error());
            v.put("details", r.details());
            out.add(v);
        }
        Map<String, Object> page = new LinkedHashMap<>();
        page.put("results", out);
        page.put("nextBefore", rows.size() == limit ? rows.getLast().startedAt().toEpochMilli() : null);
        ctx.json(page);
    }

    private void uptime(Context ctx) {
        MonitorDefinition monitor = find(ctx.pathParam("name"));
        ctx.json(uptimeView(monitor.name()));
    }

    private void history(Context ctx) {
        MonitorDefinition monitor = find(ctx.pathParam("name"));
        String period = ApiSupport.choice(ctx, "period", List.of("hour", "day"));
        period = period == null ? "hour" : period;
        Instant to = ApiSupport.instantParam(ctx, "to");
        to = to == null ? Instant.now() : to;
        Instant from = ApiSupport.instantParam(ctx, "from");
        from = from == null ? to.minus(period.equals("day") ? Duration.ofDays(30) : Duration.ofHours(48)) : from;
        if (!from.isBefore(to)) {
            throw ApiProblem.badRequest("'from' must be before 'to'");
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (ResultStore.Period p : results.periods(monitor.name(), period, from, to)) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("start", p.start().toString());
            v.put("checks", p.checks());
            v.put("up", p.up());
            v.put("degraded", p.degraded());
            v.put("down", p.down());
            v.put("uptimePercent", p.uptimePercent());
            v.put("p50Ms", p.p50Millis());
            v.put("p95Ms", p.p95Millis());
            out.add(v);
        }
        ctx.json(Map.of("period", period, "periods", out));
    }

    private Map<String, Object> uptimeView(String monitor) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<ResultStore.WindowSummary> summaries = results.summaries(monitor, WINDOWS);
        for (int i = 0; i < WINDOWS.size(); i++) {
            ResultStore.WindowSummary s = summaries.get(i);
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("uptimePercent", s.uptimePercent());
            v.put("checks", s.checks());
            v.put("up", s.up());
            v.put("degraded", s.degraded());
            v.put("down", s.down());
            v.put("p50Ms", s.p50Millis());
            v.put("p95Ms", s.p95Millis());
            v.put("averageMs", s.averageMillis());
            out.put(WINDOW_NAMES.get(i), v);
        }
        return out;
    }

    private MonitorDefinition find(String name) {
        return catalog.monitor(name).orElseThrow(() -> ApiProblem.notFound("no monitor " + name));
    }

    Map<String, Object> view(MonitorDefinition monitor) {
        return view(monitor, monitor.paused() ? catalog.pausedAt() : Map.of());
    }

    /** The monitor as the API shows it; {@code pausedAt}: when paused monitors were paused, by name. */
    private Map<String, Object> view(MonitorDefinition monitor, Map<String, Instant> pausedAt) {
        Map<String, Object> out = new LinkedHashMap<>(DefinitionWriter.monitor(monitor, DefinitionWriter.Secrets.MASK));
        out.putIfAbsent("paused", false);
        Map<String, Object> state = new LinkedHashMap<>();
        StateSnapshot s = tracker.state(monitor.name()).orElse(StateSnapshot.initial(monitor.name()));
        state.put("status", monitor.paused() ? "paused" : s.status().wireName());
        Instant paused = pausedAt.get(monitor.name());
        state.put("since", monitor.paused() ? (paused == null ? null : paused.toString()) : millis(s.statusSince()));
        state.put("lastCheckAt", millis(s.lastCheckAt()));
        state.put("lastLatencyMs", s.lastLatencyMs());
        state.put("lastError", s.lastError());
        state.put("lastSuccessAt", millis(s.lastSuccessAt()));
        state.put("consecutiveFailures", s.consecutiveFailures());
        state.put("consecutiveSuccesses", s.consecutiveSuccesses());
        state.put("openIncident", tracker.openIncident(monitor.name()).orElse(null));
        out.put("state", state);
        return out;
    }

    private static String millis(Long value) {
        return value == null ? null : Instant.ofEpochMilli(value).toString();
    }
}
