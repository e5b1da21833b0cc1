package io.switchboard.platform.auth;

import io.switchboard.platform.testing.MutableClock;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.testing.MutableClock;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class FailureLimiterTest {
    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

    @Test
    void aKeyThatUsedItsAllowanceWaitsForTheWindowToPass() {
        FailureLimiter limiter = new FailureLimiter(3, Duration.ofMinutes(15), Clock.fixed(START, ZoneOffset.UTC));
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.tryReserve("user:anna")).isZero();
        }
        assertThat(limiter.tryReserve("user:anna")).isEqualTo(Duration.ofMinutes(15));
        assertThat(limiter.tryReserve("user:boris")).isZero();
        FailureLimiter later = new FailureLimiter(1, Duration.ofMinutes(15), Clock.fixed(START, ZoneOffset.UTC));
        later.tryReserve("x");
        assertThat(later.tryReserve("x")).isPositive();
    }

    @Test
    void attemptsGivenBackDoNotCount() {
        FailureLimiter limiter = new FailureLimiter(2, Duration.ofMinutes(15), Clock.fixed(START, ZoneOffset.UTC));
        for (int i = 0; i < 10; i++) {
            assertThat(limiter.tryReserve("user:anna")).isZero();
            limiter.release("user:anna");
        }
        assertThat(limiter.tryReserve("user:anna")).isZero();
        assertThat(limiter.tryReserve("user:anna")).isZero();
        assertThat(limiter.tryReserve("user:anna")).isPositive();
    }

    @Test
    void attemptsAnotherNodeCountedAddUpWithThisNodesAndNeverPassTheAllowance() {
        MutableClock clock = new MutableClock(START);
        FailureLimiter limiter = new FailureLimiter(3, Duration.ofMinutes(15), clock);
        assertThat(limiter.tryReserve("user:anna")).isZero();
        limiter.count("user:anna");
        clock.advance(Duration.ofMinutes(1));
        limiter.count("user:anna");
        // three in the window that began with this node's own attempt: refused until it passes
        assertThat(limiter.tryReserve("user:anna")).isEqualTo(Duration.ofMinutes(14));
        for (int i = 0; i < 10; i++) {
            limiter.count("user:anna");
        }
        // capped at the allowance: a reservation given back makes room for one attempt, not none
        limiter.release("user:anna");
        assertThat(limiter.tryReserve("user:anna")).isZero();
        assertThat(limiter.tryReserve("user:anna")).isPositive();
        // a window another node started ends like one of this node's
        limiter.count("user:boris");
        clock.advance(Duration.ofMinutes(15));
        limiter.count("user:boris");
        assertThat(limiter.tryReserve("user:boris")).isZero();
        assertThat(limiter.tryReserve("user:boris")).isZero();
        assertThat(limiter.tryReserve("user:boris")).isPositive();
    }

    @Test
    void parallelAttemptsCannotOutrunTheAllowance() {
        FailureLimiter limiter = new FailureLimiter(5, Duration.ofMinutes(15), Clock.systemUTC());
        AtomicInteger allowed = new AtomicInteger();
        IntStream.range(0, 1000).parallel().forEach(i -> {
            if (limiter.tryReserve("user:anna").isZero()) {
                allowed.incrementAndGet();
            }
        });
        assertThat(allowed).hasValue(5);
    }

    @Test
    void aFloodOfDistinctKeysDoesNotGrowWithoutBound() {
        FailureLimiter limiter = new FailureLimiter(5, Duration.ofMinutes(15), Clock.fixed(START, ZoneOffset.UTC));
        for (int i = 0; i < FailureLimiter.MAX_KEYS + 10; i++) {
            limiter.tryReserve("addr:" + i);
        }
        // the map was emptied once it passed its bound; a key seen before starts afresh
        for (int i = 0; i < 5; i++) {
            assertThat(limiter.tryReserve("addr:1")).isZero();
        }
    }

    @Test
    void forgottenKeysStartAfreshAndOthersKeepTheirCounts() {
        FailureLimiter limiter = new FailureLimiter(1, Duration.ofMinutes(15), Clock.fixed(START, ZoneOffset.UTC));
        limiter.tryReserve("user:anna@192.0.2.1");
        limiter.tryReserve("user:anna@192.0.2.2");
        limiter.tryReserve("user:annabel@192.0.2.1");
        assertThat(limiter.tryReserve("user:anna@192.0.2.1")).isPositive();

        assertThat(limiter.forget(key -> key.startsWith("user:anna@"))).isEqualTo(2);
        assertThat(limiter.tryReserve("user:anna@192.0.2.1")).isZero();
        assertThat(limiter.tryReserve("user:anna@192.0.2.2")).isZero();
        assertThat(limiter.tryReserve("user:annabel@192.0.2.1")).isPositive();
    }

    @Test
    void aLockoutIsToldOncePerWindow() {
        MutableClock clock = MutableClock.fixedAt(START);
        FailureLimiter limiter = new FailureLimiter(2, Duration.ofMinutes(15), clock);
        limiter.tryReserve("user:anna");
        assertThat(limiter.lockedOutNow("user:anna")).isFalse();
        limiter.tryReserve("user:anna");
        assertThat(limiter.lockedOutNow("user:anna")).isTrue();
        assertThat(limiter.lockedOutNow("user:anna")).as("a second failure that filled it together").isFalse();
        clock.advance(Duration.ofMinutes(15));
        limiter.tryReserve("user:anna");
        limiter.tryReserve("user:anna");
        assertThat(limiter.lockedOutNow("user:anna")).as("a new window, a new lockout").isTrue();
    }
}
