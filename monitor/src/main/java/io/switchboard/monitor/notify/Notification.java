package io.switchboard.monitor.notify;

import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * A message about a monitor, ready for any channel.
 *
 * @param target     the monitor's target as shown to people (its password masked)
 * @param incidentId null for a test message, a warning or a digest
 * @param subject    one line (e-mail subject, first line elsewhere)
 * @param text       the report in plain words
 * @param digest     for a DIGEST, the messages it stands for, in order; else empty
 */
public record Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                           Instant since, int failedChecks, String subject, String text, Instant at, List<Notification> digest) {
    public Notification {
        digest = List.copyOf(digest);
    }

    public Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                        Instant since, int failedChecks, String subject, String text, Instant at) {
        this(event, monitor, monitorType, target, incidentId, status, since, failedChecks, subject, text, at, List.of());
    }

    /**
     * DOWN, RECOVERED and REMINDER belong to an incident; WARNING and WARNING_ENDED to a passing
     * check's warning; DIGEST stands for many messages that waited for one channel at once.
     */
    public enum Event {
        DOWN, RECOVERED, REMINDER, WARNING, WARNING_ENDED, DIGEST, TEST;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }
}
