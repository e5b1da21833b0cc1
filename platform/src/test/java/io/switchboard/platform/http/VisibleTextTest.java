package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class VisibleTextTest {
    @Test
    void aTextOfBlanksShowsNothing() {
        assertThat(VisibleText.showsNothing(" \t\n\u00a0\u3000\u200b\ufeff\u200d\u202e\u3164\u2800\u0301\ufe0f")).isTrue();
        assertThat(VisibleText.showsNothing("")).isTrue();
        assertThat(VisibleText.showsNothing(" a ")).isFalse();
        assertThat(VisibleText.showsNothing("\ud83d\ude00")).isFalse();
        assertThat(VisibleText.showsNothing("e\u0301")).isFalse();
        assertThat(VisibleText.showsNothing("\u05e9\u05dc\u05d5\u05dd")).isFalse();
    }

    @Test
    void directionOverridesAreFoundAndIsolatesAndMarksAreNot() {
        assertThat(VisibleText.firstDirectionOverride("Anna\u202enimda")).isEqualTo(4);
        assertThat(VisibleText.firstDirectionOverride("x\u202dy")).isEqualTo(1);
        // a pasted right-to-left name as phones wrap it, and a mark
        assertThat(VisibleText.firstDirectionOverride("\u2068\u05e9\u05dc\u05d5\u05dd\u2069")).isEqualTo(-1);
        assertThat(VisibleText.firstDirectionOverride("Anna \u200f\u05e9\u05dc\u05d5\u05dd")).isEqualTo(-1);
    }
}
