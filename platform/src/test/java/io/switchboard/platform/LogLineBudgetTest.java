package io.switchboard.platform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.OptionalInt;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class LogLineBudgetTest {
    private final MutableClock clock = MutableClock.fixedAt(Instant.parse("2026-03-01T10:00:00Z"));

    @Test
    void oneAMinuteAndTheCountOfThoseLeftOutGoesToTheNextLineLetThrough() {
        LogLineBudget lines = new LogLineBudget(1, clock);
        assertThat(lines.take()).hasValue(0);
        assertThat(lines.take()).isEmpty();
        clock.advance(Duration.ofSeconds(59));
        assertThat(lines.take()).isEmpty();
        clock.advance(Duration.ofSeconds(1));
        assertThat(lines.take()).hasValue(2);
        clock.advance(Duration.ofMinutes(1));
        assertThat(lines.take()).as("the count was handed over once, then begun again").hasValue(0);
    }

    @Test
    void nAMinuteInFixedWindowsOpenedByTheFirstLine() {
        LogLineBudget lines = new LogLineBudget(3, clock);
        for (int i = 0; i < 3; i++) {
            assertThat(lines.take()).hasValue(0);
            clock.advance(Duration.ofSeconds(10));
        }
        assertThat(lines.take()).isEmpty();
        assertThat(lines.take()).isEmpty();
        clock.advance(Duration.ofSeconds(30)); // 60 s after the first line: a new minute, room for 3 again
        assertThat(lines.take()).hasValue(2);
        assertThat(lines.take()).hasValue(0);
        assertThat(lines.take()).hasValue(0);
        assertThat(lines.take()).isEmpty();
    }

    @Test
    void aClockSetBackOpensANewMinuteRatherThanShuttingTheBudgetUntilItCatchesUp() {
        LogLineBudget lines = new LogLineBudget(1, clock);
        assertThat(lines.take()).hasValue(0);
        assertThat(lines.take()).isEmpty();
        clock.advance(Duration.ofHours(-1));
        assertThat(lines.take()).hasValue(1);
        assertThat(lines.take()).isEmpty();
        clock.advance(Duration.ofMinutes(1));
        assertThat(lines.take()).hasValue(1);
    }

    @Test
    void aLineRefusedByAnotherBudgetUsesNoneOfThisOnesRoom() {
        LogLineBudget source = new LogLineBudget(2, clock);
        assertThat(source.hasRoom()).isTrue();
        source.leaveOut(); // refused by the overall budget, say: this one's room is untouched, its count not said
        assertThat(source.take()).hasValue(1);
        assertThat(source.take()).hasValue(0);
        assertThat(source.hasRoom()).isFalse();
    }

    @Test
    void quietOnceItsMinuteIsOver() {
        LogLineBudget lines = new LogLineBudget(1, clock);
        assertThat(lines.quiet()).as("never used").isTrue();
        lines.take();
        assertThat(lines.quiet()).isFalse();
        clock.advance(Duration.ofSeconds(60));
        assertThat(lines.quiet()).isTrue();
    }

    @Test
    void fromManyThreadsNoMoreThanNGoThroughAndEveryOneLeftOutIsSaidOnce() throws InterruptedException {
        LogLineBudget lines = new LogLineBudget(5, clock);
        AtomicInteger through = new AtomicInteger();
        AtomicInteger said = new AtomicInteger();
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            for (int t = 0; t < 4; t++) {
                threads.execute(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    for (int i = 0; i < 1_000; i++) {
                        OptionalInt leftOut = lines.take();
                        if (leftOut.isPresent()) {
                            through.incrementAndGet();
                            said.addAndGet(leftOut.getAsInt());
                        }
                    }
                });
            }
            start.countDown();
        } finally {
            threads.shutdown();
            assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(through).hasValue(5);
        clock.advance(Duration.ofMinutes(1));
        assertThat(lines.take()).hasValue(4_000 - 5 - said.get());
    }

    @Test
    void aBudgetThatLetsNothingThroughIsAMistake() {
        assertThatThrownBy(() -> new LogLineBudget(0, clock)).isInstanceOf(IllegalArgumentException.class);
    }
}
