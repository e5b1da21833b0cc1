package io.switchboard.platform.auth;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.StatementContext;

/**
 * People in the store ({@code platform_people}). Requires the {@code platform} migrations.
 * User names arrive here already normalised by {@link PersonRules}.
 */
public final class PersonStore {
    private final Jdbi jdbi;
    private final Clock clock;

    /** A person with what signing in needs. */
    public record Credentials(Person person, String passwordHash, int tokenVersion) {
    }

    /** Thrown by {@link #create} when the user name is taken. */
    public static final class UsernameTaken extends RuntimeException {
        public UsernameTaken(String username) {
            super("user name " + username + " is taken", null, false, false);
        }
    }

    public PersonStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    public Person create(String username, String displayName, String passwordHash, boolean admin) {
        Person person = new Person(UUID.randomUUID().toString(), username, displayName, admin,
                Instant.ofEpochMilli(clock.millis()));
        // The unique index decides between two nodes racing for one name: the insert yields to a
        // row another transaction committed (PostgreSQL waits for it first), and the name is taken.
        return jdbi.inTransaction(h -> {
            int inserted = h.createUpdate("insert into platform_people (id, username, display_name, password_hash, is_admin,"
                            + " token_version, created_at) values (:id, :u, :d, :h, :a, 0, :at) on conflict (username) do nothing")
                    .bind("id", person.id())
                    .bind("u", username)
                    .bind("d", displayName)
                    .bind("h", passwordHash)
                    .bind("a", admin ? 1 : 0)
                    .bind("at", person.createdAt().toEpochMilli())
                    .execute();
            if (inserted == 0) {
                throw new UsernameTaken(username);
            }
            return person;
        });
    }

    public Optional<Credentials> credentialsByUsername(String username) {
        return jdbi.withHandle(h -> h.createQuery("select * from platform_people where username = :u")
                .bind("u", username)
                .map(PersonStore::credentials)
                .findOne());
    }

    public Optional<Credentials> credentialsById(String id) {
        return jdbi.withHandle(h -> credentialsIn(h, id));
    }

    /** As {@link #credentialsById}, inside the caller's transaction. */
    Optional<Credentials> credentialsIn(org.jdbi.v3.core.Handle h, String id) {
        return h.createQuery("select * from platform_people where id = :id")
                .bind("id", id)
                .map(PersonStore::credentials)
                .findOne();
    }

    public Optional<Person> byId(String id) {
        return credentialsById(id).map(Credentials::person);
    }

    public Optional<Person> byUsername(String username) {
        return credentialsByUsername(username).map(Credentials::person);
    }

    /** People whose ids are given, in no particular order; unknown ids are left out. */
    public List<Person> byIds(List<String> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        return jdbi.withHandle(h -> h.createQuery("select * from platform_people where id in (<ids>)")
                .bindList("ids", ids)
                .map(PersonStore::person)
                .list());
    }

    /** People by user name, those starting with {@code prefix} (empty: everyone), at most {@code limit}, after {@code after}. */
    public List<Person> list(String prefix, String after, int limit) {
        return jdbi.withHandle(h -> h.createQuery("select * from platform_people where username like :p escape '!' and username > :after"
                        + " order by username limit :limit")
                .bind("p", escapeLike(prefix) + "%")
                .bind("after", after == null ? "" : after)
                .bind("limit", limit)
                .map(PersonStore::person)
                .list());
    }

    public int count() {
        return jdbi.withHandle(h -> h.createQuery("select count(*) from platform_people").mapTo(Integer.class).one());
    }

    /** Sets a new password hash and invalidates every access token issued before. */
    public boolean setPassword(String id, String passwordHash) {
        return jdbi.inTransaction(h -> {
            int changed = h.createUpdate("update platform_people set password_hash = :h,"
                            + " token_version = token_version + 1 where id = :id")
                    .bind("h", passwordHash).bind("id", id).execute();
            bumpRevision(h);
            return changed > 0;
        });
    }

    /** Replaces the hash without touching tokens: a rehash under new parameters after a good sign-in. */
    public void rehash(String id, String passwordHash) {
        jdbi.useHandle(h -> h.createUpdate("update platform_people set password_hash = :h where id = :id")
                .bind("h", passwordHash).bind("id", id).execute());
    }

    /** Invalidates every access token issued to the person so far. */
    public void bumpTokenVersion(String id) {
        jdbi.useTransaction(h -> {
            h.createUpdate("update platform_people set token_version = token_version + 1 where id = :id")
                    .bind("id", id).execute();
            bumpRevision(h);
        });
    }

    public boolean remove(String id) {
        return jdbi.inTransaction(h -> {
            int removed = h.createUpdate("delete from platform_people where id = :id").bind("id", id).execute();
            bumpRevision(h);
            return removed > 0;
        });
    }

    /**
     * Records that an operator cleared a user's sign-in lockout, with the people revision it
     * moved to, so every running node clears its counters for the user (see {@link PersonAuth}).
     *
     * @return the people revision the unlock moved to
     */
    public long recordUnlock(String username) {
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            bumpRevision(h);
            long revision = h.createQuery("select revision from platform_people_revision where id = 1")
                    .mapTo(Long.class).one();
            h.createUpdate("insert into platform_sign_in_unlocks (username, revision, unlocked_at) values (:u, :r, :now)")
                    .bind("u", username).bind("r", revision).bind("now", now).execute();
            return revision;
        });
    }

    /** An unlock recorded in the store: whose, and the people revision it moved to. */
    public record Unlock(String username, long revision) {
    }

    /** Unlocks recorded after {@code revision}, up to and including {@code upTo}. */
    public List<Unlock> unlocksBetween(long revision, long upTo) {
        return jdbi.withHandle(h -> h.createQuery("select username, revision from platform_sign_in_unlocks"
                        + " where revision > :r and revision <= :upTo")
                .bind("r", revision).bind("upTo", upTo)
                .map((rs, ctx) -> new Unlock(rs.getString("username"), rs.getLong("revision"))).list());
    }

    /** Forgets unlock records older than {@code millis}: every running node has long read them. */
    public int deleteUnlocksBefore(long millis) {
        return jdbi.withHandle(h -> h.createUpdate("delete from platform_sign_in_unlocks where unlocked_at < :t")
                .bind("t", millis).execute());
    }

    /** Moves whenever a change ends someone's sessions; see {@link PersonAuth}. */
    public long revision() {
        return jdbi.withHandle(h -> h.createQuery("select revision from platform_people_revision where id = 1")
                .mapTo(Long.class).one());
    }

    static void bumpRevision(org.jdbi.v3.core.Handle h) {
        h.createUpdate("update platform_people_revision set revision = revision + 1 where id = 1").execute();
    }

    /**
     * The prefix as a LIKE pattern that matches itself: '_' is a legal character of user names, and
     * unescaped it would match any one character ("b_r" finding "bor"). '!' is the escape both
     * SQLite and PostgreSQL take in an ESCAPE clause (a backslash is read differently by each).
     */
    private static String escapeLike(String prefix) {
        return prefix == null ? "" : prefix.replace("!", "!!").replace("%", "!%").replace("_", "!_");
    }

    private static Credentials credentials(ResultSet rs, StatementContext ctx) throws SQLException {
        return new Credentials(person(rs, ctx), rs.getString("password_hash"), rs.getInt("token_version"));
    }

    private static Person person(ResultSet rs, StatementContext ctx) throws SQLException {
        return new Person(rs.getString("id"), rs.getString("username"), rs.getString("display_name"),
                rs.getInt("is_admin") != 0, Instant.ofEpochMilli(rs.getLong("created_at")));
    }
}
