package io.switchboard.telephony.auth;

import io.switchboard.sip.message.SipUri;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

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
    private final SipListeners listeners;
    private final String opaque;
    /** Stands in for an unknown user's HA1, so the response is computed for every name alike. */
    private final Map<DigestAlgorithm, String> unknownUserHa1 = new EnumMap<>(DigestAlgorithm.class);

    /**
     * {@code WRONG_ALGORITHM}: credentials computed with an algorithm the name is not challenged
     * with (a device that cached an old challenge, or a downgrade attempt); {@code NONCE_FOR_OTHER_URI}:
     * credentials signing this node rather than the Request-URI, with a nonce from a challenge to
     * another Request-URI. Both are answered with a fresh challenge.
     */
    public enum Status {
        OK, NO_CREDENTIALS, STALE, WRONG_PASSWORD, UNKNOWN_USER, REPLAYED, BAD_CREDENTIALS, WRONG_ALGORITHM,
        NONCE_FOR_OTHER_URI;

        /** The {@code reason} tag of {@code switchboard.sip.auth.failures} for this outcome. */
        public String meterReason() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** This outcome for the log, where the operator may read what the device is not told. */
        public String words() {
            return switch (this) {
                case OK -> "authenticated";
                case NO_CREDENTIALS -> "no credentials";
                case STALE -> "a stale nonce";
                case WRONG_PASSWORD -> "wrong password";
                case UNKNOWN_USER -> "no such account";
                case REPLAYED -> "a nonce count used before (challenged again)";
                case BAD_CREDENTIALS -> "malformed credentials";
                case WRONG_ALGORITHM -> "a digest algorithm the account is not offered (challenged again)";
                case NONCE_FOR_OTHER_URI -> "a nonce from a challenge for another address (challenged again)";
            };
        }
    }

    /**
     * The result of a check; {@code account} is set when the status is OK. {@code stale}: the fresh
     * challenge says {@code stale=true}, because the digest itself was right and only its nonce could
     * not be used (RFC 7616 §3.3), so the device retries without asking its user.
     */
    public record Outcome(Status status, Account account, String reason, boolean stale) {
        public Outcome(Status status, Account account, String reason) {
            this(status, account, reason, false);
        }

        public boolean isOk() {
            return status == Status.OK;
        }
    }

    /** Where this node listens for SIP: what a digest-uri naming the node may name besides its domain. */
    public interface SipListeners {
        /** True when the URI's host is an address of this node and its port (the default when absent, RFC 3261 §19.1.2) one of its SIP listeners'. */
        boolean isSipListener(SipUri uri);

        /** True when one of this node's SIP listeners (not its HTTP port) has this port. */
        boolean isSipPort(int port);
    }

    /**
     * @param listeners this node's SIP listeners: a digest-uri naming one of them (or the realm's
     *                  domain) is accepted besides the Request-URI, under the nonce rule of {@link #verify}
     */
    public DigestAuthenticator(AccountDirectory accounts, NonceService nonces, DigestPolicy policy,
                               SipListeners listeners) {
        this.accounts = accounts;
        this.nonces = nonces;
        this.policy = policy;
        this.listeners = listeners;
        SecureRandom random = new SecureRandom();
        this.opaque = Long.toHexString(random.nextLong());
        for (DigestAlgorithm algorithm : DigestAlgorithm.values()) {
            unknownUserHa1.put(algorithm, algorithm.hash("unknown:" + random.nextLong()));
        }
    }

    /**
     * The challenge header values for a request naming {@code username} in {@code realm}: one per
     * algorithm the policy gives that account (one, unless the node was configured with several),
     * all with one fresh nonce (RFC 8760 §2.4) bound to the request's Request-URI, {@code qop="auth"}
     * (RFC 7616 §3.3) and {@code stale=true} when the device's digest was right but its nonce
     * unusable (RFC 7616 §3.3: retry without asking the user).
     */
    public List<String> challenges(String realm, String username, boolean stale, SipUri requestUri) {
        Account account = username == null ? null : accounts.lookup(username, realm).orElse(null);
        List<DigestAlgorithm> algorithms = policy.algorithmsFor(account, realm);
        String nonce = nonces.issue(resource(requestUri));
        List<String> values = new ArrayList<>(algorithms.size());
        for (DigestAlgorithm algorithm : algorithms) {
            values.add("Digest realm=\"" + realm + "\", nonce=\"" + nonce + "\", opaque=\"" + opaque
                    + "\", algorithm=" + algorithm.token() + ", qop=\"auth\"" + (stale ? ", stale=true" : ""));
        }
        return values;
    }

    /**
     * Checks credentials for a request.
     * <p>
     * A name that is no account is answered exactly as a wrong password is, at every step (same
     * outcome for a wrong algorithm, a forged, stale or misbound nonce, a wrong response), and after
     * the same work: the algorithm comes from the policy for the name's domain, the response is
     * computed against a stand-in HA1, and the nonce is checked, so user names cannot be probed. Only
     * an account's own digest choice differs from its domain's, as its challenge shows anyway.
     *
     * @param header the Authorization (or Proxy-Authorization) value whose realm is ours, or null
     * @param realm  the realm the request must authenticate in
     * @param method the request method (A2 = method ":" digest-uri, RFC 7616 §3.4.3)
     * @param requestUri the request's Request-URI: the digest-uri must name it (any valid nonce), or
     *                   name this node (the realm's domain, or an address and port of a SIP listener)
     *                   with a nonce issued in a challenge to this same Request-URI; RFC 7616 §3.4.6
     */
    public Outcome verify(String header, String realm, String method, SipUri requestUri) {
        return verify(header, realm, method, requestUri, null);
    }

    /**
     * As above, where the request was sent to {@code reachedAt} (the flow's
     * {@link io.switchboard.sip.transport.SipFlow#reachedAt()}; may be null): a digest-uri naming that
     * address and port names this node too. Behind a PROXY-protocol balancer it is the balancer's
     * address, which a client such as SIPp signs when it sends there.
     */
    public Outcome verify(String header, String realm, String method, SipUri requestUri, InetSocketAddress reachedAt) {
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
        UriKind uriKind = uriKind(credentials.uri(), requestUri, realm, reachedAt);
        if (uriKind == UriKind.NEITHER) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "digest uri names neither the Request-URI nor this node");
        }
        Account account = accounts.lookup(credentials.username(), realm)
                .filter(a -> a.domain().equalsIgnoreCase(realm)).orElse(null);
        if (!policy.algorithmsFor(account, realm).contains(algorithm)) {
            // Only the algorithms this name is challenged with count: an account marked SHA-256 must
            // not be reachable through MD5 (a downgrade, RFC 7616 §5.8)
            return new Outcome(Status.WRONG_ALGORITHM, null, credentials.username() + "@" + realm
                    + " is not challenged with " + algorithm.token());
        }
        String ha1 = account == null ? unknownUserHa1.get(algorithm) : account.ha1(algorithm);
        String ha2 = algorithm.hash(method + ":" + credentials.uri());
        String expected = algorithm.hash(ha1 + ":" + credentials.nonce() + ":" + credentials.nc()
                + ":" + credentials.cnonce() + ":" + qop.toLowerCase(Locale.ROOT) + ":" + ha2);
        boolean match = account != null & MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                credentials.response().toLowerCase(Locale.ROOT).getBytes(StandardCharsets.US_ASCII));
        Outcome refused = account == null
                ? new Outcome(Status.UNKNOWN_USER, null, "unknown user " + credentials.username())
                : new Outcome(Status.WRONG_PASSWORD, account, "wrong password for " + account.address());
        // The nonce is checked only after the response, so a wrong password does not use up a count;
        // a uri naming the node counts only with a nonce from a challenge to this Request-URI
        NonceService.Check nonce = nonces.check(credentials.nonce(), match ? credentials.nc() : null,
                uriKind == UriKind.THIS_NODE ? resource(requestUri) : null);
        return switch (nonce) {
            case INVALID -> new Outcome(Status.NO_CREDENTIALS, null, "nonce not issued by this server");
            // RFC 7616 §3.3: stale only when the digest is valid; otherwise it is a wrong password
            case STALE -> match ? new Outcome(Status.STALE, null, "nonce expired", true) : refused;
            case OTHER_URI -> new Outcome(Status.NONCE_FOR_OTHER_URI, null,
                    "digest uri names this node, nonce was issued for another Request-URI", match);
            case REPLAYED -> new Outcome(Status.REPLAYED, null, "nonce-count replayed");
            case VALID -> match ? new Outcome(Status.OK, account, "ok") : refused;
        };
    }

    /**
     * Of the credentials a request carries (a request may carry several, one per realm, RFC 3261
     * §22.4 and §22.3), the ones for our realm; the first when none names it; null when there are none.
     */
    public static String credentialsFor(List<String> headerValues, String realm) {
        if (headerValues.size() <= 1) {
            return headerValues.isEmpty() ? null : headerValues.get(0);
        }
        String needle = "realm=\"" + realm.toLowerCase(Locale.ROOT) + "\"";
        for (String value : headerValues) {
            if (value.toLowerCase(Locale.ROOT).contains(needle)) {
                return value;
            }
        }
        return headerValues.get(0);
    }

    /** What a digest-uri names, of what the server accepts. */
    private enum UriKind { REQUEST_URI, THIS_NODE, NEITHER }

    /**
     * RFC 7616 §3.4.6: the server must make sure the digest-uri names the same resource as the
     * Request-Line, so that credentials captured for one request cannot authorise another.
     * {@code REQUEST_URI}: it is the Request-URI (scheme, user, host and port compared: devices differ
     * in how they write parameters and escapes); any valid nonce will do. {@code THIS_NODE}: without
     * a user part, it names the realm's domain (no port, or a SIP listener's port) or an address and
     * port of a SIP listener of this node — SIPp signs {@code sip:127.0.0.1:5060} on an INVITE to a
     * user, and Kamailio accepts it. Such a uri says nothing about the callee, so {@link #verify}
     * takes it only with a nonce issued in a challenge to this same Request-URI: a credential captured
     * on a call to one user cannot place a call to another. {@code NEITHER}: refused with 400.
     */
    private UriKind uriKind(String digestUri, SipUri requestUri, String realm, InetSocketAddress reachedAt) {
        if (digestUri == null) {
            return UriKind.NEITHER;
        }
        if (digestUri.equalsIgnoreCase(requestUri.toString())) {
            return UriKind.REQUEST_URI;
        }
        SipUri parsed;
        try {
            parsed = SipUri.parse(digestUri);
        } catch (RuntimeException e) {
            return UriKind.NEITHER;
        }
        if (!parsed.isSip()) {
            return UriKind.NEITHER;
        }
        if (parsed.scheme().equalsIgnoreCase(requestUri.scheme())
                && Objects.equals(parsed.user(), requestUri.user())
                && parsed.host().equalsIgnoreCase(requestUri.host())
                && parsed.port() == requestUri.port()) {
            return UriKind.REQUEST_URI;
        }
        if (parsed.user() != null) {
            return UriKind.NEITHER;
        }
        boolean node = parsed.host().equalsIgnoreCase(realm)
                // an explicit :0 is not "no port": nothing listens there (RFC 6335 §6)
                ? parsed.port() < 0 || listeners.isSipPort(parsed.port())
                : listeners.isSipListener(parsed) || parsed.names(reachedAt);
        return node ? UriKind.THIS_NODE : UriKind.NEITHER;
    }

    /** The Request-URI a nonce is bound to: the parts {@link #uriKind} compares, so equal there means equal here. */
    private static String resource(SipUri uri) {
        if (!uri.isSip()) {
            return uri.toString();
        }
        String user = uri.user();
        return uri.scheme().toLowerCase(Locale.ROOT) + ":" + (user == null ? "" : user + "@")
                + uri.host().toLowerCase(Locale.ROOT) + ":" + uri.port();
    }
}
