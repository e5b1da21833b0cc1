package io.switchboard.monitor.history;

import java.time.Instant;
import java.util.Map;

/** A check result as read back from the store. */
public record StoredResult(String monitor, Instant startedAt, String status, long latencyMillis, long latenessMillis,
                           String error, Map<String, Object> details) {
}
