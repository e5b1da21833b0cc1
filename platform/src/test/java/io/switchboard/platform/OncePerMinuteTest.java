package io.switchboard.platform;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class OncePerMinuteTest {
    @Test
    void oneCallerAMinuteAndACountOfThoseTurnedAway() {
        AtomicLong nanos = new AtomicLong(5_000_000_000L);
        OncePerMinute limit = new OncePerMinute(nanos::get);
        assertThat(limit.due()).isTrue();
        assertThat(limit.turnedAwaySinceLast()).isZero();
        assertThat(limit.due()).isFalse();
        nanos.addAndGet(59_000_000_000L);
        assertThat(limit.due()).isFalse();
        nanos.addAndGet(1_000_000_000L);
        assertThat(limit.due()).isTrue();
        assertThat(limit.turnedAwaySinceLast()).isEqualTo(2);
        assertThat(limit.turnedAwaySinceLast()).isZero();
    }
}
