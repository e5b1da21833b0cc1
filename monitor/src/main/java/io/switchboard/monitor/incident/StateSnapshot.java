package io.switchboard.monitor.incident;

/**
 * A monitor's running state as stored in {@code monitor_state}: enough to continue counting toward
 * the thresholds after a restart, and to date an incident from the first failure of its streak
 * ({@code streakStartedAt}, {@code streakFirstError}; null when not failing, or not known for a
 * streak stored by a version before V7). Times are epoch milliseconds, null when it never happened.
 */
public record StateSnapshot(String monitor, MonitorStatus status, int consecutiveFailures, int consecutiveSuccesses,
                            Long lastCheckAt, Long lastSuccessAt, Long lastFailureAt, Long lastLatencyMs,
                            String lastError, Long statusSince, Long streakStartedAt, String streakFirstError) {
    public StateSnapshot(String monitor, MonitorStatus status, int consecutiveFailures, int consecutiveSuccesses,
                         Long lastCheckAt, Long lastSuccessAt, Long lastFailureAt, Long lastLatencyMs, String lastError,
                         Long statusSince) {
        this(monitor, status, consecutiveFailures, consecutiveSuccesses, lastCheckAt, lastSuccessAt, lastFailureAt,
                lastLatencyMs, lastError, statusSince, null, null);
    }

    public static StateSnapshot initial(String monitor) {
        return new StateSnapshot(monitor, MonitorStatus.UNKNOWN, 0, 0, null, null, null, null, null, null);
    }
}
