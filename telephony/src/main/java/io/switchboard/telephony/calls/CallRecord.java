package io.switchboard.telephony.calls;

import java.time.Instant;
import java.util.List;

/**
 * One row of call history. Times are null until they happen; {@code durationMillis} is answer to
 * end (null for calls never answered, and for calls a node stopped seeing). {@code status} is
 * "ringing" or "answered" while the call lasts, then one of completed, busy, cancelled,
 * not_found, unavailable, no_answer, rejected, declined, error, failed, interrupted.
 */
public record CallRecord(String id, String callId, String caller, String callee, String dialed,
                         List<String> devicesRung, String answeredBy, Instant startedAt, Instant ringingAt,
                         Instant answeredAt, Instant endedAt, Long durationMillis, String status, Integer finalCode,
                         String endedBy, String node) {
    public CallRecord {
        devicesRung = devicesRung == null ? List.of() : List.copyOf(devicesRung);
    }

    public boolean isFinished() {
        return endedAt != null;
    }
}
