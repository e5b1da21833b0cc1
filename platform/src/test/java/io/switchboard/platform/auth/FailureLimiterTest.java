package io.switchboard.platform.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class FailureLimiterTest {
    @Test
    void aKeyThatUsedItsAllowanceWaitsForTheWindowToPass() {
        Instant start = Instant.parse("2026-01-01T00:00:00Z");
        FailureLimiter limiter = new FailureLimiter(3, Duration.ofMinutes(15), Clock.fixed(start, ZoneOffset.UTC));
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.retryAfter("user:anna")).isZero();
            limiter.fail("user:anna");
        }
        assertThat(limiter.retryAfter("user:anna")).isEqualTo(Duration.ofMinutes(15));
        assertThat(limiter.retryAfter("user:boris")).isZero();
        FailureLimiter later = new FailureLimiter(3, Duration.ofMinutes(15),
                Clock.fixed(start.plus(Duration.ofMinutes(16)), ZoneOffset.UTC));
        later.fail("x");
        assertThat(later.retryAfter("x")).isZero();
        limiter.clear("user:anna");
        assertThat(limiter.retryAfter("user:anna")).isZero();
    }
}
