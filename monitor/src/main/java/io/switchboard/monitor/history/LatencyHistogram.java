package io.switchboard.monitor.history;

import java.util.Map;
import java.util.TreeMap;

/**
 * Latency distribution in log-scale buckets, eight per doubling: bucket {@code b} holds latencies
 * up to 2^(b/8) ms, so neighbouring bounds differ by 9% and a percentile read from the buckets is
 * within about 9% of the exact one. Bucket 0 holds everything under a millisecond. Aggregates of
 * hours and days keep these counts, which add up exactly when merged; exact percentiles would need
 * every sample. Interpolating inside a bucket can land past the fastest or slowest latency seen
 * (every check at 100 ms reads a p95 of 104.3), so a caller that knows those bounds passes them to
 * {@link #percentile(double, Long, Long)}. Written as {@code "bucket:count,bucket:count"}.
 */
public final class LatencyHistogram {
    static final int PER_DOUBLING = 8;
    static final int MAX_BUCKET = PER_DOUBLING * 24; // 2^24 ms, about 4.7 hours: far above any timeout

    private final TreeMap<Integer, Long> counts = new TreeMap<>();

    public static int bucket(long millis) {
        if (millis <= 1) {
            return 0;
        }
        int b = (int) Math.ceil(PER_DOUBLING * (Math.log(millis) / Math.log(2)) - 1e-9);
        return Math.min(Math.max(b, 0), MAX_BUCKET);
    }

    static double upperBound(int bucket) {
        return bucket == 0 ? 1 : Math.pow(2, bucket / (double) PER_DOUBLING);
    }

    static double lowerBound(int bucket) {
        return bucket == 0 ? 0 : upperBound(bucket - 1);
    }

    public void add(int bucket, long count) {
        if (count > 0) {
            counts.merge(bucket, count, Long::sum);
        }
    }

    public void addAll(LatencyHistogram other) {
        other.counts.forEach(this::add);
    }

    public long total() {
        return counts.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * The latency below which {@code q} of the samples fall (0 &lt; q &lt; 1), interpolated within
     * its bucket; null when empty.
     */
    public Double percentile(double q) {
        return percentile(q, null, null);
    }

    /**
     * As {@link #percentile(double)}, kept within [{@code min}, {@code max}], the fastest and
     * slowest latency seen (ms; null when not known): a percentile never lies outside what was
     * observed, and percentiles of one histogram stay in order (p50 &lt;= p95 &lt;= max).
     */
    public Double percentile(double q, Long min, Long max) {
        Double value = interpolated(q);
        if (value == null) {
            return null;
        }
        if (max != null) {
            value = Math.min(value, max.doubleValue());
        }
        if (min != null) {
            value = Math.max(value, Math.min(min.doubleValue(), max == null ? Double.MAX_VALUE : max.doubleValue()));
        }
        return value;
    }

    private Double interpolated(double q) {
        long total = total();
        if (total == 0) {
            return null;
        }
        double rank = q * total;
        long seen = 0;
        for (Map.Entry<Integer, Long> e : counts.entrySet()) {
            if (seen + e.getValue() >= rank) {
                double low = lowerBound(e.getKey());
                double high = upperBound(e.getKey());
                double within = e.getValue() == 0 ? 1 : (rank - seen) / e.getValue();
                return Math.round((low + (high - low) * within) * 10) / 10.0;
            }
            seen += e.getValue();
        }
        return upperBound(counts.lastKey());
    }

    public String encode() {
        StringBuilder out = new StringBuilder();
        counts.forEach((b, c) -> {
            if (!out.isEmpty()) {
                out.append(',');
            }
            out.append(b).append(':').append(c);
        });
        return out.toString();
    }

    public static LatencyHistogram decode(String text) {
        LatencyHistogram h = new LatencyHistogram();
        if (text == null || text.isBlank()) {
            return h;
        }
        for (String pair : text.split(",")) {
            int colon = pair.indexOf(':');
            if (colon > 0) {
                try {
                    h.add(Integer.parseInt(pair.substring(0, colon).strip()), Long.parseLong(pair.substring(colon + 1).strip()));
                } catch (NumberFormatException e) {
                    // a damaged pair is left out; the rest still counts
                }
            }
        }
        return h;
    }
}
