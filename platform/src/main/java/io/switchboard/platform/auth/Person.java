package io.switchboard.platform.auth;

import java.time.Instant;

/**
 * Someone who signs in: a resident, an operator, a chat user. Devices are not people; they have
 * SIP accounts. {@code id} is stable and is what other modules store (chat members, senders).
 */
public record Person(String id, String username, String displayName, boolean admin, Instant createdAt) {
}
