package io.switchboard.platform.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/**
 * A clock tests move by hand (shared through the platform's test jar): stopped at an instant
 * ({@link #MutableClock(Instant)}, {@link #fixedAt}), or running with real time plus what the test
 * added ({@link #running}).
 */
public final class MutableClock extends Clock {
    private volatile Instant fixed;
    private volatile Duration offset = Duration.ZERO;

    public MutableClock(Instant start) {
        this.fixed = start;
    }

    private MutableClock() {
    }

    public static MutableClock fixedAt(Instant at) {
        return new MutableClock(at);
    }

    public static MutableClock running() {
        return new MutableClock();
    }

    public synchronized void advance(Duration by) {
        if (fixed != null) {
            fixed = fixed.plus(by);
        } else {
            offset = offset.plus(by);
        }
    }

    /** Stops the clock at {@code at}. */
    public void set(Instant at) {
        fixed = at;
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        return this;
    }

    @Override
    public Instant instant() {
        Instant stopped = fixed;
        return stopped != null ? stopped : Instant.now().plus(offset);
    }
}
