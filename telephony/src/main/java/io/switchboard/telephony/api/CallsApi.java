package io.switchboard.telephony.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.QueryParams;
import io.switchboard.telephony.calls.ActiveCall;
import io.switchboard.telephony.calls.CallRecord;
import io.switchboard.telephony.calls.CallRecordStore;
import io.switchboard.telephony.calls.CallTracker;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * /api/v1/calls (calls in progress on this node) and /api/v1/call-records (history), for admins.
 * Handlers run on virtual threads and may use the store directly.
 */
public final class CallsApi {
    static final int DEFAULT_LIMIT = 50;
    static final int MAX_LIMIT = 500;

    private final CallTracker calls;
    private final CallRecordStore records;
    private final AdminAuth adminAuth;
    private final Clock clock;

    /** {@code json} is the HTTP server's mapper; responses go through it by {@code ctx.json}, so it is not kept. */
    public CallsApi(CallTracker calls, CallRecordStore records, AdminAuth adminAuth, ObjectMapper json, Clock clock) {
        this.calls = calls;
        this.records = records;
        this.adminAuth = adminAuth;
        this.clock = clock;
    }

    public void register(RoutesConfig routes) {
        routes.before("/api/v1/calls", adminAuth::requireAdmin);
        routes.before("/api/v1/call-records", adminAuth::requireAdmin);
        routes.get("/api/v1/calls", this::active);
        routes.get("/api/v1/call-records", this::history);
    }

    private void active(Context ctx) {
        Instant now = clock.instant();
        List<Map<String, Object>> out = new ArrayList<>();
        for (ActiveCall call : calls.active()) {
            Map<String, Object> v = new LinkedHashMap<>();
            ActiveCall.Phase phase = call.phase();
            if (phase == ActiveCall.Phase.ENDED) {
                continue; // ended while we were listing
            }
            Instant answeredAt = call.answeredAt();
            v.put("id", call.id());
            v.put("callId", call.callId());
            v.put("state", phase == ActiveCall.Phase.ANSWERED ? "answered" : "ringing");
            v.put("caller", call.caller());
            v.put("callee", call.callee());
            v.put("dialed", call.dialed());
            v.put("devicesRung", call.devicesRung());
            v.put("answeredBy", call.answeredBy());
            v.put("startedAt", iso(call.startedAt()));
            v.put("ringingAt", iso(call.ringingAt()));
            v.put("answeredAt", iso(answeredAt));
            // milliseconds, as a record's durationMs: durationMs is the talk time so far, as the
            // record will hold it; the whole seconds before them are kept for existing clients
            v.put("elapsedMs", millis(call.startedAt(), now));
            v.put("durationMs", answeredAt == null ? null : millis(answeredAt, now));
            v.put("elapsedSeconds", seconds(call.startedAt(), now));
            v.put("talkSeconds", answeredAt == null ? null : seconds(answeredAt, now));
            v.put("node", call.node());
            out.add(v);
        }
        ctx.json(Map.of("calls", out));
    }

    private void history(Context ctx) {
        Long from = instantParam(ctx, "from");
        Long to = instantParam(ctx, "to");
        if (from != null && to != null && from > to) {
            throw ApiProblem.badRequest("'from' must not be after 'to'.");
        }
        int limit = QueryParams.intParam(ctx, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
        String cursor = ctx.queryParam("cursor");
        if (cursor != null && cursor.isBlank()) {
            cursor = null;
        }
        CallRecordStore.Page page;
        try {
            page = records.list(from, to, cursor, limit);
        } catch (IllegalArgumentException e) {
            throw ApiProblem.badRequest("'cursor' is " + e.getMessage() + "; pass a nextCursor value unchanged.");
        }
        List<Map<String, Object>> out = new ArrayList<>(page.records().size());
        for (CallRecord r : page.records()) {
            out.add(view(r));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("records", out);
        body.put("nextCursor", page.nextCursor());
        ctx.json(body);
    }

    /** An ISO-8601 instant ({@code 2025-01-31T12:00:00Z}) or epoch milliseconds; absent is null. */
    private static Long instantParam(Context ctx, String name) {
        String value = ctx.queryParam(name);
        if (value == null || value.isBlank()) {
            return null;
        }
        value = value.strip();
        // any length: a longer number is "out of range" below, not "not a time"
        if (io.switchboard.platform.config.AsciiDigits.of(value, value.length())) {
            try {
                return Long.parseLong(value);
            } catch (NumberFormatException e) {
                throw ApiProblem.badRequest("'" + name + "' is out of range.");
            }
        }
        try {
            return Instant.parse(value).toEpochMilli();
        } catch (DateTimeParseException | ArithmeticException e) {
            throw ApiProblem.badRequest("'" + name + "' must be an ISO-8601 instant (2025-01-31T12:00:00Z) or epoch "
                    + "milliseconds, not '" + shorten(value) + "'.");
        }
    }

    private static String shorten(String value) {
        return value.length() <= 40 ? value : value.substring(0, 40) + "...";
    }

    private static Map<String, Object> view(CallRecord r) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("id", r.id());
        v.put("callId", r.callId());
        v.put("caller", r.caller());
        v.put("callee", r.callee());
        v.put("dialed", r.dialed());
        v.put("devicesRung", r.devicesRung());
        v.put("answeredBy", r.answeredBy());
        v.put("startedAt", iso(r.startedAt()));
        v.put("ringingAt", iso(r.ringingAt()));
        v.put("answeredAt", iso(r.answeredAt()));
        v.put("endedAt", iso(r.endedAt()));
        v.put("durationMs", r.durationMillis());
        v.put("status", r.status());
        v.put("finalCode", r.finalCode());
        v.put("endedBy", r.endedBy());
        v.put("node", r.node());
        return v;
    }

    /** Milliseconds, as records are stored: a live call and its record show the same times. */
    private static String iso(Instant at) {
        return at == null ? null : at.truncatedTo(java.time.temporal.ChronoUnit.MILLIS).toString();
    }

    /** Whole milliseconds, as {@link #iso} writes the instants. */
    private static long millis(Instant from, Instant to) {
        return Math.max(0, Duration.between(from.truncatedTo(java.time.temporal.ChronoUnit.MILLIS),
                to.truncatedTo(java.time.temporal.ChronoUnit.MILLIS)).toMillis());
    }

    private static long seconds(Instant from, Instant to) {
        return Math.max(0, Duration.between(from, to).toSeconds());
    }
}
