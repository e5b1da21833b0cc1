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
}
