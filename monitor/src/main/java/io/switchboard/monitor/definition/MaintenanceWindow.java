package io.switchboard.monitor.definition;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * A time during which notifications are held (checks still run and incidents still open).
 *
 * @param repeat   none, daily or weekly; repetitions are whole days after {@code start}, in UTC
 * @param monitors the monitors it covers; empty means all
 */
public record MaintenanceWindow(String name, Instant start, Duration duration, String repeat, List<String> monitors) {
    public static final List<String> REPEATS = List.of("none", "daily", "weekly");

    public MaintenanceWindow {
        monitors = List.copyOf(monitors);
    }

    public boolean covers(String monitor, Instant now) {
        if (!monitors.isEmpty() && !monitors.contains(monitor)) {
            return false;
        }
        return isActive(now);
    }

    public boolean isActive(Instant now) {
        if (now.isBefore(start)) {
            return false;
        }
        long period = switch (repeat) {
            case "daily" -> Duration.ofDays(1).toMillis();
            case "weekly" -> Duration.ofDays(7).toMillis();
            default -> 0;
        };
        long since = now.toEpochMilli() - start.toEpochMilli();
        if (period > 0) {
            since %= period;
        }
        return since < duration.toMillis();
    }
}
