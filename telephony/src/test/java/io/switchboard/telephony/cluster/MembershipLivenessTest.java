package io.switchboard.telephony.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.Leases;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** What the proxy reads from the cluster view: node-to-node paths by id, and whether every node routes by id. */
class MembershipLivenessTest {
    private static NodeRecord node(String id, NodeState state, String path, Boolean routesById) {
        Map<String, Object> addresses = new HashMap<>();
        if (path != null) {
            addresses.put("sip.path", path);
        }
        if (routesById != null) {
            addresses.put(NodeLiveness.ROUTES_BY_ID, routesById);
        }
        return new NodeRecord(id, "i-" + id, state, addresses, "dev", Instant.EPOCH, 0, null, id.equals("a"));
    }

    private static MembershipLiveness liveness(NodeRecord... nodes) {
        ClusterView view = new ClusterView("a", List.of(nodes), true);
        Cluster cluster = new Cluster() {
            public String nodeId() {
                return "a";
            }

            public ClusterView view() {
                return view;
            }

            public boolean inGoodStanding() {
                return true;
            }

            public AutoCloseable onChange(Consumer<ClusterView> listener) {
                return () -> { };
            }

            public Leases leases() {
                throw new UnsupportedOperationException();
            }

            public Duration heartbeat() {
                return Duration.ofSeconds(2);
            }

            public Duration expiry() {
                return Duration.ofSeconds(6);
            }

            public void advertise(String name, Supplier<Object> address) {
            }
        };
        return new MembershipLiveness(cluster, new RecentFailures(Clock.systemUTC(), Duration.ofSeconds(10)));
    }

    @Test
    void pathsByIdForAnyListedNode() {
        MembershipLiveness liveness = liveness(node("a", NodeState.ALIVE, "sip:10.0.0.1:5060;transport=tcp", true),
                node("b", NodeState.DEAD, "sip:10.0.0.2:5060;transport=tcp", true), node("c", NodeState.ALIVE, null, true));
        assertThat(liveness.pathOf("b")).hasValue("sip:10.0.0.2:5060;transport=tcp");
        assertThat(liveness.pathOf("c")).as("listed before its listeners were bound").isEmpty();
        assertThat(liveness.pathOf("z")).as("not listed").isEmpty();
    }

    @Test
    void entriesNameABalancerOnlyWhenEveryLiveNodeRoutesById() {
        assertThat(liveness(node("a", NodeState.ALIVE, null, true), node("b", NodeState.ALIVE, null, true))
                .everyNodeRoutesById()).isTrue();
        assertThat(liveness(node("a", NodeState.ALIVE, null, true), node("b", NodeState.ALIVE, null, null))
                .everyNodeRoutesById()).as("a live node of an earlier version").isFalse();
        assertThat(liveness(node("a", NodeState.ALIVE, null, true), node("b", NodeState.DEAD, null, null),
                node("c", NodeState.LEFT, null, false)).everyNodeRoutesById()).as("only live nodes count").isTrue();
        assertThat(liveness(node("a", NodeState.ALIVE, null, true), node("b", NodeState.ALIVE, null, false))
                .everyNodeRoutesById()).isFalse();
        assertThat(liveness(node("a", NodeState.ALIVE, null, null), node("b", NodeState.ALIVE, null, true))
                .everyNodeRoutesById()).as("this node's own row before its addresses are read back").isTrue();
    }
}
