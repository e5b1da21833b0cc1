package io.switchboard.platform;

import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.OptionalInt;

/**
 * A {@link LogLineBudget} for each key (a source address, an address-of-record), so that one noisy
 * key does not use up the lines of the others. Keys are made at will by whoever sends (spoofed UDP
 * sources, made-up names), so at most {@code maxKeys} are remembered: when a new one would pass
 * that, those whose minute is over are forgotten with what they had left out, and if none is, all
 * are (a flood of new keys then costs lines, not memory).
 */
public final class LogLineBudgets<K> {
    private final int perMinute;
    private final int maxKeys;
    private final Clock clock;
    private final Map<K, LogLineBudget> byKey = new HashMap<>();

    /**
     * @param perMinute the most lines a minute for one key
     * @param maxKeys   the most keys remembered at once
     * @param clock     where the time comes from
     */
    public LogLineBudgets(int perMinute, int maxKeys, Clock clock) {
        if (perMinute < 1 || maxKeys < 1) {
            throw new IllegalArgumentException("log line budgets let at least one line a minute through for at least one key,"
                    + " not " + perMinute + " for " + maxKeys);
        }
        this.perMinute = perMinute;
        this.maxKeys = maxKeys;
        this.clock = clock;
    }

    /**
     * This key's budget, made when it has none. The budget is used outside this object's lock, and a
     * later call for a new key may forget it (see above): a caller that asks and then lets a line
     * through in two steps holds its own lock around every call, as SipRefusals does, or else a key
     * forgotten meanwhile gets a fresh minute.
     */
    public synchronized LogLineBudget of(K key) {
        LogLineBudget budget = byKey.get(key);
        if (budget == null) {
            if (byKey.size() >= maxKeys) {
                byKey.values().removeIf(LogLineBudget::quiet);
                if (byKey.size() >= maxKeys) {
                    byKey.clear();
                }
            }
            budget = new LogLineBudget(perMinute, clock);
            byKey.put(key, budget);
        }
        return budget;
    }

    /** {@link LogLineBudget#take} of this key's budget. */
    public synchronized OptionalInt take(K key) {
        return of(key).take();
    }

    /** How many keys are remembered. */
    public synchronized int size() {
        return byKey.size();
    }
}
