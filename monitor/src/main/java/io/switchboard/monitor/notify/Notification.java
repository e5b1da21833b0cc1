package io.switchboard.monitor.notify;

import java.time.Instant;
import java.util.Locale;

/**
 * A message about a monitor, ready for any channel.
 *
 * @param incidentId null for a test message
 * @param subject    one line (e-mail subject, first line elsewhere)
 * @param text       the report in plain words
 */
public record Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                           Instant since, int failedChecks, String subject, String text, Instant at) {
    public enum Event {
        DOWN, RECOVERED, REMINDER, TEST;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
