package io.switchboard.platform;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Lets one caller through at most once a minute, from any thread: for log lines about events a
 * meter counts anyway and that anyone can cause at will (a flood of bad tokens), so a flood of
 * them costs one line a minute, with the number passed over since the last.
 */
public final class OncePerMinute {
    private static final long MINUTE_NANOS = 60_000_000_000L;
    private final LongSupplier nanoTime;
    /** When a caller was last let through; two minutes back at first, so the first one is. */
    private final AtomicLong last;
    private final AtomicInteger turnedAway = new AtomicInteger();

    public OncePerMinute() {
        this(System::nanoTime);
    }

    /** @param nanoTime the clock ({@link System#nanoTime()} outside tests) */
    public OncePerMinute(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
        this.last = new AtomicLong(nanoTime.getAsLong() - 2 * MINUTE_NANOS);
    }

    /** True for at most one caller a minute. */
    public boolean due() {
        long now = nanoTime.getAsLong();
        long before = last.get();
        boolean due = now - before >= MINUTE_NANOS && last.compareAndSet(before, now);
        if (!due) {
            turnedAway.incrementAndGet();
        }
        return due;
    }

    /** How many callers {@link #due} turned away since the last one let through; resets the count (call it once let through). */
    public int turnedAwaySinceLast() {
        return turnedAway.getAndSet(0);
    }
}
