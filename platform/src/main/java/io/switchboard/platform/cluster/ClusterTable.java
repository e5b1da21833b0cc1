package io.switchboard.platform.cluster;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Jdbi;

/**
 * The SQL of {@code platform_cluster_nodes}: registering, heartbeating, leaving and reading the
 * view. Every time is taken from the database's clock ({@link #nowMillis(boolean)}) and every
 * age is computed by the database, so the nodes' own clocks never decide who has expired. Used by
 * the running node ({@link ClusterMembership}) and by {@code switchboard cluster status}.
 */
public final class ClusterTable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, Object>> ADDRESSES = new TypeReference<>() { };

    /** What a heartbeat found. */
    public enum Beat {
        /** The row was renewed. */
        RENEWED,
        /** No row for this node (pruned, or deleted by hand): register again. */
        MISSING,
        /** The row belongs to another incarnation: another process runs under this node id. */
        DISPLACED,
        /** The row says this incarnation left (only its own stop marks it so): final, never registered again. */
        LEFT
    }

    private final Jdbi jdbi;
    private final String now;

    public ClusterTable(Jdbi jdbi, boolean sqlite) {
        this.jdbi = jdbi;
        this.now = nowMillis(sqlite);
    }

    /**
     * The database's current time in epoch milliseconds, as an SQL expression: SQLite's
     * {@code julianday('now')} (millisecond precision, constant within a statement) or
     * PostgreSQL's {@code clock_timestamp()}.
     */
    public static String nowMillis(boolean sqlite) {
        return sqlite ? "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
                : "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
    }

    /** The SQL expression for the database's time now, epoch milliseconds. */
    public String now() {
        return now;
    }

    /** As {@link #register(String, String, Map, String, Double, Duration, Duration, DataDirClaim)} naming no data directory (tests). */
    public void register(String nodeId, String incarnation, Map<String, Object> addresses, String version, Double load,
                         Duration heartbeatEvery, Duration expiry) {
        register(nodeId, incarnation, addresses, version, load, heartbeatEvery, expiry, null);
    }

    /** The node that holds a row another process was refused: where it runs and how fresh its heartbeat is. */
    public record Holder(String dataDir, String host, long heartbeatAgeMs, Long expiryMs) {
    }

    /**
     * Inserts or replaces this node's row: alive from now, with a new incarnation, judged by the
     * others with this node's own {@code expiry} (see {@code V6__node_expiry.sql}). A row of this id
     * that is alive by its own expiry and was written from another data directory than
     * {@code claim} (its id, path or host differ: a copy restored on another machine at the same
     * path is another one) is left alone (see {@code V7__node_data_dir.sql}): decided in the one upsert, so
     * two processes starting together cannot both pass a check made before it. A null claim (the
     * platform's tests) and a row that names none (a node of an older version) are not checked.
     *
     * @return empty when the row is this node's now; else the live node that keeps it
     */
    public java.util.Optional<Holder> register(String nodeId, String incarnation, Map<String, Object> addresses,
                                               String version, Double load, Duration heartbeatEvery, Duration expiry,
                                               DataDirClaim claim) {
        String json = json(addresses);
        String row = "platform_cluster_nodes.";
        return jdbi.inTransaction(h -> {
            int written = h.createUpdate("INSERT INTO platform_cluster_nodes (node_id, incarnation, addresses, version,"
                            + " started_at, heartbeat_at, left_at, load_average, heartbeat_ms, expiry_ms, data_dir_id, data_dir, host)"
                            + " VALUES (:id, :inc, :addresses, :version, " + now + ", " + now + ", NULL, :load, :every, :expiry,"
                            + " :claimId, :claimPath, :claimHost) ON CONFLICT (node_id) DO UPDATE SET"
                            + " incarnation = excluded.incarnation, addresses = excluded.addresses, version = excluded.version,"
                            + " started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, left_at = NULL,"
                            + " load_average = excluded.load_average, heartbeat_ms = excluded.heartbeat_ms, expiry_ms = excluded.expiry_ms,"
                            + " data_dir_id = excluded.data_dir_id, data_dir = excluded.data_dir, host = excluded.host"
                            + " WHERE excluded.data_dir_id IS NULL OR " + row + "data_dir_id IS NULL OR " + row + "left_at IS NOT NULL"
                            + " OR (" + row + "data_dir_id = excluded.data_dir_id AND " + row + "data_dir = excluded.data_dir"
                            + " AND " + row + "host = excluded.host)"
                            + " OR " + now + " - " + row + "heartbeat_at > COALESCE(" + row + "expiry_ms, :expiry)")
                    .bind("id", nodeId).bind("inc", incarnation).bind("addresses", json).bind("version", version)
                    .bind("load", load).bind("every", heartbeatEvery.toMillis()).bind("expiry", expiry.toMillis())
                    .bind("claimId", claim == null ? null : claim.id()).bind("claimPath", claim == null ? null : claim.path())
                    .bind("claimHost", claim == null ? null : claim.host())
                    .execute();
            if (written == 1) {
                return java.util.Optional.<Holder>empty();
            }
            return java.util.Optional.of(h.createQuery("SELECT data_dir, host, " + now + " - heartbeat_at AS age, expiry_ms"
                            + " FROM platform_cluster_nodes WHERE node_id = :id")
                    .bind("id", nodeId)
                    .map((rs, ctx) -> new Holder(rs.getString("data_dir"), rs.getString("host"), Math.max(rs.getLong("age"), 0),
                            rs.getObject("expiry_ms") == null ? null : (Long) rs.getLong("expiry_ms")))
                    .one());
        });
    }

    /**
     * Renews this node's heartbeat (and load), writing its heartbeat interval and expiry with it so
     * the row always says by what expiry the others judge it; says what it found when there was
     * nothing to renew.
     */
    public Beat heartbeat(String nodeId, String incarnation, Double load, Duration heartbeatEvery, Duration expiry) {
        return jdbi.inTransaction(h -> {
            int renewed = h.createUpdate("UPDATE platform_cluster_nodes SET heartbeat_at = " + now + ", load_average = :load,"
                            + " heartbeat_ms = :every, expiry_ms = :expiry WHERE node_id = :id AND incarnation = :inc AND left_at IS NULL")
                    .bind("id", nodeId).bind("inc", incarnation).bind("load", load).bind("every", heartbeatEvery.toMillis())
                    .bind("expiry", expiry.toMillis()).execute();
            if (renewed == 1) {
                return Beat.RENEWED;
            }
            var row = h.createQuery("SELECT incarnation, left_at FROM platform_cluster_nodes WHERE node_id = :id")
                    .bind("id", nodeId)
                    .map((rs, ctx) -> new Object[] {rs.getString(1), rs.getObject(2)})
                    .findOne();
            if (row.isEmpty()) {
                return Beat.MISSING;
            }
            return incarnation.equals(row.get()[0]) ? Beat.LEFT : Beat.DISPLACED;
        });
    }

    /** Replaces this node's addresses (once its listeners are bound). */
    public void updateAddresses(String nodeId, String incarnation, Map<String, Object> addresses) {
        String json = json(addresses);
        jdbi.useHandle(h -> h.createUpdate("UPDATE platform_cluster_nodes SET addresses = :addresses"
                        + " WHERE node_id = :id AND incarnation = :inc")
                .bind("addresses", json).bind("id", nodeId).bind("inc", incarnation).execute());
    }

    /** Marks this node as left, now: the others stop counting on it at once. */
    public boolean leave(String nodeId, String incarnation) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE platform_cluster_nodes SET left_at = " + now
                        + " WHERE node_id = :id AND incarnation = :inc AND left_at IS NULL")
                .bind("id", nodeId).bind("inc", incarnation).execute()) == 1;
    }

    /**
     * Every node, sorted by id, with its state by its own stored expiry ({@code expiry} only for
     * rows that store none: written by a node from before nodes stored theirs); {@code selfId} may
     * be null (the CLI).
     */
    public List<NodeRecord> read(String selfId, Duration expiry) {
        long fallbackMs = expiry.toMillis();
        return jdbi.withHandle(h -> h.createQuery("SELECT node_id, incarnation, addresses, version, started_at, left_at,"
                        + " load_average, COALESCE(expiry_ms, :expiry) AS expiry_ms, " + now + " - heartbeat_at AS age"
                        + " FROM platform_cluster_nodes ORDER BY node_id")
                .bind("expiry", fallbackMs)
                .map((rs, ctx) -> {
                    String id = rs.getString("node_id");
                    long age = rs.getLong("age");
                    rs.getLong("left_at");
                    boolean left = !rs.wasNull();
                    double load = rs.getDouble("load_average");
                    Double loadAverage = rs.wasNull() || load < 0 ? null : load;
                    long expiryMs = rs.getLong("expiry_ms");
                    NodeState state = left ? NodeState.LEFT : age > expiryMs ? NodeState.DEAD : NodeState.ALIVE;
                    return new NodeRecord(id, rs.getString("incarnation"), state, addresses(rs.getString("addresses")),
                            rs.getString("version"), Instant.ofEpochMilli(rs.getLong("started_at")), Math.max(age, 0),
                            loadAverage, id.equals(selfId));
                })
                .list());
    }

    /** Deletes rows of nodes not heard of for {@code keep}: long gone, no longer worth showing. */
    public int prune(Duration keep) {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM platform_cluster_nodes WHERE heartbeat_at < " + now + " - :keep")
                .bind("keep", keep.toMillis()).execute());
    }

    private static String json(Map<String, Object> addresses) {
        try {
            return JSON.writeValueAsString(addresses);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("addresses must be plain values: " + e.getOriginalMessage(), e);
        }
    }

    private static Map<String, Object> addresses(String json) {
        try {
            Map<String, Object> map = JSON.readValue(json, ADDRESSES);
            if (map == null) {
                return Map.of();
            }
            map.values().removeIf(java.util.Objects::isNull);
            return map;
        } catch (JsonProcessingException e) {
            return Map.of("unreadable", json);
        }
    }
}
