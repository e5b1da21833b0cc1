package io.switchboard.monitor.incident;

import io.switchboard.monitor.cluster.LeaseLost;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.monitor.history.StoredText;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.Query;

/** Incidents and their timelines in {@code monitor_incidents} and {@code monitor_incident_events}. */
public final class IncidentStore {
    private final Jdbi jdbi;
    private volatile ResultWriter.Fence fence = (h, lease) -> true;

    public IncidentStore(Jdbi jdbi) {
        this.jdbi = jdbi;
    }

    /** Makes writes that carry a lease conditional on it, in their own transaction. */
    public void fenceWith(ResultWriter.Fence fence) {
        this.fence = fence;
    }

    private void requireLease(Handle h, Lease lease, String what) {
        if (lease != null && !fence.holds(h, lease)) {
            throw new LeaseLost(what);
        }
    }

    /** As {@link #open(String, Instant, Instant, int, String, String, Instant, List, Lease)} without a lease. */
    public Incident open(String monitor, Instant startedAt, Instant openedAt, int failedChecks, String firstError,
                         String lastError, Instant lastSuccessAt, List<IncidentEvent> events) {
        return open(monitor, startedAt, openedAt, failedChecks, firstError, lastError, lastSuccessAt, events, null);
    }

    /** As {@link #resolve(long, Instant, int, String, IncidentEvent, Lease)} without a lease. */
    public void resolve(long id, Instant resolvedAt, int failedChecks, String lastError, IncidentEvent event) {
        resolve(id, resolvedAt, failedChecks, lastError, event, null);
    }

    /**
     * Claims the sending of {@code event} (number {@code seq}) of incident {@code id} to each of
     * {@code channels}, under {@code lease}, in one transaction (see {@code V2__cluster.sql}): a
     * channel is claimed when nobody claimed it yet, or when its claim was never sent and was made
     * under an older fence (a holder that died or lost the monitor before sending). A DOWN claim
     * also marks the incident notified, in the same transaction.
     *
     * @return the channels this node must send to now (possibly none: others already did)
     * @throws LeaseLost when the lease no longer holds
     */
    public List<String> claim(long id, List<String> channels, String event, long seq, Lease lease, String nodeId, Instant at) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "claiming a notification");
            List<String> mine = new java.util.ArrayList<>();
            for (String channel : channels) {
                int inserted = h.createUpdate("INSERT INTO monitor_notification_claims (incident_id, channel, event, seq, node_id,"
                                + " fence, claimed_at) VALUES (:id, :c, :e, :s, :n, :f, :t) ON CONFLICT DO NOTHING")
                        .bind("id", id).bind("c", channel).bind("e", event).bind("s", seq).bind("n", nodeId)
                        .bind("f", lease.fence()).bind("t", at.toEpochMilli()).execute();
                if (inserted == 0) {
                    inserted = h.createUpdate("UPDATE monitor_notification_claims SET node_id = :n, fence = :f, claimed_at = :t"
                                    + " WHERE incident_id = :id AND channel = :c AND event = :e AND seq = :s AND sent_at IS NULL"
                                    + " AND fence < :f")
                            .bind("id", id).bind("c", channel).bind("e", event).bind("s", seq).bind("n", nodeId)
                            .bind("f", lease.fence()).bind("t", at.toEpochMilli()).execute();
                }
                if (inserted == 1) {
                    mine.add(channel);
                }
            }
            if (event.equals("down")) {
                h.createUpdate("UPDATE monitor_incidents SET down_notified = 1, last_notified_at = :t WHERE id = :id")
                        .bind("t", at.toEpochMilli()).bind("id", id).execute();
            } else if (event.equals("reminder")) {
                h.createUpdate("UPDATE monitor_incidents SET last_notified_at = :t WHERE id = :id")
                        .bind("t", at.toEpochMilli()).bind("id", id).execute();
            }
            return mine;
        });
    }

    /** Records that a claimed notification was taken by its channel. */
    public void claimSent(long id, String channel, String event, long seq, Instant at) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE monitor_notification_claims SET sent_at = :t"
                        + " WHERE incident_id = :id AND channel = :c AND event = :e AND seq = :s")
                .bind("t", at.toEpochMilli()).bind("id", id).bind("c", channel).bind("e", event).bind("s", seq).execute());
    }

    /** Whether incident {@code id} has a DOWN claim that was never sent (its claimer died or lost the monitor first). */
    public boolean hasUnsentDown(long id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM monitor_notification_claims WHERE incident_id = :id"
                        + " AND event = 'down' AND sent_at IS NULL")
                .bind("id", id).mapTo(Long.class).one()) > 0;
    }

    /** Opens an incident with its first timeline entries, in one transaction; returns it with its new id. */
    public Incident open(String monitor, Instant startedAt, Instant openedAt, int failedChecks, String firstError,
                         String lastError, Instant lastSuccessAt, List<IncidentEvent> events, Lease lease) {
        return jdbi.inTransaction(h -> {
            requireLease(h, lease, "opening an incident");
            h.createUpdate("UPDATE monitor_counters SET value = value + 1 WHERE name = 'incident'").execute();
            long id = h.createQuery("SELECT value FROM monitor_counters WHERE name = 'incident'").mapTo(Long.class).one();
            h.createUpdate("INSERT INTO monitor_incidents (id, monitor, status, started_at, opened_at, failed_checks,"
                            + " first_error, last_error, last_success_at, down_notified) VALUES (:id, :m, 'open', :s, :o, :f, :fe, :le,"
                            + " :ls, 0)")
                    .bind("id", id).bind("m", monitor).bind("s", startedAt.toEpochMilli()).bind("o", openedAt.toEpochMilli())
                    .bind("f", failedChecks).bind("fe", StoredText.clean(firstError)).bind("le", StoredText.clean(lastError))
                    .bind("ls", lastSuccessAt == null ? null : lastSuccessAt.toEpochMilli()).execute();
            for (IncidentEvent e : events) {
                append(h, id, e);
            }
            return find(h, id).orElseThrow();
        });
    }

    public void resolve(long id, Instant resolvedAt, int failedChecks, String lastError, IncidentEvent event, Lease lease) {
        jdbi.useTransaction(h -> {
            requireLease(h, lease, "resolving an incident");
            h.createUpdate("UPDATE monitor_incidents SET status = 'resolved', resolved_at = :r, failed_checks = :f,"
                            + " last_error = COALESCE(:le, last_error) WHERE id = :id")
                    .bind("r", resolvedAt.toEpochMilli()).bind("f", failedChecks).bind("le", StoredText.clean(lastError))
                    .bind("id", id).execute();
            append(h, id, event);
        });
    }

    public void event(long id, IncidentEvent event) {
        jdbi.useTransaction(h -> append(h, id, event));
    }

    public void setReport(long id, String report, String source) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE monitor_incidents SET report = :r, report_source = :s WHERE id = :id")
                .bind("r", StoredText.clean(report)).bind("s", StoredText.clean(source)).bind("id", id).execute());
    }

    public void setRecoveryReport(long id, String report) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE monitor_incidents SET recovery_report = :r WHERE id = :id")
                .bind("r", StoredText.clean(report)).bind("id", id).execute());
    }

    public void markNotified(long id, Instant at) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE monitor_incidents SET down_notified = 1, last_notified_at = :t WHERE id = :id")
                .bind("t", at.toEpochMilli()).bind("id", id).execute());
    }

    public Optional<Incident> find(long id) {
        return jdbi.withHandle(h -> find(h, id));
    }

    public List<Incident> open() {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM monitor_incidents WHERE status = 'open' ORDER BY id")
                .map((rs, ctx) -> read(rs)).list());
    }

    /**
     * Newest first.
     *
     * @param status "open", "resolved" or null for both
     * @param before an id to page below, or null
     */
    public List<Incident> list(String status, String monitor, Long before, int limit) {
        StringBuilder sql = new StringBuilder("SELECT * FROM monitor_incidents WHERE 1 = 1");
        if (status != null) {
            sql.append(" AND status = :status");
        }
        if (monitor != null) {
            sql.append(" AND monitor = :monitor");
        }
        if (before != null) {
            sql.append(" AND id < :before");
        }
        sql.append(" ORDER BY id DESC LIMIT :limit");
        return jdbi.withHandle(h -> {
            Query q = h.createQuery(sql.toString()).bind("limit", limit);
            if (status != null) {
                q.bind("status", status);
            }
            if (monitor != null) {
                q.bind("monitor", monitor);
            }
            if (before != null) {
                q.bind("before", before.longValue());
            }
            return q.map((rs, ctx) -> read(rs)).list();
        });
    }

    public List<IncidentEvent> events(long id) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM monitor_incident_events WHERE incident_id = :id ORDER BY seq")
                .bind("id", id)
                .map((rs, ctx) -> new IncidentEvent(Instant.ofEpochMilli(rs.getLong("at")), rs.getString("kind"), rs.getString("detail")))
                .list());
    }

    /**
     * Appends to the timeline. The number comes from the incident row, bumped by an UPDATE in this
     * transaction: on PostgreSQL the UPDATE locks the row until commit, so a concurrent append waits
     * and then reads the bumped value (READ COMMITTED re-reads an updated row); on SQLite writes run
     * one at a time anyway. MAX(seq) + 1 read by two transactions at once gave both the same number.
     * An incident that is gone (removed by retention) takes no events.
     */
    private static void append(Handle h, long id, IncidentEvent e) {
        int bumped = h.createUpdate("UPDATE monitor_incidents SET event_seq = event_seq + 1 WHERE id = :id").bind("id", id).execute();
        if (bumped == 0) {
            return;
        }
        int seq = h.createQuery("SELECT event_seq FROM monitor_incidents WHERE id = :id").bind("id", id).mapTo(Integer.class).one();
        h.createUpdate("INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail) VALUES (:id, :at, :seq, :k, :d)")
                .bind("id", id).bind("at", e.at().toEpochMilli()).bind("seq", seq).bind("k", e.kind())
                .bind("d", e.detail() == null ? "" : StoredText.clean(e.detail())).execute();
    }

    private static Optional<Incident> find(Handle h, long id) {
        return h.createQuery("SELECT * FROM monitor_incidents WHERE id = :id").bind("id", id).map((rs, ctx) -> read(rs)).findOne();
    }

    private static Incident read(ResultSet rs) throws SQLException {
        return new Incident(rs.getLong("id"), rs.getString("monitor"), rs.getString("status"), instant(rs, "started_at"),
                instant(rs, "opened_at"), instant(rs, "resolved_at"), rs.getInt("failed_checks"), rs.getString("first_error"),
                rs.getString("last_error"), instant(rs, "last_success_at"), rs.getString("report"), rs.getString("report_source"),
                rs.getString("recovery_report"), rs.getInt("down_notified") != 0, instant(rs, "last_notified_at"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(value);
    }
}
