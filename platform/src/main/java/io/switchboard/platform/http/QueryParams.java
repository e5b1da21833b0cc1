package io.switchboard.platform.http;

import io.javalin.http.Context;
import io.switchboard.platform.config.AsciiDigits;

/** Reading numeric query parameters the same way in every API: a value in range, or a 400 problem naming it. */
public final class QueryParams {
    private QueryParams() {
    }

    /** The parameter as a whole number within [min, max]; {@code fallback} when absent or blank. */
    public static int intParam(Context ctx, String name, int fallback, int min, int max) {
        String raw = ctx.queryParam(name);
        if (raw == null || raw.isBlank()) {
            return fallback;
        }
        try {
            String digits = raw.strip().startsWith("-") ? raw.strip().substring(1) : raw.strip();
            if (!AsciiDigits.of(digits, 10)) {
                throw new NumberFormatException();
            }
            int value = Integer.parseInt(raw.strip());
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw ApiProblem.badRequest("'" + name + "': a whole number " + min + "-" + max + " (got '" + shorten(raw) + "')");
    }

    /** The parameter as a whole number >= 0, or null when absent or blank. */
    public static Long nonNegativeLong(Context ctx, String name, String what) {
        String raw = ctx.queryParam(name);
        if (raw == null || raw.isBlank()) {
            return null;
        }
        try {
            if (!AsciiDigits.of(raw.strip(), 19)) {
                throw new NumberFormatException();
            }
            long value = Long.parseLong(raw.strip());
            if (value >= 0) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw ApiProblem.badRequest("'" + name + "': " + what + ", a whole number >= 0 (got '" + shorten(raw) + "')");
    }

    /**
     * Refuses a query parameter the endpoint does not take, naming it and those it does: a
     * misspelt one ({@code ?limt=2}) would otherwise be passed over and the client get a default it
     * did not ask for.
     *
     * @param taken the parameters the endpoint reads
     */
    public static void allowOnly(Context ctx, java.util.Set<String> taken) {
        for (String name : ctx.queryParamMap().keySet()) {
            // an empty name is what a stray '&' leaves (?limit=2&, ?&limit=2): nothing was asked
            if (!name.isEmpty() && !taken.contains(name)) {
                throw ApiProblem.badRequest("query parameter '" + shorten(name) + "' is not taken here; "
                        + (taken.isEmpty() ? "this endpoint takes none"
                        : "this endpoint takes " + String.join(", ", new java.util.TreeSet<>(taken))));
            }
        }
    }

    private static String shorten(String raw) {
        return raw.length() > 40 ? raw.substring(0, 40) + "…" : raw;
    }
}
