package io.switchboard.telephony;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.telephony.proxy.ProxySettings;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code telephony.branchResponseTimeout}: 5 s unless set; 0 (off) or 1 s to 32 s, else one problem naming the key. */
class BranchResponseTimeoutConfigTest {
    @Test
    void defaultsToFiveSecondsAndTakesZeroOrOneToThirtyTwoSeconds() {
        assertThat(Telephony.proxySettings(ConfigSection.of("telephony", Map.of()), true).branchResponseTimeout())
                .isEqualTo(Duration.ofSeconds(5)).isEqualTo(ProxySettings.DEFAULT_BRANCH_RESPONSE_TIMEOUT);
        for (String good : List.of("0s", "1s", "8s", "32s")) {
            assertThat(Telephony.proxySettings(ConfigSection.of("telephony", Map.of("branchResponseTimeout", good)), true)
                    .branchResponseTimeout()).as(good).isEqualTo(Duration.parse("PT" + good.toUpperCase()));
        }
        for (String bad : List.of("500ms", "33s", "2m")) {
            assertThatThrownBy(() -> Telephony.proxySettings(ConfigSection.of("telephony",
                    Map.of("branchResponseTimeout", bad)), true)).as(bad)
                    .isInstanceOf(ConfigException.class).hasMessageContaining("branchResponseTimeout");
        }
        assertThat(Telephony.KNOWN_KEYS).contains("branchResponseTimeout");
    }

    /**
     * A TCP connect to a device whose connection is gone (TransportLayer#tcpFlowTo) is bounded well
     * under the branch's response timeout, which only starts once it is connected: half of it, at
     * most 2 s (also with 0, Timer B).
     */
    @Test
    void aTcpConnectToADeviceTakesAtMostHalfTheBranchResponseTimeoutAndAtMostTwoSeconds() {
        assertThat(Telephony.tcpConnectTimeout(ProxySettings.DEFAULT_BRANCH_RESPONSE_TIMEOUT)).isEqualTo(Duration.ofSeconds(2));
        assertThat(Telephony.tcpConnectTimeout(Duration.ofSeconds(1))).isEqualTo(Duration.ofMillis(500));
        assertThat(Telephony.tcpConnectTimeout(Duration.ofSeconds(3))).isEqualTo(Duration.ofMillis(1500));
        assertThat(Telephony.tcpConnectTimeout(Duration.ofSeconds(32))).isEqualTo(Duration.ofSeconds(2));
        assertThat(Telephony.tcpConnectTimeout(Duration.ZERO)).isEqualTo(Duration.ofSeconds(2));
    }
}
