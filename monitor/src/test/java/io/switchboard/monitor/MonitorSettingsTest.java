package io.switchboard.monitor;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.NodeConfigLoader;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MonitorSettingsTest {
    /** The monitor section of a node configured by these environment variables alone. */
    private static io.switchboard.platform.config.ConfigSection monitorSection(Map<String, String> env) {
        return new NodeConfigLoader(List.of("monitor")).load(null, env, Map.of()).section("monitor");
    }

    @Test
    void aKeyRequiredWithAnotherNamesWhereTheOtherCameFrom() {
        var section = monitorSection(Map.of("SWITCHBOARD_MONITOR_LLM_BASE_URL", "https://api.example.org/v1"));
        assertThatThrownBy(() -> MonitorSettings.from(section)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("monitor.llmModel: is required with monitor.llmBaseUrl"
                        + " (from SWITCHBOARD_MONITOR_LLM_BASE_URL): the model to ask");
    }

    @Test
    void aTimeZoneThatIsNoneIsQuotedAsGiven() {
        var section = monitorSection(Map.of("SWITCHBOARD_MONITOR_TIME_ZONE", "Europe/Berln"));
        assertThatThrownBy(() -> MonitorSettings.from(section)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("\"Europe/Berln\" is not a time zone; use an IANA name such as Europe/Berlin, or UTC");
    }
}
