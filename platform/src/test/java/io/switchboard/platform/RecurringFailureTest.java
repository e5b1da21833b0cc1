package io.switchboard.platform;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.platform.testing.MutableClock;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A task failing again and again is said once, reminded of now and then, and its recovery once. */
class RecurringFailureTest {
    @Test
    void oneWarningAReminderEveryFiveMinutesAndOneLineWhenItWorksAgain() {
        MutableClock clock = MutableClock.fixedAt(Instant.parse("2026-12-07T01:00:00Z"));
        try (CapturedLog log = CapturedLog.of("test.recurring")) {
            RecurringFailure polls = new RecurringFailure(log.logger(), "could not refresh accounts from the store",
                    "accounts are read from the store again", clock);
            polls.succeeded(); // nothing had failed: nothing to say
            RuntimeException outage = new IllegalStateException("reading failed",
                    new SQLTransientConnectionException("store-postgresql - Connection is not available"));
            for (int i = 0; i < 60; i++) { // a minute of polls, one a second
                polls.failed(outage);
                clock.advance(Duration.ofSeconds(1));
            }
            clock.advance(Duration.ofMinutes(5));
            polls.failed(outage);
            polls.failed(outage);
            polls.succeeded();
            polls.succeeded();

            assertThat(log.lines()).containsExactly(
                    "WARN could not refresh accounts from the store: store-postgresql - Connection is not available",
                    "WARN could not refresh accounts from the store (61 times in a row since 2026-12-07T01:00:00Z):"
                            + " store-postgresql - Connection is not available",
                    "INFO accounts are read from the store again (after 62 failed tries over 360 s)");
        }
    }

    @Test
    void aRootCauseWithoutAMessageIsReadThroughItsWrapper() {
        Throwable lost = new IllegalStateException("outer", new java.sql.SQLException("An I/O error occurred while sending to the"
                + " backend.", "08006", new java.io.EOFException()));
        assertThat(RootCause.message(lost)).isEqualTo("An I/O error occurred while sending to the backend. (EOFException)");
        assertThat(RootCause.message(new NullPointerException())).isEqualTo("NullPointerException");
        assertThat(RootCause.message(new IllegalStateException("a", new RuntimeException("b")))).isEqualTo("b");
        // a wrapper made with new X(cause) has the cause's text for its message, not words of its own
        assertThat(RootCause.message(new RuntimeException(new java.util.concurrent.TimeoutException())))
                .isEqualTo("TimeoutException");
        assertThat(RootCause.message(new IllegalStateException("stopping", new RuntimeException(new java.io.EOFException()))))
                .isEqualTo("stopping (EOFException)");
    }
}
