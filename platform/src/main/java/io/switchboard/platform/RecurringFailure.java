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
            log.warn("{}: {}", failing, RootCause.message(cause));
        } else if (now - lastLoggedMillis >= REMINDER.toMillis()) {
            lastLoggedMillis = now;
            log.warn("{} ({} times in a row since {}): {}", failing, failures,
                    Instant.ofEpochMilli(firstMillis).truncatedTo(ChronoUnit.SECONDS), RootCause.message(cause));
        }
    }

    public synchronized void succeeded() {
        if (failures > 0) {
            log.info("{} (after {} failed {} over {} s)", working, failures, failures == 1 ? "try" : "tries",
                    Math.max(0, (clock.millis() - firstMillis) / 1000));
            failures = 0;
        }
    }
}
