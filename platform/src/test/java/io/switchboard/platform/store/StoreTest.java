package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.testing.UnderUmask;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.statement.UnableToExecuteStatementException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The same migrations and queries on SQLite and on PostgreSQL (a fresh database per test). */
class StoreTest {
    @TempDir
    Path dir;
    PostgresTestDatabase postgres;

    @AfterEach
    void dropPostgresDatabase() throws Exception {
        if (postgres != null) {
            postgres.close();
        }
    }

    private Store open(String database) throws Exception {
        return switch (database) {
            case "sqlite" -> Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("sub/switchboard.db"), null, null));
            case "postgresql" -> {
                postgres = PostgresTestDatabase.create();
                yield Store.open(postgres.settings());
            }
            default -> throw new IllegalArgumentException(database);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void modulesMigrateIndependentlyAndDataRoundTrips(String database) throws Exception {
        try (Store store = open(database)) {
            assertThat(store.migrate("notes")).isEqualTo("2");
            assertThat(store.migrate("tags")).isEqualTo("1");
            // Running again applies nothing and keeps the version.
            assertThat(store.migrate("notes")).isEqualTo("2");

            store.jdbi().useTransaction(h -> {
                h.execute("insert into test_notes (id, body, author) values (?, ?, ?)", 1, "hello", "ann");
                h.execute("insert into test_tags (note_id, tag) values (?, ?)", 1, "greeting");
            });
            List<Map<String, Object>> rows = store.jdbi().withHandle(h -> h.createQuery(
                    "select n.body, n.author, t.tag from test_notes n join test_tags t on t.note_id = n.id")
                    .mapToMap().list());
            assertThat(rows).containsExactly(Map.of("body", "hello", "author", "ann", "tag", "greeting"));

            // Each module has its own history; the second one baselines at 0 and still runs its V1.
            assertThat(versions(store, "flyway_notes_history")).containsExactly("1", "2");
            assertThat(versions(store, "flyway_tags_history")).containsExactly("0", "1");
            assertThat(store.isReachable()).isTrue();
        }
    }

    private static List<String> versions(Store store, String table) {
        return store.jdbi().withHandle(h -> h.createQuery("select version from " + table + " order by installed_rank")
                .mapTo(String.class).list());
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void foreignKeysAreEnforced(String database) throws Exception {
        try (Store store = open(database)) {
            store.migrate("notes");
            store.migrate("tags");
            assertThatThrownBy(() -> store.jdbi().useHandle(h ->
                    h.execute("insert into test_tags (note_id, tag) values (?, ?)", 999, "orphan")))
                    .isInstanceOf(UnableToExecuteStatementException.class);
        }
    }

    @Test
    void sqliteRunsWithWalBusyTimeoutAndOneConnection() throws Exception {
        try (Store store = open("sqlite")) {
            Map<String, Object> pragmas = store.jdbi().withHandle(h -> Map.of(
                    "journal_mode", h.createQuery("pragma journal_mode").mapTo(String.class).one(),
                    "busy_timeout", h.createQuery("pragma busy_timeout").mapTo(Integer.class).one(),
                    "foreign_keys", h.createQuery("pragma foreign_keys").mapTo(Integer.class).one(),
                    "synchronous", h.createQuery("pragma synchronous").mapTo(Integer.class).one()));
            assertThat(pragmas).containsEntry("journal_mode", "wal")
                    .containsEntry("busy_timeout", 5000)
                    .containsEntry("foreign_keys", 1)
                    .containsEntry("synchronous", 1); // NORMAL
            assertThat(((HikariDataSource) store.dataSource()).getMaximumPoolSize()).isEqualTo(1);
        }
    }

    /**
     * The file is made by a JVM whose umask masks nothing ({@link UnderUmask}): run under
     * {@code umask 077}, as some build machines are, a store that set no mode made owner-only
     * files too, and this test passed without checking anything.
     */
    @Test
    void aNewSqliteFileAndItsWalAreReadableByTheOwnerOnly() throws Exception {
        Path file = dir.resolve("sub/switchboard.db");
        UnderUmask.run(OpenSqliteAndWrite.class, file.toString());
        for (Path written : List.of(file, Path.of(file + "-wal"), Path.of(file + "-shm"))) {
            assertThat(java.nio.file.attribute.PosixFilePermissions.toString(java.nio.file.Files.getPosixFilePermissions(written)))
                    .as(written.toString()).isEqualTo("rw-------");
        }
        try (Store store = open("sqlite")) {
            assertThat(store.reachabilityProblem()).as("a disk with room: ready").isEmpty();
        }
    }

    /** Opens a new SQLite store at the path given and writes to it, leaving its -wal and -shm behind (no checkpoint on exit). */
    public static final class OpenSqliteAndWrite {
        public static void main(String[] args) throws Exception {
            Store store = Store.open(new StoreSettings("jdbc:sqlite:" + args[0], null, null));
            store.jdbi().useHandle(h -> h.execute("create table t (x integer)"));
            // not closed: closing checkpoints and deletes the -wal, and the test looks at its mode
            Runtime.getRuntime().halt(0);
        }
    }

    @Test
    void missingMigrationFolderIsAnError() throws Exception {
        try (Store store = open("sqlite")) {
            assertThatThrownBy(() -> store.migrate("nosuchmodule"))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("nosuchmodule");
        }
    }

    @Test
    void unreachablePostgresFailsAtOpenNamingTheUrlWithoutThePassword() {
        StoreSettings nowhere = new StoreSettings(
                "jdbc:postgresql://127.0.0.1:1/nothing?password=secret", "postgres", "pw");
        assertThatThrownBy(() -> Store.open(nowhere, null, Duration.ofMillis(200)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("jdbc:postgresql://127.0.0.1:1/nothing")
                .hasMessageNotContaining("secret");
    }

    /** A database that does not exist will not come: said at once, not after the pool's 10 s of retries. */
    @Test
    void aMissingDatabaseOrUnknownRoleIsRefusedAtOnce() {
        String missing = "no_such_db_" + Long.toHexString(System.nanoTime());
        long begin = System.nanoTime();
        assertThatThrownBy(() -> Store.open(new StoreSettings("jdbc:postgresql://127.0.0.1:5432/" + missing, "postgres", null)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("database \"" + missing + "\" does not exist")
                .satisfies(e -> assertThat(StoreFailure.kind(e)).as("a missing database is no outage").isEmpty());
        assertThatThrownBy(() -> Store.open(new StoreSettings("jdbc:postgresql://127.0.0.1:5432/postgres", "no_such_role_x", null)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("no_such_role_x");
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void aMultiHostUrlThatOpensNowhereSaysWhatEachHostAnswered() {
        String missing = "no_such_db_" + Long.toHexString(System.nanoTime());
        StoreSettings twoHosts = new StoreSettings("jdbc:postgresql://127.0.0.1:5432,127.0.0.1:1/" + missing, "postgres", null);
        assertThatThrownBy(() -> Store.open(twoHosts, null, Duration.ofMillis(200)))
                .isInstanceOf(StoreException.class)
                .hasMessageContaining("127.0.0.1:5432: FATAL: database \"" + missing + "\" does not exist")
                .hasMessageContaining("127.0.0.1:1: Connection")
                .satisfies(e -> assertThat(StoreFailure.kind(e)).as("a missing database is no outage").isEmpty());
        for (String unknown : List.of("nonsense", "standby")) {
            assertThatThrownBy(() -> new StoreSettings("jdbc:postgresql://a:5432,b:5432/x?targetServerType=" + unknown, null, null))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("targetServerType=" + unknown + " is not one of");
        }
        for (String known : List.of("primary", "preferSecondary", "slave", "any")) {
            assertThat(new StoreSettings("jdbc:postgresql://a:5432/x?targetServerType=" + known, null, null).url()).endsWith(known);
        }
    }

    /**
     * The CLI writes the node's SQLite file from a second process: a transaction that read before
     * the other process committed must still be able to write (it waits for the lock instead of
     * failing with SQLITE_BUSY_SNAPSHOT).
     */
    @Test
    void twoProcessesWritingOneSqliteFileWaitForEachOtherInsteadOfFailing() throws Exception {
        StoreSettings file = new StoreSettings("jdbc:sqlite:" + dir.resolve("shared.db"), null, null);
        try (Store node = Store.open(file); Store cli = Store.open(file)) {
            node.migrate("notes");
            java.util.concurrent.CompletableFuture<Void> cliWrite = new java.util.concurrent.CompletableFuture<>();
            node.jdbi().useTransaction(h -> {
                h.createQuery("select count(*) from test_notes").mapTo(Integer.class).one();
                Thread.ofVirtual().start(() -> {
                    try {
                        cli.jdbi().useHandle(c -> c.execute("insert into test_notes (id, body, author) values (2, 'cli', 'op')"));
                        cliWrite.complete(null);
                    } catch (RuntimeException e) {
                        cliWrite.completeExceptionally(e);
                    }
                });
                Thread.sleep(300); // the other process's write is under way (or already committed, before the fix)
                h.execute("insert into test_notes (id, body, author) values (1, 'node', 'sb')");
            });
            cliWrite.get(10, java.util.concurrent.TimeUnit.SECONDS);
            Integer rows = node.jdbi().withHandle(h -> h.createQuery("select count(*) from test_notes")
                    .mapTo(Integer.class).one());
            assertThat(rows).isEqualTo(2);
        }
    }

    @Test
    void closedStoreIsNotReachable() throws Exception {
        Store store = open("sqlite");
        store.close();
        assertThat(store.reachabilityProblem()).contains("closed");
    }

    /**
     * Nodes starting together on a fresh PostgreSQL database all migrate (one at a time, under the
     * migration lock). The baseline race this guards against (seen once in a full run) is narrow
     * and does not show on demand here; the test proves the lock lets every node through.
     */
    @org.junit.jupiter.api.Test
    void nodesStartingTogetherOnAFreshDatabaseAllMigrate() throws Exception {
        for (int round = 0; round < 3; round++) {
            try (PostgresTestDatabase fresh = PostgresTestDatabase.create();
                 Store a = Store.open(fresh.settings()); Store b = Store.open(fresh.settings());
                 Store c = Store.open(fresh.settings())) {
                List<java.util.concurrent.Callable<String>> nodes = new java.util.ArrayList<>();
                for (Store node : List.of(a, b, c)) {
                    nodes.add(() -> {
                        // whoever comes second finds the schema not empty and another's history table
                        assertThat(node.migrate("notes")).isEqualTo("2");
                        return node.migrate("tags");
                    });
                }
                assertThat(Simultaneously.run(nodes)).allSatisfy(node -> {
                    assertThat(node.failure()).isNull();
                    assertThat(node.value()).isEqualTo("1");
                });
            }
        }
    }

    /**
     * A rolling upgrade's migration (notes V2, an ALTER TABLE) that finds a long transaction
     * reading its table gives up its place in PostgreSQL's lock queue every
     * {@link Store#MIGRATION_LOCK_TIMEOUT} and tries again, so the other nodes' writes to that
     * table (heartbeats, in the cluster's table) are not held behind it for as long as the long
     * transaction lasts; it is applied once that transaction ends, and the pool's connections
     * keep the server's lock timeout.
     */
    @org.junit.jupiter.api.Test
    void aMigrationBlockedByALongTransactionLetsOtherWritesThroughAndIsAppliedAfterIt() throws Exception {
        postgres = PostgresTestDatabase.create();
        String url = postgres.settings().url();
        notesAtVersionOne(url);
        try (Store store = Store.open(postgres.settings());
             java.sql.Connection longReader = java.sql.DriverManager.getConnection(url, "postgres", null);
             java.sql.Connection otherNode = java.sql.DriverManager.getConnection(url, "postgres", null)) {
            // a write stuck behind the migration fails rather than hang the test
            otherNode.createStatement().execute("set statement_timeout = '15s'");
            longReader.setAutoCommit(false);
            longReader.createStatement().execute("select count(*) from test_notes"); // holds ACCESS SHARE until commit
            java.util.concurrent.CompletableFuture<String> migrated = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> store.migrate("notes"));
            Thread.sleep(500);
            long longestWriteNanos = 0;
            long until = System.nanoTime() + java.time.Duration.ofSeconds(7).toNanos();
            for (int id = 1; System.nanoTime() < until; id++) {
                long start = System.nanoTime();
                otherNode.createStatement().execute("insert into test_notes (id, body) values (" + id + ", 'heartbeat')");
                longestWriteNanos = Math.max(longestWriteNanos, System.nanoTime() - start);
                Thread.sleep(100);
            }
            assertThat(migrated).isNotDone();
            longReader.commit();
            assertThat(migrated.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("2");
            // behind a lock request that waited on, the writes would have waited the whole 7 s
            assertThat(java.time.Duration.ofNanos(longestWriteNanos)).isLessThan(Store.MIGRATION_LOCK_TIMEOUT.plusSeconds(2));
            List<java.sql.Connection> pooled = new java.util.ArrayList<>();
            int total = ((com.zaxxer.hikari.HikariDataSource) store.dataSource()).getHikariPoolMXBean().getTotalConnections();
            try {
                for (int i = 0; i < total; i++) { // every connection of the pool, the migrations' among them
                    pooled.add(store.dataSource().getConnection());
                }
                for (java.sql.Connection c : pooled) {
                    try (java.sql.ResultSet rs = c.createStatement().executeQuery("show lock_timeout")) {
                        rs.next();
                        assertThat(rs.getString(1)).isEqualTo("0");
                    }
                }
            } finally {
                for (java.sql.Connection c : pooled) {
                    c.close();
                }
            }
        }
    }

    /** The notes module's V1 alone, as an older version of the node left it. */
    private static void notesAtVersionOne(String url) {
        org.flywaydb.core.Flyway.configure().dataSource(url, "postgres", null).locations("classpath:db/migration/notes")
                .table("flyway_notes_history").baselineOnMigrate(true).baselineVersion("0").target("1").load().migrate();
    }

    /**
     * A table held without pause by other transactions keeps a migration out; past its bound the
     * node gives up with words that say what holds it and what to do, and the migration is not
     * half applied (its transaction was rolled back each time).
     */
    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.Timeout(60)
    void aMigrationThatNeverGetsItsLocksGivesUpSayingWhy() throws Exception {
        postgres = PostgresTestDatabase.create();
        String url = postgres.settings().url();
        notesAtVersionOne(url);
        try (Store store = Store.open(postgres.settings());
             java.sql.Connection holder = java.sql.DriverManager.getConnection(url, "postgres", null)) {
            store.migrationLockPatienceForTest(java.time.Duration.ofSeconds(4));
            holder.setAutoCommit(false);
            holder.createStatement().execute("select count(*) from test_notes"); // held until the end
            assertThatThrownBy(() -> store.migrate("notes"))
                    .isInstanceOf(StoreException.class)
                    .hasMessageStartingWith("migrations of notes could not lock their tables in 4 s (")
                    .hasMessageContaining("other transactions kept holding them longer than 2 s at a time")
                    .hasMessageContaining("pg_stat_activity");
            holder.rollback();
            try (java.sql.ResultSet rs = holder.createStatement().executeQuery(
                    "select max(version) from flyway_notes_history where success")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("1");
            }
        }
    }

    /**
     * A node that starts while another migrates waits for it however long it takes (up to the
     * migrations' bound), not the pool's socket timeout: its wait for the migration lock gave up
     * after 15 s with "could not take the migration lock", and the node did not start.
     */
    @org.junit.jupiter.api.Test
    void aNodeWaitsForAnotherNodesMigrationsLongerThanTheSocketTimeout() throws Exception {
        postgres = PostgresTestDatabase.create();
        String url = postgres.settings().url();
        try (Store store = Store.open(postgres.settings());
             java.sql.Connection migrating = java.sql.DriverManager.getConnection(url, "postgres", null)) {
            migrating.createStatement().execute("select pg_advisory_lock(" + Store.MIGRATION_LOCK_KEY + ")"); // another node's migrations
            java.util.concurrent.CompletableFuture<String> migrated = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> store.migrate("notes"));
            Thread.sleep(java.time.Duration.ofSeconds(Store.PG_SOCKET_TIMEOUT_S + 2));
            assertThat(migrated).isNotDone();
            migrating.createStatement().execute("select pg_advisory_unlock(" + Store.MIGRATION_LOCK_KEY + ")");
            assertThat(migrated.get(20, java.util.concurrent.TimeUnit.SECONDS)).isEqualTo("2");
        }
    }
}
