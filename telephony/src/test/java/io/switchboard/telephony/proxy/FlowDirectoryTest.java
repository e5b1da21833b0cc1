package io.switchboard.telephony.proxy;

import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The flow id a node-to-node hop carries names the address a UDP device registered to. */
class FlowDirectoryTest {
    private static Binding binding(String transport, String localAddress, int localPort, String flowId) {
        return new Binding("sip:1001@example.test", "sip:1001@198.51.100.7:4022", "<sip:1001@198.51.100.7:4022>",
                "call-1", 1, 0, 0, 0, transport, "198.51.100.7", 4022, localAddress, localPort, flowId, "phone",
                null, 0, "node-a", "sip:10.0.0.11:5060;transport=tcp", 1);
    }

    @Test
    void aUdpDeviceRegisteredToASpecificAddressIsNamedWithIt() throws Exception {
        assertThat(FlowDirectory.hopFlowId(binding("UDP", "10.0.0.100", 5060, "udp:5060>198.51.100.7:4022")))
                .isEqualTo("udp:10.0.0.100:5060>198.51.100.7:4022");
        assertThat(FlowDirectory.hopFlowId(binding("UDP", "2001:db8::100", 5060, "udp:5060>198.51.100.7:4022")))
                .isEqualTo("udp:[2001:db8::100]:5060>198.51.100.7:4022");
        assertThat(FlowDirectory.udpListener(java.net.InetAddress.getByName("2001:db8::100"), 5060))
                .isEqualTo("udp:[2001:db8::100]:5060");
    }

    @Test
    void otherFlowsKeepTheirOwnIds() {
        assertThat(FlowDirectory.hopFlowId(binding("UDP", "0.0.0.0", 5060, "udp:5060>198.51.100.7:4022")))
                .as("a wildcard listener").isEqualTo("udp:5060>198.51.100.7:4022");
        assertThat(FlowDirectory.hopFlowId(binding("UDP", null, 0, "udp:5060>198.51.100.7:4022")))
                .isEqualTo("udp:5060>198.51.100.7:4022");
        assertThat(FlowDirectory.hopFlowId(binding("TCP", "10.0.0.11", 5060, "tcp-42")))
                .isEqualTo("tcp-42");
    }
}
