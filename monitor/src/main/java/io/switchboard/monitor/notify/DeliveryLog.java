package io.switchboard.monitor.notify;

import java.time.Instant;
import java.util.List;
import io.switchboard.monitor.history.StoredText;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.jdbi.v3.core.statement.Query;

/** Every delivery attempt, in {@code monitor_notifications}: what was sent where, when, and how it went. */
public final class DeliveryLog {
    private final Jdbi jdbi;

    /**
     * One attempt.
     *
     * @param outcome sent, failed, suppressed (a maintenance window held it) or dropped (the channel's queue was full)
     */
    public record Attempt(Instant at, Long incidentId, String monitor, String channel, String channelType, String event,
                          int attempt, String outcome, String error, long durationMillis) {
    }

    public DeliveryLog(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    public void record(Attempt a) {
        record(List.of(a));
    }

    /** Several attempts in one transaction (a digest records one row per message it carried). */
    public void record(List<Attempt> attempts) {
        if (attempts.isEmpty()) {
            return;
        }
        jdbi.useTransaction(h -> {
            PreparedBatch batch = h.prepareBatch("INSERT INTO monitor_notifications (at, incident_id, monitor, channel, channel_type,"
                    + " event, attempt, outcome, error, duration_ms) VALUES (:at, :i, :m, :c, :t, :e, :n, :o, :err, :d)");
            for (Attempt a : attempts) {
                batch.bind("at", a.at().toEpochMilli()).bind("i", a.incidentId()).bind("m", a.monitor()).bind("c", a.channel())
                        .bind("t", a.channelType()).bind("e", a.event()).bind("n", a.attempt()).bind("o", a.outcome())
                        .bind("err", StoredText.clean(a.error())).bind("d", a.durationMillis()).add();
            }
            batch.execute();
        });
    }

    /** Newest first, filtered by whatever is not null. */
    public List<Attempt> list(Long incidentId, String monitor, String channel, Instant before, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM monitor_notifications WHERE 1 = 1");
        if (incidentId != null) {
            sql.append(" AND incident_id = :i");
        }
        if (monitor != null) {
            sql.append(" AND monitor = :m");
        }
        if (channel != null) {
            sql.append(" AND channel = :c");
        }
        if (before != null) {
            sql.append(" AND at < :before");
        }
        sql.append(" ORDER BY at DESC, attempt DESC LIMIT :limit");
        return jdbi.withHandle(h -> {
            Query q = h.createQuery(sql.toString()).bind("limit", limit);
            if (incidentId != null) {
                q.bind("i", incidentId.longValue());
            }
            if (monitor != null) {
                q.bind("m", monitor);
            }
            if (channel != null) {
                q.bind("c", channel);
            }
            if (before != null) {
                q.bind("before", before.toEpochMilli());
            }
            return q.map((rs, ctx) -> {
                long incident = rs.getLong("incident_id");
                Long incidentValue = rs.wasNull() ? null : incident;
                return new Attempt(Instant.ofEpochMilli(rs.getLong("at")), incidentValue, rs.getString("monitor"),
                        rs.getString("channel"), rs.getString("channel_type"), rs.getString("event"), rs.getInt("attempt"),
                        rs.getString("outcome"), rs.getString("error"), rs.getLong("duration_ms"));
            }).list();
        });
    }
}
