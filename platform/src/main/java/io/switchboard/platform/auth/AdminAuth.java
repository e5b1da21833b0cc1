package io.switchboard.platform.auth;

import io.javalin.http.Context;
import io.switchboard.platform.http.ApiProblem;
import java.util.Locale;

/**
 * Guards admin routes with a bearer token (RFC 6750). Use it inside a handler or as a
 * before-handler: {@code routes.before("/api/v1/admin/*", adminAuth::requireAdmin)}.
 */
public final class AdminAuth {
    // RFC 6750 §3: a 401 carries a Bearer challenge; error="invalid_token" when one was sent.
    private static final String CHALLENGE = "Bearer realm=\"switchboard\"";

    private final AdminTokens tokens;

    public AdminAuth(AdminTokens tokens) {
        this.tokens = tokens;
    }

    /**
     * Returns when the request carries a valid admin token.
     *
     * @throws ApiProblem 401 with {@code WWW-Authenticate: Bearer ...} otherwise
     */
    public void requireAdmin(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            throw ApiProblem.unauthorized("This endpoint needs an admin token: 'Authorization: Bearer <token>'.")
                    .withHeader("WWW-Authenticate", CHALLENGE);
        }
        String[] parts = header.strip().split("\\s+", 2);
        if (parts.length != 2 || !parts[0].toLowerCase(Locale.ROOT).equals("bearer")) {
            throw ApiProblem.unauthorized("The Authorization header must use the Bearer scheme.")
                    .withHeader("WWW-Authenticate", CHALLENGE);
        }
        if (!tokens.isValid(parts[1].strip())) {
            throw ApiProblem.unauthorized("The admin token is not valid.")
                    .withHeader("WWW-Authenticate", CHALLENGE + ", error=\"invalid_token\"");
        }
    }
}
