package io.switchboard.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;
import io.switchboard.platform.config.ConfigException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A node does not start with a domain the cluster's live nodes do not serve. */
class ClusterDomainTest {
    private static NodeRecord node(String id, NodeState state, String domain, boolean self) {
        Map<String, Object> addresses = domain == null ? Map.of("http", "10.0.0.1:8080") : Map.of(Telephony.DOMAIN_ADDRESS, domain);
        return new NodeRecord(id, "inc-" + id, state, addresses, "test", Instant.EPOCH, 0, null, self);
    }

    @Test
    void aLiveNodeWithAnotherDomainRefusesTheStart() {
        ClusterView view = new ClusterView("node3", List.of(node("node1", NodeState.ALIVE, "sip.example.org", false),
                node("node2", NodeState.ALIVE, "sip.example.org", false), node("node3", NodeState.ALIVE, "vm", true)), true);
        assertThatThrownBy(() -> Telephony.refuseADomainTheOtherNodesDoNotServe(view, "vm"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("is vm, but the cluster's live nodes serve sip.example.org (node node1, node2)")
                .hasMessageContaining("--domain");
    }

    @Test
    void theSameDomainDeadNodesAndNodesThatDoNotSayAreNoReason() {
        ClusterView view = new ClusterView("node3", List.of(node("node1", NodeState.ALIVE, "SIP.example.org", false),
                node("node2", NodeState.DEAD, "old.example.org", false), node("node4", NodeState.LEFT, "old.example.org", false),
                node("node5", NodeState.ALIVE, null, false)), true);
        assertThatCode(() -> Telephony.refuseADomainTheOtherNodesDoNotServe(view, "sip.example.org")).doesNotThrowAnyException();
        assertThatCode(() -> Telephony.refuseADomainTheOtherNodesDoNotServe(ClusterView.initial("node1"), "vm"))
                .doesNotThrowAnyException();
        assertThat(Telephony.DOMAIN_ADDRESS).isEqualTo("sip.domain");
    }
}
