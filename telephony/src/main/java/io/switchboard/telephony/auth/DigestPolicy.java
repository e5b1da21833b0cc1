package io.switchboard.telephony.auth;

import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which digest algorithms a device is challenged with: the account's own choice, else SHA-256 alone
 * for a domain listed in {@code sha256Domains}, else the node-wide list (MD5 alone by default).
 * <p>
 * One challenge is what every device survives: with two, baresip 1.0.0 gives up on the one it
 * cannot compute, JsSIP 3.13 keeps only the last header and SIPp 3.6.1 reads only the first. RFC
 * 8760 §2.4 lets a server offer several, in its order of preference; that stays possible node-wide
 * ({@code digestAlgorithms: [SHA-256, MD5]}) for fleets known to pick correctly.
 *
 * @param node          offered when neither the account nor its domain chose, in order of preference
 * @param sha256Domains domains (lower case) whose devices are challenged with SHA-256 only
 */
public record DigestPolicy(List<DigestAlgorithm> node, Set<String> sha256Domains) {
    private static final List<DigestAlgorithm> SHA_256_ONLY = List.of(DigestAlgorithm.SHA_256);

    public DigestPolicy {
        if (node.isEmpty()) {
            throw new IllegalArgumentException("at least one digest algorithm is needed");
        }
        node = List.copyOf(node);
        sha256Domains = sha256Domains.stream().map(d -> d.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
    }

    /** The default: one MD5 challenge, nothing per domain. */
    public static DigestPolicy md5() {
        return new DigestPolicy(List.of(DigestAlgorithm.MD5), Set.of());
    }

    /**
     * The algorithms to challenge with and to accept, in order of preference.
     *
     * @param account the account the request names, or null when there is none (then the domain's choice
     *                applies, so an unknown name is challenged like any other name of its domain)
     * @param realm   the domain the request authenticates in
     */
    public List<DigestAlgorithm> algorithmsFor(Account account, String realm) {
        if (account != null && account.digest() != null) {
            return account.digest() == DigestAlgorithm.SHA_256 ? SHA_256_ONLY : List.of(account.digest());
        }
        if (realm != null && sha256Domains.contains(realm.toLowerCase(Locale.ROOT))) {
            return SHA_256_ONLY;
        }
        return node;
    }
}
