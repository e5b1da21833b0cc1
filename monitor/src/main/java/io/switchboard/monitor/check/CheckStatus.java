package io.switchboard.monitor.check;

import java.util.Locale;

/** The outcome of one check. DEGRADED passed, but slowly or close to a limit (a certificate near expiry). */
public enum CheckStatus {
    UP, DEGRADED, DOWN;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean passed() {
        return this != DOWN;
    }

    public static CheckStatus fromWire(String text) {
        return valueOf(text.toUpperCase(Locale.ROOT));
    }
}
