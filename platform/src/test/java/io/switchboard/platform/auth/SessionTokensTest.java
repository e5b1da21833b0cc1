package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SessionTokensTest {
    @TempDir
    Path dir;
    Store store;
    final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
    final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    };
    PersonStore people;
    SessionTokens tokens;
    PersonStore.Credentials anna;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        people = new PersonStore(store.jdbi(), clock);
        tokens = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        Person person = people.create("anna", null, "hash", false);
        anna = people.credentialsById(person.id()).orElseThrow();
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void anAccessTokenSaysWhoItIsForUntilItExpires() {
        SessionTokens.Issued issued = tokens.issue(anna);
        SessionTokens.AccessClaims claims = tokens.verify(issued.accessToken()).orElseThrow();
        assertThat(claims.personId()).isEqualTo(anna.person().id());
        assertThat(claims.username()).isEqualTo("anna");
        assertThat(claims.admin()).isFalse();
        assertThat(claims.tokenVersion()).isZero();
        now.set(now.get().plus(Duration.ofMinutes(16)));
        assertThat(tokens.verify(issued.accessToken())).isEmpty();
    }

    @Test
    void aTamperedOrForeignTokenIsRefused() {
        String token = tokens.issue(anna).accessToken();
        String[] parts = token.split("\\.");
        String otherPayload = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                "{\"iss\":\"switchboard\",\"sub\":\"someone-else\",\"exp\":9999999999}".getBytes());
        assertThat(tokens.verify(parts[0] + "." + otherPayload + "." + parts[2])).isEmpty();
        assertThat(tokens.verify("eyJhbGciOiJub25lIn0." + parts[1] + ".")).isEmpty();
        assertThat(tokens.verify("garbage")).isEmpty();
        assertThat(tokens.verify(null)).isEmpty();
        // a second store has its own key: its tokens mean nothing here
        Store other = Store.open(StoreSettings.sqliteIn(dir.resolve("other")));
        other.migrate("platform");
        try {
            SessionTokens foreign = new SessionTokens(other.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
            PersonStore otherPeople = new PersonStore(other.jdbi(), clock);
            Person twin = otherPeople.create("anna", null, "hash", false);
            String foreignToken = foreign.issue(otherPeople.credentialsById(twin.id()).orElseThrow()).accessToken();
            assertThat(foreign.verify(foreignToken)).isPresent();
            assertThat(tokens.verify(foreignToken)).isEmpty();
        } finally {
            other.close();
        }
    }

    @Test
    void nodesOnOneStoreShareTheSigningKey() {
        SessionTokens secondNode = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        assertThat(secondNode.verify(tokens.issue(anna).accessToken())).isPresent();
    }

    @Test
    void refreshRotatesAndAReusedTokenRevokesItsFamily() {
        SessionTokens.Issued first = tokens.issue(anna);
        SessionTokens.Issued second = tokens.refresh(first.refreshToken(), people);
        assertThat(second.refreshToken()).isNotEqualTo(first.refreshToken());
        SessionTokens.Issued third = tokens.refresh(second.refreshToken(), people);
        assertThatThrownBy(() -> tokens.refresh(first.refreshToken(), people))
                .isInstanceOf(SessionTokens.InvalidRefreshToken.class).hasMessageContaining("already used");
        assertThatThrownBy(() -> tokens.refresh(third.refreshToken(), people))
                .isInstanceOf(SessionTokens.InvalidRefreshToken.class);
    }

    /**
     * A refresh whose answer was lost (it committed, the client never saw the new tokens) is
     * retried with the same token moments later: that is not theft, so the access token the
     * client still holds keeps working; but the retry gets no tokens and nobody can refresh that
     * sign-in any more. The same replay after the successor was used is theft (RFC 9700 §4.14.2).
     */
    @Test
    void aRetryOfARotationWhoseAnswerWasLostDoesNotRevokeTheSignIn() {
        SessionTokens.Issued first = tokens.issue(anna);
        String session = tokens.verify(first.accessToken()).orElseThrow().sessionId();
        SessionTokens.Issued lost = tokens.refresh(first.refreshToken(), people);
        now.set(now.get().plusSeconds(5));
        assertThatThrownBy(() -> tokens.refresh(first.refreshToken(), people))
                .isInstanceOfSatisfying(SessionTokens.InvalidRefreshToken.class,
                        e -> assertThat(e.reused()).isFalse())
                .hasMessageContaining("exchanged moments ago");
        assertThat(tokens.isRevoked(session)).isFalse();
        assertThat(tokens.verify(first.accessToken())).isPresent();
        // whoever holds the successor cannot go on with this sign-in
        assertThatThrownBy(() -> tokens.refresh(lost.refreshToken(), people))
                .isInstanceOf(SessionTokens.InvalidRefreshToken.class);

        // a replay after the successor was used is reuse, however soon
        SessionTokens.Issued again = tokens.issue(anna);
        String other = tokens.verify(again.accessToken()).orElseThrow().sessionId();
        SessionTokens.Issued next = tokens.refresh(again.refreshToken(), people);
        now.set(now.get().plusSeconds(1));
        tokens.refresh(next.refreshToken(), people);
        assertThatThrownBy(() -> tokens.refresh(again.refreshToken(), people))
                .isInstanceOfSatisfying(SessionTokens.InvalidRefreshToken.class, e -> assertThat(e.reused()).isTrue());
        assertThat(tokens.isRevoked(other)).isTrue();
    }

    @Test
    void refreshTokensExpireAndAreSweptAway() {
        SessionTokens.Issued issued = tokens.issue(anna);
        now.set(now.get().plus(Duration.ofDays(31)));
        assertThatThrownBy(() -> tokens.refresh(issued.refreshToken(), people))
                .isInstanceOf(SessionTokens.InvalidRefreshToken.class).hasMessageContaining("expired");
        assertThat(tokens.deleteExpired()).isEqualTo(1);
    }

    @Test
    void aReusedRefreshTokenRevokesTheAccessTokensOfItsSignInAndARestartStillKnows() {
        SessionTokens.Issued first = tokens.issue(anna);
        SessionTokens.Issued second = tokens.refresh(first.refreshToken(), people);
        SessionTokens.Issued otherSignIn = tokens.issue(anna);
        String session = tokens.verify(first.accessToken()).orElseThrow().sessionId();
        assertThat(session).isNotNull();
        // a refresh stays in its sign-in; another sign-in is another session
        assertThat(tokens.verify(second.accessToken()).orElseThrow().sessionId()).isEqualTo(session);
        assertThat(tokens.verify(otherSignIn.accessToken()).orElseThrow().sessionId()).isNotEqualTo(session);
        java.util.List<String> announced = new java.util.ArrayList<>();
        tokens.onRevoked((revokedSession, until) -> announced.add(revokedSession));

        assertThat(tokens.isRevoked(session)).isFalse();
        // long after the rotation: not a lost answer's retry
        now.set(now.get().plus(SessionTokens.ROTATION_GRACE).plusSeconds(1));
        assertThatThrownBy(() -> tokens.refresh(first.refreshToken(), people))
                .isInstanceOf(SessionTokens.InvalidRefreshToken.class).hasMessageContaining("already used");
        assertThat(tokens.isRevoked(session)).isTrue();
        assertThat(announced).containsExactly(session);
        assertThat(tokens.isRevoked(tokens.verify(otherSignIn.accessToken()).orElseThrow().sessionId())).isFalse();

        // a node started later (or another node) reads it from the store
        SessionTokens restarted = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        assertThat(restarted.isRevoked(session)).isFalse();
        restarted.loadRevocations();
        assertThat(restarted.isRevoked(session)).isTrue();

        // kept only while an access token of that sign-in could live
        now.set(now.get().plus(Duration.ofMinutes(16)));
        assertThat(tokens.isRevoked(session)).isFalse();
        tokens.deleteExpired();
        assertThat(tokens.revocations()).isZero();
        SessionTokens later = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        later.loadRevocations();
        assertThat(later.revocations()).isZero();
    }

    @Test
    void signingOutEndsTheAccessTokensOfThatSignInOnly() {
        SessionTokens.Issued leaving = tokens.issue(anna);
        SessionTokens.Issued staying = tokens.issue(anna);
        tokens.revoke(leaving.refreshToken());
        assertThat(tokens.isRevoked(tokens.verify(leaving.accessToken()).orElseThrow().sessionId())).isTrue();
        assertThat(tokens.isRevoked(tokens.verify(staying.accessToken()).orElseThrow().sessionId())).isFalse();
        tokens.revoke("sbrt_unknown");
        assertThat(tokens.revocations()).isEqualTo(1);
    }

    @Test
    void aSignOutMovesTheRevocationRevisionNotThePeopleRevisionAndOtherNodesReadOnlyWhatIsNew() {
        SessionTokens otherNode = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        otherNode.loadRevocations();
        java.util.List<String> endedThere = new java.util.concurrent.CopyOnWriteArrayList<>();
        otherNode.whenEnded(endedThere::add);
        long people = this.people.revision();
        long revocations = tokens.revocationRevision();
        SessionTokens.Issued first = tokens.issue(anna);
        tokens.revoke(first.refreshToken());
        assertThat(this.people.revision()).as("token versions cached by every node stay").isEqualTo(people);
        assertThat(tokens.revocationRevision()).isEqualTo(revocations + 1);
        String firstSession = tokens.verify(first.accessToken()).orElseThrow().sessionId();
        otherNode.loadNewRevocations();
        assertThat(otherNode.isRevoked(firstSession)).isTrue();
        assertThat(endedThere).containsExactly(firstSession);
        SessionTokens.Issued second = tokens.issue(anna);
        tokens.revoke(second.refreshToken());
        otherNode.loadNewRevocations();
        assertThat(endedThere).containsExactly(firstSession, tokens.verify(second.accessToken()).orElseThrow().sessionId());
    }

    @Test
    void aRevocationOutlivesTokensIssuedByANodeWhoseClockIsAhead() {
        // node A's clock runs 30 s ahead of node B's; A issues, B signs the sign-in out
        Clock ahead = Clock.offset(clock, Duration.ofSeconds(30));
        SessionTokens nodeA = new SessionTokens(store.jdbi(), ahead, Duration.ofMinutes(15), Duration.ofDays(30));
        SessionTokens.Issued issued = nodeA.issue(anna);
        tokens.revoke(issued.refreshToken());
        String session = tokens.verify(issued.accessToken()).orElseThrow().sessionId();
        // 15 min 20 s later by B's clock the token is still within its expiry (A's clock + 15 min)
        now.set(now.get().plus(Duration.ofMinutes(15)).plusSeconds(20));
        assertThat(tokens.verify(issued.accessToken())).isPresent();
        assertThat(tokens.isRevoked(session)).isTrue();
        // a node whose clock is ahead does not prune the stored entry while others still need it
        SessionTokens nodeC = new SessionTokens(store.jdbi(), Clock.offset(clock, Duration.ofSeconds(45)),
                Duration.ofMinutes(15), Duration.ofDays(30));
        nodeC.deleteExpired();
        SessionTokens restarted = new SessionTokens(store.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
        restarted.loadRevocations();
        assertThat(restarted.isRevoked(session)).isTrue();
    }

    @Test
    void aSignOutRacingARefreshOnPostgresqlEndsTheTokenThatRefreshIssued() throws Exception {
        raceWithARefreshInFlight((pgTokens, signIn) -> pgTokens.revoke(signIn.refreshToken()));
    }

    @Test
    void aReuseRacingARefreshOnPostgresqlEndsTheTokenThatRefreshIssued() throws Exception {
        raceWithARefreshInFlight((pgTokens, signIn) -> {
            // the sign-in's first token, already used: presenting it again ends the sign-in
            assertThatThrownBy(() -> pgTokens.refresh(signIn.refreshToken(), null))
                    .isInstanceOfSatisfying(SessionTokens.InvalidRefreshToken.class, e -> assertThat(e.reused()).isTrue());
        });
    }

    /**
     * A refresh in flight on PostgreSQL (the statements refresh() runs, held before the commit)
     * while {@code ending} ends the sign-in on another connection; once the refresh commits, the
     * token it issued must not refresh.
     */
    private void raceWithARefreshInFlight(java.util.function.BiConsumer<SessionTokens, SessionTokens.Issued> ending)
            throws Exception {
        try (io.switchboard.platform.store.PostgresTestDatabase database = io.switchboard.platform.store.PostgresTestDatabase.create()) {
            Store pg = Store.open(database.settings());
            try {
                pg.migrate("platform");
                PersonStore pgPeople = new PersonStore(pg.jdbi(), clock);
                SessionTokens pgTokens = new SessionTokens(pg.jdbi(), clock, Duration.ofMinutes(15), Duration.ofDays(30));
                Person bob = pgPeople.create("bob", null, "hash", false);
                SessionTokens.Issued signIn = pgTokens.issue(pgPeople.credentialsById(bob.id()).orElseThrow());
                // rotate once, so the reuse case has a used token and the refresh below a current one
                SessionTokens.Issued current = pgTokens.refresh(signIn.refreshToken(), pgPeople);
                String family = pg.jdbi().withHandle(h -> h.createQuery(
                        "select family_id from platform_refresh_tokens where token_hash = :h")
                        .bind("h", AdminTokens.hash(current.refreshToken())).mapTo(String.class).one());
                String successor = "sbrt_successor-of-the-refresh-in-flight";
                try (org.jdbi.v3.core.Handle inFlight = pg.jdbi().open()) {
                    inFlight.begin();
                    inFlight.createUpdate("update platform_people set token_version = token_version where id = :p")
                            .bind("p", bob.id()).execute();
                    // used now, after the first token's rotation: presenting that one again is then theft,
                    // not a client retrying a refresh whose answer it lost
                    inFlight.createUpdate("update platform_refresh_tokens set used_at = :now where token_hash = :h")
                            .bind("now", now.get().toEpochMilli())
                            .bind("h", AdminTokens.hash(current.refreshToken())).execute();
                    inFlight.createUpdate("insert into platform_refresh_tokens (token_hash, person_id, family_id,"
                                    + " token_version, created_at, expires_at) values (:h, :p, :f, 0, 1, :exp)")
                            .bind("h", AdminTokens.hash(successor)).bind("p", bob.id()).bind("f", family)
                            .bind("exp", now.get().toEpochMilli() + Duration.ofDays(30).toMillis()).execute();
                    java.util.concurrent.CompletableFuture<Void> ended = java.util.concurrent.CompletableFuture.runAsync(
                            () -> ending.accept(pgTokens, signIn));
                    // until the ending waits for a lock the refresh holds (or has finished without waiting)
                    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    while (!ended.isDone() && System.nanoTime() < deadline && pg.jdbi().withHandle(h -> h.createQuery(
                                    "select count(*) from pg_stat_activity where datname = current_database()"
                                            + " and wait_event_type = 'Lock'").mapTo(Integer.class).one()) == 0) {
                        Thread.sleep(10);
                    }
                    inFlight.commit();
                    ended.get(10, java.util.concurrent.TimeUnit.SECONDS);
                }
                assertThatThrownBy(() -> pgTokens.refresh(successor, pgPeople))
                        .isInstanceOf(SessionTokens.InvalidRefreshToken.class);
            } finally {
                pg.close();
            }
        }
    }
}
