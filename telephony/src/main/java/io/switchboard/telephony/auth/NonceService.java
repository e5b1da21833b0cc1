package io.switchboard.telephony.auth;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Issues digest nonces and checks them without a table of outstanding nonces.
 * <p>
 * A nonce is {@code index(8) | issued-at seconds(4) | uri-tag(8) | HMAC-SHA256(key, 0 | index |
 * issued-at | uri-tag)[0..12]}, base64url (43 characters): the HMAC proves this node issued it, the
 * time makes it expire (then the device is told {@code stale=true} and retries without asking its
 * user, RFC 7616 §3.3), the uri-tag ({@code HMAC-SHA256(key, 1 | index | Request-URI)[0..8]}) records
 * which Request-URI the challenge answered, so the server can tell whether credentials signing some
 * other uri were computed for this very request (RFC 7616 §3.4.6), and the index addresses
 * one slot of a fixed ring holding the highest nonce-count seen for that nonce, so a replayed
 * nc is refused (RFC 7616 §3.4 nc). The ring has bounded memory whatever the load: when more than
 * {@code ringSize} nonces were issued since one, that one's slot is reused and it counts as stale.
 * This is the approach Kamailio's auth module takes with its nonce-id pool.
 */
public final class NonceService {
    private static final int HMAC_BYTES = 12;
    private static final int URI_TAG_BYTES = 8;
    private static final int HEADER_BYTES = 8 + 4 + URI_TAG_BYTES;

    private final Clock clock;
    private final Duration lifetime;
    private final Mac macPrototype;
    private final AtomicLong counter = new AtomicLong();
    private final AtomicLongArray highestNc;
    private final int ringSize;
    private final ThreadLocal<Mac> macs;

    /**
     * {@code OTHER_URI}: a valid, fresh nonce, but issued in a challenge to another Request-URI than
     * the one {@link #check} was asked to require.
     */
    public enum Check { VALID, STALE, REPLAYED, INVALID, OTHER_URI }

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

    /**
     * A fresh nonce for a challenge to a request.
     *
     * @param requestUri the challenged request's Request-URI, in the canonical form the caller also
     *                   passes to {@link #check}
     */
    public String issue(String requestUri) {
        long index = counter.incrementAndGet();
        highestNc.set(slot(index), 0);
        int issuedAt = (int) (clock.millis() / 1000);
        ByteBuffer buffer = ByteBuffer.allocate(HEADER_BYTES + HMAC_BYTES);
        buffer.putLong(index).putInt(issuedAt).put(uriTag(index, requestUri));
        buffer.put(mac(buffer.array(), HEADER_BYTES), 0, HMAC_BYTES);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(buffer.array());
    }

    /**
     * Checks a nonce and, for a valid one, records the nonce-count.
     *
     * @param nc         the nonce-count as sent (8 hex digits), or null to check the nonce without
     *                   recording a count (credentials that did not verify must not use one up)
     * @param requestUri null when any Request-URI will do; else the nonce must have been issued in a
     *                   challenge to this one (canonical form, as given to {@link #issue}), otherwise
     *                   {@link Check#OTHER_URI}
     */
    public Check check(String nonce, String nc, String requestUri) {
        byte[] raw;
        try {
            raw = Base64.getUrlDecoder().decode(nonce);
        } catch (IllegalArgumentException e) {
            return Check.INVALID;
        }
        if (raw.length != HEADER_BYTES + HMAC_BYTES) {
            return Check.INVALID;
        }
        byte[] expected = mac(raw, HEADER_BYTES);
        if (!MessageDigest.isEqual(Arrays.copyOf(expected, HMAC_BYTES), Arrays.copyOfRange(raw, HEADER_BYTES, raw.length))) {
            return Check.INVALID;
        }
        ByteBuffer buffer = ByteBuffer.wrap(raw);
        long index = buffer.getLong();
        int issuedAt = buffer.getInt();
        long ageSeconds = clock.millis() / 1000 - Integer.toUnsignedLong(issuedAt);
        if (ageSeconds > lifetime.toSeconds() || ageSeconds < -5) {
            return Check.STALE;
        }
        if (counter.get() - index >= ringSize) {
            return Check.STALE; // its slot was reused by a newer nonce
        }
        if (requestUri != null && !MessageDigest.isEqual(uriTag(index, requestUri),
                Arrays.copyOfRange(raw, 12, HEADER_BYTES))) {
            return Check.OTHER_URI; // checked before the count, so a refused request uses none up
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

    /** The HMAC over the nonce's first {@code length} bytes, after a 0 byte (the tag's input starts with 1). */
    private byte[] mac(byte[] nonce, int length) {
        Mac mac = macs.get();
        mac.update((byte) 0);
        mac.update(nonce, 0, length);
        return mac.doFinal();
    }

    /** Keyed, so it names the Request-URI to this node only; with the index, so equal URIs give unequal tags. */
    private byte[] uriTag(long index, String requestUri) {
        Mac mac = macs.get();
        mac.update((byte) 1);
        mac.update(ByteBuffer.allocate(8).putLong(index).array());
        mac.update(requestUri.getBytes(StandardCharsets.UTF_8));
        return Arrays.copyOf(mac.doFinal(), URI_TAG_BYTES);
    }
}
