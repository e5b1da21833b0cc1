package io.switchboard.platform;

import java.time.Clock;
import java.util.OptionalInt;

/**
 * Lets at most a set number of log lines through a minute, from any thread, and counts the ones it
 * turns away so that the next line let through can say how many were left out: for lines about
 * events anyone can cause at will (a flood of bad tokens, a scan, a client retrying a wrong
 * password), which a meter counts anyway, so a flood costs a few lines a minute and not the disk.
 *
 * <p>Minutes are fixed windows, each opened by the first caller after the last one ended; a clock
 * set back opens a new one at once (else the window would stay shut until the clock caught up
 * with where it was). Most callers need only {@link #take}. One that writes a line only when two
 * budgets both have room (a source's and everyone's) uses {@link #hasRoom}, {@link #leaveOut} and
 * {@link #let} while holding its own lock, so that a line refused by the second budget neither
 * uses up the first one's room nor resets its count.
 */
public final class LogLineBudget {
    private static final long MINUTE_MILLIS = 60_000;
    private final int perMinute;
    private final Clock clock;
    /** When the current minute began (clock millis); so far back at first that the first caller opens one. */
    private long minuteStart = Long.MIN_VALUE;
    private int letThrough;
    private int leftOut;

    /**
     * @param perMinute the most lines let through in a minute
     * @param clock     where the time comes from
     */
    public LogLineBudget(int perMinute, Clock clock) {
        if (perMinute < 1) {
            throw new IllegalArgumentException("a log line budget lets at least one line a minute through, not " + perMinute);
        }
        this.perMinute = perMinute;
        this.clock = clock;
    }

    /**
     * Lets this line through if the minute has room for it, or counts it as left out.
     *
     * @return how many were left out since the last line let through (then counted again from 0),
     *         or empty if this one is left out
     */
    public synchronized OptionalInt take() {
        if (!hasRoom()) {
            leftOut++;
            return OptionalInt.empty();
        }
        return OptionalInt.of(let());
    }

    /** Whether a line may go through in this minute; uses none of its room. */
    public synchronized boolean hasRoom() {
        long now = clock.millis();
        if (now < minuteStart || now >= minuteStart + MINUTE_MILLIS) {
            minuteStart = now;
            letThrough = 0;
        }
        return letThrough < perMinute;
    }

    /** Counts a line left out, to be said on the next one let through. */
    public synchronized void leaveOut() {
        leftOut++;
    }

    /**
     * Lets a line through, whether or not {@link #hasRoom} (which the caller asked first).
     *
     * @return how many were left out since the last line let through; counted again from 0
     */
    public synchronized int let() {
        letThrough++;
        int said = leftOut;
        leftOut = 0;
        return said;
    }

    /** Whether its last minute is over (or the clock went back before it): nothing is held against the present one. */
    public synchronized boolean quiet() {
        long now = clock.millis();
        return now < minuteStart || now >= minuteStart + MINUTE_MILLIS;
    }
}
