package io.switchboard.monitor.history;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.PreparedBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Folds raw results into hourly aggregates and hours into days, then removes what is past its
 * retention: raw results after {@code rawRetention} (only once folded), hours after
 * {@code hourlyRetention}, days after {@code dailyRetention}, delivery attempts with the hours, and
 * resolved incidents with the days.
 *
 * <p>An hour is folded once it has been over for {@link #GRACE}: a check that started in it may
 * report up to its timeout (at most 5 minutes) later, and the writer may lag behind. Folding reads
 * the hour in {@link #FOLD_SLICE} slices, one {@code GROUP BY} each (each row carries its latency
 * bucket), adds them up in memory, and writes the aggregates in the same transaction as the new
 * fold boundary, so a crash in between folds the hour again rather than twice.
 *
 * <p>On SQLite every statement of the node shares one connection, so nothing here holds it for
 * long: an hour of 10,000 monitors at 10 s is 3.6 million rows, read in twelve slices; expired raw
 * rows are deleted {@value #DELETE_BATCH} at a time (a bound found on the time index, then one
 * range delete), with a short pause between batches so the result writer and the API get the
 * connection in between; hours, days, delivery attempts and resolved incidents are deleted in
 * batches the same way, so no statement outlasts PostgreSQL's socket timeout after a backlog. Work per run is bounded (a node back after days catches up over several
 * runs).
 *
 * <p><b>In a cluster</b> the job runs under a lease, checked before a run ({@link #gate}) and
 * again inside every fold transaction ({@link #fence}), since a run can outlast the lease. The
 * fold boundary only moves forward ({@code folded_until < :t}): a transaction that finds it
 * already there (another node folded the hour meanwhile) is rolled back whole, so stale
 * aggregates never overwrite newer ones. Deletes need no fence: they remove only what is past
 * its retention, whoever runs them.
 */
public final class HistoryFolder implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HistoryFolder.class);
    static final Duration GRACE = Duration.ofMinutes(10);
    static final long HOUR = Duration.ofHours(1).toMillis();
    static final long DAY = Duration.ofDays(1).toMillis();
    static final Duration FOLD_SLICE = Duration.ofMinutes(5);
    static final int DELETE_BATCH = 5000;
    private static final int MAX_DELETE_BATCHES_PER_RUN = 400;
    private static final Duration DELETE_PAUSE = Duration.ofMillis(20);
    private static final int MAX_HOURS_PER_RUN = 72;
    private static final int MAX_DAYS_PER_RUN = 31;

    private final Jdbi jdbi;
    private final Clock clock;
    private final Duration rawRetention;
    private final Duration hourlyRetention;
    private final Duration dailyRetention;
    private final int deleteBatch;
    private ScheduledExecutorService timer;

    /** What one run did, for logs and tests. */
    public record Run(int hoursFolded, int daysFolded, long rawDeleted, long hourlyDeleted, long dailyDeleted) {
    }

    public HistoryFolder(Jdbi jdbi, Clock clock, Duration rawRetention, Duration hourlyRetention, Duration dailyRetention) {
        this(jdbi, clock, rawRetention, hourlyRetention, dailyRetention, DELETE_BATCH);
    }

    /** As the public constructor, deleting {@code deleteBatch} rows per statement (tests use small batches). */
    HistoryFolder(Jdbi jdbi, Clock clock, Duration rawRetention, Duration hourlyRetention, Duration dailyRetention,
                  int deleteBatch) {
        this.deleteBatch = deleteBatch;
        this.jdbi = jdbi;
        this.clock = clock;
        this.rawRetention = rawRetention;
        this.hourlyRetention = hourlyRetention;
        this.dailyRetention = dailyRetention;
    }

    private volatile java.util.function.BooleanSupplier gate = () -> true;
    private volatile java.util.function.Predicate<Handle> fence = h -> true;

    /** Why a fold was rolled back: the lease was lost, or another node moved the boundary on. */
    static final class FoldSuperseded extends RuntimeException {
        FoldSuperseded(String what) {
            super(what, null, false, false);
        }
    }

    /**
     * Checked inside every fold transaction, with that transaction's handle (in a cluster: this
     * node still holds the job's lease, see {@code Leases.holds}); false rolls the fold back and
     * ends the run.
     */
    public void fence(java.util.function.Predicate<Handle> fence) {
        this.fence = fence;
    }

    /** Runs the periodic job only while {@code gate} says so (in a cluster: this node holds the job's lease). */
    public void gate(java.util.function.BooleanSupplier gate) {
        this.gate = gate;
    }

    public void start(Duration every) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("monitor-history").unstarted(r));
        timer.scheduleWithFixedDelay(this::runQuietly, 5_000, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void runQuietly() {
        if (!gate.getAsBoolean()) {
            return; // another node of the cluster folds and prunes (the job's lease is its)
        }
        try {
            Run run = runOnce();
            if (run.hoursFolded() + run.daysFolded() > 0 || run.rawDeleted() > 0) {
                log.debug("history: {}", run);
            }
        } catch (FoldSuperseded e) {
            log.info("history: folding stopped ({}); the node holding the job's lease goes on", e.getMessage());
        } catch (RuntimeException e) {
            log.warn("folding check history failed (retried next run): {}", e.toString());
        }
    }

    public Run runOnce() {
        long now = clock.millis();
        int hours = 0;
        long hourFolded = progress("hour", () -> jdbi.withHandle(h -> h.createQuery("SELECT MIN(started_at) FROM monitor_results")
                .mapTo(Long.class).findOne().orElse(null)), HistoryFolder::floorHour, now);
        while (hours < MAX_HOURS_PER_RUN && hourFolded + HOUR + GRACE.toMillis() <= now) {
            foldHour(hourFolded);
            hourFolded += HOUR;
            hours++;
        }
        int days = 0;
        long limit = hourFolded;
        long dayFolded = progress("day", () -> jdbi.withHandle(h -> h.createQuery("SELECT MIN(period_start) FROM monitor_hourly")
                .mapTo(Long.class).findOne().orElse(null)), HistoryFolder::floorDay, floorDay(limit));
        while (days < MAX_DAYS_PER_RUN && dayFolded + DAY <= hourFolded) {
            long start = dayFolded;
            jdbi.useTransaction(h -> foldDay(h, start, fence));
            dayFolded += DAY;
            days++;
        }
        // Every delete is bounded per statement: after a backlog (a node back after weeks, a
        // retention shortened) one unbounded DELETE could outlast the store's socket timeout
        // (15 s on PostgreSQL), be rolled back, and fail the same way every run.
        long rawDeleted = deleteBefore("monitor_results", "started_at", Math.min(now - rawRetention.toMillis(), hourFolded));
        long hourlyCut = now - hourlyRetention.toMillis();
        long dailyCut = now - dailyRetention.toMillis();
        long hourlyDeleted = deleteBefore("monitor_hourly", "period_start", hourlyCut);
        deleteBefore("monitor_notifications", "at", hourlyCut);
        long dailyDeleted = deleteBefore("monitor_daily", "period_start", dailyCut);
        deleteResolvedIncidents(dailyCut);
        try {
            pruneClaims(hourlyCut);
        } catch (RuntimeException e) {
            log.warn("pruning notification claims failed (retried next run): {}", e.toString());
        }
        pruneLeases(); // whatever became of the claims: the two are independent
        return new Run(hours, days, rawDeleted, hourlyDeleted, dailyDeleted);
    }

    private long progress(String period, java.util.function.Supplier<Long> oldest, java.util.function.LongUnaryOperator floor,
                          long fallback) {
        Optional<Long> stored = jdbi.withHandle(h -> foldedUntil(h, period));
        if (stored.isPresent()) {
            return stored.get();
        }
        Long first = oldest.get();
        long start = first == null ? floor.applyAsLong(fallback) : floor.applyAsLong(first);
        // DO NOTHING: a node that lost the job's lease may race to create the row; the stored one wins
        jdbi.useHandle(h -> h.createUpdate("INSERT INTO monitor_fold_progress (period, folded_until) VALUES (:p, :t)"
                        + " ON CONFLICT (period) DO NOTHING")
                .bind("p", period).bind("t", start).execute());
        return jdbi.withHandle(h -> foldedUntil(h, period)).orElse(start);
    }

    /** Reads the hour slice by slice (each its own short read), then writes its aggregates and the new boundary together. */
    private void foldHour(long start) {
        Map<String, Aggregate> byMonitor = new HashMap<>();
        for (long from = start; from < start + HOUR; from += FOLD_SLICE.toMillis()) {
            long a = from;
            long b = Math.min(from + FOLD_SLICE.toMillis(), start + HOUR);
            jdbi.useHandle(h -> h.createQuery("SELECT monitor, " + Aggregate.GROUPED_COLUMNS
                            + " FROM monitor_results WHERE started_at >= :from AND started_at < :to"
                            + " GROUP BY monitor, status, latency_bucket")
                    .bind("from", a).bind("to", b)
                    .map((rs, ctx) -> {
                        byMonitor.computeIfAbsent(rs.getString("monitor"), m -> new Aggregate()).addGrouped(rs);
                        return 0;
                    }).list());
        }
        jdbi.useTransaction(h -> {
            advance(h, "hour", start + HOUR, fence);
            upsert(h, "monitor_hourly", start, byMonitor);
        });
    }

    private static void foldDay(Handle h, long start, java.util.function.Predicate<Handle> fence) {
        advance(h, "day", start + DAY, fence);
        Map<String, Aggregate> byMonitor = new HashMap<>();
        h.createQuery("SELECT * FROM monitor_hourly WHERE period_start >= :from AND period_start < :to")
                .bind("from", start).bind("to", start + DAY)
                .map((rs, ctx) -> {
                    byMonitor.computeIfAbsent(rs.getString("monitor"), m -> new Aggregate()).add(aggregate(rs));
                    return 0;
                }).list();
        upsert(h, "monitor_daily", start, byMonitor);
    }

    private static void upsert(Handle h, String table, long start, Map<String, Aggregate> byMonitor) {
        if (byMonitor.isEmpty()) {
            return;
        }
        PreparedBatch batch = h.prepareBatch("INSERT INTO " + table + " (monitor, period_start, checks, up, degraded, down,"
                + " latency_sum, histogram, latency_min, latency_max) VALUES (:m, :s, :c, :u, :g, :d, :l, :h, :lo, :hi)"
                + " ON CONFLICT (monitor, period_start)"
                + " DO UPDATE SET checks = excluded.checks, up = excluded.up, degraded = excluded.degraded,"
                + " down = excluded.down, latency_sum = excluded.latency_sum, histogram = excluded.histogram,"
                + " latency_min = excluded.latency_min, latency_max = excluded.latency_max");
        byMonitor.forEach((monitor, a) -> batch.bind("m", monitor).bind("s", start).bind("c", a.checks).bind("u", a.up)
                .bind("g", a.degraded).bind("d", a.down).bind("l", a.latencySum).bind("h", a.histogram.encode())
                .bind("lo", a.latencyMin()).bind("hi", a.latencyMax()).add());
        batch.execute();
    }

    /**
     * First in a fold's transaction: checks the fence, then moves the boundary forward only (on
     * PostgreSQL the UPDATE locks the row, so two folders of one period serialise and the second
     * finds it moved); either failing throws, rolling the fold back before anything is written.
     */
    private static void advance(Handle h, String period, long until, java.util.function.Predicate<Handle> fence) {
        if (!fence.test(h)) {
            throw new FoldSuperseded("this node no longer holds the history job's lease");
        }
        int moved = h.createUpdate("UPDATE monitor_fold_progress SET folded_until = :t WHERE period = :p AND folded_until < :t")
                .bind("t", until).bind("p", period).execute();
        if (moved == 0) {
            throw new FoldSuperseded("the " + period + " boundary is already at or past " + until + ": folded elsewhere");
        }
    }

    /**
     * Deletes the rows of {@code table} whose {@code column} is before {@code cutoff}, about
     * {@code deleteBatch} rows per statement: the value of the deleteBatch-th oldest row (read on
     * the column's index) bounds each delete. Rows sharing one value beyond a batch go together.
     */
    private long deleteBefore(String table, String column, long cutoff) {
        long deleted = 0;
        for (int batch = 0; batch < MAX_DELETE_BATCHES_PER_RUN; batch++) {
            Long bound = jdbi.withHandle(h -> h.createQuery("SELECT " + column + " FROM " + table + " WHERE " + column
                            + " < :c ORDER BY " + column + " LIMIT 1 OFFSET :n")
                    .bind("c", cutoff).bind("n", deleteBatch).mapTo(Long.class).findOne().orElse(null));
            long upTo = bound == null ? cutoff : bound;
            int removed = jdbi.withHandle(h -> h.createUpdate("DELETE FROM " + table + " WHERE " + column + " < :b")
                    .bind("b", upTo).execute());
            if (removed == 0 && bound != null) {
                // more than a batch share the oldest value: take that value whole
                removed = jdbi.withHandle(h -> h.createUpdate("DELETE FROM " + table + " WHERE " + column + " <= :b")
                        .bind("b", upTo).execute());
            }
            deleted += removed;
            if (bound == null || !pause()) {
                break;
            }
        }
        return deleted;
    }

    /** Resolved incidents older than {@code cutoff} with their timelines, {@code deleteBatch} incidents per transaction. */
    private void deleteResolvedIncidents(long cutoff) {
        for (int batch = 0; batch < MAX_DELETE_BATCHES_PER_RUN; batch++) {
            int removed = jdbi.inTransaction(h -> {
                List<Long> ids = h.createQuery("SELECT id FROM monitor_incidents WHERE status = 'resolved'"
                                + " AND resolved_at < :c LIMIT :n")
                        .bind("c", cutoff).bind("n", deleteBatch).mapTo(Long.class).list();
                if (ids.isEmpty()) {
                    return 0;
                }
                h.createUpdate("DELETE FROM monitor_incident_events WHERE incident_id IN (<ids>)").bindList("ids", ids).execute();
                return h.createUpdate("DELETE FROM monitor_incidents WHERE id IN (<ids>)").bindList("ids", ids).execute();
            });
            if (removed < deleteBatch || !pause()) {
                break;
            }
        }
    }

    /**
     * Notification claims that no longer decide anything: those of incidents resolved before
     * {@code cutoff} (the delivery log's retention: what was sent stays visible there) or gone,
     * and warning claims done before it except each monitor and channel's latest (which says
     * whether a warning stands) and any of a monitor that no longer exists.
     */
    private void pruneClaims(long cutoff) {
        // claims nobody took of monitors since deleted: nobody may send them (cancelled, then pruned with their incident)
        long now = clock.millis();
        jdbi.useHandle(h -> {
            h.createUpdate("UPDATE monitor_notification_claims SET sent_at = :t, outcome = 'cancelled' WHERE sent_at IS NULL"
                    + " AND sending_at IS NULL AND incident_id IN (SELECT i.id FROM monitor_incidents i WHERE NOT EXISTS"
                    + " (SELECT 1 FROM monitor_monitors m WHERE m.name = i.monitor))").bind("t", now).execute();
        });
        // bounded like the other deletes: after a backlog one unbounded DELETE could outlast the
        // store's socket timeout, be rolled back, and fail the same way every run
        for (int batch = 0; batch < MAX_DELETE_BATCHES_PER_RUN; batch++) {
            int removed = jdbi.inTransaction(h -> {
                List<Long> ids = h.createQuery("SELECT DISTINCT c.incident_id FROM monitor_notification_claims c"
                                + " LEFT JOIN monitor_incidents i ON i.id = c.incident_id"
                                + " WHERE i.id IS NULL OR (i.status = 'resolved' AND i.resolved_at < :c) LIMIT :n")
                        .bind("c", cutoff).bind("n", deleteBatch).mapTo(Long.class).list();
                if (ids.isEmpty()) {
                    return 0;
                }
                // what the claims say about telling people is kept on the incident first (an
                // older node, during a rolling upgrade, ends claims without writing it)
                h.createUpdate("UPDATE monitor_incidents SET told_at = (SELECT MIN(c.sent_at) FROM monitor_notification_claims c"
                        + " WHERE c.incident_id = monitor_incidents.id AND c.event IN ('down', 'reminder') AND c.outcome = 'sent')"
                        + " WHERE id IN (<ids>) AND told_at IS NULL").bindList("ids", ids).execute();
                h.createUpdate("DELETE FROM monitor_notification_claims WHERE incident_id IN (<ids>)").bindList("ids", ids).execute();
                return ids.size();
            });
            if (removed < deleteBatch || !pause()) {
                break;
            }
        }
        for (int batch = 0; batch < MAX_DELETE_BATCHES_PER_RUN; batch++) {
            int removed = jdbi.inTransaction(h -> {
                List<Map<String, Object>> keys = h.createQuery("SELECT w.monitor, w.channel, w.seq FROM monitor_warning_claims w"
                                + " WHERE NOT EXISTS (SELECT 1 FROM monitor_monitors m WHERE m.name = w.monitor)"
                                + " OR (w.sent_at IS NOT NULL AND w.claimed_at < :c AND w.seq < (SELECT MAX(l.seq)"
                                + " FROM monitor_warning_claims l WHERE l.monitor = w.monitor AND l.channel = w.channel)) LIMIT :n")
                        .bind("c", cutoff).bind("n", deleteBatch).mapToMap().list();
                if (keys.isEmpty()) {
                    return 0;
                }
                PreparedBatch delete = h.prepareBatch(
                        "DELETE FROM monitor_warning_claims WHERE monitor = :m AND channel = :c AND seq = :s");
                for (Map<String, Object> key : keys) {
                    delete.bind("m", key.get("monitor")).bind("c", key.get("channel"))
                            .bind("s", ((Number) key.get("seq")).longValue()).add();
                }
                delete.execute();
                return keys.size();
            });
            if (removed < deleteBatch || !pause()) {
                break;
            }
        }
    }

    /**
     * Lease rows of monitors that no longer exist, once no live process holds them: let go (the
     * holder released it when the monitor left its catalog), or held by a node that left, was
     * restarted as a new incarnation, or is so long dead its membership row was pruned. Rows of
     * existing monitors are kept whoever held them last: a lease's fence must only grow, and a
     * deleted row would start again at 1, below fences the store already holds claims under.
     */
    private void pruneLeases() {
        jdbi.useHandle(h -> h.createUpdate("DELETE FROM platform_leases WHERE substr(name, 1, 8) = 'monitor:'"
                + " AND NOT EXISTS (SELECT 1 FROM monitor_monitors m WHERE 'monitor:' || m.name = platform_leases.name)"
                + " AND (holder IS NULL OR NOT EXISTS (SELECT 1 FROM platform_cluster_nodes n WHERE n.node_id = platform_leases.holder"
                + " AND n.incarnation = platform_leases.incarnation AND n.left_at IS NULL))").execute());
    }

    /** A short pause between delete batches, so other writers get the (SQLite: only) connection; false when interrupted. */
    private static boolean pause() {
        try {
            Thread.sleep(DELETE_PAUSE.toMillis());
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static Optional<Long> foldedUntil(Handle h, String period) {
        return h.createQuery("SELECT folded_until FROM monitor_fold_progress WHERE period = :p").bind("p", period)
                .mapTo(Long.class).findOne();
    }

    static Aggregate aggregate(ResultSet rs) throws SQLException {
        Aggregate a = new Aggregate(LatencyHistogram.decode(rs.getString("histogram")));
        a.checks = rs.getLong("checks");
        a.up = rs.getLong("up");
        a.degraded = rs.getLong("degraded");
        a.down = rs.getLong("down");
        a.latencySum = rs.getLong("latency_sum");
        Long min = ResultStore.nullableLong(rs, "latency_min");
        Long max = ResultStore.nullableLong(rs, "latency_max");
        if (min == null || max == null) {
            a.boundsUnknown = true; // folded by a node before these were kept
        } else {
            a.latencyMin = min;
            a.latencyMax = max;
        }
        return a;
    }

    public static long floorHour(long millis) {
        return Math.floorDiv(millis, HOUR) * HOUR;
    }

    public static long floorDay(long millis) {
        return Math.floorDiv(millis, DAY) * DAY;
    }

    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
            try {
                timer.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
