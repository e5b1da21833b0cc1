package io.switchboard.monitor.history;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.incident.StateSnapshot;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import io.switchboard.platform.cluster.Lease;
import java.util.Collection;
import java.util.HashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes check results, monitor states and incident progress through one thread in batches: checks
 * only queue what they produced and never wait for the database (on SQLite every statement of the
 * node goes through one connection). Each batch is one transaction with one JDBC batch per table;
 * of the states and incident counters queued together only the newest per monitor is written.
 *
 * <p><b>Details.</b> A result's {@code details} (redirect chain, timing phases, certificate dates, as
 * JSON, a few hundred bytes) are stored only where they tell something: the caller decides, and the
 * tracker keeps them for every result that is not UP, for a result whose status differs from the
 * monitor's previous one, and for the first result of each monitor in each hour (so a healthy
 * monitor still shows a recent example). The steady stream of UP results, almost every row at
 * scale, stores none: a row is then about 75 bytes on SQLite with its index entries, instead of about 360.
 *
 * <p>Caveats: the queue is bounded, and a full queue (the database down or slower than the checks)
 * drops the newest results, counted in {@code switchboard_monitor_results_dropped_total}; a failed
 * batch is tried up to {@value #ATTEMPTS} times with a backoff from 100 ms doubling to at most 5 s
 * (about 11 s of pauses, plus each attempt's own wait for the store: up to 15 s when it is
 * silent), then dropped and counted. Nothing here is acknowledged to anyone, and
 * monitoring must go on while the store is away.
 */
public final class ResultWriter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ResultWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_BATCH = 5000;
    private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);
    private static final int ATTEMPTS = 8;

    /** Something to write. */
    public sealed interface Write {
    }

    /**
     * @param keepDetails whether the result's details are stored (see the class comment)
     * @param lease       the monitor's lease the check ran under (null: not fenced, a node without a cluster)
     */
    public record ResultRow(String monitor, CheckResult result, long latenessMillis, boolean keepDetails, Lease lease)
            implements Write {
        public ResultRow(String monitor, CheckResult result, long latenessMillis, boolean keepDetails) {
            this(monitor, result, latenessMillis, keepDetails, null);
        }

        public ResultRow(String monitor, CheckResult result, long latenessMillis) {
            this(monitor, result, latenessMillis, true, null);
        }
    }

    public record StateRow(StateSnapshot state, Lease lease) implements Write {
        public StateRow(StateSnapshot state) {
            this(state, null);
        }
    }

    public record IncidentProgress(long incidentId, int failedChecks, String lastError, Lease lease) implements Write {
        public IncidentProgress(long incidentId, int failedChecks, String lastError) {
            this(incidentId, failedChecks, lastError, null);
        }
    }

    /** Checks a lease inside the writing transaction (see {@code Leases.holds}). */
    @FunctionalInterface
    public interface Fence {
        boolean holds(Handle h, Lease lease);
    }

    /** A removed monitor's stored state goes, in order with the state rows queued before. */
    public record ForgetState(String monitor) implements Write {
    }

    private final Jdbi jdbi;
    private final MonitorMetrics metrics;
    private volatile Fence fence = (h, lease) -> true;
    private final BlockingQueue<Ticketed> queue;
    private final Thread writer;
    private volatile boolean running = true;
    /**
     * Tickets: each queued write takes the next number, and the writer publishes the highest number
     * it has written (or given up on) after each batch. A flush waits for the number issued when it
     * was called, not for an empty queue: with many monitors results keep arriving, and waiting for
     * none to be outstanding waited out the whole limit at every handover.
     */
    private final Object tickets = new Object();
    private long issued;
    private volatile long written;

    /** A queued write and its ticket. */
    private record Ticketed(Write write, long ticket) {
    }

    public ResultWriter(Jdbi jdbi, MonitorMetrics metrics, int capacity) {
        this.jdbi = jdbi;
        this.metrics = metrics;
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.writer = Thread.ofPlatform().daemon().name("monitor-result-writer").unstarted(this::loop);
    }

    /** Makes every write that carries a lease conditional on it, in the writing transaction. */
    public void fenceWith(Fence fence) {
        this.fence = fence;
    }

    public void start() {
        writer.start();
    }

    /** Queues a write; false (and counted when it is a result) when the queue is full or the writer stopped. Never blocks. */
    public boolean submit(Write write) {
        boolean queued;
        // a ticket and its place in the queue are taken together, so the queue stays in ticket order
        // and a written batch is always every ticket up to its last (offer never blocks)
        synchronized (tickets) {
            queued = running && queue.offer(new Ticketed(write, issued + 1));
            if (queued) {
                issued++;
            }
        }
        if (!queued && write instanceof ResultRow) {
            metrics.resultsDropped(1);
        }
        return queued;
    }

    public int backlog() {
        return queue.size();
    }

    /**
     * Waits until everything queued before this call is written, at most {@code limit} (tests,
     * reads that must see it, and a graceful handover of monitors, which writes what was accepted
     * under their leases before letting go); whether it all was.
     */
    public boolean flush(Duration limit) throws InterruptedException {
        long target;
        synchronized (tickets) {
            target = issued;
        }
        long deadline = System.nanoTime() + limit.toNanos();
        while (written < target && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return written >= target;
    }

    private void loop() {
        List<Ticketed> batch = new ArrayList<>(MAX_BATCH);
        while (running || !queue.isEmpty()) {
            try {
                Ticketed first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, MAX_BATCH - 1);
                writeWithRetry(batch.stream().map(Ticketed::write).toList());
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } finally {
                if (!batch.isEmpty()) {
                    written = batch.getLast().ticket(); // written, or dropped and counted: a flush waits no longer for it
                }
                batch.clear();
            }
        }
    }

    private void writeWithRetry(List<Write> batch) throws InterruptedException {
        List<ResultRow> results = new ArrayList<>();
        Map<String, StateRow> states = new LinkedHashMap<>();
        Map<Long, IncidentProgress> incidents = new LinkedHashMap<>();
        List<String> forgotten = new ArrayList<>();
        for (Write w : batch) {
            switch (w) {
                case ResultRow r -> results.add(r);
                case StateRow s -> states.put(s.state().monitor(), s);
                case IncidentProgress p -> incidents.put(p.incidentId(), p);
                case ForgetState f -> {
                    states.remove(f.monitor());
                    forgotten.add(f.monitor());
                }
            }
        }
        long backoff = 100;
        for (int attempt = 1; ; attempt++) {
            try {
                write(results, states.values(), incidents.values(), forgotten);
                if (attempt > 1) {
                    log.info("check results stored again after {} attempts", attempt);
                }
                return;
            } catch (SQLException | RuntimeException e) {
                if (attempt == 1) {
                    log.warn("storing {} check results failed, retrying: {}", results.size(), e.toString());
                }
                if (attempt >= ATTEMPTS || (!running && attempt >= 2)) {
                    log.error("dropping {} check results and {} states the store refuses: {}", results.size(), states.size(),
                            e.toString());
                    metrics.resultsDropped(results.size());
                    return;
                }
            }
            Thread.sleep(backoff);
            backoff = Math.min(backoff * 2, 5000);
        }
    }

    private static final String INSERT_RESULT = "INSERT INTO monitor_results (monitor, started_at, status, latency_ms,"
            + " latency_bucket, lateness_ms, error, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    private static final String UPSERT_STATE = "INSERT INTO monitor_state (monitor, status, consecutive_failures,"
            + " consecutive_successes, last_check_at, last_success_at, last_failure_at, last_latency_ms, last_error, status_since,"
            + " streak_started_at, streak_first_error)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (monitor) DO UPDATE SET status = excluded.status,"
            + " consecutive_failures = excluded.consecutive_failures, consecutive_successes = excluded.consecutive_successes,"
            + " last_check_at = excluded.last_check_at, last_success_at = excluded.last_success_at,"
            + " last_failure_at = excluded.last_failure_at, last_latency_ms = excluded.last_latency_ms,"
            + " last_error = excluded.last_error, status_since = excluded.status_since,"
            + " streak_started_at = excluded.streak_started_at, streak_first_error = excluded.streak_first_error";
    private static final String UPDATE_INCIDENT = "UPDATE monitor_incidents SET failed_checks = ?, last_error = ?"
            + " WHERE id = ? AND status = 'open'";

    private void write(List<ResultRow> allResults, Collection<StateRow> allStates, Collection<IncidentProgress> allIncidents,
                       List<String> forgotten) throws SQLException {
        jdbi.useTransaction(h -> {
            // Fencing: rows made under a lease this node no longer holds (another node took the
            // monitor over, or this one's membership expired) are refused here, in the transaction
            // that would write them, not by a check made earlier.
            //
            // Lock order: every lease of the batch is checked first, before any row is written, and
            // in the order of the lease names. On PostgreSQL a check takes a share lock on the
            // lease row and a takeover locks lease rows in name order (Leases.acquireAll): checked
            // in queue order instead, this batch could hold B's row and wait for A's while a
            // takeover holds A's and waits for B's, a deadlock PostgreSQL breaks by failing one.
            Map<Lease, Boolean> valid = new HashMap<>();
            java.util.stream.Stream.of(allResults.stream().map(ResultRow::lease), allStates.stream().map(StateRow::lease),
                            allIncidents.stream().map(IncidentProgress::lease))
                    .flatMap(leases -> leases)
                    .filter(java.util.Objects::nonNull)
                    .distinct()
                    .sorted(java.util.Comparator.comparing(Lease::name).thenComparingLong(Lease::fence))
                    .forEach(lease -> valid.put(lease, fence.holds(h, lease)));
            java.util.function.Predicate<Lease> ok = lease -> lease == null || valid.get(lease);
            List<ResultRow> results = allResults.stream().filter(r -> ok.test(r.lease())).toList();
            List<StateSnapshot> states = allStates.stream().filter(s -> ok.test(s.lease())).map(StateRow::state).toList();
            List<IncidentProgress> incidents = allIncidents.stream().filter(p -> ok.test(p.lease())).toList();
            int refused = allResults.size() - results.size();
            if (refused > 0) {
                metrics.resultsFenced(refused);
                log.info("{} check results refused: made under a monitor lease this node no longer holds", refused);
            }
            Connection connection = h.getConnection();
            if (!forgotten.isEmpty()) {
                try (PreparedStatement delete = connection.prepareStatement("DELETE FROM monitor_state WHERE monitor = ?")) {
                    for (String monitor : forgotten) {
                        delete.setString(1, monitor);
                        delete.addBatch();
                    }
                    delete.executeBatch();
                }
            }
            if (!results.isEmpty()) {
                try (PreparedStatement insert = connection.prepareStatement(INSERT_RESULT)) {
                    for (ResultRow row : results) {
                        CheckResult r = row.result();
                        insert.setString(1, row.monitor());
                        insert.setLong(2, r.startedAt().toEpochMilli());
                        insert.setString(3, r.status().wireName());
                        insert.setLong(4, r.latencyMillis());
                        insert.setInt(5, LatencyHistogram.bucket(r.latencyMillis()));
                        insert.setLong(6, row.latenessMillis());
                        insert.setString(7, StoredText.clean(r.error()));
                        insert.setString(8, row.keepDetails() ? StoredText.clean(details(r)) : null);
                        insert.addBatch();
                    }
                    insert.executeBatch();
                }
            }
            try (PreparedStatement upsert = connection.prepareStatement(UPSERT_STATE)) {
                int n = 0;
                for (StateSnapshot s : states) {
                    upsert.setString(1, s.monitor());
                    upsert.setString(2, s.status().wireName());
                    upsert.setInt(3, s.consecutiveFailures());
                    upsert.setInt(4, s.consecutiveSuccesses());
                    setLong(upsert, 5, s.lastCheckAt());
                    setLong(upsert, 6, s.lastSuccessAt());
                    setLong(upsert, 7, s.lastFailureAt());
                    setLong(upsert, 8, s.lastLatencyMs());
                    upsert.setString(9, StoredText.clean(s.lastError()));
                    setLong(upsert, 10, s.statusSince());
                    setLong(upsert, 11, s.streakStartedAt());
                    upsert.setString(12, StoredText.clean(s.streakFirstError()));
                    upsert.addBatch();
                    n++;
                }
                if (n > 0) {
                    upsert.executeBatch();
                }
            }
            try (PreparedStatement update = connection.prepareStatement(UPDATE_INCIDENT)) {
                int n = 0;
                for (IncidentProgress p : incidents) {
                    update.setInt(1, p.failedChecks());
                    update.setString(2, StoredText.clean(p.lastError()));
                    update.setLong(3, p.incidentId());
                    update.addBatch();
                    n++;
                }
                if (n > 0) {
                    update.executeBatch();
                }
            }
        });
    }

    private static String details(CheckResult r) {
        Map<String, Object> all = new LinkedHashMap<>(r.details());
        if (!r.worked().isEmpty()) {
            all.put("worked", r.worked());
        }
        if (all.isEmpty()) {
            return null;
        }
        try {
            return JSON.writeValueAsString(all);
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    private static void setLong(PreparedStatement statement, int index, Long value) throws SQLException {
        if (value == null) {
            statement.setNull(index, Types.BIGINT);
        } else {
            statement.setLong(index, value);
        }
    }

    /** Stops taking writes and writes what is queued, waiting a few seconds at most. */
    @Override
    public void close() {
        running = false;
        try {
            writer.join(CLOSE_WAIT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Ticketed> left = new ArrayList<>();
        queue.drainTo(left);
        if (!left.isEmpty()) {
            long results = left.stream().filter(w -> w.write() instanceof ResultRow).count();
            log.warn("{} check results and {} other writes were not stored before the node stopped", results,
                    left.size() - results);
            metrics.resultsDropped((int) results);
        }
    }
}
