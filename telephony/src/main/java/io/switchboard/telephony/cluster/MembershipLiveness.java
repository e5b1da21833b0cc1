package io.switchboard.telephony.cluster;

import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.cluster.NodeRecord;

import java.util.Optional;

/**
 * Node liveness from the cluster's membership (heartbeats in the store, by the database's clock),
 * with this node's own recent failures on top: a node is alive when the view says so and no
 * attempt to reach it failed lately. The view alone would still send calls for up to an expiry
 * (6 s by default) to a node that just died; the failures alone would wait up to a SIP transaction
 * timeout (32 s) on a node that swallows packets. A node the view does not list (a binding written
 * before this node read its first view, or by a node that never joined) is judged by the failures.
 */
public final class MembershipLiveness implements NodeLiveness {
    private final Cluster cluster;
    private final NodeLiveness failures;

    public MembershipLiveness(Cluster cluster, NodeLiveness failures) {
        this.cluster = cluster;
        this.failures = failures;
    }

    @Override
    public boolean isAlive(String nodeId) {
        Optional<NodeRecord> known = cluster.view().node(nodeId);
        if (known.isPresent() && !known.get().isAlive()) {
            return false;
        }
        return failures.isAlive(nodeId);
    }

    @Override
    public void unreachable(String nodeId) {
        failures.unreachable(nodeId);
    }
}
