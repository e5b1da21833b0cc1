package io.switchboard.telephony.auth;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Issues digest nonces and checks them without a table of outstanding nonces.
 * <p>
 * A nonce is {@code index(8) | issued-at seconds(4) | HMAC-SHA256(key, index | issued-at)[0..12]},
 * base64url: the HMAC proves this node issued it, the time makes it expire (then the device is told
 * {@code stale=true} and retries without asking its user, RFC 7616 §3.3), and the index addresses
 * one slot of a fixed ring holding the highest nonce-count seen for that nonce, so a replayed
 * nc is refused (RFC 7616 §3.4 nc). The ring has bounded memory whatever the load: when more than
 * {@code ringSize} nonces were issued since one, that one's slot is reused and it counts as stale.
 * This is the approach Kamailio's auth module takes with its nonce-id pool.
 */
public final class NonceService {
    private static final int HMAC_BYTES = 12;

    private final Clock clock;
    private final Duration lifetime;
    private final Mac macPrototype;
    private final AtomicLong counter = new AtomicLong();
    private final AtomicLongArray highestNc;
    private final int ringSize;
    private final ThreadLocal<Mac> macs;

    public enum Check { VALID, STALE, REPLAYED, INVALID }

    public NonceService(Clock clock, Duration lifetime, int ringSize) {
        this(clock, lifetime, ringSize, randomKey());
    }

    public NonceService(Clock clock, Duration lifetime, int ringSize, byte[] key) {
        this.clock = clock;
        this.lifetime = lifetime;
        this.ringSize = ringSize;
        this.highestNc = new AtomicLongArray(ringSize);
        try {
            macPrototype = Mac.getInstance("HmacSHA256");
            macPrototype.init(new SecretKeySpec(key, "HmacSHA256"));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
        this.macs = ThreadLocal.withInitial(() -> {
            try {
                return (Mac) macPrototype.clone();
            } catch (CloneNotSupportedException e) {
                throw new IllegalStateException(e);
            }
        });
        counter.set(new SecureRandom().nextInt(1 << 20));
    }

    private static byte[] randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    public String issue() {
        long index = counter.incrementAndGet();
        highestNc.set(slot(index), 0);
        int issuedAt = (int) (clock.millis() / 1000);
        ByteBuffer buffer = ByteBuffer.allocate(12 + HMAC_BYTES);
        buffer.putLong(index).putInt(issuedAt);
        buffer.put(mac(index, issuedAt), 0, HMAC_BYTES);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(buffer.array());
    }

    /**
     * Checks a nonce and, for a valid one, records the nonce-count.
     *
     * @param nc the nonce-count as sent (8 hex digits), or null when the client used no qop
     */
    public Check check(String nonce, String nc) {
        byte[] raw;
        try {
            raw = Base64.getUrlDecoder().decode(nonce);
        } catch (IllegalArgumentException e) {
            return Check.INVALID;
        }
        if (raw.length != 12 + HMAC_BYTES) {
            return Check.INVALID;
        }
        ByteBuffer buffer = ByteBuffer.wrap(raw);
        long index = buffer.getLong();
        int issuedAt = buffer.getInt();
        byte[] expected = mac(index, issuedAt);
        byte[] given = new byte[HMAC_BYTES];
        buffer.get(given);
        if (!MessageDigest.isEqual(java.util.Arrays.copyOf(expected, HMAC_BYTES), given)) {
            return Check.INVALID;
        }
        long ageSeconds = clock.millis() / 1000 - Integer.toUnsignedLong(issuedAt);
        if (ageSeconds > lifetime.toSeconds() || ageSeconds < -5) {
            return Check.STALE;
        }
        if (counter.get() - index >= ringSize) {
            return Check.STALE; // its slot was reused by a newer nonce
        }
        if (nc == null) {
            return Check.VALID;
        }
        long count;
        try {
            count = Long.parseLong(nc, 16);
        } catch (NumberFormatException e) {
            return Check.INVALID;
        }
        int slot = slot(index);
        while (true) {
            long seen = highestNc.get(slot);
            if (count <= seen) {
                return Check.REPLAYED;
            }
            if (highestNc.compareAndSet(slot, seen, count)) {
                return Check.VALID;
            }
        }
    }

    private int slot(long index) {
        return (int) Long.remainderUnsigned(index, ringSize);
    }

    private byte[] mac(long index, int issuedAt) {
        Mac mac = macs.get();
        mac.update(ByteBuffer.allocate(12).putLong(index).putInt(issuedAt).array());
        return mac.doFinal();
    }
}
