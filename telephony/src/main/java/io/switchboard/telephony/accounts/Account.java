package io.switchboard.telephony.accounts;

import java.time.Instant;

/**
 * A device account: a SIP username in a domain, with its password only as digest HA1 values.
 * The domain is also the digest realm (RFC 3261 §22.1).
 *
 * @param digest the one digest algorithm this account is challenged with, or null to follow its
 *               domain and the node (see {@code DigestPolicy})
 */
public record Account(String username, String domain, String ha1Md5, String ha1Sha256, Instant createdAt,
                      Instant updatedAt, DigestAlgorithm digest) {

    /** "alice@example.org". */
    public String address() {
        return username + "@" + domain;
    }

    public String ha1(DigestAlgorithm algorithm) {
        return algorithm == DigestAlgorithm.MD5 ? ha1Md5 : ha1Sha256;
    }
}
