package io.switchboard.platform.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Prepared statements that a group-commit writer ({@link GroupCommit}) keeps from one batch to the
 * next on SQLite, instead of preparing its SQL again for every transaction.
 *
 * <p>Why: sqlite-jdbc keeps no statement cache, so every {@code prepareStatement} compiles the SQL
 * anew, and for a wide upsert that costs about as much CPU as executing it. Measured on the
 * registrar's binding writer over TLS, preparing was 13% of the node's CPU (docs/benchmarks/tls.md).
 *
 * <p>How: on SQLite, statements are prepared on the driver's own connection behind the pool's
 * wrapper ({@link Connection#unwrap}), because the pool closes the statements made through its
 * wrapper when the connection goes back to it. They run inside whatever transaction the caller
 * opened on that same connection. A connection the pool has closed (retired after its lifetime)
 * is noticed at the next lookup and its statements dropped; closing the connection has already
 * released them. After a failed transaction the caller calls {@link #clear()}, so no statement
 * carries a half-built batch or a broken state into the next.
 *
 * <p>On PostgreSQL nothing is kept: the driver caches prepared queries per connection itself, and
 * a statement must be made through the pool's wrapper so that the pool sees its errors and evicts
 * a connection that went bad (a server that became a read-only standby, {@link PrimaryOnlyEviction}).
 * There {@link #prepare} prepares through the wrapper, and the pool closes the statement when the
 * caller's handle gives the connection back.
 *
 * <p>Not thread-safe: one writer thread owns each cache.
 */
public final class StatementCache {
    private final Map<Connection, Map<String, PreparedStatement>> byConnection = new IdentityHashMap<>();
    /** Whether the store is SQLite, learnt from the first connection (a store has one kind). */
    private Boolean keeps;

    /**
     * The statement for {@code sql} on {@code pooled}: on SQLite prepared once on the connection
     * behind it and handed back with no parameters and an empty batch; elsewhere prepared now
     * through the pool's wrapper and closed by the pool with the handle. Either way the caller
     * must not close it (closing its result sets is the caller's, as always).
     */
    public PreparedStatement prepare(Connection pooled, String sql) throws SQLException {
        if (!keeps(pooled)) {
            return pooled.prepareStatement(sql);
        }
        Connection driver = pooled.unwrap(Connection.class);
        Map<String, PreparedStatement> statements = byConnection.get(driver);
        if (statements == null) {
            dropClosedConnections();
            statements = new HashMap<>();
            byConnection.put(driver, statements);
        }
        PreparedStatement statement = statements.get(sql);
        if (statement == null || statement.isClosed()) {
            statement = driver.prepareStatement(sql);
            statements.put(sql, statement);
        } else {
            statement.clearParameters();
            statement.clearBatch();
        }
        return statement;
    }

    /** What a writer does inside its transaction, on the connection it is given. */
    @FunctionalInterface
    public interface TransactionWork<T> {
        T run(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction on {@code handle}'s connection and commits it; if
     * anything fails, the transaction is rolled back and the failure thrown.
     *
     * <p>On SQLite the transaction is opened and committed with kept {@code BEGIN IMMEDIATE} and
     * {@code COMMIT} statements while the connection stays in auto-commit mode. Why: sqlite-jdbc
     * compiles and runs a statement for every change of auto-commit mode, and its
     * {@code commit()} opens the next transaction at once (taking the write lock again), which the
     * pool then commits empty when it restores auto-commit: four statements compiled and two lock
     * cycles per batch, a fifth of the binding writer's CPU over TLS (docs/benchmarks/tls.md).
     * IMMEDIATE as in {@link Store}: another process writing the file is waited for at the start.
     *
     * <p>Elsewhere it is Jdbi's transaction, as {@code inTransaction} would run it.
     */
    public <T> T inTransaction(org.jdbi.v3.core.Handle handle, TransactionWork<T> work) throws SQLException {
        Connection pooled = handle.getConnection();
        if (!keeps(pooled)) {
            return handle.inTransaction(h -> work.run(h.getConnection()));
        }
        prepare(pooled, "BEGIN IMMEDIATE").execute();
        boolean committed = false;
        try {
            T result = work.run(pooled);
            prepare(pooled, "COMMIT").execute();
            committed = true;
            return result;
        } finally {
            if (!committed) {
                rollbackQuietly(pooled);
            }
        }
    }

    private void rollbackQuietly(Connection pooled) {
        try (java.sql.Statement rollback = pooled.unwrap(Connection.class).createStatement()) {
            rollback.execute("ROLLBACK");
        } catch (SQLException | RuntimeException e) {
            // No transaction is open any more (SQLite ended it on the error), or the connection is
            // gone. Either way the connection goes back to the pool outside any transaction:
            // SQLite's ROLLBACK returns the connection to autocommit even when it reports an
            // error, and since 3.7.11 pending reads no longer hold it up (they are aborted instead,
            // sqlite.org/lang_transaction.html). In WAL mode, frames of a transaction that never
            // committed are ignored by every reader.
        }
    }

    private boolean keeps(Connection pooled) throws SQLException {
        if (keeps == null) {
            keeps = "SQLite".equals(pooled.getMetaData().getDatabaseProductName());
        }
        return keeps;
    }

    /** Closes and forgets every kept statement (after a failed transaction). */
    public void clear() {
        for (Map<String, PreparedStatement> statements : byConnection.values()) {
            statements.values().forEach(StatementCache::closeQuietly);
        }
        byConnection.clear();
    }

    /** How many statements are kept (for tests). */
    int size() {
        return byConnection.values().stream().mapToInt(Map::size).sum();
    }

    private void dropClosedConnections() {
        for (Iterator<Map.Entry<Connection, Map<String, PreparedStatement>>> it = byConnection.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Connection, Map<String, PreparedStatement>> entry = it.next();
            boolean closed;
            try {
                closed = entry.getKey().isClosed();
            } catch (SQLException e) {
                closed = true;
            }
            if (closed) {
                entry.getValue().values().forEach(StatementCache::closeQuietly);
                it.remove();
            }
        }
    }

    private static void closeQuietly(PreparedStatement statement) {
        try {
            statement.close();
        } catch (SQLException | RuntimeException e) {
            // its connection is gone or going: nothing is left to release
        }
    }
}
