package io.switchboard.platform.auth;

import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts failures per key (a user name, an address) in a fixed window and says when a key has
 * used up its allowance: the brake on password guessing. The window starts at a key's first
 * failure; once it has passed, the key starts afresh. A success may {@link #clear} a key.
 *
 * <p>Keys live in memory on this node only; a cluster behind a balancer multiplies the allowance
 * by the number of nodes at most, which still bounds guessing. The map is swept when it grows,
 * so a flood of distinct keys costs memory only for one window.
 */
public final class FailureLimiter {
    private static final int SWEEP_ABOVE = 10_000;

    private final int allowance;
    private final Duration window;
    private final Clock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();

    private record Window(long startedAt, int failures) {
    }

    public FailureLimiter(int allowance, Duration window, Clock clock) {
        this.allowance = allowance;
        this.window = window;
        this.clock = clock;
    }

    /** Zero when the key may try again now; otherwise how long until it may. */
    public Duration retryAfter(String key) {
        Window w = windows.get(key);
        long now = clock.millis();
        if (w == null || w.failures() < allowance || now - w.startedAt() >= window.toMillis()) {
            return Duration.ZERO;
        }
        return Duration.ofMillis(w.startedAt() + window.toMillis() - now);
    }

    public void fail(String key) {
        long now = clock.millis();
        windows.compute(key, (k, w) -> w == null || now - w.startedAt() >= window.toMillis()
                ? new Window(now, 1) : new Window(w.startedAt(), w.failures() + 1));
        if (windows.size() > SWEEP_ABOVE) {
            sweep(now);
        }
    }

    public void clear(String key) {
        windows.remove(key);
    }

    private void sweep(long now) {
        for (Iterator<Window> it = windows.values().iterator(); it.hasNext(); ) {
            if (now - it.next().startedAt() >= window.toMillis()) {
                it.remove();
            }
        }
    }
}
