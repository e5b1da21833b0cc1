package io.switchboard.telephony.proxy;

import org.jdbi.v3.core.Jdbi;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Signs the parameters this node writes into its Record-Route entries (the dialog's flow tokens),
 * so an in-dialog request is forwarded only along a route this node made: a forged Route cannot
 * steer the node to an arbitrary address (no relaying, no reflection) or end someone else's call.
 * <p>
 * The key lives in the store ({@code sip_settings.route_secret}), so routes stay valid across a
 * restart and are valid on every node that shares the store.
 */
public final class RouteSigner {
    private static final String SETTING = "route_secret";
    private final java.util.function.Supplier<byte[]> secret;
    private volatile SecretKeySpec key;
    private final ThreadLocal<Mac> macs = ThreadLocal.withInitial(this::newMac);

    public RouteSigner(byte[] secret) {
        byte[] copy = secret.clone();
        this.secret = () -> copy;
    }

    private RouteSigner(java.util.function.Supplier<byte[]> secret) {
        this.secret = secret;
    }

    /**
     * The store's key, read (or created: the first node to start wins, the others read it) on
     * first use, which comes after the node has migrated its store.
     */
    public static RouteSigner fromStore(Jdbi jdbi) {
        return new RouteSigner(() -> load(jdbi));
    }

    private static byte[] load(Jdbi jdbi) {
        String hex = jdbi.inTransaction(h -> {
            var existing = h.createQuery("SELECT value FROM sip_settings WHERE name = :n").bind("n", SETTING)
                    .mapTo(String.class).findOne();
            if (existing.isPresent()) {
                return existing.get();
            }
            byte[] fresh = new byte[32];
            new SecureRandom().nextBytes(fresh);
            String value = HexFormat.of().formatHex(fresh);
            h.createUpdate("INSERT INTO sip_settings (name, value) VALUES (:n, :v) ON CONFLICT (name) DO NOTHING")
                    .bind("n", SETTING).bind("v", value).execute();
            return h.createQuery("SELECT value FROM sip_settings WHERE name = :n").bind("n", SETTING)
                    .mapTo(String.class).one();
        });
        return HexFormat.of().parseHex(hex);
    }

    /** Reads the key now (at node start), so the first call does not wait for the store. */
    public void prepare() {
        key();
    }

    private SecretKeySpec key() {
        SecretKeySpec k = key;
        if (k == null) {
            synchronized (this) {
                k = key;
                if (k == null) {
                    key = k = new SecretKeySpec(secret.get(), "HmacSHA256");
                }
            }
        }
        return k;
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key());
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /** A short signature (96 bits, base64url) usable as a URI parameter value. */
    public String sign(String text) {
        byte[] full = macs.get().doFinal(text.getBytes(StandardCharsets.UTF_8));
        return Base64.getUrlEncoder().withoutPadding().encodeToString(java.util.Arrays.copyOf(full, 12));
    }

    public boolean verify(String text, String signature) {
        if (signature == null) {
            return false;
        }
        return MessageDigest.isEqual(sign(text).getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII));
    }
}
