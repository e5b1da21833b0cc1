package io.switchboard.monitor.incident;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import org.junit.jupiter.api.Test;

/** A monitor's state as loaded from its {@code monitor_state} row. */
class MonitorStateTest {

    /**
     * A rolling upgrade: a V7 node stored a streak start at 1000; a node of an older version took
     * the monitor over, saw a success at 5000 (writing no streak columns, so 1000 stayed) and then
     * a new streak. The stored start belongs to the streak that ended and is not used.
     */
    @Test
    void aStreakStartFromBeforeTheLastSuccessIsNotTrusted() {
        MonitorState twoInARow = new MonitorState(new StateSnapshot("shop", MonitorStatus.PENDING, 2, 0, 7_000L, 5_000L, 7_000L,
                10L, "503 now", 6_000L, 1_000L, "timeout then"));
        assertThat(twoInARow.streakStartedAt).isNull();
        assertThat(twoInARow.streakFirstError).isNull();

        MonitorState oneInARow = new MonitorState(new StateSnapshot("shop", MonitorStatus.PENDING, 1, 0, 7_000L, 5_000L, 7_000L,
                10L, "503 now", 7_000L, 1_000L, "timeout then"));
        assertThat(oneInARow.streakStartedAt).isEqualTo(Instant.ofEpochMilli(7_000L));
        assertThat(oneInARow.streakFirstError).isEqualTo("503 now");
    }

    /** A start later than the last failure cannot be this streak's either. */
    @Test
    void aStreakStartAfterTheLastFailureIsNotTrusted() {
        MonitorState state = new MonitorState(new StateSnapshot("shop", MonitorStatus.PENDING, 1, 0, 7_000L, null, 7_000L,
                10L, "503 now", 7_000L, 9_000L, "later"));
        assertThat(state.streakStartedAt).isEqualTo(Instant.ofEpochMilli(7_000L));
        assertThat(state.streakFirstError).isEqualTo("503 now");
    }

    @Test
    void aStreakStartBetweenTheLastSuccessAndTheLastFailureIsKept() {
        MonitorState state = new MonitorState(new StateSnapshot("shop", MonitorStatus.PENDING, 2, 0, 7_000L, 5_000L, 7_000L,
                10L, "503 now", 6_000L, 6_000L, "timeout first"));
        assertThat(state.streakStartedAt).isEqualTo(Instant.ofEpochMilli(6_000L));
        assertThat(state.streakFirstError).isEqualTo("timeout first");

        MonitorState neverPassed = new MonitorState(new StateSnapshot("shop", MonitorStatus.PENDING, 2, 0, 7_000L, null, 7_000L,
                10L, "503 now", 6_000L, 6_000L, "timeout first"));
        assertThat(neverPassed.streakStartedAt).isEqualTo(Instant.ofEpochMilli(6_000L));
    }
}
