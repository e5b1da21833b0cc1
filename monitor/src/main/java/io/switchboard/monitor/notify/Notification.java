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
 * @param id         the message's identity, the same however often it is delivered (a receiver
 *                   drops a second copy by it; webhooks get it as {@code Idempotency-Key}); null
 *                   for a test message or a digest (whose items carry theirs)
 * @param repeat     delivered again because the node sending it stopped before it could store
 *                   whether the channel took it: the receiver may have it already
 */
public record Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                           Instant since, int failedChecks, String subject, String text, Instant at, List<Notification> digest,
                           String id, boolean repeat) {
    /** Before a repeated message's subject. */
    static final String REPEAT_SUBJECT = "Sent again: ";
    /** The first line of a repeated message's text, in every channel's words. */
    static final String REPEAT_LINE = "Sent again: the node that was sending this message stopped before it could record"
            + " whether it arrived, so you may have received it already.";

    public Notification {
        digest = List.copyOf(digest);
    }

    public Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                        Instant since, int failedChecks, String subject, String text, Instant at, List<Notification> digest) {
        this(event, monitor, monitorType, target, incidentId, status, since, failedChecks, subject, text, at, digest, null, false);
    }

    public Notification(Event event, String monitor, String monitorType, String target, Long incidentId, String status,
                        Instant since, int failedChecks, String subject, String text, Instant at) {
        this(event, monitor, monitorType, target, incidentId, status, since, failedChecks, subject, text, at, List.of());
    }

    /**
     * This message with its identity, and when {@code repeat}, marked as a possible second copy:
     * the flag, "Sent again: " before the subject (an e-mail's subject, a Telegram message's and a
     * digest's line) and a first line of the text saying why.
     */
    public Notification identified(String id, boolean repeat) {
        boolean mark = repeat && !this.repeat;
        return new Notification(event, monitor, monitorType, target, incidentId, status, since, failedChecks,
                mark ? REPEAT_SUBJECT + subject : subject, mark ? REPEAT_LINE + "\n\n" + text : text, at, digest, id,
                repeat || this.repeat);
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
