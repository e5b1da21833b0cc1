package io.switchboard.monitor.definition;

import java.time.Duration;
import java.util.List;

/**
 * One monitor as stored: what to check, how often, when to call it down and up again, and whom
 * to tell. Built only by {@link DefinitionReader}, so every instance is valid.
 *
 * @param failureThreshold  consecutive failed checks before the monitor is DOWN and an incident opens
 * @param recoveryThreshold consecutive passing checks before the incident is resolved
 * @param degradedAbove     a passing check slower than this is DEGRADED; null for no threshold
 * @param reminderEvery     how often to remind while DOWN; null for the module default, zero for never
 */
public record MonitorDefinition(String name, CheckType type, String target, Duration interval, Duration timeout,
                                int failureThreshold, int recoveryThreshold, List<String> channels, boolean paused,
                                Duration degradedAbove, Duration reminderEvery, CheckOptions options) {
    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(60);
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_FAILURE_THRESHOLD = 3;
    public static final int DEFAULT_RECOVERY_THRESHOLD = 1;

    public MonitorDefinition {
        channels = List.copyOf(channels);
    }

    public MonitorDefinition withPaused(boolean value) {
        return new MonitorDefinition(name, type, target, interval, timeout, failureThreshold, recoveryThreshold, channels,
                value, degradedAbove, reminderEvery, options);
    }

    /** The target as shown to people, in reports, notifications and the API: its password masked. */
    public String displayTarget() {
        return Redaction.target(target);
    }

    /** The host the check talks to, for grouping monitors of one service ("what still works"). */
    public String host() {
        return Targets.host(type, target);
    }
}
