package io.switchboard.platform.config;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Addresses with a port as API answers and logs write them: IPv6 in brackets, in RFC 5952 text. */
class HostPortFormatTest {
    @Test
    void ipv6IsBracketedAndCanonical() {
        assertThat(HostPort.format("::1", 5060)).isEqualTo("[::1]:5060");
        assertThat(HostPort.format("0:0:0:0:0:0:0:1", 5060)).isEqualTo("[::1]:5060"); // InetAddress.getHostAddress()
        assertThat(HostPort.format("2001:DB8:0:0:1:0:0:1", 443)).isEqualTo("[2001:db8::1:0:0:1]:443"); // first of equal runs
        assertThat(HostPort.format("2001:db8:0:0:0:0:2:1", 80)).isEqualTo("[2001:db8::2:1]:80");
        assertThat(HostPort.format("2001:db8:0:1:1:1:1:1", 80)).isEqualTo("[2001:db8:0:1:1:1:1:1]:80"); // one zero group stays
        assertThat(HostPort.format("0:0:0:0:0:0:0:0", 5060)).isEqualTo("[::]:5060");
        assertThat(HostPort.format("fe80:0:0:0:0:0:0:1%eth0", 5060)).isEqualTo("[fe80::1%eth0]:5060");
        assertThat(HostPort.format("0:0:0:0:0:0:0:1%0", 5070)).as("scope id 0 is no zone").isEqualTo("[::1]:5070");
        assertThat(HostPort.format("2001:db8::", 5060)).isEqualTo("[2001:db8::]:5060");
    }

    @Test
    void everythingElseIsLeftAsItIs() {
        assertThat(HostPort.format("127.0.0.1", 5060)).isEqualTo("127.0.0.1:5060");
        assertThat(HostPort.format("sip.example.org", 5061)).isEqualTo("sip.example.org:5061");
        assertThat(HostPort.format("[::1]", 5060)).isEqualTo("[::1]:5060");
        assertThat(HostPort.format("::ffff:192.0.2.1", 5060)).isEqualTo("[::ffff:192.0.2.1]:5060");
        assertThat(new HostPort("::1", 8080)).hasToString("[::1]:8080");
    }
}
