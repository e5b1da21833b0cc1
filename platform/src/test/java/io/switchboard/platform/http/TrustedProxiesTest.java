package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which client a request speaks for behind trusted proxies: the rightmost untrusted X-Forwarded-For entry. */
class TrustedProxiesTest {
    private static final InetSocketAddress BALANCER = new InetSocketAddress("10.0.0.2", 50000);
    private final TrustedProxies proxies = TrustedProxies.of(List.of("10.0.0.0/24", "2001:db8:1::/48", "192.0.2.9"));

    private String client(InetSocketAddress peer, String... forwardedFor) {
        return proxies.clientOf(peer, List.of(forwardedFor)).getAddress().getHostAddress();
    }

    @Test
    void theRightmostEntryThatIsNotATrustedProxyIsTheClient() {
        assertThat(client(BALANCER, "198.51.100.7")).isEqualTo("198.51.100.7");
        // whatever the client wrote itself stands left of what our balancer appended
        assertThat(client(BALANCER, "203.0.113.66, 198.51.100.7")).isEqualTo("198.51.100.7");
        assertThat(client(BALANCER, "203.0.113.66", "198.51.100.7")).isEqualTo("198.51.100.7");
        // a chain of our own proxies is walked through
        assertThat(client(BALANCER, "198.51.100.7, 192.0.2.9, 10.0.0.3")).isEqualTo("198.51.100.7");
        // the port is the peer's: the header names no port the client could be reached on
        assertThat(proxies.clientOf(BALANCER, List.of("198.51.100.7")).getPort()).isEqualTo(50000);
    }

    @Test
    void aPeerThatIsNotTrustedCannotChooseItsAddress() {
        InetSocketAddress device = new InetSocketAddress("198.51.100.20", 4000);
        assertThat(proxies.clientOf(device, List.of("203.0.113.1"))).isSameAs(device);
        assertThat(TrustedProxies.none().clientOf(BALANCER, List.of("203.0.113.1"))).isSameAs(BALANCER);
    }

    @Test
    void malformedEntriesLeaveThePeer() {
        for (String bad : List.of("unknown", "", "example.test", "300.1.1.1", "1.2.3", "198.51.100.7:x", "[2001:db8::1",
                "2001:db8::zz", "_hidden", "198.51.100.7 junk")) {
            assertThat(proxies.clientOf(BALANCER, List.of(bad))).as(bad).isSameAs(BALANCER);
        }
        // a malformed entry left of the client is never reached
        assertThat(client(BALANCER, "garbage, 198.51.100.7")).isEqualTo("198.51.100.7");
        assertThat(proxies.clientOf(BALANCER, List.of())).isSameAs(BALANCER);
    }

    @Test
    void ipv6ClientsAndProxies() {
        assertThat(client(BALANCER, "2001:db8:2::7")).isEqualTo("2001:db8:2:0:0:0:0:7");
        assertThat(client(BALANCER, "[2001:db8:2::8]:4711")).isEqualTo("2001:db8:2:0:0:0:0:8");
        assertThat(client(BALANCER, "198.51.100.7:4711")).isEqualTo("198.51.100.7");
        InetSocketAddress v6Balancer = new InetSocketAddress("2001:db8:1::2", 443);
        assertThat(client(v6Balancer, "2001:db8:2::7, 2001:db8:1::3")).isEqualTo("2001:db8:2:0:0:0:0:7");
        assertThat(proxies.clientOf(new InetSocketAddress("2001:db8:3::2", 443), List.of("198.51.100.7")).getAddress()
                .getHostAddress()).isEqualTo("2001:db8:3:0:0:0:0:2");
    }

    @Test
    void onlyTrustedProxiesAllTheWayLeavesTheLeftmostOfThem() {
        assertThat(client(BALANCER, "10.0.0.9, 10.0.0.3")).isEqualTo("10.0.0.9");
    }

    @Test
    void theSettingIsAListOfAddressesOrBlocks() {
        TrustedProxies fromEnvironment = TrustedProxies.fromConfig(ConfigSection.of("proxies",
                Map.of("trusted", "127.0.0.1, ::1, 10.1.0.0/16")));
        assertThat(fromEnvironment.trusts(new InetSocketAddress("10.1.2.3", 0).getAddress())).isTrue();
        assertThat(fromEnvironment.trusts(new InetSocketAddress("10.2.2.3", 0).getAddress())).isFalse();
        assertThat(fromEnvironment.trusts(new InetSocketAddress("::1", 0).getAddress())).isTrue();
        assertThat(TrustedProxies.fromConfig(ConfigSection.of("proxies", Map.of())).isEmpty()).isTrue();
        for (String bad : List.of("haproxy.example.test", "10.0.0.0/33", "::/129", "10.0.0.0/x")) {
            assertThatThrownBy(() -> TrustedProxies.fromConfig(ConfigSection.of("proxies", Map.of("trusted", bad))))
                    .as(bad).isInstanceOf(ConfigException.class).hasMessageContaining("trusted");
        }
        assertThatThrownBy(() -> TrustedProxies.fromConfig(ConfigSection.of("proxies", Map.of("trustedProxy", "1.2.3.4"))))
                .isInstanceOf(ConfigException.class);
    }
}
