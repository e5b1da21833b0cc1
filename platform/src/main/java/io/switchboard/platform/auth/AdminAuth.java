package io.switchboard.platform.auth;

import io.javalin.http.Context;
import io.switchboard.platform.http.ApiProblem;

/**
 * Guards admin routes with a bearer token (RFC 6750): an admin token ({@code sbat_...}, see
 * {@link AdminTokens}), or the access token of a person who is an admin — the operator is a person
 * too, and signs in like everyone else. Use it inside a handler or as a before-handler:
 * {@code routes.before("/api/v1/admin/*", adminAuth::requireAdmin)}.
 */
public final class AdminAuth {
    // RFC 6750 §3: a 401 carries a Bearer challenge; error="invalid_token" when one was sent.
    private static final String CHALLENGE = "Bearer realm=\"switchboard\"";

    private final AdminTokens tokens;
    private final PersonAuth people;

    /** Admin tokens only. */
    public AdminAuth(AdminTokens tokens) {
        this(tokens, null);
    }

    /** Admin tokens, and access tokens of admin people when {@code people} is not null. */
    public AdminAuth(AdminTokens tokens, PersonAuth people) {
        this.tokens = tokens;
        this.people = people;
    }

    /**
     * Returns when the request carries a valid admin token, or the access token of a person who is
     * an admin.
     *
     * @throws ApiProblem 401 with {@code WWW-Authenticate: Bearer ...} when the bearer token is
     *     neither (or there is none); 403 for the valid access token of a person who is not an admin
     */
    public void requireAdmin(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            throw ApiProblem.unauthorized("This endpoint needs an admin token: 'Authorization: Bearer <token>'.")
                    .withHeader("WWW-Authenticate", CHALLENGE);
        }
        String token = BearerToken.from(header).orElseThrow(() -> ApiProblem.unauthorized(
                BearerToken.whatIsMissing(header)).withHeader("WWW-Authenticate", CHALLENGE));
        if (isAdminToken(token)) {
            if (!tokens.isValid(token)) {
                throw invalidToken("The bearer token is not a valid admin token: none in this node's store matches it.");
            }
            return;
        }
        if (people == null) {
            throw invalidToken("The bearer token is not an admin token.");
        }
        Principal principal = people.principal(token).orElseThrow(() -> invalidToken(
                "The bearer token is neither an admin token nor a valid access token of a person (a person's access"
                        + " token expires: sign in again)."));
        if (!principal.admin()) {
            throw ApiProblem.forbidden("This endpoint is for administrators; " + principal.username() + " is not one.");
        }
    }

    /** 401 for a bearer token that does not admit: what it is not, then what would admit. */
    private ApiProblem invalidToken(String whatItIsNot) {
        return ApiProblem.unauthorized(whatItIsNot + " Send an admin token (the admin.token file in the node's data"
                        + " directory, or a new one from 'switchboard admin token')"
                        + (people == null ? "." : " or the access token of a person who is an admin."))
                .withHeader("WWW-Authenticate", CHALLENGE + ", error=\"invalid_token\"");
    }

    /** Whether a bearer token is an admin token ({@code sbat_...}) rather than a person's access token. */
    public static boolean isAdminToken(String token) {
        return token.startsWith(AdminTokens.PREFIX);
    }
}
