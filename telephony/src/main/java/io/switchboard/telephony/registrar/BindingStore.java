package io.switchboard.telephony.registrar;

import io.switchboard.platform.store.GroupCommit;
import io.switchboard.platform.store.StatementCache;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Makes registrations durable with group commit ({@link GroupCommit}): changes are queued by the
 * registrar, and one writer thread commits whatever has queued up in a single transaction, then
 * completes each change's future. The registrar answers 200 OK only when its future completes, so nothing is
 * acknowledged before it is committed, while a burst of thousands of REGISTERs costs a handful of
 * commits instead of thousands (SQLite allows one writer; PostgreSQL gains the same way).
 * <p>
 * The queue is bounded: when the store cannot keep up (or is down) a change is refused at once and
 * the device is told to retry, instead of memory filling up.
 */
public final class BindingStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BindingStore.class);
    private static final int MAX_BATCH = 2000;

    private final Jdbi jdbi;
    private final GroupCommit<Change> writer;
    /** The writer thread's statements, prepared once (see {@link StatementCache}). */
    private final StatementCache statements = new StatementCache();

    /**
     * @param removedAt the time of the removals (the registering node's clock): a stored binding
     *                  made later than this (by another node) is not deleted, nor one refreshed
     *                  since a removal of it as expired ({@link Binding#removalBound})
     * @param announce  whether other nodes are told once it is committed (registrations are; expiry
     *                  is not, since every node expires bindings by itself)
     */
    private record Change(List<Binding> upserts, List<Binding> removals, long removedAt, boolean announce,
                          CompletableFuture<Void> done) {
    }

    /**
     * What a committed batch changed, for {@link #onCommitted}: bindings made or refreshed and
     * bindings removed, both to be announced, and bindings removed without an announcement (expiry,
     * removed accounts), so a listener can forget what it keeps about them.
     */
    public record Committed(List<Binding> upserts, List<Removal> removals, List<Binding> unannouncedRemovals) {
        public Committed(List<Binding> upserts, List<Removal> removals) {
            this(upserts, removals, List.of());
        }
    }

    /** A binding removed at {@code at} (the removing node's clock). */
    public record Removal(String aor, String contact, long at) {
    }

    private volatile java.util.function.Consumer<Committed> committedListener = c -> { };

    public BindingStore(Jdbi jdbi, int queueCapacity) {
        this(jdbi, queueCapacity, Duration.ZERO);
    }

    /** As above; under load the writer waits {@code commitDelay} for a fuller batch ({@link GroupCommit}). */
    public BindingStore(Jdbi jdbi, int queueCapacity, Duration commitDelay) {
        this.jdbi = jdbi;
        this.writer = new GroupCommit<>("binding-writer", queueCapacity, MAX_BATCH, commitDelay, this::commit, (batch, e) -> {
            log.error("could not store {} registration changes: {}", batch.size(), e.toString());
            for (Change c : batch) {
                finish(c, e);
            }
        });
    }

    public void start() {
        writer.start();
    }

    /** Live bindings, to fill the location service at start. */
    public List<Binding> loadLive(long nowMillis) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM sip_bindings WHERE expires_at > :now")
                .bind("now", nowMillis)
                .map((rs, ctx) -> read(rs))
                .list());
    }

    /**
     * Called on the writer thread with what each committed batch changed (one call per batch,
     * whatever its size, so announcing costs nothing per registration). Must not block.
     */
    public void onCommitted(java.util.function.Consumer<Committed> listener) {
        this.committedListener = listener;
    }

    /** Bindings of one AOR that have not expired, as the store has them (another node may have made them). */
    public List<Binding> load(String aor, long nowMillis) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM sip_bindings WHERE aor = :aor AND expires_at > :now")
                .bind("aor", aor).bind("now", nowMillis)
                .map((rs, ctx) -> read(rs))
                .list());
    }

    private static Binding read(java.sql.ResultSet rs) throws java.sql.SQLException {
        return new Binding(rs.getString("aor"), rs.getString("contact"), rs.getString("contact_header"),
                rs.getString("call_id"), rs.getLong("cseq"), rs.getInt("q"), rs.getLong("expires_at"),
                rs.getLong("registered_at"), rs.getString("transport"), rs.getString("remote_address"),
                rs.getInt("remote_port"), rs.getString("local_address"), rs.getInt("local_port"),
                rs.getString("flow_id"), rs.getString("user_agent"), rs.getString("instance_id"),
                rs.getInt("reg_id"), rs.getString("node_id"), rs.getString("node_path"), rs.getLong("version"));
    }

    /** Queues a change that is not announced (expiry, removed accounts); the future completes once it is committed. */
    public CompletableFuture<Void> submit(List<Binding> upserts, List<Binding> removals) {
        return submit(upserts, removals, Long.MAX_VALUE, false);
    }

    /**
     * Queues a change; the future completes once it is committed, or fails. Removals delete only
     * stored bindings made at or before {@code removedAt}; with {@code announce}, other nodes are
     * told once it is committed.
     */
    public CompletableFuture<Void> submit(List<Binding> upserts, List<Binding> removals, long removedAt, boolean announce) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (upserts.isEmpty() && removals.isEmpty()) {
            done.complete(null);
            return done;
        }
        if (!writer.offer(new Change(upserts, removals, removedAt, announce, done))) {
            done.completeExceptionally(new IllegalStateException("binding store is overloaded or stopped"));
        }
        return done;
    }

    public int backlog() {
        return writer.backlog();
    }

    // a row another node made or refreshed after this removal (a later version) stays
    private static final String DELETE = "DELETE FROM sip_bindings WHERE aor = ? AND contact = ? AND version <= ?";
    private static final String UPSERT = "INSERT INTO sip_bindings (aor, contact, contact_header, call_id, cseq, q, "
            + "expires_at, registered_at, transport, remote_address, remote_port, local_address, local_port, flow_id, "
            + "user_agent, instance_id, reg_id, node_id, node_path, version) "
            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            + "ON CONFLICT (aor, contact) DO UPDATE SET "
            + "contact_header = excluded.contact_header, call_id = excluded.call_id, cseq = excluded.cseq, "
            + "q = excluded.q, expires_at = excluded.expires_at, registered_at = excluded.registered_at, "
            + "transport = excluded.transport, remote_address = excluded.remote_address, "
            + "remote_port = excluded.remote_port, local_address = excluded.local_address, "
            + "local_port = excluded.local_port, flow_id = excluded.flow_id, user_agent = excluded.user_agent, "
            + "instance_id = excluded.instance_id, reg_id = excluded.reg_id, node_id = excluded.node_id, "
            + "node_path = excluded.node_path, version = excluded.version "
            // two nodes committing the same contact in either order leave the later registration
            + "WHERE sip_bindings.version <= excluded.version";

    /**
     * Commits a batch in one transaction. Operations on a binding keep queue order (the order the
     * registrar made them); runs of the same kind go to the database as one JDBC batch. Plain JDBC
     * here: this is the hot path of every registration, and reflective binding cost more than SQLite.
     */
    private void commit(List<Change> batch) {
        try {
            commitInTransaction(batch);
        } catch (java.sql.SQLException e) {
            statements.clear();
            throw new IllegalStateException("storing registrations failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            statements.clear();
            throw e;
        }
        announce(batch);
        for (Change c : batch) {
            finish(c, null);
        }
    }

    /**
     * Completes one change's future (its registrar goes on to answer). Whatever that throws stays
     * with that change: the batch was committed (or failed) as a whole, and the others, and the
     * writer thread, must not take the blame.
     */
    private static void finish(Change change, RuntimeException failure) {
        try {
            if (failure == null) {
                change.done().complete(null);
            } else {
                change.done().completeExceptionally(failure);
            }
        } catch (RuntimeException e) {
            log.warn("answering a registration change after its commit failed: {}", e.toString());
        }
    }

    /** One announcement for the whole batch, before its registrations are answered. */
    private void announce(List<Change> batch) {
        List<Binding> upserts = new java.util.ArrayList<>();
        List<Removal> removals = new java.util.ArrayList<>();
        List<Binding> unannounced = new java.util.ArrayList<>();
        for (Change c : batch) {
            if (!c.announce()) {
                unannounced.addAll(c.removals());
                continue;
            }
            upserts.addAll(c.upserts());
            for (Binding b : c.removals()) {
                removals.add(new Removal(b.aor(), b.contact(), b.removalBound(c.removedAt())));
            }
        }
        if (upserts.isEmpty() && removals.isEmpty() && unannounced.isEmpty()) {
            return;
        }
        try {
            committedListener.accept(new Committed(upserts, removals, unannounced));
        } catch (RuntimeException e) {
            // committed is committed: other nodes still find these bindings in the store on a miss
            log.warn("could not announce {} registration changes: {}", upserts.size() + removals.size(), e.toString());
        }
    }

    /** One row operation of a batch: an upsert ({@code removedAt} unused) or a removal. */
    private record RowOperation(Binding binding, boolean removal, long removedAt) {
        static final java.util.Comparator<RowOperation> BY_ROW = java.util.Comparator
                .comparing((RowOperation o) -> o.binding().aor()).thenComparing(o -> o.binding().contact());
    }

    /**
     * Executes the batch's row operations in (AOR, contact) order, a stable sort: operations on
     * one row keep the order the registrar made them, and every node's writer locks rows in the
     * same order. Unsorted, two nodes committing batches that touch the same bindings (each
     * node's expiry sweep removes every expired binding; a device moving between nodes) could
     * each hold a row the other waits for, and PostgreSQL would fail one batch as a deadlock.
     */
    private void commitInTransaction(List<Change> batch) throws java.sql.SQLException {
        List<RowOperation> operations = new java.util.ArrayList<>();
        for (Change change : batch) {
            for (Binding b : change.removals()) {
                operations.add(new RowOperation(b, true, change.removedAt()));
            }
            for (Binding b : change.upserts()) {
                operations.add(new RowOperation(b, false, 0));
            }
        }
        operations.sort(RowOperation.BY_ROW);
        jdbi.useHandle(h -> statements.inTransaction(h, connection -> {
            java.sql.PreparedStatement delete = statements.prepare(connection, DELETE);
            java.sql.PreparedStatement upsert = statements.prepare(connection, UPSERT);
            int pendingDeletes = 0;
            int pendingUpserts = 0;
            for (RowOperation operation : operations) {
                Binding b = operation.binding();
                if (operation.removal()) {
                    if (pendingUpserts > 0) {
                        upsert.executeBatch();
                        pendingUpserts = 0;
                    }
                    delete.setString(1, b.aor());
                    delete.setString(2, b.contact());
                    delete.setLong(3, b.removalBound(operation.removedAt()));
                    delete.addBatch();
                    pendingDeletes++;
                } else {
                    if (pendingDeletes > 0) {
                        delete.executeBatch();
                        pendingDeletes = 0;
                    }
                    bindUpsert(upsert, b);
                    upsert.addBatch();
                    pendingUpserts++;
                }
            }
            if (pendingDeletes > 0) {
                delete.executeBatch();
            }
            if (pendingUpserts > 0) {
                upsert.executeBatch();
            }
            return null;
        }));
    }

    private static void bindUpsert(java.sql.PreparedStatement statement, Binding b) throws java.sql.SQLException {
        statement.setString(1, b.aor());
        statement.setString(2, b.contact());
        statement.setString(3, b.contactHeader());
        statement.setString(4, b.callId());
        statement.setLong(5, b.cseq());
        statement.setInt(6, b.qValue());
        statement.setLong(7, b.expiresAtMillis());
        statement.setLong(8, b.registeredAtMillis());
        statement.setString(9, b.transport());
        statement.setString(10, b.remoteAddress());
        statement.setInt(11, b.remotePort());
        statement.setString(12, b.localAddress());
        statement.setInt(13, b.localPort());
        statement.setString(14, b.flowId());
        statement.setString(15, b.userAgent());
        statement.setString(16, b.instanceId());
        statement.setInt(17, b.regId());
        statement.setString(18, b.node());
        statement.setString(19, b.path());
        statement.setLong(20, b.version());
    }

    /** Deletes bindings that expired (called by the expiry sweep; not acknowledged to anyone). */
    public void deleteExpired(long nowMillis) {
        jdbi.useHandle(h -> h.createUpdate("DELETE FROM sip_bindings WHERE expires_at <= :now").bind("now", nowMillis).execute());
    }

    /**
     * Deletes bindings whose account no longer exists (left by an account removed while a
     * registration of it was still queued), and returns how many. One statement checks each
     * binding against the accounts as they are when it runs, so a binding another node just
     * stored for an account just added stays; a binding's AOR is {@code sip:user@domain} of its
     * account (the registrar's canonical form, RFC 3261 §10.3 step 5).
     */
    public int deleteWithoutAccount() {
        return jdbi.withHandle(h -> h.createUpdate("DELETE FROM sip_bindings WHERE NOT EXISTS (SELECT 1 FROM sip_accounts a"
                + " WHERE sip_bindings.aor = 'sip:' || a.username || '@' || a.domain)").execute());
    }

    /** Stops taking changes and commits what is queued (waiting up to five seconds). */
    @Override
    public void close() {
        writer.close(new IllegalStateException("node stopping"));
    }
}
