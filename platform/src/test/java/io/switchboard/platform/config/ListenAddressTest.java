package io.switchboard.platform.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ListenAddressTest {
    @Test
    void parsesIpv4Ipv6AndNames() {
        assertThat(ListenAddress.parseList("udp:0.0.0.0:5060, tcp:0.0.0.0:5060,udp:[::1]:5070,WS:sip.example.org:0"))
                .containsExactly(
                        new ListenAddress("udp", "0.0.0.0", 5060),
                        new ListenAddress("tcp", "0.0.0.0", 5060),
                        new ListenAddress("udp", "::1", 5070),
                        new ListenAddress("ws", "sip.example.org", 0));
        assertThat(ListenAddress.parse("udp:[::1]:5070")).hasToString("udp:[::1]:5070");
        assertThat(HostPort.parse("[fe80::1]:80").hostForUrl()).isEqualTo("[fe80::1]");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "sctp:0.0.0.0:5060 | unknown transport",
            "0.0.0.0:5060 | unknown transport",
            "udp:0.0.0.0 | has no port",
            "udp:0.0.0.0:65536 | expected 0..65535",
            "udp:0.0.0.0:-1 | expected a number",
            "udp:0.0.0.0:abc | expected a number",
            "udp:::1:5060 | brackets",
            "udp:[::1:5060 | without closing",
            "udp:[1.2.3.4]:5060 | not an IPv6 address",
            "udp:[::zz]:5060 | not an IPv6 address",
            "udp:300.1.1.1:5060 | not an IPv4 address",
            "udp:bad_host:5060 | not a valid host name",
            "udp::5060 | empty host",
    })
    void refusesBadEntriesWithAReason(String text, String reason) {
        assertThatThrownBy(() -> ListenAddress.parse(text))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(reason);
    }

    @Test
    void refusesDuplicatesAndEmptyEntries() {
        assertThatThrownBy(() -> ListenAddress.parseList("udp:0.0.0.0:5060,udp:0.0.0.0:5060"))
                .hasMessageContaining("listed twice");
        assertThatThrownBy(() -> ListenAddress.parseList("udp:0.0.0.0:5060,,tcp:0.0.0.0:5060"))
                .hasMessageContaining("empty entry");
        assertThat(ListenAddress.parseList("udp:127.0.0.1:0,udp:127.0.0.1:0")).hasSize(2);
    }

    /** tcp and tls are both TCP sockets: one port between them; a wildcard takes the port on every address. */
    @Test
    void refusesListenersThatWouldWantOnePort() {
        assertThatThrownBy(() -> ListenAddress.parseList("tcp:127.0.0.1:5065,tls:127.0.0.1:5065"))
                .hasMessageContaining("\"tls:127.0.0.1:5065\" wants the port of \"tcp:127.0.0.1:5065\"")
                .hasMessageContaining("two TCP (tcp, tls) listeners cannot share one");
        assertThatThrownBy(() -> ListenAddress.parseList("udp:0.0.0.0:5060,udp:10.0.0.1:5060"))
                .hasMessageContaining("two UDP listeners");
        assertThatThrownBy(() -> ListenAddress.parseList("tls:[::]:5061,tcp:127.0.0.1:5061"))
                .hasMessageContaining("wants the port of");
        // udp and tcp on one port are two sockets of different protocols, the usual setup
        assertThat(ListenAddress.parseList("udp:0.0.0.0:5060,tcp:0.0.0.0:5060,tls:0.0.0.0:5061")).hasSize(3);
        assertThat(ListenAddress.parseList("tcp:127.0.0.1:5060,tcp:127.0.0.2:5060")).hasSize(2);
        // an IPv4 wildcard takes no IPv6 address; an IPv6 one, however written, takes every address
        assertThat(ListenAddress.parseList("udp:0.0.0.0:5060,udp:[2001:db8::5]:5060")).hasSize(2);
        assertThat(ListenAddress.parseList("tcp:0.0.0.0:5060,tcp:[::1]:5060")).hasSize(2);
        assertThatThrownBy(() -> ListenAddress.parseList("tcp:[0:0:0:0:0:0:0:0]:5060,tcp:127.0.0.1:5060"))
                .hasMessageContaining("wants the port of");
        assertThatThrownBy(() -> ListenAddress.parseList("tcp:0.0.0.0:5060,tcp:[::]:5060"))
                .hasMessageContaining("wants the port of");
    }
}
