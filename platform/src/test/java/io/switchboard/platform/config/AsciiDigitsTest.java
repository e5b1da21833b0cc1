package io.switchboard.platform.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AsciiDigitsTest {
    @Test
    void onlyAsciiDigitsUpToTheLengthCount() {
        assertThat(AsciiDigits.of("5060", 5)).isTrue();
        assertThat(AsciiDigits.of("065535", 5)).isFalse();
        assertThat(AsciiDigits.of("", 5)).isFalse();
        assertThat(AsciiDigits.of("+80", 5)).isFalse();
        assertThat(AsciiDigits.of("-1", 5)).isFalse();
        assertThat(AsciiDigits.of("\u0668\u0660", 5)).isFalse(); // Arabic-Indic 80, which parseInt reads
        assertThat(Integer.parseInt("\u0668\u0660")).isEqualTo(80);
    }
}
