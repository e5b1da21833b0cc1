package io.switchboard.monitor.incident;

import java.util.Locale;

/**
 * A monitor's standing, from its checks and thresholds: UNKNOWN before the first check, PENDING
 * while checks fail but fewer than {@code failureThreshold} in a row, DOWN while an incident is
 * open (until {@code recoveryThreshold} passing checks in a row), otherwise UP or DEGRADED as the
 * last check said.
 */
public enum MonitorStatus {
    UNKNOWN, UP, DEGRADED, PENDING, DOWN;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static MonitorStatus fromWire(String text) {
        return valueOf(text.toUpperCase(Locale.ROOT));
    }
}
