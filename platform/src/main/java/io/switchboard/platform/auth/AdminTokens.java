package io.switchboard.platform.auth;

import java.io.IOException;
import io.switchboard.platform.store.PrivateFile;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Base64;
import java.util.Optional;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bearer tokens for the admin API. A token is 32 random bytes (base64url, prefixed
 * {@code sbat_} so it is recognisable in a leaked-secrets scan); the store keeps only its
 * SHA-256, so reading the database does not give API access. Tokens are high-entropy, so an
 * unsalted hash is enough: there is nothing to guess from a dictionary.
 *
 * <p>Requires the {@code platform} migrations.
 */
public final class AdminTokens {
    /** The file, in the data directory, that receives the first token. */
    public static final String TOKEN_FILE = "admin.token";
    static final String PREFIX = "sbat_";
    /** Hex digits of a token's hash that name it: 48 bits, unique among any number of tokens an operator keeps. */
    static final int ID_LENGTH = 12;
    private static final Logger log = LoggerFactory.getLogger(AdminTokens.class);

    private final Jdbi jdbi;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();

    public AdminTokens(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    /** Creates a token, stores its hash, and returns the token: the only time it is seen. */
    public String create(String label) {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
        jdbi.useHandle(h -> h.createUpdate(
                        "insert into platform_admin_tokens (token_hash, label, created_at) values (:hash, :label, :at)")
                .bind("hash", hash(token))
                .bind("label", label)
                .bind("at", clock.millis())
                .execute());
        return token;
    }

    /** Whether {@code token} is one of the stored admin tokens. */
    public boolean isValid(String token) {
        if (token == null || !token.startsWith(PREFIX) || token.length() > 200) {
            return false;
        }
        String hash = hash(token);
        return jdbi.withHandle(h -> h.createQuery("select count(*) from platform_admin_tokens where token_hash = :hash")
                .bind("hash", hash)
                .mapTo(Integer.class)
                .one()) > 0;
    }

    public int count() {
        return jdbi.withHandle(h -> h.createQuery("select count(*) from platform_admin_tokens")
                .mapTo(Integer.class).one());
    }

    /**
     * On a node's first start (no admin token stored yet), creates one and writes it to
     * {@code <dataDir>/admin.token}, readable by the owner only. Logs the file's path, never the
     * token.
     *
     * <p>In a cluster two nodes starting at once may both see no token and each create one;
     * both tokens are valid, which is harmless.
     *
     * @return the file written, or empty when a token already existed
     */
    public Optional<Path> createFirstTokenIfNone(Path dataDir) throws IOException {
        if (count() > 0) {
            return Optional.empty();
        }
        String token = create("first start");
        Path file = dataDir.resolve(TOKEN_FILE).toAbsolutePath();
        PrivateFile.write(file, token + "\n");
        log.info("no admin token was stored: a new one is written to {} (use it as 'Authorization: Bearer <token>')", file);
        return Optional.of(file);
    }

    /** A stored token as operators see it: never the token, only an id (the start of its hash) and its label. */
    public record Info(String id, String label, Instant createdAt) {
    }

    /** No stored token has that id. */
    public static final class UnknownToken extends RuntimeException {
        UnknownToken(String id) {
            super("no admin token " + id + " (see 'switchboard admin token list')", null, false, false);
        }
    }

    /** Revoking the only token left was refused without force. */
    public static final class LastToken extends RuntimeException {
        LastToken(String id) {
            super("admin token " + id + " is the last one; revoking it leaves the admin API to admin people only"
                    + " until a node restarts (it then writes a new admin.token) or 'switchboard admin token' makes one;"
                    + " force it to revoke anyway", null, false, false);
        }
    }

    /** Every stored token, oldest first. */
    public List<Info> list() {
        return jdbi.withHandle(h -> h.createQuery("select token_hash, label, created_at from platform_admin_tokens"
                        + " order by created_at, token_hash")
                .map((rs, ctx) -> new Info(idOf(rs.getString(1)), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3))))
                .list());
    }

    /** The id of a token as {@link #list()} shows it. */
    public static String idOf(String tokenHash) {
        return tokenHash.substring(0, ID_LENGTH);
    }

    /** The id of a token itself (to mark the one a request came with). */
    public static String idOfToken(String token) {
        return idOf(hash(token));
    }

    /**
     * Revokes a token by its id; it stops working at once on every node (each request checks the
     * store). The last token is kept unless {@code evenTheLast}.
     *
     * @throws UnknownToken when no token has this id
     * @throws LastToken    when it is the last token and {@code evenTheLast} is false
     */
    public Info revoke(String id, boolean evenTheLast) {
        String given = id == null ? "" : id.strip();
        String wanted = given.toLowerCase(java.util.Locale.ROOT);
        if (!wanted.matches("[0-9a-f]{" + ID_LENGTH + "}")) {
            // never echo what may be a token itself
            throw new UnknownToken(given.startsWith(PREFIX) || given.length() > 40 ? given.substring(0, Math.min(12, given.length())) + "…"
                    : given);
        }
        return jdbi.inTransaction(h -> {
            // Lock every token first (a no-op update: row locks on PostgreSQL; SQLite transactions
            // take turns anyway), so two revokes at once count one after the other: without it each
            // sees the other's token still there and both delete, leaving none.
            h.createUpdate("update platform_admin_tokens set label = label").execute();
            List<String[]> rows = h.createQuery("select token_hash, label, created_at from platform_admin_tokens")
                    .map((rs, ctx) -> new String[]{rs.getString(1), rs.getString(2), Long.toString(rs.getLong(3))})
                    .list();
            String[] match = rows.stream().filter(r -> idOf(r[0]).equals(wanted)).findFirst()
                    .orElseThrow(() -> new UnknownToken(wanted));
            if (rows.size() == 1 && !evenTheLast) {
                throw new LastToken(wanted);
            }
            h.createUpdate("delete from platform_admin_tokens where token_hash = :h").bind("h", match[0]).execute();
            log.info("admin token {} ({}) revoked", wanted, match[1]);
            return new Info(wanted, match[1], Instant.ofEpochMilli(Long.parseLong(match[2])));
        });
    }

    static String hash(String token) {
        return Sha256.hex(token);
    }
}
