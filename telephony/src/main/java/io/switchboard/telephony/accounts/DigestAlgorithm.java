package io.switchboard.telephony.accounts;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** The digest algorithms offered to devices: SHA-256 (RFC 7616, RFC 8760) and MD5 for older devices. */
public enum DigestAlgorithm {
    SHA_256("SHA-256", "SHA-256"),
    MD5("MD5", "MD5");

    private final String token;
    private final String jca;

    DigestAlgorithm(String token, String jca) {
        this.token = token;
        this.jca = jca;
    }

    /** The algorithm token in WWW-Authenticate and Authorization. */
    public String token() {
        return token;
    }

    /** Lower-case hex of the hash of the UTF-8 bytes. */
    public String hash(String text) {
        try {
            MessageDigest digest = MessageDigest.getInstance(jca);
            return HexFormat.of().formatHex(digest.digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(jca + " is missing from this JVM", e);
        }
    }

    /** HA1 = H(username ":" realm ":" password), RFC 7616 §3.4.2. */
    public String ha1(String username, String realm, String password) {
        return hash(username + ":" + realm + ":" + password);
    }

    /** The algorithm an account row names, or null when it names none (the column is NULL). */
    public static DigestAlgorithm fromStored(String token) {
        return token == null || token.isEmpty() ? null : fromToken(token);
    }

    /** The algorithm for a token; absent means MD5 (RFC 7616 §3.3). Null when not supported. */
    public static DigestAlgorithm fromToken(String token) {
        if (token == null || token.isEmpty()) {
            return MD5;
        }
        for (DigestAlgorithm a : values()) {
            if (a.token.equalsIgnoreCase(token)) {
                return a;
            }
        }
        return null;
    }
}
