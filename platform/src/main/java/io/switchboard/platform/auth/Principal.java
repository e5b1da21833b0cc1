package io.switchboard.platform.auth;

/** The person a request acts for, as its verified access token says. */
public record Principal(String personId, String username, boolean admin) {
}
