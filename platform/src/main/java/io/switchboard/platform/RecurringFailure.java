package io.switchboard.platform;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.slf4j.Logger;

/**
 * The log of a task that runs again and again (a poll of the store, a sweep) and may fail while
 * what it needs is away. The first failure is a warning with its cause; failures in a row after it
 * are counted, with a reminder every {@link #REMINDER} while they go on; the first success after
 * them says so, once. A database outage had every poller of a node write a warning each time it
 * ran (58 lines in 45 s from eight of them), burying the store's own two lines, "not usable" and
 * "answers again".
 */
public final class RecurringFailure {
    static final Duration REMINDER = Duration.ofMinutes(5);

    private final Logger log;
    private final String failing;
    private final String working;
    private final Clock clock;
    private int failures;
    private long firstMillis;
    private long lastLoggedMillis;

    /**
     * @param failing what failed, e.g. "could not refresh accounts from the store"
     * @param working what works again, e.g. "accounts are read from the store again"
     */
    public RecurringFailure(Logger log, String failing, String working) {
        this(log, failing, working, Clock.systemUTC());
    }

    RecurringFailure(Logger log, String failing, String working, Clock clock) {
        this.log = log;
        this.failing = failing;
        this.working = working;
        this.clock = clock;
    }

    public synchronized void failed(Throwable cause) {
        long now = clock.millis();
        failures++;
        if (failures == 1) {
            firstMillis = now;
            lastLoggedMillis = now;
            log.warn("{}: {}", failing, why(cause));
        } else if (now - lastLoggedMillis >= REMINDER.toMillis()) {
            lastLoggedMillis = now;
            log.warn("{} ({} times in a row since {}): {}", failing, failures,
                    Instant.ofEpochMilli(firstMillis).truncatedTo(ChronoUnit.SECONDS), why(cause));
        }
    }

    /**
     * The innermost message: a connection lost mid-statement ends in an EOFException without one,
     * whose meaning is its wrapper's ("An I/O error occurred while sending to the backend.").
     */
    static String why(Throwable cause) {
        Throwable root = cause;
        String message = cause.getMessage();
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
            if (root.getMessage() != null) {
                message = root.getMessage();
            }
        }
        if (root.getMessage() != null) {
            return root.getMessage();
        }
        String kind = root.getClass().getSimpleName();
        return message == null ? kind : message + " (" + kind + ")";
    }

    public synchronized void succeeded() {
        if (failures > 0) {
            log.info("{} (after {} failed {} over {} s)", working, failures, failures == 1 ? "try" : "tries",
                    Math.max(0, (clock.millis() - firstMillis) / 1000));
            failures = 0;
        }
    }
}
