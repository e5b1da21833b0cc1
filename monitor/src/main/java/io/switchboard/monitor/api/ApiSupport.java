package io.switchboard.monitor.api;

import io.javalin.http.Context;
import io.switchboard.monitor.definition.DefinitionException;
import io.switchboard.platform.http.ApiProblem;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.function.Supplier;

/** What the monitor module's APIs share: problems for definition errors, query parameters checked. */
final class ApiSupport {
    private ApiSupport() {
    }

    /**
     * The handler, for an endpoint that takes only the query parameters {@code taken}: any other
     * is a 400 naming it and those taken (a misspelt {@code ?limt=1} was passed over, and the
     * client got a default it did not ask for), as the chat endpoints answer.
     */
    static io.javalin.http.Handler taking(java.util.Set<String> taken, io.javalin.http.Handler handler) {
        return ctx -> {
            io.switchboard.platform.http.QueryParams.allowOnly(ctx, taken);
            handler.handle(ctx);
        };
    }

    /** {@link #taking} for an endpoint that takes no query parameter. */
    static io.javalin.http.Handler takingNone(io.javalin.http.Handler handler) {
        return taking(java.util.Set.of(), handler);
    }

    /** Runs the action; a {@link DefinitionException} becomes the RFC 9457 problem of its kind, naming the field. */
    static <T> T call(Supplier<T> action) {
        try {
            return action.get();
        } catch (DefinitionException e) {
            throw problem(e);
        }
    }

    static void run(Runnable action) {
        call(() -> {
            action.run();
            return null;
        });
    }

    static ApiProblem problem(DefinitionException e) {
        String detail = e.field() == null ? e.getMessage() : "'" + e.field() + "': " + e.getMessage();
        return switch (e.kind()) {
            case INVALID -> ApiProblem.badRequest(detail);
            case NOT_FOUND -> ApiProblem.notFound(e.getMessage());
            case CONFLICT -> ApiProblem.conflict(detail);
            // RFC 9110 §15.5.21: well-formed, but naming things that do not exist
            case UNKNOWN_REFERENCE -> new ApiProblem(422, "Unprocessable Content", detail);
        };
    }

    static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String text = ctx.queryParam(name);
        if (text == null || text.isBlank()) {
            return fallback;
        }
        try {
            int value = Integer.parseInt(text.strip());
            if (value < min || value > max) {
                throw ApiProblem.badRequest("'" + name + "' must be " + min + "-" + max + " (got " + value + ")");
            }
            return value;
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("'" + name + "' must be a whole number (got '" + text + "')");
        }
    }

    static Long longParam(Context ctx, String name) {
        String text = ctx.queryParam(name);
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            return Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            throw ApiProblem.badRequest("'" + name + "' must be a whole number (got '" + text + "')");
        }
    }

    /** An ISO-8601 instant or epoch milliseconds; null when absent. */
    static Instant instantParam(Context ctx, String name) {
        String text = ctx.queryParam(name);
        if (text == null || text.isBlank()) {
            return null;
        }
        String t = text.strip();
        try {
            return t.matches("\\d{1,15}") ? Instant.ofEpochMilli(Long.parseLong(t)) : Instant.parse(t);
        } catch (DateTimeParseException e) {
            throw ApiProblem.badRequest("'" + name + "' must be an ISO-8601 instant such as 2025-06-01T00:00:00Z or epoch"
                    + " milliseconds (got '" + text + "')");
        }
    }

    static String choice(Context ctx, String name, java.util.List<String> allowed) {
        String text = ctx.queryParam(name);
        if (text == null || text.isBlank()) {
            return null;
        }
        if (!allowed.contains(text)) {
            throw ApiProblem.badRequest("'" + name + "' must be one of " + allowed + " (got '" + text + "')");
        }
        return text;
    }
}
