package io.switchboard.platform.auth;

import java.io.IOException;
import io.switchboard.platform.store.PrivateFile;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
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
        log.info("first admin token written to {} (use it as 'Authorization: Bearer <token>')", file);
        return Optional.of(file);
    }

    static String hash(String token) {
        return Sha256.hex(token);
    }
}
