package io.switchboard.platform.store;

import com.zaxxer.hikari.SQLExceptionOverride;
import java.sql.SQLException;

/**
 * Tells the pool to drop a PostgreSQL connection whose server can no longer take writes. After a
 * failover the old primary may come back as a standby (or be made read-only): its connections
 * still pass validation, but every write on them fails with SQLState 25006
 * ({@code read_only_sql_transaction}). Hikari would keep such a connection; evicting it makes the
 * next one go through pgjdbc's {@code targetServerType=primary}, which finds the new primary among
 * the URL's hosts. Everything else is left to Hikari's own rules (it already evicts on connection
 * errors, class 08, and on the server shutting down, 57P01-57P03).
 */
public final class PrimaryOnlyEviction implements SQLExceptionOverride {
    static final String READ_ONLY_SQL_TRANSACTION = "25006";

    @java.lang.Override
    public Override adjudicate(SQLException e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && READ_ONLY_SQL_TRANSACTION.equals(sql.getSQLState())) {
                return Override.MUST_EVICT;
            }
        }
        return Override.CONTINUE_EVICT;
    }
}
