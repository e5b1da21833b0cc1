package io.switchboard.platform.auth;

import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
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
 * of it on the bus, and, when the revocation revision moves (the safety net for a missed
 * announcement), reads the rows revoked since the newest it has read, less a margin for clocks
 * and for transactions that committed late. That revision is the second row of
 * {@code platform_people_revision} (id 2), apart from the people revision: a sign-out must not make
 * every node forget the token versions it cached.
 */
final class RevokedSessions {
    /** The row of {@code platform_people_revision} counting revocations (row 1 counts people changes). */
    static final int REVISION_ROW = 2;
    private final Jdbi jdbi;
    private final Clock clock;
    private final Duration margin;
    private final Map<String, Long> expiresBySession = new ConcurrentHashMap<>();
    private final Consumer<String> onNew;
    /** The newest revoked_at read from the store; the next load reads from a margin before it. */
    private volatile long newestRead = Long.MIN_VALUE;

    /**
     * @param margin how far clocks of the cluster may differ; rows are read and pruned that much
     *               late
     * @param onNew  told of each sign-in newly on the list, however it arrived
     */
    RevokedSessions(Jdbi jdbi, Clock clock, Duration margin, Consumer<String> onNew) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.margin = margin;
        this.onNew = onNew;
        jdbi.useHandle(h -> h.createUpdate("insert into platform_people_revision (id, revision) values (:id, 0)"
                + " on conflict (id) do nothing").bind("id", REVISION_ROW).execute());
    }

    /** Whether a sign-in is on the stored list (in the caller's transaction). */
    static boolean isRecorded(Handle h, String sessionId) {
        return h.createQuery("select count(*) from platform_revoked_sessions where session_id = :s")
                .bind("s", sessionId).mapTo(Integer.class).one() > 0;
    }

    /** Moves the revocation revision, in the transaction that records a revocation. */
    static void bumpRevision(Handle h) {
        h.createUpdate("update platform_people_revision set revision = revision + 1 where id = :id")
                .bind("id", REVISION_ROW).execute();
    }

    long revision() {
        return jdbi.withHandle(h -> h.createQuery("select revision from platform_people_revision where id = :id")
                .bind("id", REVISION_ROW).mapTo(Long.class).one());
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
        Long before = expiresBySession.get(sessionId);
        expiresBySession.merge(sessionId, expiresAt, Math::max);
        if (before == null && expiresAt > clock.millis()) {
            onNew.accept(sessionId);
        }
    }

    /** Loads every revocation still in force from the store (at start). */
    void load() {
        load(Long.MIN_VALUE);
    }

    /** Loads the revocations recorded since the newest one read before, less the margin. */
    void loadNew() {
        long from = newestRead;
        load(from == Long.MIN_VALUE ? Long.MIN_VALUE : from - margin.toMillis());
    }

    private void load(long revokedAfter) {
        long now = clock.millis();
        record Row(String sessionId, long revokedAt, long expiresAt) {
        }
        List<Row> rows = jdbi.withHandle(h -> h.createQuery("select session_id, revoked_at, expires_at"
                        + " from platform_revoked_sessions where expires_at > :now and revoked_at > :after")
                .bind("now", now)
                .bind("after", revokedAfter)
                .map((rs, ctx) -> new Row(rs.getString(1), rs.getLong(2), rs.getLong(3)))
                .list());
        long newest = newestRead;
        for (Row row : rows) {
            add(row.sessionId(), row.expiresAt());
            newest = Math.max(newest, row.revokedAt());
        }
        newestRead = newest;
    }

    /** Forgets revocations whose sign-in's access tokens have all expired, here and in the store. */
    int deleteExpired() {
        long now = clock.millis();
        for (Iterator<Long> it = expiresBySession.values().iterator(); it.hasNext(); ) {
            if (it.next() <= now) {
                it.remove();
            }
        }
        // the store's copy is shared: a node whose clock runs ahead must not delete what others still need
        return jdbi.withHandle(h -> h.createUpdate("delete from platform_revoked_sessions where expires_at <= :before")
                .bind("before", now - margin.toMillis()).execute());
    }

    int size() {
        return expiresBySession.size();
    }
}
