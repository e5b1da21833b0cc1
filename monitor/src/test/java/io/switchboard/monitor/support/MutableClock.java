package io.switchboard.monitor.support;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** A clock the test moves: it runs with real time from where it was set, plus what the test added. */
public final class MutableClock extends Clock {
    private volatile Duration offset = Duration.ZERO;
    private volatile Instant fixed;

    public static MutableClock fixedAt(Instant at) {
        MutableClock clock = new MutableClock();
        clock.fixed = at;
        return clock;
    }

    public static MutableClock running() {
        return new MutableClock();
    }

    public void set(Instant at) {
        fixed = at;
    }

    public void advance(Duration by) {
        if (fixed != null) {
            fixed = fixed.plus(by);
        } else {
            offset = offset.plus(by);
        }
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
        return fixed != null ? fixed : Instant.now().plus(offset);
    }
}
