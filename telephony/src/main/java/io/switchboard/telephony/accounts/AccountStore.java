package io.switchboard.telephony.accounts;

import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Accounts in the node's store. Used by the running node, the HTTP API and the CLI alike, so a
 * change made by any of them reaches the others through the database: every change bumps
 * {@code sip_account_revision} in the same transaction ({@link AccountDirectory} polls it).
 */
public final class AccountStore {
    /** Characters a username may have: safe in a SIP URI user part without escaping (RFC 3261 §25.1). */
    private static final Pattern USERNAME = Pattern.compile("[A-Za-z0-9._~+-]{1,64}");
    private static final Pattern DOMAIN = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?");
    public static final int MIN_PASSWORD_LENGTH = 6;
    public static final int MAX_PASSWORD_LENGTH = 128;

    private final Jdbi jdbi;
    private final Clock clock;

    public AccountStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    public static String validUsername(String username) {
        if (username == null || !USERNAME.matcher(username).matches()) {
            throw new AccountException(AccountException.Kind.INVALID,
                    "username must be 1-64 letters, digits or . _ ~ + - (got '" + io.switchboard.platform.http.QuotedValue.of(username) + "')");
        }
        return username;
    }

    public static String validDomain(String domain) {
        if (domain == null || !DOMAIN.matcher(domain).matches()) {
            throw new AccountException(AccountException.Kind.INVALID, "domain must be a host name (got '" + io.switchboard.platform.http.QuotedValue.of(domain) + "')");
        }
        return domain.toLowerCase(Locale.ROOT);
    }

    public static String validPassword(String password) {
        if (password == null || password.length() < MIN_PASSWORD_LENGTH || password.length() > MAX_PASSWORD_LENGTH) {
            throw new AccountException(AccountException.Kind.INVALID,
                    "password must be " + MIN_PASSWORD_LENGTH + " to " + MAX_PASSWORD_LENGTH + " characters");
        }
        for (int i = 0; i < password.length(); i++) {
            if (Character.isISOControl(password.charAt(i))) {
                throw new AccountException(AccountException.Kind.INVALID, "password must not contain control characters");
            }
        }
        return password;
    }

    /**
     * The digest choice as people write it: {@code sha-256} (or {@code sha256}), {@code md5}, or
     * {@code default} (null, blank) to follow the domain and the node, which gives null.
     */
    public static DigestAlgorithm validDigest(String choice) {
        if (choice == null || choice.isBlank() || choice.equalsIgnoreCase("default")) {
            return null;
        }
        DigestAlgorithm algorithm = choice.equalsIgnoreCase("sha256") ? DigestAlgorithm.SHA_256
                : DigestAlgorithm.fromToken(choice);
        if (algorithm == null) {
            throw new AccountException(AccountException.Kind.INVALID,
                    "digest must be sha-256, md5 or default (got '" + io.switchboard.platform.http.QuotedValue.of(choice) + "')");
        }
        return algorithm;
    }

    public Account add(String username, String domain, String password) {
        return add(username, domain, password, null);
    }

    /** @param digest the one algorithm the account is challenged with; null follows its domain and the node */
    public Account add(String username, String domain, String password, DigestAlgorithm digest) {
        validUsername(username);
        String realm = validDomain(domain);
        validPassword(password);
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            lockForNewNames(h);
            if (find(h, username, realm).isPresent()) {
                throw new AccountException(AccountException.Kind.EXISTS, "account " + username + "@" + realm + " exists");
            }
            refuseNumberNames(h, List.of(username), realm);
            h.createUpdate("INSERT INTO sip_accounts (username, domain, ha1_md5, ha1_sha256, created_at, updated_at, "
                            + "digest_algorithm) VALUES (:u, :d, :md5, :sha, :now, :now, :digest)")
                    .bind("u", username).bind("d", realm).bind("digest", digest == null ? null : digest.token())
                    .bind("md5", DigestAlgorithm.MD5.ha1(username, realm, password))
                    .bind("sha", DigestAlgorithm.SHA_256.ha1(username, realm, password))
                    .bind("now", now).execute();
            bumpRevision(h);
            return find(h, username, realm).orElseThrow();
        });
    }

    /**
     * Adds many accounts in one transaction (the CLI's import); existing ones get the new password.
     * Returns how many were written.
     */
    public int importAll(List<String[]> userPasswordPairs, String domain) {
        String realm = validDomain(domain);
        for (int i = 0; i < userPasswordPairs.size(); i++) {
            String[] pair = userPasswordPairs.get(i);
            try {
                validUsername(pair[0]);
                validPassword(pair[1]);
            } catch (AccountException e) {
                // name the entry: an import file has many
                throw new AccountException(e.kind(), "entry " + (i + 1) + " ('" + pair[0] + "'): " + e.getMessage());
            }
        }
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            lockForNewNames(h);
            refuseNumberNames(h, userPasswordPairs.stream().map(pair -> pair[0]).toList(), realm);
            var batch = h.prepareBatch("INSERT INTO sip_accounts (username, domain, ha1_md5, ha1_sha256, created_at, updated_at) "
                    + "VALUES (:u, :d, :md5, :sha, :now, :now) ON CONFLICT (username, domain) DO UPDATE SET "
                    + "ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, updated_at = excluded.updated_at");
            for (String[] pair : userPasswordPairs) {
                batch.bind("u", pair[0]).bind("d", realm)
                        .bind("md5", DigestAlgorithm.MD5.ha1(pair[0], realm, pair[1]))
                        .bind("sha", DigestAlgorithm.SHA_256.ha1(pair[0], realm, pair[1]))
                        .bind("now", now).add();
            }
            int written = userPasswordPairs.isEmpty() ? 0 : batch.execute().length;
            bumpRevision(h);
            return written;
        });
    }

    public Account changePassword(String username, String domain, String password) {
        validUsername(username);
        String realm = validDomain(domain);
        validPassword(password);
        return jdbi.inTransaction(h -> {
            int updated = h.createUpdate("UPDATE sip_accounts SET ha1_md5 = :md5, ha1_sha256 = :sha, updated_at = :now "
                            + "WHERE username = :u AND domain = :d")
                    .bind("u", username).bind("d", realm)
                    .bind("md5", DigestAlgorithm.MD5.ha1(username, realm, password))
                    .bind("sha", DigestAlgorithm.SHA_256.ha1(username, realm, password))
                    .bind("now", clock.millis()).execute();
            if (updated == 0) {
                throw notFound(username, realm);
            }
            bumpRevision(h);
            return find(h, username, realm).orElseThrow();
        });
    }

    /** Sets the one algorithm the account is challenged with; null: follow its domain and the node. */
    public Account setDigest(String username, String domain, DigestAlgorithm digest) {
        validUsername(username);
        String realm = validDomain(domain);
        return jdbi.inTransaction(h -> {
            int updated = h.createUpdate("UPDATE sip_accounts SET digest_algorithm = :digest, updated_at = :now "
                            + "WHERE username = :u AND domain = :d")
                    .bind("u", username).bind("d", realm).bind("digest", digest == null ? null : digest.token())
                    .bind("now", clock.millis()).execute();
            if (updated == 0) {
                throw notFound(username, realm);
            }
            bumpRevision(h);
            return find(h, username, realm).orElseThrow();
        });
    }

    public void remove(String username, String domain) {
        validUsername(username);
        String realm = validDomain(domain);
        jdbi.useTransaction(h -> {
            removeTraces(h, username, realm);
            int removed = h.createUpdate("DELETE FROM sip_accounts WHERE username = :u AND domain = :d")
                    .bind("u", username).bind("d", realm).execute();
            if (removed == 0) {
                throw notFound(username, realm);
            }
            bumpRevision(h);
        });
    }

    public Optional<Account> find(String username, String domain) {
        return jdbi.withHandle(h -> find(h, username, domain.toLowerCase(Locale.ROOT)));
    }

    public List<Account> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM sip_accounts ORDER BY domain, username")
                .map((rs, ctx) -> account(rs))
                .list());
    }

    /** The default domain the node last started with, if a node ever ran on this store. */
    public Optional<String> nodeDomain() {
        return jdbi.withHandle(h -> h.createQuery("SELECT value FROM sip_settings WHERE name = 'default_domain'")
                .mapTo(String.class).findOne());
    }

    /**
     * Records the node's default domain; returns the one recorded before, if it differed.
     *
     * <p>Nodes of a cluster starting together on a fresh store all record theirs at once: the insert
     * yields to a row another node committed first (PostgreSQL waits for that transaction, then reads
     * the row in the next statement), so no node fails to start on the primary key.
     */
    public Optional<String> recordNodeDomain(String domain) {
        String realm = validDomain(domain);
        return jdbi.inTransaction(h -> {
            int inserted = h.createUpdate(
                            "INSERT INTO sip_settings (name, value) VALUES ('default_domain', :d) ON CONFLICT (name) DO NOTHING")
                    .bind("d", realm).execute();
            if (inserted == 1) {
                return Optional.empty();
            }
            Optional<String> before = h.createQuery("SELECT value FROM sip_settings WHERE name = 'default_domain'")
                    .mapTo(String.class).findOne();
            if (before.isPresent() && !before.get().equals(realm)) {
                h.createUpdate("UPDATE sip_settings SET value = :d WHERE name = 'default_domain'").bind("d", realm).execute();
                return before;
            }
            return Optional.empty();
        });
    }

    public long revision() {
        return jdbi.withHandle(h -> h.createQuery("SELECT revision FROM sip_account_revision WHERE id = 1")
                .mapTo(Long.class).one());
    }

    private static Optional<Account> find(Handle h, String username, String domain) {
        return h.createQuery("SELECT * FROM sip_accounts WHERE username = :u AND domain = :d")
                .bind("u", username).bind("d", domain)
                .map((rs, ctx) -> account(rs))
                .findOne();
    }

    private static Account account(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new Account(rs.getString("username"), rs.getString("domain"), rs.getString("ha1_md5"),
                rs.getString("ha1_sha256"), Instant.ofEpochMilli(rs.getLong("created_at")),
                Instant.ofEpochMilli(rs.getLong("updated_at")), DigestAlgorithm.fromStored(rs.getString("digest_algorithm")));
    }

    /** A username equal to a number of the domain would make dialing it ambiguous (see NumberStore). */
    private static void refuseNumberNames(Handle h, List<String> usernames, String domain) {
        Set<String> numbers = new HashSet<>(h.createQuery("SELECT number FROM sip_numbers WHERE domain = :d")
                .bind("d", domain).mapTo(String.class).list());
        for (String username : usernames) {
            if (numbers.contains(username)) {
                throw new AccountException(AccountException.Kind.EXISTS, username + " is a number in " + domain
                        + "; dialing it would be ambiguous, pick another username");
            }
        }
    }

    /**
     * What a removed account leaves behind goes in the same transaction: its registrations (so a
     * restart does not bring them back) and its places in numbers. The number revision row is taken
     * first, as every number write does, so a number being given this account meanwhile waits.
     */
    private void removeTraces(Handle h, String username, String domain) {
        h.createUpdate("UPDATE sip_number_revision SET revision = revision + 1 WHERE id = 1").execute();
        // the numbers it leaves changed: their updatedAt says so
        h.createUpdate("UPDATE sip_numbers SET updated_at = :now WHERE domain = :d AND number IN"
                        + " (SELECT number FROM sip_number_members WHERE username = :u AND domain = :d)")
                .bind("now", clock.millis()).bind("u", username).bind("d", domain).execute();
        h.createUpdate("DELETE FROM sip_number_members WHERE username = :u AND domain = :d")
                .bind("u", username).bind("d", domain).execute();
        // the registrar's canonical AOR (RFC 3261 §10.3 step 5)
        h.createUpdate("DELETE FROM sip_bindings WHERE aor = :aor").bind("aor", "sip:" + username + "@" + domain).execute();
    }

    /**
     * Taken first by a transaction that adds account names, so that two of them, or one and a
     * number write or an account removal, run one after the other (on PostgreSQL; SQLite writes
     * one at a time anyway): the number revision row, as every number write takes it first (an
     * update that leaves it as it is still locks it). Without it two nodes adding the same account
     * both found none and one failed on the primary key, and an account and a number of the same
     * name could be made at once, each check missing the other. The account revision is still
     * bumped last, after the account rows, as password and digest changes take them.
     */
    private static void lockForNewNames(Handle h) {
        h.createUpdate("UPDATE sip_number_revision SET revision = revision WHERE id = 1").execute();
    }

    private static void bumpRevision(Handle h) {
        h.createUpdate("UPDATE sip_account_revision SET revision = revision + 1 WHERE id = 1").execute();
    }

    private static AccountException notFound(String username, String domain) {
        return new AccountException(AccountException.Kind.NOT_FOUND, "no account " + username + "@" + domain);
    }
}
