package io.switchboard.monitor.history;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.incident.MonitorStatus;
import io.switchboard.monitor.incident.StateSnapshot;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

/**
 * Reads history: a monitor's recent results, its uptime and latency percentiles over a window, its
 * hourly or daily aggregates, and the stored states a node resumes from.
 *
 * <p>A window is answered from the hourly aggregates for the hours already folded plus the raw
 * results since, so it covers whole hours: "24 h" is the current hour and the 24 before it at
 * most, never less than 24 h.
 */
public final class ResultStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TypeReference<Map<String, Object>> MAP = new TypeReference<>() {
    };

    private final Jdbi jdbi;
    private final Clock clock;

    /** Counts and latency percentiles (ms) over one window; percentiles are null without checks. */
    public record WindowSummary(Duration window, long checks, long up, long degraded, long down, Double uptimePercent,
                                Double p50Millis, Double p95Millis, Double averageMillis) {
    }

    /** One aggregate row. */
    public record Period(Instant start, long checks, long up, long degraded, long down, Double uptimePercent,
                         Double p50Millis, Double p95Millis) {
    }

    public ResultStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    /** The newest results first; {@code before} (epoch ms, exclusive) pages further back, null for the newest. */
    public List<StoredResult> recent(String monitor, int limit, Long before) {
        return jdbi.withHandle(h -> h.createQuery("SELECT * FROM monitor_results WHERE monitor = :m"
                        + (before == null ? "" : " AND started_at < :before") + " ORDER BY started_at DESC LIMIT :limit")
                .bind("m", monitor).bind("before", before).bind("limit", limit)
                .map((rs, ctx) -> read(rs)).list());
    }

    public WindowSummary summary(String monitor, Duration window) {
        return summaries(monitor, List.of(window)).getFirst();
    }

    /** Several windows in one transaction (they share the fold boundary). */
    public List<WindowSummary> summaries(String monitor, List<Duration> windows) {
        long now = clock.millis();
        return jdbi.inTransaction(h -> {
            long foldedUntil = HistoryFolder.foldedUntil(h, "hour").orElse(0L);
            Map<Long, Aggregate> hours = new LinkedHashMap<>();
            long oldest = now - windows.stream().mapToLong(Duration::toMillis).max().orElse(0);
            h.createQuery("SELECT * FROM monitor_hourly WHERE monitor = :m AND period_start >= :from AND period_start < :until")
                    .bind("m", monitor).bind("from", HistoryFolder.floorHour(oldest)).bind("until", foldedUntil)
                    .map((rs, ctx) -> Map.entry(rs.getLong("period_start"), HistoryFolder.aggregate(rs)))
                    .forEach(e -> hours.put(e.getKey(), e.getValue()));
            Aggregate recent = rawSince(h, monitor, foldedUntil);
            return windows.stream().map(window -> {
                long from = HistoryFolder.floorHour(now - window.toMillis());
                Aggregate sum = new Aggregate();
                hours.forEach((start, a) -> {
                    if (start >= from) {
                        sum.add(a);
                    }
                });
                sum.add(recent);
                return new WindowSummary(window, sum.checks(), sum.up(), sum.degraded(), sum.down(), sum.uptimePercent(),
                        sum.percentile(0.50), sum.percentile(0.95),
                        sum.checks() == 0 ? null : Math.round(sum.latencySum() * 10.0 / sum.checks()) / 10.0);
            }).toList();
        });
    }

    private static Aggregate rawSince(Handle h, String monitor, long from) {
        Aggregate a = new Aggregate();
        h.createQuery("SELECT " + Aggregate.GROUPED_COLUMNS + " FROM monitor_results"
                        + " WHERE monitor = :m AND started_at >= :from GROUP BY status, latency_bucket")
                .bind("m", monitor).bind("from", from)
                .map((rs, ctx) -> {
                    a.addGrouped(rs);
                    return 0;
                }).list();
        return a;
    }

    /**
     * Aggregates of {@code period} ("hour" or "day") starting in [from, to), oldest first. Periods
     * the folding job has not reached yet (the current hour, the current day, and after a node was
     * down the ones it has still to fold) are summed from what is there: hourly aggregates and raw
     * results, so the newest period is the one so far rather than missing.
     */
    public List<Period> periods(String monitor, String period, Instant from, Instant to) {
        boolean daily = period.equals("day");
        long start = from.toEpochMilli();
        long end = to.toEpochMilli();
        java.util.function.LongUnaryOperator floor = daily ? HistoryFolder::floorDay : HistoryFolder::floorHour;
        return jdbi.inTransaction(h -> {
            long hoursFolded = HistoryFolder.foldedUntil(h, "hour").orElse(0L);
            long folded = daily ? Math.min(HistoryFolder.foldedUntil(h, "day").orElse(0L), hoursFolded) : hoursFolded;
            java.util.TreeMap<Long, Aggregate> out = new java.util.TreeMap<>();
            h.createQuery("SELECT * FROM " + (daily ? "monitor_daily" : "monitor_hourly")
                            + " WHERE monitor = :m AND period_start >= :from AND period_start < :to")
                    .bind("m", monitor).bind("from", start).bind("to", Math.min(end, folded))
                    .map((rs, ctx) -> Map.entry(rs.getLong("period_start"), HistoryFolder.aggregate(rs)))
                    .forEach(e -> out.put(e.getKey(), e.getValue()));
            // Whole periods, as stored ones are: those starting in [from, to), each with all of its
            // checks (one begun before 'from' is left out, one begun before 'to' counts to its end)
            long length = daily ? HistoryFolder.DAY : HistoryFolder.HOUR;
            long firstWhole = floor.applyAsLong(start) == start ? start : floor.applyAsLong(start) + length;
            long pastLast = floor.applyAsLong(end) == end ? end : floor.applyAsLong(end) + length;
            if (daily) {
                h.createQuery("SELECT * FROM monitor_hourly WHERE monitor = :m AND period_start >= :from AND period_start < :to")
                        .bind("m", monitor).bind("from", Math.max(folded, firstWhole)).bind("to", Math.min(pastLast, hoursFolded))
                        .map((rs, ctx) -> Map.entry(rs.getLong("period_start"), HistoryFolder.aggregate(rs)))
                        .forEach(e -> out.computeIfAbsent(HistoryFolder.floorDay(e.getKey()), k -> new Aggregate()).add(e.getValue()));
            }
            h.createQuery("SELECT started_at / " + HistoryFolder.HOUR + " AS hour, " + Aggregate.GROUPED_COLUMNS
                            + " FROM monitor_results WHERE monitor = :m AND started_at >= :from AND started_at < :to"
                            + " GROUP BY started_at / " + HistoryFolder.HOUR + ", status, latency_bucket")
                    .bind("m", monitor).bind("from", Math.max(hoursFolded, firstWhole)).bind("to", pastLast)
                    .map((rs, ctx) -> {
                        out.computeIfAbsent(floor.applyAsLong(rs.getLong("hour") * HistoryFolder.HOUR), k -> new Aggregate())
                                .addGrouped(rs);
                        return 0;
                    }).list();
            return out.entrySet().stream().map(e -> {
                Aggregate a = e.getValue();
                return new Period(Instant.ofEpochMilli(e.getKey()), a.checks(), a.up(), a.degraded(), a.down(),
                        a.uptimePercent(), a.percentile(0.5), a.percentile(0.95));
            }).toList();
        });
    }

    public Map<String, StateSnapshot> states() {
        return states(null);
    }

    /** One monitor's stored state (in a cluster, as the node that checks it last wrote it). */
    public java.util.Optional<StateSnapshot> state(String monitor) {
        return java.util.Optional.ofNullable(states(monitor).get(monitor));
    }

    private Map<String, StateSnapshot> states(String only) {
        Map<String, StateSnapshot> out = new LinkedHashMap<>();
        jdbi.useHandle(h -> h.createQuery("SELECT * FROM monitor_state" + (only == null ? "" : " WHERE monitor = :m"))
                .bindMap(only == null ? Map.of() : Map.of("m", only))
                .map((rs, ctx) -> new StateSnapshot(
                        rs.getString("monitor"), MonitorStatus.fromWire(rs.getString("status")), rs.getInt("consecutive_failures"),
                        rs.getInt("consecutive_successes"), nullableLong(rs, "last_check_at"), nullableLong(rs, "last_success_at"),
                        nullableLong(rs, "last_failure_at"), nullableLong(rs, "last_latency_ms"), rs.getString("last_error"),
                        nullableLong(rs, "status_since"), nullableLong(rs, "streak_started_at"), rs.getString("streak_first_error")))
                .forEach(s -> out.put(s.monitor(), s)));
        return out;
    }

    private static StoredResult read(ResultSet rs) throws SQLException {
        Map<String, Object> details = Map.of();
        String text = rs.getString("details");
        if (text != null) {
            try {
                details = JSON.readValue(text, MAP);
            } catch (java.io.IOException e) {
                details = Map.of();
            }
        }
        return new StoredResult(rs.getString("monitor"), Instant.ofEpochMilli(rs.getLong("started_at")), rs.getString("status"),
                rs.getLong("latency_ms"), rs.getLong("lateness_ms"), rs.getString("error"), details);
    }

    static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long value = rs.getLong(column);
        return rs.wasNull() ? null : value;
    }
}
