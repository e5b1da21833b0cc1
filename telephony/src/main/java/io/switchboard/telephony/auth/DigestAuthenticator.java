package io.switchboard.telephony.auth;

import io.switchboard.sip.message.SipUri;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * SIP digest authentication (RFC 3261 §22.4 with RFC 7616 and RFC 8760): builds challenges and
 * checks credentials against the {@link AccountDirectory}. Which algorithm a device is challenged
 * with is the {@link DigestPolicy}'s call (one MD5 challenge by default). Pure computation, safe on
 * I/O threads.
 */
public final class DigestAuthenticator {
    private final AccountDirectory accounts;
    private final NonceService nonces;
    private final DigestPolicy policy;
    private final Predicate<SipUri> thisNode;
    private final String opaque;

    /**
     * {@code WRONG_ALGORITHM}: credentials computed with an algorithm the account is not challenged
     * with (a device that cached an old challenge, or a downgrade attempt); answered with a fresh challenge.
     */
    public enum Status { OK, NO_CREDENTIALS, STALE, WRONG_PASSWORD, UNKNOWN_USER, REPLAYED, BAD_CREDENTIALS, WRONG_ALGORITHM }

    /** The result of a check; {@code account} is set when the status is OK. */
    public record Outcome(Status status, Account account, String reason) {
        public boolean isOk() {
            return status == Status.OK;
        }
    }

    /**
     * @param thisNode whether a digest-uri names this node itself (one of its domains, or an address
     *                 and port it listens on): such a uri is accepted besides the Request-URI
     */
    public DigestAuthenticator(AccountDirectory accounts, NonceService nonces, DigestPolicy policy,
                               Predicate<SipUri> thisNode) {
        this.accounts = accounts;
        this.nonces = nonces;
        this.policy = policy;
        this.thisNode = thisNode;
        this.opaque = Long.toHexString(new java.security.SecureRandom().nextLong());
    }

    /**
     * The challenge header values for a request naming {@code username} in {@code realm}: one per
     * algorithm the policy gives that account (one, unless the node was configured with several),
     * all with one fresh nonce (RFC 8760 §2.4), {@code qop="auth"} (RFC 7616 §3.3) and
     * {@code stale=true} when the device's nonce merely expired (RFC 7616 §3.3: retry without
     * asking the user).
     */
    public List<String> challenges(String realm, String username, boolean stale) {
        Account account = username == null ? null : accounts.lookup(username, realm).orElse(null);
        List<DigestAlgorithm> algorithms = policy.algorithmsFor(account, realm);
        String nonce = nonces.issue();
        List<String> values = new ArrayList<>(algorithms.size());
        for (DigestAlgorithm algorithm : algorithms) {
            values.add("Digest realm=\"" + realm + "\", nonce=\"" + nonce + "\", opaque=\"" + opaque
                    + "\", algorithm=" + algorithm.token() + ", qop=\"auth\"" + (stale ? ", stale=true" : ""));
        }
        return values;
    }

    /**
     * Checks credentials for a request.
     *
     * @param header the Authorization (or Proxy-Authorization) value whose realm is ours, or null
     * @param realm  the realm the request must authenticate in
     * @param method the request method (A2 = method ":" digest-uri, RFC 7616 §3.4.3)
     * @param requestUri the request's Request-URI: the digest-uri must name it (RFC 7616 §3.4.6, RFC 2617
     *                   §3.2.2.5), so a response captured for one request cannot authorise another, or
     *                   name this node itself (as SIPp and some phones sign an INVITE to a user)
     */
    public Outcome verify(String header, String realm, String method, SipUri requestUri) {
        if (header == null) {
            return new Outcome(Status.NO_CREDENTIALS, null, "credentials required");
        }
        DigestCredentials credentials;
        try {
            credentials = DigestCredentials.parse(header);
        } catch (IllegalArgumentException e) {
            return new Outcome(Status.BAD_CREDENTIALS, null, e.getMessage());
        }
        if (!realm.equalsIgnoreCase(credentials.realm())) {
            return new Outcome(Status.NO_CREDENTIALS, null, "credentials for another realm");
        }
        DigestAlgorithm algorithm = DigestAlgorithm.fromToken(credentials.algorithm());
        if (algorithm == null) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "unsupported digest algorithm " + credentials.algorithm());
        }
        String qop = credentials.qop();
        if (qop != null && !qop.equalsIgnoreCase("auth")) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "unsupported qop " + qop);
        }
        if (qop == null) {
            // RFC 8760 §2.6 and RFC 7616 require qop; without it nonce-count replay protection is lost
            return new Outcome(Status.BAD_CREDENTIALS, null, "qop=auth is required");
        }
        if (credentials.cnonce() == null || credentials.nc() == null) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "qop=auth needs cnonce and nc");
        }
        if (!acceptableUri(credentials.uri(), requestUri)) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "digest uri names neither the Request-URI nor this node");
        }
        Account account = accounts.lookup(credentials.username(), realm).orElse(null);
        if (account == null || !account.domain().equalsIgnoreCase(realm)) {
            return new Outcome(Status.UNKNOWN_USER, null, "unknown user " + credentials.username());
        }
        if (!policy.algorithmsFor(account, realm).contains(algorithm)) {
            // Only the algorithms this account is challenged with count: an account marked SHA-256
            // must not be reachable through MD5 (a downgrade, RFC 7616 §5.8)
            return new Outcome(Status.WRONG_ALGORITHM, null, account.address() + " is not challenged with "
                    + algorithm.token());
        }
        String ha2 = algorithm.hash(method + ":" + credentials.uri());
        String expected = algorithm.hash(account.ha1(algorithm) + ":" + credentials.nonce() + ":" + credentials.nc()
                + ":" + credentials.cnonce() + ":" + qop.toLowerCase(java.util.Locale.ROOT) + ":" + ha2);
        boolean match = MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                credentials.response().toLowerCase(java.util.Locale.ROOT).getBytes(StandardCharsets.US_ASCII));
        // Check the nonce only after the response: a wrong password must not burn the nonce-count
        NonceService.Check nonce = nonces.check(credentials.nonce(), match ? credentials.nc() : null);
        switch (nonce) {
            case INVALID:
                return new Outcome(Status.NO_CREDENTIALS, null, "nonce not issued by this server");
            case STALE:
                return new Outcome(Status.STALE, null, "nonce expired");
            case REPLAYED:
                return new Outcome(Status.REPLAYED, null, "nonce-count replayed");
            default:
                break;
        }
        if (!match) {
            return new Outcome(Status.WRONG_PASSWORD, account, "wrong password for " + account.address());
        }
        return new Outcome(Status.OK, account, "ok");
    }

    /**
     * Of the credentials a request carries (a request may carry several, one per realm, RFC 3261
     * §22.4 and §22.3), the ones for our realm; the first when none names it; null when there are none.
     */
    public static String credentialsFor(List<String> headerValues, String realm) {
        if (headerValues.size() <= 1) {
            return headerValues.isEmpty() ? null : headerValues.get(0);
        }
        String needle = "realm=\"" + realm.toLowerCase(java.util.Locale.ROOT) + "\"";
        for (String value : headerValues) {
            if (value.toLowerCase(java.util.Locale.ROOT).contains(needle)) {
                return value;
            }
        }
        return headerValues.get(0);
    }

    /**
     * The digest-uri names the Request-URI (scheme, user, host and port compared: devices differ in
     * how they write parameters and escapes), or, without a user part, this node itself: RFC 7616
     * §3.4.6 leaves it to the server to accept a uri naming the same resource, and RFC 3261 §22.4
     * signs what the client sends to; SIPp signs {@code sip:127.0.0.1:5060} on an INVITE to a user,
     * which Kamailio accepts. A response captured for this node authorises only requests to it.
     */
    private boolean acceptableUri(String digestUri, SipUri requestUri) {
        if (digestUri == null) {
            return false;
        }
        if (digestUri.equalsIgnoreCase(requestUri.toString())) {
            return true;
        }
        SipUri parsed;
        try {
            parsed = SipUri.parse(digestUri);
        } catch (RuntimeException e) {
            return false;
        }
        if (!parsed.isSip()) {
            return false;
        }
        if (parsed.scheme().equalsIgnoreCase(requestUri.scheme())
                && Objects.equals(parsed.user(), requestUri.user())
                && parsed.host().equalsIgnoreCase(requestUri.host())
                && parsed.port() == requestUri.port()) {
            return true;
        }
        return parsed.user() == null && thisNode.test(parsed);
    }
}
