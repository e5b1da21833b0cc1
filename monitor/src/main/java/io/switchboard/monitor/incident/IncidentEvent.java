package io.switchboard.monitor.incident;

import java.time.Instant;

/**
 * One line of an incident's timeline.
 *
 * @param kind first_failure, opened, report, notified, notify_failed, notify_unknown (whether a message went out is not known), suppressed, reminder, resolved, closed
 */
public record IncidentEvent(Instant at, String kind, String detail) {
}
