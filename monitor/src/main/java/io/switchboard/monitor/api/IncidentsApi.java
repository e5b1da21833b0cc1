package io.switchboard.monitor.api;

import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.monitor.incident.Incident;
import io.switchboard.monitor.incident.IncidentEvent;
import io.switchboard.monitor.incident.IncidentStore;
import io.switchboard.monitor.notify.DeliveryLog;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/incidents (newest first, with their reports) and /api/v1/notifications (every delivery
 * attempt), for admins.
 */
public final class IncidentsApi {
    private final IncidentStore incidents;
    private final DeliveryLog deliveries;
    private final AdminAuth adminAuth;
    private final java.util.function.Predicate<String> monitorExists;
    private final java.util.function.Predicate<String> channelExists;

    /**
     * @param monitorExists whether a monitor of that name is defined now
     * @param channelExists whether a notification channel of that name is defined now
     */
    public IncidentsApi(IncidentStore incidents, DeliveryLog deliveries, AdminAuth adminAuth,
                        java.util.function.Predicate<String> monitorExists, java.util.function.Predicate<String> channelExists) {
        this.incidents = incidents;
        this.deliveries = deliveries;
        this.adminAuth = adminAuth;
        this.monitorExists = monitorExists;
        this.channelExists = channelExists;
    }

    public void register(RoutesConfig routes) {
        routes.before("/api/v1/incidents", adminAuth::requireAdmin);
        routes.before("/api/v1/incidents/*", adminAuth::requireAdmin);
        routes.before("/api/v1/notifications", adminAuth::requireAdmin);
        routes.get("/api/v1/incidents", ApiSupport.taking(java.util.Set.of("status", "monitor", "limit", "before"), this::list));
        routes.get("/api/v1/incidents/{id}", ApiSupport.takingNone(this::get));
        routes.get("/api/v1/notifications", ApiSupport.taking(java.util.Set.of("incident", "monitor", "channel", "limit", "before"),
                this::notifications));
    }

    private void list(Context ctx) {
        String status = ApiSupport.choice(ctx, "status", List.of("open", "resolved"));
        int limit = ApiSupport.intParam(ctx, "limit", 50, 1, 500);
        Long before = ApiSupport.longParam(ctx, "before");
        String monitor = monitorParam(ctx);
        List<Incident> page = incidents.list(status, monitor, before, limit);
        if (page.isEmpty()) {
            // a removed monitor's incidents stay listed by its name; any other name is a mistake
            // (a typo would otherwise read as "no incidents"), answered as /monitors/{name} does
            requireKnownMonitor(monitor, () -> incidents.list(null, monitor, null, 1).isEmpty(), "incidents");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        java.util.Set<Long> told = incidents.told(page);
        out.put("incidents", page.stream().map(i -> view(i, told.contains(i.id()))).toList());
        out.put("nextBefore", page.size() == limit ? page.getLast().id() : null);
        ctx.json(out);
    }

    private void get(Context ctx) {
        long id;
        try {
            if (!io.switchboard.platform.config.AsciiDigits.of(ctx.pathParam("id"), 18)) {
                throw new NumberFormatException(); // ASCII digits only, as for every number the API reads
            }
            id = Long.parseLong(ctx.pathParam("id"));
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("'id': an incident id is a number (got '" + ctx.pathParam("id") + "')");
        }
        Incident incident = incidents.find(id).orElseThrow(() -> ApiProblem.notFound("no incident " + id));
        Map<String, Object> out = view(incident, incidents.told(List.of(incident)).contains(id));
        List<Map<String, Object>> timeline = new ArrayList<>();
        for (IncidentEvent e : incidents.events(id)) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("at", e.at().toString());
            v.put("kind", e.kind());
            v.put("detail", e.detail());
            timeline.add(v);
        }
        out.put("timeline", timeline);
        out.put("notifications", deliveries.list(id, null, null, null, 500).stream().map(IncidentsApi::view).toList());
        ctx.json(out);
    }

    private void notifications(Context ctx) {
        Long incident = ApiSupport.longParam(ctx, "incident");
        int limit = ApiSupport.intParam(ctx, "limit", 100, 1, 1000);
        Instant before = ApiSupport.instantParam(ctx, "before");
        String monitor = monitorParam(ctx);
        String channel = ctx.queryParam("channel");
        if (channel != null && channel.isBlank()) {
            throw ApiProblem.badRequest("'channel' is empty; leave it out to list every channel's");
        }
        List<DeliveryLog.Attempt> page = deliveries.list(incident, monitor, channel, before, limit);
        if (page.isEmpty()) {
            // a removed monitor that had incidents but nothing sent (no channels) is known all the same
            requireKnownMonitor(monitor, () -> deliveries.list(null, monitor, null, null, 1).isEmpty()
                    && incidents.list(null, monitor, null, 1).isEmpty(), "incidents or notifications");
            // likewise a channel: a removed one's deliveries stay listed by its name, a typo is 404
            if (incident != null && incidents.find(incident).isEmpty()) {
                throw ApiProblem.notFound("no incident " + incident);
            }
            if (channel != null && !channelExists.test(channel) && deliveries.list(null, null, channel, null, 1).isEmpty()) {
                throw ApiProblem.notFound("no channel " + channel + ", and no notifications to a removed channel of that name");
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("notifications", page.stream().map(IncidentsApi::view).toList());
        out.put("nextBefore", page.size() == limit ? page.getLast().at().toString() : null);
        ctx.json(out);
    }

    /** The {@code monitor} filter; null for none. Empty ({@code ?monitor=}) is a mistake, not "every monitor". */
    private static String monitorParam(Context ctx) {
        String monitor = ctx.queryParam("monitor");
        if (monitor != null && monitor.isBlank()) {
            throw ApiProblem.badRequest("'monitor' is empty; leave it out to list every monitor's");
        }
        return monitor;
    }

    /**
     * 404 for a {@code monitor} filter naming no monitor defined now and none that left {@code what}
     * behind (a removed one's history is still listed by its name); nothing for no filter.
     */
    private void requireKnownMonitor(String monitor, java.util.function.BooleanSupplier noHistory, String what) {
        if (monitor != null && !monitorExists.test(monitor) && noHistory.getAsBoolean()) {
            throw ApiProblem.notFound("no monitor " + monitor + ", and no " + what + " of a removed monitor of that name");
        }
    }

    /** @param told whether a DOWN or reminder went out (see {@link IncidentStore#told}) */
    static Map<String, Object> view(Incident i, boolean told) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("id", i.id());
        v.put("monitor", i.monitor());
        v.put("status", i.status());
        v.put("startedAt", text(i.startedAt()));
        v.put("openedAt", text(i.openedAt()));
        v.put("resolvedAt", text(i.resolvedAt()));
        v.put("failedChecks", i.failedChecks());
        v.put("firstError", i.firstError());
        v.put("lastError", i.lastError());
        v.put("lastSuccessAt", text(i.lastSuccessAt()));
        v.put("report", i.report());
        v.put("reportSource", i.reportSource());
        v.put("recoveryReport", i.recoveryReport());
        v.put("recoveryReportSource", i.recoveryReportSource());
        v.put("notified", told);
        return v;
    }

    static Map<String, Object> view(DeliveryLog.Attempt a) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("at", a.at().toString());
        v.put("incident", a.incidentId());
        v.put("monitor", a.monitor());
        v.put("channel", a.channel());
        v.put("channelType", a.channelType());
        v.put("event", a.event());
        v.put("attempt", a.attempt());
        v.put("outcome", a.outcome());
        v.put("error", a.error());
        v.put("durationMs", a.durationMillis());
        return v;
    }

    private static String text(Instant at) {
        return at == null ? null : at.toString();
    }
}
