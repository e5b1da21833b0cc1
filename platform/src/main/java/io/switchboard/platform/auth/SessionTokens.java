package io.switchboard.platform.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * The tokens a person holds after signing in.
 *
 * <p><b>Access tokens</b> are JWTs (RFC 7519) signed with HMAC-SHA256 under a key kept in the
 * store ({@code platform_secrets}), so every node of a cluster verifies every other node's tokens
 * without asking anyone. They are short-lived and carry the person's id ({@code sub}), user name,
 * admin flag and token version ({@code ver}); verifying one here checks only signature, issuer and
 * time, and {@link PersonAuth} checks the version against the store.
 *
 * <p><b>Refresh tokens</b> are opaque random strings; the store keeps their SHA-256. Each use
 * rotates it: the old one is marked used and a new one of the same family returned. A used token
 * presented again means a copy leaked, so the whole family is revoked (RFC 9700 §4.14.2). A
 * refresh token carries the token version it was issued under and is refused once the person's
 * version moved on; the refresh holds the person's row while it works, so a password change or
 * "sign out everywhere" racing with it waits for it and then ends what it issued.
 *
 * <p>A <b>sign-in</b> (a session) is one refresh token family; its id is the {@code sid} claim of
 * every access token issued in it. When a sign-in ends early — a used refresh token presented
 * again, or a sign-out — its access tokens are refused too, through {@link RevokedSessions}:
 * recorded in the same transaction, honoured here at once, and on other nodes when they hear of it
 * ({@link #onRevoked}) or reload the list.
 */
public final class SessionTokens {
    private static final String ISSUER = "switchboard";
    private static final String KEY_NAME = "access-token-hs256";
    private static final String REFRESH_PREFIX = "sbrt_";
    /** Nodes of one cluster sign and check each other's tokens; their clocks may differ this much. */
    private static final Duration CLOCK_SKEW = Duration.ofSeconds(5);
    /**
     * A revocation outlives the access tokens it ends by this much: its expiry is the revoking
     * node's clock, the tokens' expiry the issuing node's, and the check runs on a third clock.
     */
    static final Duration REVOCATION_MARGIN = Duration.ofSeconds(60);

    private final Jdbi jdbi;
    private final Clock clock;
    private final Duration accessTtl;
    private final Duration refreshTtl;
    private final JWSSigner signer;
    private final JWSVerifier verifier;
    private final SecureRandom random = new SecureRandom();
    /** Tokens verified before, with their expiry: a repeat costs a lookup, not an HMAC and a parse. */
    private final Map<String, Verified> verified = new ConcurrentHashMap<>();
    private static final int MAX_VERIFIED = 100_000;
    private final RevokedSessions revoked;
    private volatile BiConsumer<String, Long> revocationListener = (session, expiresAt) -> { };
    private final List<Consumer<String>> endedListeners = new CopyOnWriteArrayList<>();

    private record Verified(AccessClaims claims, long expiresAt) {
    }

    /** What a client receives on sign-up, sign-in and refresh. */
    public record Issued(String accessToken, long expiresInSeconds, String refreshToken) {
    }

    /**
     * The verified content of an access token.
     *
     * @param sessionId the sign-in it was issued in (its refresh token family); null in tokens
     *                  issued before sign-ins had ids
     */
    public record AccessClaims(String personId, String username, boolean admin, int tokenVersion, String sessionId) {
    }

    /** A refresh token that is unknown, expired, revoked or reused. */
    public static final class InvalidRefreshToken extends RuntimeException {
        private final boolean reused;
        private final String personId;

        InvalidRefreshToken(String why) {
            this(why, false, null);
        }

        InvalidRefreshToken(String why, boolean reused, String personId) {
            super(why, null, false, false);
            this.reused = reused;
            this.personId = personId;
        }

        /** Whose sign-in a reused token ended; null for other refusals (the token named nobody for sure). */
        public String personId() {
            return personId;
        }

        /** A used token presented again: a copy leaked, and its sign-in was ended. */
        public boolean reused() {
            return reused;
        }
    }

    public SessionTokens(Jdbi jdbi, Clock clock, Duration accessTtl, Duration refreshTtl) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.accessTtl = accessTtl;
        this.refreshTtl = refreshTtl;
        this.revoked = new RevokedSessions(jdbi, clock, REVOCATION_MARGIN, this::ended);
        byte[] key = Base64.getDecoder().decode(sharedKey());
        try {
            this.signer = new MACSigner(key);
            this.verifier = new MACVerifier(key);
        } catch (JOSEException e) {
            throw new IllegalStateException("the access-token key is unusable: " + e.getMessage(), e);
        }
    }

    /** The signing key, created by the first node that needs it; later nodes read the same one. */
    private String sharedKey() {
        byte[] fresh = new byte[32];
        random.nextBytes(fresh);
        String candidate = Base64.getEncoder().encodeToString(fresh);
        return jdbi.inTransaction(h -> {
            h.createUpdate("insert into platform_secrets (name, value, created_at) values (:n, :v, :at)"
                            + " on conflict (name) do nothing")
                    .bind("n", KEY_NAME).bind("v", candidate).bind("at", clock.millis()).execute();
            return h.createQuery("select value from platform_secrets where name = :n")
                    .bind("n", KEY_NAME).mapTo(String.class).one();
        });
    }

    public Duration accessTtl() {
        return accessTtl;
    }

    /** Signs in: a new access token and a refresh token of a new family (a new sign-in). */
    public Issued issue(PersonStore.Credentials credentials) {
        String session = UUID.randomUUID().toString();
        String refresh = newRefreshToken(credentials.person().id(), session, credentials.tokenVersion());
        return new Issued(accessToken(credentials, session), accessTtl.toSeconds(), refresh);
    }

    /** Called after a sign-in was revoked here, with its id and until when its access tokens could live. */
    public void onRevoked(BiConsumer<String, Long> listener) {
        this.revocationListener = listener;
    }

    /**
     * Called with each sign-in newly ended on this node (revoked here, heard of, or read from the
     * store), on the thread that learnt of it: keep it short.
     */
    public void whenEnded(Consumer<String> listener) {
        endedListeners.add(listener);
    }

    private void ended(String sessionId) {
        for (Consumer<String> listener : endedListeners) {
            try {
                listener.accept(sessionId);
            } catch (RuntimeException e) {
                org.slf4j.LoggerFactory.getLogger(SessionTokens.class).warn("a sign-in's end was not handled: {}", e.toString());
            }
        }
    }

    /** Whether the access tokens of a sign-in are refused before they expire. */
    public boolean isRevoked(String sessionId) {
        return revoked.isRevoked(sessionId);
    }

    /** Honours a revocation another node made (heard on the bus). */
    public void revocationHeard(String sessionId, long expiresAt) {
        revoked.add(sessionId, expiresAt);
    }

    /** Loads the revocations in force from the store (at start). */
    public void loadRevocations() {
        revoked.load();
    }

    /** The store's revocation revision, moved by every revocation. */
    public long revocationRevision() {
        return revoked.revision();
    }

    /** Loads the revocations recorded since the last load (when the revocation revision moved). */
    public void loadNewRevocations() {
        revoked.loadNew();
    }

    /** Revocations in force on this node. */
    public int revocations() {
        return revoked.size();
    }

    /**
     * Ends a sign-in's access tokens in the caller's transaction: stored until the last access
     * token it could have issued expires (and a margin for clocks), and the revocation revision
     * moved so every node reads it even if it missed the announcement.
     * Returns that expiry; call {@link #revoked} with it after the commit.
     */
    private long revokeSession(Handle h, String sessionId, long now) {
        long expiresAt = now + accessTtl.toMillis() + REVOCATION_MARGIN.toMillis();
        RevokedSessions.record(h, sessionId, now, expiresAt);
        RevokedSessions.bumpRevision(h);
        return expiresAt;
    }

    /** After the commit: honoured here at once, and announced. */
    private void revoked(String sessionId, long expiresAt) {
        revoked.add(sessionId, expiresAt);
        revocationListener.accept(sessionId, expiresAt);
    }

    /**
     * Exchanges a refresh token for new tokens. The person is looked up again, so a removed
     * person or a changed admin flag takes effect here.
     *
     * @throws InvalidRefreshToken when the token is not (or no longer) good
     */
    public Issued refresh(String refreshToken, PersonStore people) {
        if (refreshToken == null || !refreshToken.startsWith(REFRESH_PREFIX) || refreshToken.length() > 100) {
            throw new InvalidRefreshToken("not a refresh token");
        }
        String hash = AdminTokens.hash(refreshToken);
        long now = clock.millis();
        String newToken = newTokenText();
        record Row(String personId, String familyId, int tokenVersion, long expiresAt, Long usedAt) {
        }
        record Outcome(RefreshResult result, PersonStore.Credentials credentials, String session, long revokedUntil,
                       String personId) {
            Outcome(RefreshResult result, PersonStore.Credentials credentials) {
                this(result, credentials, null, 0, null);
            }
        }
        Outcome outcome = jdbi.inTransaction(h -> {
            Optional<Row> row = h.createQuery("select person_id, family_id, token_version, expires_at, used_at"
                            + " from platform_refresh_tokens where token_hash = :h")
                    .bind("h", hash)
                    .map((rs, ctx) -> new Row(rs.getString(1), rs.getString(2), rs.getInt(3), rs.getLong(4),
                            rs.getObject(5) == null ? null : rs.getLong(5)))
                    .findOne();
            if (row.isEmpty()) {
                return new Outcome(RefreshResult.UNKNOWN, null);
            }
            Row r = row.get();
            // Hold the person's row first (a no-op update locks it on PostgreSQL; SQLite has one
            // writer anyway): refreshes, sign-outs and reuse of one person take turns, so a
            // family's delete below starts after a racing refresh committed and sees the token it
            // inserted (a statement's snapshot on PostgreSQL predates rows committed while it
            // waited for a row lock, so deleting first and waiting later would miss it).
            lockPerson(h, r.personId());
            if (r.usedAt() != null && isRetryOfLostRotation(h, hash, r.familyId(), r.usedAt(), now)) {
                h.createUpdate("delete from platform_refresh_tokens where family_id = :f").bind("f", r.familyId()).execute();
                return new Outcome(RefreshResult.ROTATED, null);
            }
            if (r.usedAt() != null) {
                // RFC 9700 §4.14.2: a copy leaked; the whole sign-in ends, its access tokens too
                h.createUpdate("delete from platform_refresh_tokens where family_id = :f").bind("f", r.familyId()).execute();
                return new Outcome(RefreshResult.REUSED, null, r.familyId(), revokeSession(h, r.familyId(), clock.millis()),
                        r.personId());
            }
            if (r.expiresAt() <= now) {
                return new Outcome(RefreshResult.UNKNOWN, null);
            }
            // A sign-in that was ended never refreshes again, whatever token of it survived.
            if (RevokedSessions.isRecorded(h, r.familyId())) {
                return new Outcome(RefreshResult.REVOKED, null);
            }
            Optional<PersonStore.Credentials> person = people.credentialsIn(h, r.personId());
            if (person.isEmpty() || person.get().tokenVersion() != r.tokenVersion()) {
                return new Outcome(RefreshResult.REVOKED, null);
            }
            // Only the first of two concurrent refreshes with the same token gets through.
            int claimed = h.createUpdate("update platform_refresh_tokens set used_at = :now where token_hash = :h"
                            + " and used_at is null")
                    .bind("now", now).bind("h", hash).execute();
            if (claimed == 0) {
                return new Outcome(RefreshResult.RACED, null);
            }
            insertRefresh(h, newToken, r.personId(), r.familyId(), r.tokenVersion(), now);
            return new Outcome(RefreshResult.OK, person.get(), r.familyId(), 0, r.personId());
        });
        if (outcome.result() == RefreshResult.REUSED) {
            revoked(outcome.session(), outcome.revokedUntil());
        }
        return switch (outcome.result()) {
            case OK -> new Issued(accessToken(outcome.credentials(), outcome.session()), accessTtl.toSeconds(), newToken);
            case UNKNOWN -> throw new InvalidRefreshToken("the refresh token is unknown or expired; sign in again");
            case REVOKED -> throw new InvalidRefreshToken("the sessions of this sign-in have ended; sign in again");
            case REUSED -> throw new InvalidRefreshToken(
                    "the refresh token was already used; that sign-in has ended, its access tokens too", true, outcome.personId());
            case RACED -> throw new InvalidRefreshToken("the refresh token was used by another request at the same moment");
            case ROTATED -> throw new InvalidRefreshToken("the refresh token was exchanged moments ago (perhaps the answer"
                    + " was lost); this sign-in can no longer be refreshed, sign in again");
        };
    }

    private enum RefreshResult { OK, UNKNOWN, REVOKED, REUSED, RACED, ROTATED }

    /** How long after its rotation a refresh token presented again may be a retry whose answer was lost. */
    static final Duration ROTATION_GRACE = Duration.ofSeconds(30);

    /**
     * Whether a used refresh token presented again looks like a client retrying a refresh whose
     * answer it never received: within {@link #ROTATION_GRACE} of the rotation, and no token of
     * the family used since (a client that used the successor did get the answer). Such a retry
     * is not treated as theft (RFC 9700 §4.14.2), which would revoke the access token the client
     * still holds; but neither does it get tokens (the successor cannot be shown again; only its
     * hash is kept, and a second successor would hand a thief who replays quickly a live
     * sign-in). The family's refresh tokens are deleted instead: whoever holds the successor
     * (the client, or a thief who rotated first) can no longer refresh, and access tokens end
     * when they expire.
     */
    private static boolean isRetryOfLostRotation(Handle h, String hash, String familyId, long usedAt, long now) {
        if (now - usedAt > ROTATION_GRACE.toMillis()) {
            return false;
        }
        return h.createQuery("select count(*) from platform_refresh_tokens where family_id = :f and token_hash <> :h"
                        + " and used_at is not null and used_at >= :u")
                .bind("f", familyId).bind("h", hash).bind("u", usedAt)
                .mapTo(Long.class).one() == 0;
    }

    /** Locks a person's row until the transaction ends (a no-op update: PostgreSQL row lock). */
    private static void lockPerson(Handle h, String personId) {
        h.createUpdate("update platform_people set token_version = token_version where id = :p")
                .bind("p", personId).execute();
    }

    /**
     * Signs out one sign-in: the family of this refresh token is revoked, and the access tokens
     * issued in it are refused from now on. Unknown tokens are ignored.
     */
    public void revoke(String refreshToken) {
        if (refreshToken == null || !refreshToken.startsWith(REFRESH_PREFIX)) {
            return;
        }
        String hash = AdminTokens.hash(refreshToken);
        record Ended(String session, long until) {
        }
        record Token(String personId, String familyId) {
        }
        Optional<Ended> ended = jdbi.inTransaction(h -> {
            Optional<Token> token = h.createQuery("select person_id, family_id from platform_refresh_tokens where token_hash = :h")
                    .bind("h", hash).map((rs, ctx) -> new Token(rs.getString(1), rs.getString(2))).findOne();
            if (token.isEmpty()) {
                return Optional.<Ended>empty();
            }
            // the person's row first, as refresh() takes it: a refresh in flight commits before
            // the delete below starts, so the token it inserted is deleted too
            lockPerson(h, token.get().personId());
            String family = token.get().familyId();
            h.createUpdate("delete from platform_refresh_tokens where family_id = :f").bind("f", family).execute();
            return Optional.of(new Ended(family, revokeSession(h, family, clock.millis())));
        });
        ended.ifPresent(e -> revoked(e.session(), e.until()));
    }

    /** Revokes every refresh token of a person (password changed, signed out everywhere). */
    public void revokeAll(String personId) {
        jdbi.useHandle(h -> h.createUpdate("delete from platform_refresh_tokens where person_id = :p").bind("p", personId).execute());
    }

    /** Drops refresh tokens past their expiry, used or not, and revocations no token outlives. */
    public int deleteExpired() {
        long now = clock.millis();
        revoked.deleteExpired();
        return jdbi.withHandle(h -> h.createUpdate("delete from platform_refresh_tokens where expires_at <= :now")
                .bind("now", now).execute());
    }

    /** The claims of a valid access token, or empty for anything else (bad signature, expired, not ours). */
    public Optional<AccessClaims> verify(String token) {
        if (token == null || token.length() > 4096) {
            return Optional.empty();
        }
        Verified known = verified.get(token);
        if (known != null) {
            return known.expiresAt() + CLOCK_SKEW.toMillis() > clock.millis() ? Optional.of(known.claims()) : Optional.empty();
        }
        try {
            SignedJWT jwt = SignedJWT.parse(token);
            if (!JWSAlgorithm.HS256.equals(jwt.getHeader().getAlgorithm()) || !jwt.verify(verifier)) {
                return Optional.empty();
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            Date expires = claims.getExpirationTime();
            long now = clock.millis();
            if (!ISSUER.equals(claims.getIssuer()) || expires == null || expires.getTime() + CLOCK_SKEW.toMillis() <= now
                    || claims.getSubject() == null) {
                return Optional.empty();
            }
            Object version = claims.getClaim("ver");
            Object admin = claims.getClaim("adm");
            AccessClaims accepted = new AccessClaims(claims.getSubject(), claims.getStringClaim("name"),
                    Boolean.TRUE.equals(admin), version instanceof Number n ? n.intValue() : -1,
                    claims.getStringClaim("sid"));
            if (verified.size() >= MAX_VERIFIED) {
                verified.clear();
            }
            verified.put(token, new Verified(accepted, expires.getTime()));
            return Optional.of(accepted);
        } catch (ParseException | JOSEException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private String accessToken(PersonStore.Credentials credentials, String session) {
        long now = clock.millis();
        Person person = credentials.person();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(ISSUER)
                .subject(person.id())
                .claim("name", person.username())
                .claim("adm", person.admin())
                .claim("ver", credentials.tokenVersion())
                .claim("sid", session)
                .issueTime(new Date(now))
                .expirationTime(new Date(now + accessTtl.toMillis()))
                .jwtID(UUID.randomUUID().toString())
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        try {
            jwt.sign(signer);
        } catch (JOSEException e) {
            throw new IllegalStateException("signing an access token failed", e);
        }
        return jwt.serialize();
    }

    private String newRefreshToken(String personId, String familyId, int tokenVersion) {
        String token = newTokenText();
        long now = clock.millis();
        jdbi.useHandle(h -> insertRefresh(h, token, personId, familyId, tokenVersion, now));
        return token;
    }

    private String newTokenText() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return REFRESH_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private void insertRefresh(org.jdbi.v3.core.Handle h, String token, String personId, String familyId,
                               int tokenVersion, long now) {
        h.createUpdate("insert into platform_refresh_tokens (token_hash, person_id, family_id, token_version, created_at,"
                        + " expires_at) values (:h, :p, :f, :v, :now, :exp)")
                .bind("h", AdminTokens.hash(token))
                .bind("p", personId)
                .bind("f", familyId)
                .bind("v", tokenVersion)
                .bind("now", now)
                .bind("exp", now + refreshTtl.toMillis())
                .execute();
    }
}
