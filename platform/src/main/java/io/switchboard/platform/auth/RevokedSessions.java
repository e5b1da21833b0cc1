package io.switchboard.platform.auth;

import java.time.Clock;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Sign-ins whose access tokens are refused although they have not expired: the revocation list of
 * {@link SessionTokens}. Access tokens are checked without the store (they are signed), so ending
 * one sign-in early needs a list every check consults: a map lookup per request, keyed by the
 * sign-in's id (the access token's {@code sid} claim, the refresh token family). An entry is kept
 * only as long as an access token of that sign-in could still be valid, so the list stays as small
 * as the revocations of the last access-token lifetime.
 *
 * <p>The store holds the list ({@code platform_revoked_sessions}) so a restarted node and every
 * other node honour it; a node adds what it revokes at once, what other nodes revoke when it hears
 * of it on the bus, and reloads the whole list when the people revision moves (the safety net for
 * a missed announcement).
 */
final class RevokedSessions {
    private final Jdbi jdbi;
    private final Clock clock;
    private final Map<String, Long> expiresBySession = new ConcurrentHashMap<>();

    RevokedSessions(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    /** Whether access tokens of this sign-in are refused. */
    boolean isRevoked(String sessionId) {
        if (sessionId == null) {
            return false;
        }
        Long expiresAt = expiresBySession.get(sessionId);
        return expiresAt != null && expiresAt > clock.millis();
    }

    /** Records a revocation in the caller's transaction (it is announced after the commit). */
    static void record(Handle h, String sessionId, long now, long expiresAt) {
        h.createUpdate("insert into platform_revoked_sessions (session_id, revoked_at, expires_at)"
                        + " values (:s, :now, :exp) on conflict (session_id) do update set expires_at = excluded.expires_at")
                .bind("s", sessionId).bind("now", now).bind("exp", expiresAt).execute();
    }

    /** Honours a revocation made here or heard of from another node. */
    void add(String sessionId, long expiresAt) {
        expiresBySession.merge(sessionId, expiresAt, Math::max);
    }

    /** Loads every revocation still in force from the store. */
    void load() {
        long now = clock.millis();
        record Row(String sessionId, long expiresAt) {
        }
        List<Row> rows = jdbi.withHandle(h -> h.createQuery(
                        "select session_id, expires_at from platform_revoked_sessions where expires_at > :now")
                .bind("now", now)
                .map((rs, ctx) -> new Row(rs.getString(1), rs.getLong(2)))
                .list());
        for (Row row : rows) {
            add(row.sessionId(), row.expiresAt());
        }
    }

    /** Forgets revocations whose sign-in's access tokens have all expired, here and in the store. */
    int deleteExpired() {
        long now = clock.millis();
        for (Iterator<Long> it = expiresBySession.values().iterator(); it.hasNext(); ) {
            if (it.next() <= now) {
                it.remove();
            }
        }
        return jdbi.withHandle(h -> h.createUpdate("delete from platform_revoked_sessions where expires_at <= :now")
                .bind("now", now).execute());
    }

    int size() {
        return expiresBySession.size();
    }
}
