package io.switchboard.sip.transport;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Lets one caller through at most once a minute, from any thread: for log lines about a setting
 * to fix, whose every occurrence a meter counts anyway, so a flood of them costs one line a minute.
 */
final class OncePerMinute {
    private static final long MINUTE_NANOS = 60_000_000_000L;
    /** When a caller was last let through ({@link System#nanoTime()}); a minute back, so the first is. */
    private final AtomicLong last = new AtomicLong(System.nanoTime() - 2 * MINUTE_NANOS);

    /** Callers turned away since the last one let through. */
    private final java.util.concurrent.atomic.AtomicInteger turnedAway = new java.util.concurrent.atomic.AtomicInteger();

    /** True for at most one caller a minute. */
    boolean due() {
        long now = System.nanoTime();
        long before = last.get();
        boolean due = now - before >= MINUTE_NANOS && last.compareAndSet(before, now);
        if (!due) {
            turnedAway.incrementAndGet();
        }
        return due;
    }

    /** How many callers {@link #due} turned away since the one before; resets the count (call it once let through). */
    int turnedAwaySinceLast() {
        return turnedAway.getAndSet(0);
    }
}
