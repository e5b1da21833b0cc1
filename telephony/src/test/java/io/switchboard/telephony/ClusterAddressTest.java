package io.switchboard.telephony;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code telephony.clusterAddress} and the node-to-node SIP URI (Path) a node advertises without it. */
class ClusterAddressTest {
    private static ConfigSection section(String value) {
        return ConfigSection.of("telephony", Map.of("clusterAddress", value));
    }

    @Test
    void aConfiguredAddressIsTheNodesPath() {
        ListenPoint tcp = Telephony.clusterAddress(section("tcp:10.0.0.2:5060"));
        assertThat(Telephony.clusterPath(tcp, List.of(), null)).isEqualTo("sip:10.0.0.2:5060;transport=tcp");
        ListenPoint udp6 = Telephony.clusterAddress(section("udp:[fd00::2]:5070"));
        assertThat(Telephony.clusterPath(udp6, List.of(), null)).isEqualTo("sip:[fd00::2]:5070");
    }

    @Test
    void aBadAddressIsOneClearProblemNamingTheKey() {
        for (String bad : List.of("10.0.0.2:5060", "tls:10.0.0.2:5061", "tcp:sip.example.org:5060", "tcp:10.0.0.2:0",
                "tcp:10.0.0.2:http", "tcp:10.0.0.2")) {
            assertThatThrownBy(() -> Telephony.clusterAddress(section(bad))).as(bad)
                    .isInstanceOf(ConfigException.class).hasMessageContaining("clusterAddress");
        }
    }

    @Test
    void withoutOneTheFirstTcpListenerElseTheFirstUdpOneIsUsed() {
        List<ListenPoint> both = List.of(new ListenPoint(Transport.UDP, "192.0.2.1", 5060),
                new ListenPoint(Transport.TCP, "192.0.2.1", 5060));
        assertThat(Telephony.clusterPath(null, both, null)).isEqualTo("sip:192.0.2.1:5060;transport=tcp");
        assertThat(Telephony.clusterPath(null, both.subList(0, 1), null)).isEqualTo("sip:192.0.2.1:5060");
        assertThat(Telephony.clusterPath(null, List.of(new ListenPoint(Transport.TLS, "192.0.2.1", 5061)), null)).isNull();
        // a wildcard bind is named by the advertised address
        assertThat(Telephony.clusterPath(null, List.of(new ListenPoint(Transport.TCP, "0.0.0.0", 5060)), "198.51.100.7"))
                .isEqualTo("sip:198.51.100.7:5060;transport=tcp");
    }

    @Test
    void proxyProtocolSourcesAreAddressesOrBlocksAndABadOneIsAProblemNamingTheKey() throws Exception {
        var ranges = Telephony.proxyProtocolFrom(ConfigSection.of("telephony",
                Map.of("proxyProtocolFrom", "10.0.0.5, 2001:db8::/32")));
        assertThat(ranges).hasSize(2);
        assertThat(ranges.get(1).contains(java.net.InetAddress.getByName("2001:db8::7"))).isTrue();
        assertThat(Telephony.proxyProtocolFrom(ConfigSection.of("telephony", Map.of()))).isEmpty();
        assertThatThrownBy(() -> Telephony.proxyProtocolFrom(ConfigSection.of("telephony",
                Map.of("proxyProtocolFrom", "haproxy.example.test"))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("proxyProtocolFrom");
    }
}
