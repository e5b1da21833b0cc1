package io.switchboard.monitor.incident;

/**
 * A monitor's running state as stored in {@code monitor_state}: enough to continue counting toward
 * the thresholds after a restart. Times are epoch milliseconds, null when it never happened.
 */
public record StateSnapshot(String monitor, MonitorStatus status, int consecutiveFailures, int consecutiveSuccesses,
                            Long lastCheckAt, Long lastSuccessAt, Long lastFailureAt, Long lastLatencyMs,
                            String lastError, Long statusSince) {
    public static StateSnapshot initial(String monitor) {
        return new StateSnapshot(monitor, MonitorStatus.UNKNOWN, 0, 0, null, null, null, null, null, null);
    }
}
