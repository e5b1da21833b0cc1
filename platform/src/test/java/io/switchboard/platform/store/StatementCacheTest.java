package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.switchboard.platform.config.StoreSettings;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * On SQLite a writer's statements outlive the transaction and the pool's wrapper they were
 * prepared under, run inside the caller's transaction, and are prepared again when the pool
 * retires their connection or after a failure. On PostgreSQL nothing is kept: statements go
 * through the pool's wrapper (which must see their errors) and are closed with the handle.
 */
class StatementCacheTest {
    private static final String INSERT = "insert into test_notes (id, body, author) values (?, ?, ?)";

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
        Store store = switch (database) {
            case "sqlite" -> Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("cache.db"), null, null));
            case "postgresql" -> {
                postgres = PostgresTestDatabase.create();
                yield Store.open(postgres.settings());
            }
            default -> throw new IllegalArgumentException(database);
        };
        store.migrate("notes");
        return store;
    }

    private static PreparedStatement insert(Store store, StatementCache cache, int id, boolean commit)
            throws java.sql.SQLException {
        AtomicReference<PreparedStatement> used = new AtomicReference<>();
        store.jdbi().useTransaction(h -> {
            used.set(insertIn(h.getConnection(), cache, id));
            if (!commit) {
                h.rollback();
            }
        });
        return used.get();
    }

    private static int notes(Store store) {
        return store.jdbi().withHandle(h -> h.createQuery("select count(*) from test_notes").mapTo(Integer.class).one());
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aStatementIsPreparedOnceOnSqliteAndRunsInTheCallersTransaction(String database) throws Exception {
        try (Store store = open(database)) {
            StatementCache cache = new StatementCache();
            PreparedStatement first = insert(store, cache, 1, true);
            PreparedStatement second = insert(store, cache, 2, true);
            if (database.equals("sqlite")) {
                assertThat(second).isSameAs(first);
                assertThat(first.isClosed()).as("the pool's wrapper went back to the pool; the statement stays").isFalse();
            } else {
                assertThat(second).isNotSameAs(first);
                assertThat(first.isClosed()).as("closed by the pool with the handle").isTrue();
                assertThat(first.isWrapperFor(java.sql.PreparedStatement.class)).isTrue();
            }
            // rolled back with the caller's transaction: it ran inside it
            insert(store, cache, 3, false);
            assertThat(notes(store)).isEqualTo(2);
            assertThat(cache.size()).isEqualTo(database.equals("sqlite") ? 1 : 0);
        }
    }

    /** A statement's error reaches the pool, which evicts a connection whose writes fail as on a read-only standby. */
    @org.junit.jupiter.api.Test
    void onPostgresqlTheStatementsErrorsReachThePool() throws Exception {
        try (Store store = open("postgresql")) {
            StatementCache cache = new StatementCache();
            insert(store, cache, 1, true);
            AtomicReference<java.sql.Connection> used = new AtomicReference<>();
            assertThatThrownBy(() -> store.jdbi().useTransaction(h -> {
                h.execute("set transaction read only"); // writes now fail with 25006, as on a standby
                used.set(h.getConnection().unwrap(java.sql.Connection.class));
                PreparedStatement statement = cache.prepare(h.getConnection(), INSERT);
                statement.setInt(1, 2);
                statement.setString(2, "note 2");
                statement.setString(3, "ann");
                statement.addBatch();
                statement.executeBatch();
            })).isNotNull();
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10))
                    .alias("the pool evicted the connection").until(() -> used.get().isClosed());
            insert(store, cache, 3, true);
            assertThat(notes(store)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aRetiredConnectionsStatementsArePreparedAgain(String database) throws Exception {
        try (Store store = open(database)) {
            StatementCache cache = new StatementCache();
            PreparedStatement before = insert(store, cache, 1, true);
            // the pool retires every connection (as at maxLifetime, or after a failover's eviction)
            ((HikariDataSource) store.dataSource()).getHikariPoolMXBean().softEvictConnections();
            PreparedStatement after = insert(store, cache, 2, true);
            assertThat(after).isNotSameAs(before);
            assertThat(notes(store)).isEqualTo(2);
            assertThat(cache.size()).as("the closed connection's statements are dropped")
                    .isEqualTo(database.equals("sqlite") ? 1 : 0);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void afterAFailureClearStartsAfresh(String database) throws Exception {
        try (Store store = open(database)) {
            StatementCache cache = new StatementCache();
            PreparedStatement before = insert(store, cache, 1, true);
            assertThatThrownBy(() -> insert(store, cache, 1, true)).as("a duplicate key").isNotNull();
            cache.clear();
            assertThat(before.isClosed()).as("cleared, or on PostgreSQL closed with its handle").isTrue();
            PreparedStatement after = insert(store, cache, 2, true);
            assertThat(after).isNotSameAs(before);
            assertThat(notes(store)).isEqualTo(2);
        }
    }

    /** Inserts note {@code id} with the cache's statement on {@code connection}; returns the statement. */
    private static PreparedStatement insertIn(java.sql.Connection connection, StatementCache cache, int id) throws java.sql.SQLException {
        PreparedStatement statement = cache.prepare(connection, INSERT);
        statement.setInt(1, id);
        statement.setString(2, "note " + id);
        statement.setString(3, "ann");
        statement.addBatch();
        statement.executeBatch();
        return statement;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void inTransactionCommitsEverythingOrNothingAndLeavesTheConnectionAsItFoundIt(String database) throws Exception {
        try (Store store = open(database)) {
            StatementCache cache = new StatementCache();
            int returned = store.jdbi().withHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 1);
                insertIn(connection, cache, 2);
                return 2;
            }));
            assertThat(returned).isEqualTo(2);
            assertThat(notes(store)).isEqualTo(2);

            // the second insert meets the primary key: the first of the batch must not stay
            assertThatThrownBy(() -> store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 3);
                insertIn(connection, cache, 1);
                return null;
            }))).satisfiesAnyOf(e -> assertThat(e).isInstanceOf(java.sql.SQLException.class),
                    e -> assertThat(e).hasRootCauseInstanceOf(java.sql.SQLException.class));
            assertThat(notes(store)).as("rolled back whole").isEqualTo(2);

            // work that fails on its own (not in SQL) rolls back as well
            assertThatThrownBy(() -> store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 4);
                throw new IllegalStateException("the writer gave up");
            }))).hasMessageContaining("gave up");
            assertThat(notes(store)).isEqualTo(2);

            // no transaction is left open: plain statements commit by themselves, and another
            // transaction of either kind works
            store.jdbi().useHandle(h -> {
                assertThat(h.getConnection().getAutoCommit()).isTrue();
                h.execute("insert into test_notes (id, body, author) values (5, 'note 5', 'ann')");
            });
            store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 6);
                return null;
            }));
            insert(store, cache, 7, true);
            assertThat(notes(store)).isEqualTo(5);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aCommitThatFailsIsRolledBackAndTheNextTransactionStartsClean(String database) throws Exception {
        try (Store store = open(database)) {
            StatementCache cache = new StatementCache();
            // a deferred foreign key is checked at COMMIT: the COMMIT fails, and on SQLite the
            // transaction is then still open until it is rolled back
            store.jdbi().useHandle(h -> {
                h.execute("create table test_parents (id bigint not null primary key)");
                h.execute("create table test_children (id bigint not null primary key, parent bigint not null"
                        + " references test_parents (id) deferrable initially deferred)");
            });
            assertThatThrownBy(() -> store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 1);
                try (java.sql.Statement orphan = connection.createStatement()) {
                    orphan.execute("insert into test_children (id, parent) values (1, 99)");
                }
                return null;
            }))).as("the COMMIT meets the foreign key").isNotNull();
            assertThat(notes(store)).as("nothing of the failed transaction stays").isZero();
            store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                insertIn(connection, cache, 2);
                return null;
            }));
            store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body, author) values (3, 'note 3', 'ann')"));
            assertThat(notes(store)).isEqualTo(2);
        }
    }

    @org.junit.jupiter.api.Test
    void onSqliteInTransactionHoldsTheWriteLockFromItsStart() throws Exception {
        try (Store store = open("sqlite")) {
            StatementCache cache = new StatementCache();
            // another process (the CLI) writing the same file meanwhile must wait: the write lock
            // is taken at BEGIN IMMEDIATE, not at the first write
            try (java.sql.Connection other = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("cache.db"))) {
                other.createStatement().execute("PRAGMA busy_timeout = 0");
                store.jdbi().useHandle(h -> cache.inTransaction(h, connection -> {
                    assertThatThrownBy(() -> other.createStatement()
                            .execute("insert into test_notes (id, body, author) values (9, 'other', 'bob')"))
                            .as("locked by the open transaction before it wrote anything")
                            .hasMessageContaining("SQLITE_BUSY");
                    insertIn(connection, cache, 1);
                    return null;
                }));
                other.createStatement().execute("insert into test_notes (id, body, author) values (9, 'other', 'bob')");
            }
            assertThat(notes(store)).isEqualTo(2);
        }
    }
}
