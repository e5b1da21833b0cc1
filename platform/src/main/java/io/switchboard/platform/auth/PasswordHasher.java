package io.switchboard.platform.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Salted, deliberately slow password hashes: Argon2id (RFC 9106), stored in the PHC string format
 * {@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>} so the parameters travel with each hash
 * and can be raised later without invalidating stored passwords ({@link #needsRehash}).
 *
 * <p>The defaults (19 MiB, 2 passes, 1 lane) are OWASP's minimum recommendation for Argon2id.
 * Each hash costs that much memory and tens of milliseconds of CPU, which is the point against an
 * attacker with the database, and a risk against a flood of sign-ins: at most {@code permits}
 * hashes run at once, and a caller that cannot get a permit within a few seconds is refused
 * ({@link Busy}) instead of queueing without bound.
 */
public final class PasswordHasher {
    private static final Pattern PHC = Pattern.compile(
            "\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,3}),p=(\\d{1,2})\\$([A-Za-z0-9+/]{16,64})\\$([A-Za-z0-9+/]{16,128})");
    private static final int SALT_BYTES = 16;
    private static final int HASH_BYTES = 32;
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64_DECODER = Base64.getDecoder();

    private final int memoryKiB;
    private final int iterations;
    private final Semaphore permits;
    private final SecureRandom random = new SecureRandom();

    /** Thrown when too many hashes are being computed at once. */
    public static final class Busy extends RuntimeException {
        Busy() {
            super("too many password checks at once", null, false, false);
        }
    }

    public PasswordHasher(int memoryKiB, int iterations, int permits) {
        if (memoryKiB < 8 || iterations < 1 || permits < 1) {
            throw new IllegalArgumentException("argon2id needs memory >= 8 KiB, iterations >= 1, permits >= 1");
        }
        this.memoryKiB = memoryKiB;
        this.iterations = iterations;
        this.permits = new Semaphore(permits);
    }

    /** OWASP's minimum: 19 MiB, 2 passes; as many hashes at once as cores. */
    public static PasswordHasher defaults() {
        return new PasswordHasher(19_456, 2, Runtime.getRuntime().availableProcessors());
    }

    public String hash(String password) {
        byte[] salt = new byte[SALT_BYTES];
        random.nextBytes(salt);
        byte[] hash = derive(password, salt, memoryKiB, iterations, HASH_BYTES);
        return "$argon2id$v=19$m=" + memoryKiB + ",t=" + iterations + ",p=1$" + B64.encodeToString(salt) + "$"
                + B64.encodeToString(hash);
    }

    /** Whether {@code password} matches {@code stored}; false for a stored value that is not a hash of ours. */
    public boolean verify(String password, String stored) {
        Matcher m = stored == null ? null : PHC.matcher(stored);
        if (m == null || !m.matches()) {
            return false;
        }
        int memory = Integer.parseInt(m.group(1));
        int passes = Integer.parseInt(m.group(2));
        byte[] salt = B64_DECODER.decode(m.group(4));
        byte[] expected = B64_DECODER.decode(m.group(5));
        byte[] actual = derive(password, salt, memory, passes, expected.length);
        return MessageDigest.isEqual(expected, actual);
    }

    /**
     * Spends the time of one verification without a stored hash, so that an unknown user name
     * takes as long to refuse as a wrong password (no user enumeration by timing).
     */
    public void verifyNothing(String password) {
        derive(password, new byte[SALT_BYTES], memoryKiB, iterations, HASH_BYTES);
    }

    /** Whether {@code stored} was made with other parameters than this hasher's (hash again at the next sign-in). */
    public boolean needsRehash(String stored) {
        Matcher m = PHC.matcher(stored);
        return !m.matches() || Integer.parseInt(m.group(1)) != memoryKiB || Integer.parseInt(m.group(2)) != iterations;
    }

    private byte[] derive(String password, byte[] salt, int memory, int passes, int length) {
        try {
            if (!permits.tryAcquire(5, TimeUnit.SECONDS)) {
                throw new Busy();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Busy();
        }
        try {
            Argon2Parameters parameters = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                    .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                    .withMemoryAsKB(memory)
                    .withIterations(passes)
                    .withParallelism(1)
                    .withSalt(salt)
                    .build();
            Argon2BytesGenerator generator = new Argon2BytesGenerator();
            generator.init(parameters);
            byte[] out = new byte[length];
            generator.generateBytes(password.getBytes(StandardCharsets.UTF_8), out);
            return out;
        } finally {
            permits.release();
        }
    }
}
