package io.switchboard.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The {@code chat:} block's reorder wait: its default, off, and its bounds. */
class ChatSettingsTest {
    private static ChatSettings with(String reorderWait) {
        return ChatSettings.from(ConfigSection.of("chat", Map.of("streamReorderWait", reorderWait)));
    }

    @Test
    void theReorderWaitIsATenthOfASecondUnlessSet() {
        assertThat(ChatSettings.defaults().streamReorderWait()).isEqualTo(Duration.ofMillis(100));
        assertThat(with("0s").streamReorderWait()).isZero();
        assertThat(with("5s").streamReorderWait()).isEqualTo(Duration.ofSeconds(5));
        assertThat(with("20ms").streamReorderWait()).isEqualTo(Duration.ofMillis(20));
    }

    @Test
    void aReorderWaitOverFiveSecondsOrNotADurationIsRefusedNamingTheKey() {
        assertThatThrownBy(() -> with("5001ms")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("chat.streamReorderWait").hasMessageContaining("over 5s");
        assertThatThrownBy(() -> with("100")).isInstanceOf(ConfigException.class)
                .hasMessageContaining("chat.streamReorderWait");
    }
}
