package io.switchboard.sip.transport;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A token bucket per source address, so one flooding peer is dropped while everyone else is served.
 * Buckets of addresses that went quiet are swept periodically so spoofed sources cannot grow the
 * map without bound; past {@code maxTracked} addresses new sources share one overflow bucket.
 */
final class SourceRateLimiter {
    private final double ratePerNano;
    private final double burst;
    private final int maxTracked;
    private final ConcurrentHashMap<InetAddress, Bucket> buckets = new ConcurrentHashMap<>();
    private final Bucket overflow;

    SourceRateLimiter(int perSecond, int burst, int maxTracked) {
        this.ratePerNano = perSecond / 1e9;
        this.burst = Math.max(burst, perSecond);
        this.maxTracked = maxTracked;
        this.overflow = new Bucket(this.burst, System.nanoTime());
    }

    boolean tryAcquire(InetAddress source) {
        long now = System.nanoTime();
        Bucket bucket = buckets.get(source);
        if (bucket == null) {
            bucket = buckets.size() >= maxTracked ? overflow
                    : buckets.computeIfAbsent(source, a -> new Bucket(burst, now));
        }
        synchronized (bucket) {
            double tokens = Math.min(burst, bucket.tokens + (now - bucket.updated) * ratePerNano);
            bucket.updated = now;
            if (tokens < 1) {
                bucket.tokens = tokens;
                return false;
            }
            bucket.tokens = tokens - 1;
            return true;
        }
    }

    /** Forgets sources silent for longer than {@code idleNanos}. */
    void sweep(long idleNanos) {
        long now = System.nanoTime();
        buckets.values().removeIf(b -> now - b.updated > idleNanos);
    }

    int tracked() {
        return buckets.size();
    }

    private static final class Bucket {
        double tokens;
        long updated;

        Bucket(double tokens, long updated) {
            this.tokens = tokens;
            this.updated = updated;
        }
    }
}
