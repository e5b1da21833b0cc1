package io.switchboard.sip.transport;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class OncePerMinuteTest {
    @Test
    void oneCallerAMinuteAndACountOfThoseTurnedAway() {
        OncePerMinute limit = new OncePerMinute();
        assertThat(limit.due()).isTrue();
        assertThat(limit.turnedAwaySinceLast()).isZero();
        assertThat(limit.due()).isFalse();
        assertThat(limit.due()).isFalse();
        assertThat(limit.turnedAwaySinceLast()).isEqualTo(2);
        assertThat(limit.turnedAwaySinceLast()).isZero();
    }
}
