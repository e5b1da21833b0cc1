package io.switchboard.platform.auth;

import java.util.Optional;

/** The token of an {@code Authorization: Bearer <token>} header (RFC 6750 §2.1), the one way every guard reads it. */
public final class BearerToken {
    private BearerToken() {
    }

    /** The token, or empty when the header is absent, blank or of another scheme. */
    public static Optional<String> from(String authorizationHeader) {
        if (authorizationHeader == null) {
            return Optional.empty();
        }
        String header = authorizationHeader.strip();
        int space = header.indexOf(' ');
        if (space < 0 || !header.substring(0, space).equalsIgnoreCase("bearer")) {
            return Optional.empty();
        }
        String token = header.substring(space + 1).strip();
        return token.isEmpty() ? Optional.empty() : Optional.of(token);
    }

    /**
     * What is wrong with an {@code Authorization} header that is not blank and yields no token
     * ({@link #from} is empty), for a 401's detail: the scheme without a token after it
     * ({@code curl -H "Authorization: Bearer"}, an unset variable after it) is told so, rather
     * than told to use the scheme it used.
     */
    public static String whatIsMissing(String authorizationHeader) {
        String header = authorizationHeader == null ? "" : authorizationHeader.strip();
        int space = header.indexOf(' ');
        String scheme = space < 0 ? header : header.substring(0, space);
        if (scheme.equalsIgnoreCase("bearer")) {
            return "The Authorization header has no token after Bearer: send 'Authorization: Bearer <token>'.";
        }
        return "The Authorization header must use the Bearer scheme.";
    }
}
