package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokensTest {
    @TempDir
    Path dataDir;
    Store store;
    AdminTokens tokens;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dataDir));
        store.migrate("platform");
        tokens = new AdminTokens(store.jdbi(), Clock.systemUTC());
    }

    @AfterEach
    void close() {
        store.close();
    }

    @Test
    void createdTokenIsValidAndOnlyItsHashIsStored() {
        String token = tokens.create("ops laptop");

        assertThat(token).startsWith("sbat_").hasSizeGreaterThan(40);
        assertThat(tokens.isValid(token)).isTrue();
        assertThat(tokens.isValid(token + "x")).isFalse();
        assertThat(tokens.isValid("sbat_guess")).isFalse();
        assertThat(tokens.isValid(null)).isFalse();
        List<String> stored = store.jdbi().withHandle(h ->
                h.createQuery("select token_hash || ' ' || label from platform_admin_tokens").mapTo(String.class).list());
        assertThat(stored).singleElement().asString()
                .doesNotContain(token)
                .startsWith(AdminTokens.hash(token))
                .endsWith("ops laptop");
    }

    @Test
    void firstStartWritesAnOwnerOnlyTokenFileOnce() throws Exception {
        Optional<Path> written = tokens.createFirstTokenIfNone(dataDir);

        Path file = dataDir.resolve("admin.token");
        assertThat(written).contains(file);
        assertThat(Files.getPosixFilePermissions(file)).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        String token = Files.readString(file).strip();
        assertThat(tokens.isValid(token)).isTrue();
        try (var leftovers = Files.list(dataDir)) {
            assertThat(leftovers.map(p -> p.getFileName().toString())).noneMatch(name -> name.endsWith(".tmp"));
        }

        assertThat(tokens.createFirstTokenIfNone(dataDir)).isEmpty();
        assertThat(Files.readString(file).strip()).isEqualTo(token);
        assertThat(tokens.count()).isEqualTo(1);
    }

    @Test
    void tokensAreListedByIdAndLabelAndRevokedByIdButTheLastOnlyWithForce() {
        String laptop = tokens.create("ops laptop");
        // a second later: the list is in order of creation (two in one millisecond fall back to the hash)
        String ci = new AdminTokens(store.jdbi(), Clock.offset(Clock.systemUTC(), java.time.Duration.ofSeconds(1))).create("ci");
        List<AdminTokens.Info> listed = tokens.list();
        assertThat(listed).extracting(AdminTokens.Info::label).containsExactly("ops laptop", "ci");
        assertThat(listed).extracting(AdminTokens.Info::id)
                .containsExactly(AdminTokens.idOfToken(laptop), AdminTokens.idOfToken(ci))
                .allSatisfy(id -> assertThat(id).matches("[0-9a-f]{12}"));
        // the id names the token without giving it away
        assertThat(laptop).doesNotContain(listed.getFirst().id());

        assertThat(tokens.revoke(AdminTokens.idOfToken(laptop).toUpperCase(), false).label()).isEqualTo("ops laptop");
        assertThat(tokens.isValid(laptop)).isFalse();
        assertThat(tokens.isValid(ci)).isTrue();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> tokens.revoke(AdminTokens.idOfToken(laptop), false))
                .isInstanceOf(AdminTokens.UnknownToken.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> tokens.revoke("' or 1=1 --", true))
                .isInstanceOf(AdminTokens.UnknownToken.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> tokens.revoke(AdminTokens.idOfToken(ci), false))
                .isInstanceOf(AdminTokens.LastToken.class);
        assertThat(tokens.isValid(ci)).isTrue();
        tokens.revoke(AdminTokens.idOfToken(ci), true);
        assertThat(tokens.list()).isEmpty();
    }

    /** Two revokes at once on PostgreSQL, of the only two tokens: one of them must be refused. */
    @Test
    void twoRevokesAtOnceOnPostgresqlLeaveTheLastToken() throws Exception {
        try (io.switchboard.platform.store.PostgresTestDatabase database = io.switchboard.platform.store.PostgresTestDatabase.create()) {
            Store pg = Store.open(database.settings());
            try {
                pg.migrate("platform");
                AdminTokens pgTokens = new AdminTokens(pg.jdbi(), Clock.systemUTC());
                String first = pgTokens.create("first");
                String second = pgTokens.create("second");
                try (org.jdbi.v3.core.Handle otherRevoke = pg.jdbi().open()) {
                    // a revoke of the first token, between its delete and its commit
                    otherRevoke.begin();
                    otherRevoke.createUpdate("update platform_admin_tokens set label = label").execute();
                    otherRevoke.createUpdate("delete from platform_admin_tokens where token_hash = :h")
                            .bind("h", AdminTokens.hash(first)).execute();
                    java.util.concurrent.CompletableFuture<AdminTokens.Info> revoked = java.util.concurrent.CompletableFuture
                            .supplyAsync(() -> pgTokens.revoke(AdminTokens.idOfToken(second), false));
                    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(10).toNanos();
                    while (!revoked.isDone() && System.nanoTime() < deadline && pg.jdbi().withHandle(h -> h.createQuery(
                                    "select count(*) from pg_stat_activity where datname = current_database()"
                                            + " and wait_event_type = 'Lock'").mapTo(Integer.class).one()) == 0) {
                        Thread.sleep(10);
                    }
                    otherRevoke.commit();
                    org.assertj.core.api.Assertions.assertThatThrownBy(() -> revoked.get(10, java.util.concurrent.TimeUnit.SECONDS))
                            .hasCauseInstanceOf(AdminTokens.LastToken.class);
                }
                assertThat(pgTokens.isValid(second)).isTrue();
            } finally {
                pg.close();
            }
        }
    }
}
