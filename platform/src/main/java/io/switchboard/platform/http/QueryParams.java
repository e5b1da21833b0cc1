package io.switchboard.platform.http;

import io.javalin.http.Context;

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
            if (!raw.strip().matches("-?[0-9]{1,10}")) {
                throw new NumberFormatException(); // ASCII digits: parseInt also takes "+5" and other scripts' digits
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
            if (!raw.strip().matches("[0-9]{1,19}")) {
                throw new NumberFormatException(); // as above
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

    private static String shorten(String raw) {
        return raw.length() > 40 ? raw.substring(0, 40) + "…" : raw;
    }
}
