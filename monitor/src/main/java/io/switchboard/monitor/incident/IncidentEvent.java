package io.switchboard.monitor.incident;

import java.time.Instant;

/**
 * One line of an incident's timeline.
 *
 * @param kind first_failure, opened, report, notified, notify_failed, notify_unknown (whether a message went out is not known), notify_again (a node stopped while sending a message: it is sent again, marked as a possible repeat), suppressed, reminder, resolved, closed
 */
public record IncidentEvent(Instant at, String kind, String detail) {
}
