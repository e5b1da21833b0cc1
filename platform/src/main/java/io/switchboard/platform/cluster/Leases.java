package io.switchboard.platform.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Named leases with fencing numbers, in {@code platform_leases}, for work one node of the cluster
 * must do at a time (a monitor's checks, a periodic job).
 *
 * <p><b>Cheap to hold.</b> A lease row names its holder (node id and incarnation) and is valid
 * exactly as long as that holder's membership row is alive by the database's clock: holding
 * costs nothing beyond the membership heartbeat the node pays anyway, so a node may hold hundreds.
 * The row is written only when the holder changes (acquire: fence + 1) or lets go (release).
 *
 * <p><b>Fencing.</b> A node may be paused (GC, a stopped VM) or cut off and resume believing it
 * still holds a lease. Checking before acting does not help, since the pause can fall between the
 * check and the act; so the check is made in the act: {@link #holds(Handle, Lease)} runs in the
 * caller's own transaction, finds the lease row with this node's fence and incarnation and this
 * node's membership alive, and on PostgreSQL takes a share lock on that row (a takeover's UPDATE
 * then waits for the caller's commit, or the caller re-reads the taken row and is refused). On
 * SQLite every transaction holds the database's one write lock, which serialises the same way.
 *
 * <p>Acquiring succeeds when the row is free, released, or held by a node that is dead, left or
 * replaced by a newer incarnation, and only while this node is itself alive in the store.
 */
public final class Leases {
    private final Jdbi jdbi;
    private final boolean sqlite;
    private final String now;
    private final String nodeId;
    private final String incarnation;
    private final long expiryMs;

    public Leases(Jdbi jdbi, boolean sqlite, String nodeId, String incarnation, Duration expiry) {
        this.jdbi = jdbi;
        this.sqlite = sqlite;
        this.now = ClusterTable.nowMillis(sqlite);
        this.nodeId = nodeId;
        this.incarnation = incarnation;
        this.expiryMs = expiry.toMillis();
    }

    /**
     * SQL: the node named by the SQL expressions {@code nodeId} and {@code incarnation} is alive:
     * its membership row has that incarnation, has not left, and its last heartbeat is within the
     * node's OWN stored expiry by the database's clock (binds {@code :expiry}, used only for rows
     * that store none, see {@code V6__node_expiry.sql}). Other modules use it to judge whether the
     * node that started some work (a notification being sent) may still finish it.
     */
    public String aliveSql(String nodeId, String incarnation) {
        return "EXISTS (SELECT 1 FROM platform_cluster_nodes alive_node WHERE alive_node.node_id = " + nodeId
                + " AND alive_node.incarnation = " + incarnation + " AND alive_node.left_at IS NULL AND "
                + now + " - alive_node.heartbeat_at <= COALESCE(alive_node.expiry_ms, :expiry))";
    }

    /** SQL: this node's membership row is alive (binds {@code :me}, {@code :inc}, {@code :expiry}). */
    private String selfAlive() {
        return aliveSql(":me", ":inc");
    }

    /** SQL: the lease row's holder is alive (binds {@code :expiry}). */
    private String holderAlive() {
        return aliveSql("platform_leases.holder", "platform_leases.incarnation");
    }

    /** The fallback expiry {@link #aliveSql} binds as {@code :expiry}, in milliseconds: this node's own. */
    public long expiryMillis() {
        return expiryMs;
    }

    /** Acquires {@code name} if it is free or its holder is gone; the lease, or empty when another live node holds it. */
    public Optional<Lease> acquire(String name) {
        List<Lease> got = acquireAll(List.of(name));
        return got.isEmpty() ? Optional.empty() : Optional.of(got.getFirst());
    }

    /** As {@link #acquire(String)} for several names in one transaction; the leases got (held before or taken now). */
    public List<Lease> acquireAll(Collection<String> names) {
        if (names.isEmpty()) {
            return List.of();
        }
        return jdbi.inTransaction(h -> {
            List<Lease> got = new ArrayList<>();
            // in name order: writers check the leases of a transaction in name order too (share
            // locks on PostgreSQL), so a takeover and a write never wait on each other in a cycle
            for (String name : new java.util.TreeSet<>(names)) {
                int inserted = h.createUpdate("INSERT INTO platform_leases (name, holder, incarnation, fence, acquired_at)"
                                + " SELECT :name, :me, :inc, 1, " + now + " WHERE " + selfAlive()
                                + " ON CONFLICT (name) DO NOTHING")
                        .bind("name", name).bind("me", nodeId).bind("inc", incarnation).bind("expiry", expiryMs)
                        .execute();
                if (inserted == 0) {
                    h.createUpdate("UPDATE platform_leases SET holder = :me, incarnation = :inc, fence = fence + 1,"
                                    + " acquired_at = " + now + " WHERE name = :name"
                                    + " AND (holder IS NULL OR NOT (holder = :me AND incarnation = :inc))"
                                    + " AND (holder IS NULL OR NOT " + holderAlive() + ") AND " + selfAlive())
                            .bind("name", name).bind("me", nodeId).bind("inc", incarnation).bind("expiry", expiryMs)
                            .execute();
                }
                h.createQuery("SELECT fence FROM platform_leases WHERE name = :name AND holder = :me AND incarnation = :inc"
                                + " AND " + selfAlive())
                        .bind("name", name).bind("me", nodeId).bind("inc", incarnation).bind("expiry", expiryMs)
                        .mapTo(Long.class).findOne()
                        .ifPresent(fence -> got.add(new Lease(name, fence)));
            }
            return got;
        });
    }

    /**
     * Whether this node still holds {@code lease}, checked inside the caller's transaction
     * {@code h} (see the class comment): make the write conditional on a true answer, in the same
     * transaction.
     */
    public boolean holds(Handle h, Lease lease) {
        return h.createQuery("SELECT fence FROM platform_leases WHERE name = :name AND fence = :fence AND holder = :me"
                        + " AND incarnation = :inc AND " + selfAlive() + (sqlite ? "" : " FOR SHARE"))
                .bind("name", lease.name()).bind("fence", lease.fence()).bind("me", nodeId).bind("inc", incarnation)
                .bind("expiry", expiryMs)
                .mapTo(Long.class).findOne().isPresent();
    }

    /** {@link #holds(Handle, Lease)} in a transaction of its own. */
    public boolean holds(Lease lease) {
        return jdbi.inTransaction(h -> holds(h, lease));
    }

    /** Lets go of {@code lease} (a graceful handover): the next owner may take it at once. */
    public void release(Lease lease) {
        jdbi.useHandle(h -> h.createUpdate("UPDATE platform_leases SET holder = NULL, incarnation = NULL"
                        + " WHERE name = :name AND fence = :fence AND holder = :me AND incarnation = :inc")
                .bind("name", lease.name()).bind("fence", lease.fence()).bind("me", nodeId).bind("inc", incarnation)
                .execute());
    }

    /** Lets go of every lease this process holds (a graceful stop); how many. */
    public int releaseAll() {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE platform_leases SET holder = NULL, incarnation = NULL"
                        + " WHERE holder = :me AND incarnation = :inc")
                .bind("me", nodeId).bind("inc", incarnation).execute());
    }

    /** Lets go of every lease this process holds whose name starts with {@code prefix}; how many. */
    public int releaseAll(String prefix) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE platform_leases SET holder = NULL, incarnation = NULL"
                        + " WHERE holder = :me AND incarnation = :inc AND substr(name, 1, :n) = :prefix")
                .bind("me", nodeId).bind("inc", incarnation).bind("n", prefix.length()).bind("prefix", prefix).execute());
    }

    public String nodeId() {
        return nodeId;
    }

    /** This process's incarnation (random per start), as written in its membership row and its leases. */
    public String incarnation() {
        return incarnation;
    }
}
