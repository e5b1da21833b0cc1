package io.switchboard.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ConfigSectionTest {
    private final ConfigSection section = ConfigSection.of("telephony", Map.ofEntries(
            Map.entry("timeout", "30s"), Map.entry("short", "500ms"), Map.entry("long", "2h"),
            Map.entry("day", "1d"), Map.entry("bare", 30), Map.entry("count", 7), Map.entry("countText", " 12 "),
            Map.entry("flag", true), Map.entry("flagText", "off"), Map.entry("list", List.of("a", "b")),
            Map.entry("listText", "a, b,c")));

    @Test
    void readsTypedValuesFromYamlAndTextForms() {
        assertThat(section.duration("timeout", null)).isEqualTo(Duration.ofSeconds(30));
        assertThat(section.duration("short", null)).isEqualTo(Duration.ofMillis(500));
        assertThat(section.duration("long", null)).isEqualTo(Duration.ofHours(2));
        assertThat(section.duration("day", null)).isEqualTo(Duration.ofDays(1));
        assertThat(section.duration("absent", Duration.ofMinutes(5))).isEqualTo(Duration.ofMinutes(5));
        assertThat(section.integer("count", 0)).isEqualTo(7);
        assertThat(section.integer("countText", 0)).isEqualTo(12);
        assertThat(section.bool("flag", false)).isTrue();
        assertThat(section.bool("flagText", true)).isFalse();
        assertThat(section.stringList("list")).containsExactly("a", "b");
        assertThat(section.stringList("listText")).containsExactly("a", "b", "c");
        assertThat(section.string("count")).contains("7");
    }

    @Test
    void errorsNameTheFullKey() {
        assertThatThrownBy(() -> section.duration("bare", null))
                .isInstanceOf(ConfigException.class)
                .hasMessage("telephony.bare: \"30\" is not a duration; expected a number with a unit, e.g. 500ms, 30s, 5m, 2h, 1d");
        assertThatThrownBy(() -> section.integer("timeout", 0))
                .hasMessage("telephony.timeout: \"30s\" is not a whole number");
        assertThatThrownBy(() -> section.integer("count", 0, 10, 20))
                .hasMessage("telephony.count: 7 is outside 10..20");
        assertThatThrownBy(() -> section.bool("timeout", false))
                .hasMessageStartingWith("telephony.timeout: \"30s\" is not a boolean");
        assertThatThrownBy(() -> section.requireString("absent"))
                .hasMessage("telephony.absent: is required");
        assertThatThrownBy(() -> section.string("list"))
                .hasMessageStartingWith("telephony.list: expected a single value");
    }

    @Test
    void aDurationOutOfRangeIsQuotedAsWritten() {
        ConfigSection poll = ConfigSection.of("telephony", Map.of("directoryPoll", "10ms", "maxCallDuration", "0s"));
        assertThatThrownBy(() -> poll.duration("directoryPoll", null, Duration.ofMillis(50), Duration.ofHours(1)))
                .isInstanceOf(ConfigException.class).hasMessage("telephony.directoryPoll: 10ms is outside 50ms..1h");
        assertThatThrownBy(() -> poll.duration("maxCallDuration", null, Duration.ofMillis(1), Duration.ofMillis(Long.MAX_VALUE)))
                .isInstanceOf(ConfigException.class).hasMessage("telephony.maxCallDuration: 0s is below 1ms");
        assertThat(poll.duration("absent", Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(3)))
                .isEqualTo(Duration.ofSeconds(2));
        assertThat(ConfigSection.written(Duration.ofMillis(1500))).isEqualTo("1500ms");
        assertThat(ConfigSection.written(Duration.ofMinutes(90))).isEqualTo("90m");
        assertThat(ConfigSection.written(Duration.ZERO)).isEqualTo("0s");
    }

    @Test
    void durationsTooLargeForMillisecondsAreRefusedByName() {
        ConfigSection huge = ConfigSection.of("telephony", Map.of("a", "99999999999999999999s",
                "b", "999999999999999999d", "c", "9223372036854776s"));
        assertThatThrownBy(() -> huge.duration("a", null))
                .isInstanceOf(ConfigException.class).hasMessage("telephony.a: \"99999999999999999999s\" is too large");
        assertThatThrownBy(() -> huge.duration("b", null))
                .isInstanceOf(ConfigException.class).hasMessage("telephony.b: \"999999999999999999d\" is too large");
        assertThatThrownBy(() -> huge.duration("c", null))
                .isInstanceOf(ConfigException.class).hasMessage("telephony.c: \"9223372036854776s\" is too large");
    }

    @Test
    void theDurationParserWithoutAKeyGivesTheSameWords() {
        assertThat(ConfigSection.parseDuration(" 5 M ")).isEqualTo(Duration.ofMinutes(5));
        assertThatThrownBy(() -> ConfigSection.parseDuration("30"))
                .isExactlyInstanceOf(IllegalArgumentException.class)
                .hasMessage("\"30\" is not a duration; expected a number with a unit, e.g. 500ms, 30s, 5m, 2h, 1d");
    }

    @Test
    void environmentOriginIsMentioned() {
        ConfigSection fromEnv = new ConfigSection("telephony", Map.of("minExpires", "soon"),
                Map.of("minExpires", "SWITCHBOARD_TELEPHONY_MIN_EXPIRES"));
        assertThatThrownBy(() -> fromEnv.duration("minExpires", null))
                .hasMessageEndingWith("(from SWITCHBOARD_TELEPHONY_MIN_EXPIRES)");
    }
}
