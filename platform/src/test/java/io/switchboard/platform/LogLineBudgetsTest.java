package io.switchboard.platform;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LogLineBudgetsTest {
    private final MutableClock clock = MutableClock.fixedAt(Instant.parse("2026-03-01T10:00:00Z"));

    @Test
    void eachKeyHasItsOwnMinute() {
        LogLineBudgets<String> lines = new LogLineBudgets<>(1, 10, clock);
        assertThat(lines.take("sip:alice@example.test")).hasValue(0);
        assertThat(lines.take("sip:alice@example.test")).isEmpty();
        assertThat(lines.take("sip:bob@example.test")).hasValue(0);
        clock.advance(Duration.ofMinutes(1));
        assertThat(lines.take("sip:alice@example.test")).hasValue(1);
        assertThat(lines.take("sip:bob@example.test")).hasValue(0);
    }

    /** Keys are whatever senders make up: the ones whose minute is over go first, then all if need be. */
    @Test
    void atMostMaxKeysAreRememberedQuietOnesForgottenFirst() {
        LogLineBudgets<String> lines = new LogLineBudgets<>(1, 2, clock);
        lines.take("a");
        lines.take("a"); // left out: forgotten with "a"
        clock.advance(Duration.ofSeconds(50));
        lines.take("b");
        clock.advance(Duration.ofSeconds(10)); // a's minute is over, b's is not
        lines.take("c");
        assertThat(lines.size()).isEqualTo(2);
        assertThat(lines.take("b")).as("b kept its minute").isEmpty();
        assertThat(lines.take("a")).as("a forgotten, its count with it").hasValue(0);
        assertThat(lines.size()).as("none quiet: all forgotten for a").isEqualTo(1);
    }
}
