package io.switchboard.platform.lifecycle;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.cluster.ClusterMembership;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node with the in-process bus (no {@code bus.url}) is right alone, and wrong as soon as another
 * live node shares its store: the store makes it a member of their cluster (its row, their view,
 * leases), but what travels on the bus (chat messages to streams, binding announcements, sign-in
 * brakes) never reaches it nor leaves it. Such a node used to join quietly. While other live nodes
 * are in its view it logs an error naming them and shows {@code switchboard_bus_connected} 0, the
 * meter the bus alert watches; alone it shows 1 (its bus reaches every node there is), so the meter
 * exists on every node. It stays ready: failing readiness took healthy nodes out too (every
 * bus-less node of a store sees the others, so a stray process started on the same database, or the
 * first node upgraded of two run without RabbitMQ, emptied the balancer), and a bus problem is not a
 * readiness check (a RabbitMQ that is down does not make a node unready either).
 */
final class InProcessBusCheck {
    private static final Logger log = LoggerFactory.getLogger(InProcessBusCheck.class);

    private final ClusterMembership cluster;
    /** The other live nodes last logged about: a change is logged once, not at every view. */
    private List<String> logged = List.of();

    InProcessBusCheck(ClusterMembership cluster, MeterRegistry meters) {
        this.cluster = cluster;
        Gauge.builder("switchboard.bus.connected", this, check -> check.othersAlive(check.cluster.view()).isEmpty() ? 1 : 0)
                .description("1 while this node's bus reaches the other nodes (RabbitMQ connected; an in-process bus:"
                        + " no other node alive in this node's store)")
                .register(meters);
        cluster.onChange(this::viewChanged);
    }

    private static List<String> othersAlive(ClusterView view) {
        return view.nodes().stream().filter(node -> !node.self() && node.isAlive()).map(NodeRecord::id).toList();
    }

    private synchronized void viewChanged(ClusterView view) {
        List<String> others = othersAlive(view);
        if (others.equals(logged)) {
            return;
        }
        if (others.isEmpty()) {
            log.info("bus: no other node is alive in this node's store now; the in-process bus serves it alone again");
        } else {
            log.error("bus: this node has the in-process bus (no bus.url) but {} {} alive in its store: it is counted in"
                            + " their cluster, yet their events (chat messages to streams, binding announcements, so its"
                            + " phones may not be rung from them, sign-in brakes) never reach it, nor its theirs;"
                            + " set bus.url (SWITCHBOARD_BUS_URL) to the cluster's RabbitMQ",
                    String.join(", ", others), others.size() == 1 ? "is" : "are");
        }
        logged = others;
    }
}
