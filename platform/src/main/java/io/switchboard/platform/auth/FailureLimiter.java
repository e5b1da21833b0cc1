package io.switchboard.platform.auth;

import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts attempts per key (a user name, an address) in a fixed window and refuses a key that has
 * used up its allowance: the brake on password guessing. The window starts at a key's first
 * attempt; once it has passed, the key starts afresh.
 *
 * <p>An attempt is reserved before the slow password check ({@link #tryReserve}) and given back
 * if it succeeded ({@link #release}), so a burst of parallel guesses cannot all pass the check
 * before the first failure is counted.
 *
 * <p>Keys live in memory; the attempts other nodes counted arrive over the bus and are added with
 * {@link #count} ({@link PersonAuth}). The map holds at most
 * {@link #MAX_KEYS} keys: past that it is swept of finished windows, and if that is not enough,
 * emptied (a flood of distinct keys then costs the flooder their own counts, not our memory).
 */
public final class FailureLimiter {
    static final int MAX_KEYS = 100_000;

    private final int allowance;
    private final Duration window;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    /** @param lockoutTold whether the key's lockout in this window was reported ({@link #lockedOutNow}) */
    private record Window(long startedAt, int attempts, boolean lockoutTold) {
        Window(long startedAt, int attempts) {
            this(startedAt, attempts, false);
        }
    }

    public FailureLimiter(int allowance, Duration window, Clock clock) {
        this.allowance = allowance;
        this.window = window;
        this.clock = clock;
    }

    /**
     * Takes one attempt of the key's allowance. Returns zero when taken; otherwise how long until
     * the key may try again (nothing taken).
     */
    public Duration tryReserve(String key) {
        long now = clock.millis();
        Window[] refused = new Window[1];
        windows.compute(key, (k, w) -> {
            if (w == null || now - w.startedAt() >= window.toMillis()) {
                return new Window(now, 1);
            }
            if (w.attempts() >= allowance) {
                refused[0] = w;
                return w;
            }
            return new Window(w.startedAt(), w.attempts() + 1, w.lockoutTold());
        });
        if (windows.size() > MAX_KEYS) {
            sweep(now);
        }
        if (refused[0] == null) {
            return Duration.ZERO;
        }
        return Duration.ofMillis(Math.max(1, refused[0].startedAt() + window.toMillis() - now));
    }

    /**
     * Adds an attempt another node counted, refused or not there: the key's window starts now if
     * it has none. Capped at the allowance, which already refuses the key.
     */
    public void count(String key) {
        long now = clock.millis();
        windows.compute(key, (k, w) -> w == null || now - w.startedAt() >= window.toMillis()
                ? new Window(now, 1)
                : new Window(w.startedAt(), Math.min(allowance, w.attempts() + 1), w.lockoutTold()));
        if (windows.size() > MAX_KEYS) {
            sweep(now);
        }
    }

    /** Gives back an attempt that turned out well. */
    public void release(String key) {
        windows.computeIfPresent(key, (k, w) -> w.attempts() <= 1 ? null
                : new Window(w.startedAt(), w.attempts() - 1, w.lockoutTold()));
    }

    /**
     * True once per window of a key, for the failed attempt after which the key has used up its
     * allowance: the moment its lockout begins, to be reported once (parallel failures that
     * filled it together get one true among them).
     */
    public boolean lockedOutNow(String key) {
        long now = clock.millis();
        boolean[] justLocked = {false};
        windows.computeIfPresent(key, (k, w) -> {
            if (w.lockoutTold() || w.attempts() < allowance || now - w.startedAt() >= window.toMillis()) {
                return w;
            }
            justLocked[0] = true;
            return new Window(w.startedAt(), w.attempts(), true);
        });
        return justLocked[0];
    }

    /** How long a key's window lasts (a lockout at most this). */
    public Duration window() {
        return window;
    }

    /** Forgets the counts of every key {@code matches} accepts (an operator cleared a lockout); returns how many. */
    public int forget(java.util.function.Predicate<String> matches) {
        int[] forgotten = {0};
        windows.keySet().removeIf(key -> {
            boolean hit = matches.test(key);
            if (hit) {
                forgotten[0]++;
            }
            return hit;
        });
        return forgotten[0];
    }

    private void sweep(long now) {
        for (Iterator<Window> it = windows.values().iterator(); it.hasNext(); ) {
            if (now - it.next().startedAt() >= window.toMillis()) {
                it.remove();
            }
        }
        if (windows.size() > MAX_KEYS) {
            windows.clear();
        }
    }
}
