package io.switchboard.monitor;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.NodeConfigLoader;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MonitorSettingsTest {
    @Test
    void aKeyRequiredWithAnotherNamesWhereTheOtherCameFrom() {
        var section = new NodeConfigLoader(List.of("monitor"))
                .load(null, Map.of("SWITCHBOARD_MONITOR_LLM_BASE_URL", "https://api.example.org/v1"), Map.of())
                .section("monitor");
        assertThatThrownBy(() -> MonitorSettings.from(section)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("monitor.llmModel: is required with monitor.llmBaseUrl"
                        + " (from SWITCHBOARD_MONITOR_LLM_BASE_URL): the model to ask");
    }

    @Test
    void aTimeZoneThatIsNoneIsQuotedAsGiven() {
        var section = new NodeConfigLoader(List.of("monitor"))
                .load(null, Map.of("SWITCHBOARD_MONITOR_TIME_ZONE", "Europe/Berln"), Map.of())
                .section("monitor");
        assertThatThrownBy(() -> MonitorSettings.from(section)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("\"Europe/Berln\" is not a time zone; use an IANA name such as Europe/Berlin, or UTC");
    }
}
