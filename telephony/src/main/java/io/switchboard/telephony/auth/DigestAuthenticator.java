package io.switchboard.telephony.auth;

import io.switchboard.sip.message.SipUri;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * SIP digest authentication (RFC 3261 §22.4 with RFC 7616 and RFC 8760): builds challenges and
 * checks credentials against the {@link AccountDirectory}. Pure computation, safe on I/O threads.
 */
public final class DigestAuthenticator {
    private final AccountDirectory accounts;
    private final NonceService nonces;
    private final List<DigestAlgorithm> algorithms;
    private final String opaque;

    public enum Status { OK, NO_CREDENTIALS, STALE, WRONG_PASSWORD, UNKNOWN_USER, REPLAYED, BAD_CREDENTIALS }

    /** The result of a check; {@code account} is set when the status is OK. */
    public record Outcome(Status status, Account account, String reason) {
        public boolean isOk() {
            return status == Status.OK;
        }
    }

    /**
     * @param algorithms offered in this order (RFC 8760 §2.4: the server lists challenges in its
     *                   order of preference; devices pick the first they support)
     */
    public DigestAuthenticator(AccountDirectory accounts, NonceService nonces, List<DigestAlgorithm> algorithms) {
        if (algorithms.isEmpty()) {
            throw new IllegalArgumentException("at least one digest algorithm is needed");
        }
        this.accounts = accounts;
        this.nonces = nonces;
        this.algorithms = List.copyOf(algorithms);
        this.opaque = Long.toHexString(new java.security.SecureRandom().nextLong());
    }

    /** One challenge header value per algorithm, all with one fresh nonce (RFC 8760 §2.4). */
    public List<String> challenges(String realm, boolean stale) {
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
     * @param requestUri the request's Request-URI, which the digest-uri must name (RFC 2617 §3.2.2.5),
     *                   so a response captured for one request cannot authorise another
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
        if (algorithm == null || !algorithms.contains(algorithm)) {
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
        if (!sameResource(credentials.uri(), requestUri)) {
            return new Outcome(Status.BAD_CREDENTIALS, null, "digest uri does not match the Request-URI");
        }
        Account account = accounts.lookup(credentials.username(), realm).orElse(null);
        if (account == null || !account.domain().equalsIgnoreCase(realm)) {
            return new Outcome(Status.UNKNOWN_USER, null, "unknown user " + credentials.username());
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

    /** Compares scheme, user, host and port: devices differ in how they write parameters and escapes. */
    private static boolean sameResource(String digestUri, SipUri requestUri) {
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
        return parsed.scheme().equalsIgnoreCase(requestUri.scheme())
                && java.util.Objects.equals(parsed.user(), requestUri.user())
                && parsed.host().equalsIgnoreCase(requestUri.host())
                && parsed.port() == requestUri.port();
    }
}
