package io.switchboard.telephony.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;
import java.net.InetAddress;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The flood limit's exemption follows the live nodes of the cluster view and their advertised SIP paths. */
class ClusterPeerAddressesTest {
    private static NodeRecord node(String id, NodeState state, String path, boolean self) {
        Map<String, Object> addresses = path == null ? Map.of() : Map.of("sip.path", path);
        return new NodeRecord(id, "i-" + id, state, addresses, "dev", Instant.EPOCH, 0, null, self);
    }

    @Test
    void liveOtherNodesAreExemptAndOnlyWhileAlive() throws Exception {
        ClusterPeerAddresses peers = new ClusterPeerAddresses();
        peers.update(new ClusterView("a", List.of(
                node("a", NodeState.ALIVE, "sip:10.0.0.1:5060;transport=tcp", true),
                node("b", NodeState.ALIVE, "sip:10.0.0.2:5060;transport=tcp", false),
                node("c", NodeState.ALIVE, "sip:[2001:db8::3]:5060", false),
                node("d", NodeState.DEAD, "sip:10.0.0.4:5060", false),
                node("e", NodeState.ALIVE, "sip:node-e.example.test:5060", false),
                node("f", NodeState.ALIVE, null, false)), true));

        assertThat(peers.contains(InetAddress.getByName("10.0.0.2"))).isTrue();
        assertThat(peers.contains(InetAddress.getByName("2001:db8::3"))).isTrue();
        assertThat(peers.contains(InetAddress.getByName("10.0.0.1"))).as("itself").isFalse();
        assertThat(peers.contains(InetAddress.getByName("10.0.0.4"))).as("dead").isFalse();
        assertThat(peers.contains(InetAddress.getByName("10.0.0.9"))).as("a device").isFalse();

        peers.update(new ClusterView("a", List.of(node("a", NodeState.ALIVE, "sip:10.0.0.1:5060", true),
                node("b", NodeState.LEFT, "sip:10.0.0.2:5060;transport=tcp", false)), true));
        assertThat(peers.contains(InetAddress.getByName("10.0.0.2"))).as("left the cluster").isFalse();
    }

    @Test
    void hostsOfPaths() {
        assertThat(ClusterPeerAddresses.hostOf("sip:192.0.2.5:5070;transport=tcp").getHostAddress()).isEqualTo("192.0.2.5");
        assertThat(ClusterPeerAddresses.hostOf("sip:192.0.2.5").getHostAddress()).isEqualTo("192.0.2.5");
        assertThat(ClusterPeerAddresses.hostOf("sip:[::1]:5060").isLoopbackAddress()).isTrue();
        assertThat(ClusterPeerAddresses.hostOf("sip:[::1")).isNull();
        assertThat(ClusterPeerAddresses.hostOf("http://192.0.2.5/")).isNull();
        assertThat(ClusterPeerAddresses.hostOf(42)).isNull();
    }
}
