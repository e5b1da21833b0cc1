package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import io.switchboard.platform.config.StoreSettings;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.util.PSQLException;
import org.postgresql.util.PSQLState;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/** A database that goes silent, a file another program locks: bounded waits, failures read as transient, recovery without a restart. */
class StoreOutageTest {
    @TempDir
    Path dir;
    PostgresTestDatabase postgres;
    TcpRelay relay;

    @BeforeEach
    void database() throws Exception {
        postgres = PostgresTestDatabase.create();
        relay = new TcpRelay("127.0.0.1", 5432);
    }

    @AfterEach
    void drop() throws Exception {
        relay.close();
        postgres.close();
    }

    @Test
    void postgresConnectionsGetTimeoutsAndKeepalive() throws Exception {
        try (Store store = Store.open(postgres.settings())) {
            HikariDataSource pool = (HikariDataSource) store.dataSource();
            Properties driver = pool.getDataSourceProperties();
            assertThat(driver).containsEntry("connectTimeout", "5").containsEntry("socketTimeout", "15")
                    .containsEntry("loginTimeout", "10").containsEntry("tcpKeepAlive", "true");
            assertThat(pool.getConnectionTimeout()).isEqualTo(5_000);
            assertThat(pool.getValidationTimeout()).isEqualTo(2_000);
            assertThat(pool.getKeepaliveTime()).isEqualTo(60_000);
            // what the driver really applied to a connection
            int socketTimeout;
            try (Connection connection = store.dataSource().getConnection()) {
                socketTimeout = connection.getNetworkTimeout();
            }
            assertThat(socketTimeout).isEqualTo(15_000);
        }
    }

    @Test
    void aSilentDatabaseFailsQueriesInBoundedTimeAndTheStoreRecoversWhenItHeals() throws Exception {
        StoreSettings viaRelay = new StoreSettings("jdbc:postgresql://127.0.0.1:" + relay.port() + "/" + postgres.name()
                + "?socketTimeout=2&loginTimeout=2&connectTimeout=2", "postgres", null);
        try (Store store = Store.open(viaRelay)) {
            store.migrate("notes");
            store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (1, 'before')"));

            relay.goSilent();
            // the first query meets a pooled connection (its statement times out), the next waits for the pool
            for (int i = 0; i < 2; i++) {
                long begin = System.nanoTime();
                assertThatThrownBy(() -> store.jdbi().withHandle(h -> h.createQuery("select count(*) from test_notes")
                        .mapTo(Integer.class).one()))
                        .satisfies(e -> assertThat(StoreFailure.kind(e)).as(e.toString()).contains(StoreFailure.Kind.UNREACHABLE));
                // a statement waits socketTimeout; a connection from the pool at most its 5 s timeout
                assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(8));
            }
            assertThat(store.reachabilityProblem()).isPresent();

            relay.heal();
            long healed = System.nanoTime();
            Integer count = null;
            while (count == null && System.nanoTime() - healed < Duration.ofSeconds(15).toNanos()) {
                try {
                    count = store.jdbi().withHandle(h -> h.createQuery("select count(*) from test_notes").mapTo(Integer.class).one());
                } catch (RuntimeException stillFailing) {
                    assertThat(StoreFailure.isTransient(stillFailing)).as(stillFailing.toString()).isTrue();
                    Thread.sleep(200);
                }
            }
            assertThat(count).isEqualTo(1);
            store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (2, 'after')"));
            assertThat(store.reachabilityProblem()).isEmpty();
        }
    }

    /** Without anything polling /readyz the log still says when the store went away and when it came back. */
    @Test
    void aWatchedStoreLogsItsOutageAndItsReturnByItself() throws Exception {
        StoreSettings viaRelay = new StoreSettings("jdbc:postgresql://127.0.0.1:" + relay.port() + "/" + postgres.name()
                + "?socketTimeout=2&loginTimeout=2&connectTimeout=2", "postgres", null);
        try (var storeLog = io.switchboard.platform.testing.CapturedLog.of(Store.class);
             Store store = Store.open(viaRelay)) {
            store.watchReachability(Duration.ofMillis(200));
            relay.cut();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(15)).until(() -> storeLog.messages().stream()
                    .anyMatch(line -> line.startsWith("the store is not usable")));
            relay.heal();
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> storeLog.messages().stream()
                    .anyMatch(line -> line.startsWith("the store answers again from 127.0.0.1:5432")));
            assertThatThrownBy(() -> store.watchReachability(Duration.ofSeconds(1))).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aSqliteFileLockedByAnotherProgramIsATransientConflict() throws Exception {
        Path file = dir.resolve("locked.db");
        try (Store store = Store.open(new StoreSettings("jdbc:sqlite:" + file, null, null))) {
            store.migrate("notes");
            // the store's one connection lives on: a shorter busy_timeout than its 5 s keeps the test short
            store.jdbi().useHandle(h -> h.execute("pragma busy_timeout = 300"));
            try (Connection other = DriverManager.getConnection("jdbc:sqlite:" + file)) {
                other.createStatement().execute("begin exclusive");
                long begin = System.nanoTime();
                assertThatThrownBy(() -> store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (1, 'x')")))
                        .satisfies(e -> assertThat(StoreFailure.kind(e)).as(e.toString()).contains(StoreFailure.Kind.CONFLICT));
                // busy_timeout: SQLite waited for the lock before giving up
                assertThat(Duration.ofNanos(System.nanoTime() - begin)).isGreaterThan(Duration.ofMillis(250));
                other.createStatement().execute("rollback");
            }
            store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (1, 'x')"));
        }
    }

    /**
     * A server that stops taking writes while the pool's connections live (SQLSTATE 25006), as an
     * old primary fenced read-only or brought back as a standby: writes fail as a passing outage
     * (503, not 500), readiness says so and drops the connection it found, and connections made
     * afterwards take writes again. (A new connection to a read-only server is refused by the
     * driver itself, targetServerType=primary: that is an unreachable store, tested above.)
     */
    @Test
    void aServerRefusingWritesIsAPassingOutageAndNotReady() throws Exception {
        try (Store store = Store.open(postgres.settings())) {
            store.migrate("notes");
            HikariDataSource pool = (HikariDataSource) store.dataSource();

            everyPooledSessionReadOnly(pool);
            assertThat(store.reachabilityProblem()).hasValueSatisfying(problem -> assertThat(problem).startsWith("read-only"));

            everyPooledSessionReadOnly(pool);
            assertThatThrownBy(() -> store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (1, 'x')")))
                    .satisfies(e -> assertThat(StoreFailure.kind(e)).as(e.toString()).contains(StoreFailure.Kind.UNREACHABLE));

            // each read-only connection goes when a write or a check meets it; new ones take writes
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> store.reachabilityProblem().isEmpty());
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
                store.jdbi().useHandle(h -> h.execute("insert into test_notes (id, body) values (1, 'x')"));
                return true;
            });
        }
    }

    /** A database every new session of which is read-only: the driver refuses it, and readiness says read-only. */
    @Test
    void aDatabaseRefusingWritesToNewConnectionsIsReportedReadOnly() throws Exception {
        try (Store store = Store.open(postgres.settings());
             Connection admin = java.sql.DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres", "postgres", null)) {
            store.migrate("notes");
            admin.createStatement().execute("alter database " + postgres.name() + " set default_transaction_read_only = on");
            try {
                // The pool fills itself in the background after opening: a connection whose session began
                // before the ALTER may join it after an eviction and stays writable, so each try evicts again.
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                    ((HikariDataSource) store.dataSource()).getHikariPoolMXBean().softEvictConnections();
                    assertThat(store.reachabilityProblem()).hasValueSatisfying(problem -> assertThat(problem)
                            .startsWith("read-only: no host in store.url takes writes"));
                });
            } finally {
                admin.createStatement().execute("alter database " + postgres.name() + " reset default_transaction_read_only");
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(() -> store.reachabilityProblem().isEmpty());
        }
    }

    /** Takes every connection the pool may hold and makes its session refuse writes, as a server turned standby does. */
    private static void everyPooledSessionReadOnly(HikariDataSource pool) throws SQLException {
        java.util.List<Connection> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < pool.getMaximumPoolSize(); i++) {
                Connection connection = pool.getConnection();
                held.add(connection);
                connection.createStatement().execute("set session default_transaction_read_only = on");
            }
        } finally {
            for (Connection connection : held) {
                connection.close();
            }
        }
    }

    @Test
    void failuresThatWillPassAreToldFromThoseThatWillNot() {
        assertThat(StoreFailure.kind(new RuntimeException(new SQLTransientConnectionException("pool timed out"))))
                .contains(StoreFailure.Kind.UNREACHABLE);
        assertThat(StoreFailure.kind(new PSQLException("I/O error", PSQLState.CONNECTION_FAILURE)))
                .contains(StoreFailure.Kind.UNREACHABLE);
        assertThat(StoreFailure.kind(new SQLException("terminating connection due to administrator command", "57P01")))
                .contains(StoreFailure.Kind.UNREACHABLE);
        assertThat(StoreFailure.kind(new SQLException("too many connections", "53300"))).contains(StoreFailure.Kind.UNREACHABLE);
        assertThat(StoreFailure.kind(new IllegalStateException("storing messages failed",
                new SQLException("cannot execute UPDATE in a read-only transaction", "25006")))).contains(StoreFailure.Kind.UNREACHABLE);
        assertThat(StoreFailure.kind(new SQLException("deadlock detected", "40P01"))).contains(StoreFailure.Kind.CONFLICT);
        assertThat(StoreFailure.kind(new IllegalStateException("wrapped", new SQLiteException("locked",
                SQLiteErrorCode.SQLITE_BUSY_SNAPSHOT)))).contains(StoreFailure.Kind.CONFLICT);
        assertThat(StoreFailure.kind(new SQLException("duplicate key", "23505"))).isEmpty();
        assertThat(StoreFailure.kind(new SQLiteException("constraint", SQLiteErrorCode.SQLITE_CONSTRAINT))).isEmpty();
        assertThat(StoreFailure.kind(new java.net.ConnectException("webhook refused"))).isEmpty();
        assertThat(StoreFailure.kind(new IllegalStateException("bug"))).isEmpty();
    }
}
