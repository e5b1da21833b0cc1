package io.switchboard.platform.store;

import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * Tells a store failure that will pass (the database is down, silent, restarting, out of
 * connections, or a lock or serialization conflict) from one that will not (a bug, a constraint
 * violated): the first is worth a retry and is answered 503 with {@code Retry-After}, never 500.
 * Jdbi and the node's writers wrap the driver's exception, so the whole cause chain is read.
 */
public final class StoreFailure {
    private StoreFailure() {
    }

    /** What kind of transient failure, for the answer's detail and its Retry-After. */
    public enum Kind {
        /** The database cannot be reached or does not answer in time: retry in a few seconds. */
        UNREACHABLE(5, "did not answer or refused"),
        /** Another transaction held what this one needed (lock, deadlock, serialization): retry at once. */
        CONFLICT(1, "was held by another program or transaction (an open sqlite3 shell?)"),
        /**
         * The database cannot write its files: the disk is full. Nothing of the failed
         * transaction was kept (SQLite rolls it back whole); it passes when an operator frees space.
         */
        NO_SPACE(30, "cannot write: its disk is full");

        private final int retryAfterSeconds;
        private final String whatTheStoreDid;

        Kind(int retryAfterSeconds, String whatTheStoreDid) {
            this.retryAfterSeconds = retryAfterSeconds;
            this.whatTheStoreDid = whatTheStoreDid;
        }

        /** For a one-line message about a start or a command: "the store at URL " + this. */
        public String whatTheStoreDid() {
            return whatTheStoreDid;
        }

        public int retryAfterSeconds() {
            return retryAfterSeconds;
        }
    }

    /** Whether {@code failure} (or anything in its cause chain) is a transient store failure. */
    public static boolean isTransient(Throwable failure) {
        return kind(failure).isPresent();
    }

    /**
     * Whether {@code failure}'s cause chain holds a unique-constraint violation: PostgreSQL's
     * SQLSTATE 23505 unique_violation (Appendix A), or SQLite's SQLITE_CONSTRAINT_UNIQUE or
     * SQLITE_CONSTRAINT_PRIMARYKEY. Not transient: the same write fails the same way again.
     */
    public static boolean isUniqueViolation(Throwable failure) {
        for (Throwable t : causeChain(failure)) {
            if (t instanceof SQLiteException sqlite) {
                SQLiteErrorCode code = sqlite.getResultCode();
                if (code == SQLiteErrorCode.SQLITE_CONSTRAINT_UNIQUE || code == SQLiteErrorCode.SQLITE_CONSTRAINT_PRIMARYKEY) {
                    return true;
                }
            } else if (t instanceof SQLException sql) {
                // a failed JDBC batch (BatchUpdateException) carries each statement's error as a next exception
                int looked = 0;
                for (SQLException e = sql; e != null && looked++ < 1000; e = e.getNextException()) {
                    if ("23505".equals(e.getSQLState())) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** {@code failure} and its causes, each once (a cause chain may loop). */
    private static List<Throwable> causeChain(Throwable failure) {
        Map<Throwable, Boolean> seen = new IdentityHashMap<>();
        List<Throwable> chain = new ArrayList<>();
        for (Throwable t = failure; t != null && seen.put(t, Boolean.TRUE) == null; t = t.getCause()) {
            chain.add(t);
        }
        return chain;
    }

    /** The kind of transient store failure in {@code failure}'s cause chain, or empty. */
    public static Optional<Kind> kind(Throwable failure) {
        for (Throwable t : causeChain(failure)) {
            Optional<Kind> kind = own(t);
            if (kind.isPresent()) {
                return kind;
            }
        }
        return Optional.empty();
    }

    private static Optional<Kind> own(Throwable t) {
        if (t instanceof SQLiteException sqlite) {
            // SQLITE_BUSY / SQLITE_LOCKED and their extended codes: another connection (an outside
            // reader or writer such as the sqlite3 shell) held the file longer than busy_timeout.
            int primary = sqlite.getResultCode().code & 0xff;
            if (primary == SQLiteErrorCode.SQLITE_BUSY.code || primary == SQLiteErrorCode.SQLITE_LOCKED.code) {
                return Optional.of(Kind.CONFLICT);
            }
            // SQLITE_FULL: the disk (or a quota) is full, and the transaction was rolled back whole.
            // Answered 500 it read as a bug, and the node stayed "ready". (SQLITE_IOERR is left a
            // 500: its codes cover memory, locking and corruption too, and a failed sync may have
            // left a commit behind.)
            return primary == SQLiteErrorCode.SQLITE_FULL.code ? Optional.of(Kind.NO_SPACE) : Optional.empty();
        }
        if (t instanceof SQLException sql) {
            String state = sql.getSQLState() == null ? "" : sql.getSQLState();
            // PostgreSQL SQLSTATEs (Appendix A): 40001 serialization_failure, 40P01 deadlock_detected,
            // 55P03 lock_not_available.
            if (state.equals("40001") || state.equals("40P01") || state.equals("55P03")) {
                return Optional.of(Kind.CONFLICT);
            }
            // 53100 disk_full: the server's disk, as SQLite's SQLITE_FULL above
            if (state.equals("53100")) {
                return Optional.of(Kind.NO_SPACE);
            }
            // 08 connection exception; 53 insufficient resources (too many connections, out of memory);
            // 57P01-57P03 the server shutting down, crashed or starting; 57014 a statement
            // cancelled by statement_timeout; 25006 read_only_sql_transaction, a write on a
            // connection whose server became a standby (an old primary fenced or brought back as
            // one): the pool drops that connection (PrimaryOnlyEviction) and the next goes to the
            // primary, so a retry a few seconds later succeeds.
            if (state.startsWith("08") || state.startsWith("53") || state.equals("57P01") || state.equals("57P02")
                    || state.equals("57P03") || state.equals("57014") || state.equals("25006")) {
                return Optional.of(Kind.UNREACHABLE);
            }
            // Hikari's "connection is not available, request timed out" (SQLTransientConnectionException),
            // timeouts (SQLTimeoutException) and the JDBC classes for connections that broke.
            if (sql instanceof SQLTransientException || sql instanceof SQLRecoverableException
                    || sql instanceof SQLNonTransientConnectionException) {
                return Optional.of(Kind.UNREACHABLE);
            }
        }
        // A bare socket error is not read as the store's: pgjdbc reports its own as SQLSTATE 08xxx,
        // and one from a webhook or a check must not be answered as a store outage.
        return Optional.empty();
    }
}
