package io.switchboard.telephony.proxy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.sip.SipMetrics;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class LocalEndpointsTest {
    /**
     * A node reached on 5060 (here its WebSocket port, which counts as one of its ports): a URI with
     * this node's address and no port names it (RFC 3261 §19.1.2), one with port 0 does not. Port 0
     * was taken for "no port", so {@code sip:1001@<node>:0} named the node.
     */
    @Test
    void port0NamesNoListenerOfThisNode() {
        TransportLayer transport = new TransportLayer(TransportSettings.defaults(), new SipMetrics(new SimpleMeterRegistry()));
        LocalEndpoints local = new LocalEndpoints(transport, null, port -> port == 5060);
        assertThat(local.isThisNode(SipUri.parse("sip:1001@127.0.0.1"))).isTrue();
        assertThat(local.isThisNode(SipUri.parse("sip:1001@127.0.0.1:5060"))).isTrue();
        assertThat(local.isThisNode(SipUri.parse("sip:1001@127.0.0.1:0"))).isFalse();
        assertThat(local.isThisNode(SipUri.parse("sip:127.0.0.1:0;lr"))).isFalse();
    }
}
