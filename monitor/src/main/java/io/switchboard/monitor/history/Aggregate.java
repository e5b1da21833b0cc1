package io.switchboard.monitor.history;

/** Counts over a period: checks by verdict, latency sum and distribution. Mutable while it is being summed. */
public final class Aggregate {
    long checks;
    long up;
    long degraded;
    long down;
    long latencySum;
    final LatencyHistogram histogram;

    public Aggregate() {
        this(new LatencyHistogram());
    }

    Aggregate(LatencyHistogram histogram) {
        this.histogram = histogram;
    }

    void add(String status, int bucket, long count, long latencySum) {
        checks += count;
        switch (status) {
            case "up" -> up += count;
            case "degraded" -> degraded += count;
            default -> down += count;
        }
        this.latencySum += latencySum;
        histogram.add(bucket, count);
    }

    void add(Aggregate other) {
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

    /** Share of checks that passed (up or degraded), in percent with three decimals; null without checks. */
    public Double uptimePercent() {
        return checks == 0 ? null : Math.round((up + degraded) * 100_000.0 / checks) / 1000.0;
    }
}
