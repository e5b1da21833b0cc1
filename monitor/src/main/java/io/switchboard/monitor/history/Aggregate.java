package io.switchboard.monitor.history;

/**
 * Counts over a period: checks by verdict, latency sum, distribution, fastest and slowest. Mutable
 * while it is being summed. The fastest and slowest are unknown when any part summed lacks them
 * (aggregates folded before they were kept).
 */
public final class Aggregate {
    long checks;
    long up;
    long degraded;
    long down;
    long latencySum;
    long latencyMin = Long.MAX_VALUE;
    long latencyMax = Long.MIN_VALUE;
    boolean boundsUnknown;
    final LatencyHistogram histogram;

    public Aggregate() {
        this(new LatencyHistogram());
    }

    Aggregate(LatencyHistogram histogram) {
        this.histogram = histogram;
    }

    void add(String status, int bucket, long count, long latencySum, long min, long max) {
        if (count > 0) {
            latencyMin = Math.min(latencyMin, min);
            latencyMax = Math.max(latencyMax, max);
        }
        checks += count;
        switch (status) {
            case "up" -> up += count;
            case "degraded" -> degraded += count;
            default -> down += count;
        }
        this.latencySum += latencySum;
        histogram.add(bucket, count);
    }

    /**
     * The columns {@link #addGrouped} reads, for a query of raw results grouped by status and
     * latency bucket (and whatever else the caller groups by first).
     */
    static final String GROUPED_COLUMNS = "status, latency_bucket, COUNT(*) AS n, SUM(latency_ms) AS total,"
            + " MIN(latency_ms) AS lo, MAX(latency_ms) AS hi";

    /** Adds one row of such a query ({@link #GROUPED_COLUMNS}). */
    void addGrouped(java.sql.ResultSet rs) throws java.sql.SQLException {
        add(rs.getString("status"), rs.getInt("latency_bucket"), rs.getLong("n"), rs.getLong("total"), rs.getLong("lo"),
                rs.getLong("hi"));
    }

    void add(Aggregate other) {
        if (other.checks > 0) {
            boundsUnknown |= other.boundsUnknown;
            latencyMin = Math.min(latencyMin, other.latencyMin);
            latencyMax = Math.max(latencyMax, other.latencyMax);
        }
        checks += other.checks;
        up += other.up;
        degraded += other.degraded;
        down += other.down;
        latencySum += other.latencySum;
        histogram.addAll(other.histogram);
    }

    public long checks() {
        return checks;
    }

    public long up() {
        return up;
    }

    public long degraded() {
        return degraded;
    }

    public long down() {
        return down;
    }

    public long latencySum() {
        return latencySum;
    }

    public LatencyHistogram histogram() {
        return histogram;
    }

    /** The fastest latency summed (ms); null without checks or when not known. */
    public Long latencyMin() {
        return checks == 0 || boundsUnknown ? null : latencyMin;
    }

    /** The slowest latency summed (ms); null without checks or when not known. */
    public Long latencyMax() {
        return checks == 0 || boundsUnknown ? null : latencyMax;
    }

    /** The latency below which {@code q} of the checks fall, within the fastest and slowest when known; null without checks. */
    public Double percentile(double q) {
        return histogram.percentile(q, latencyMin(), latencyMax());
    }

    /** Share of checks that passed (up or degraded), in percent with three decimals; null without checks. */
    public Double uptimePercent() {
        return checks == 0 ? null : Math.round((up + degraded) * 100_000.0 / checks) / 1000.0;
    }
}
