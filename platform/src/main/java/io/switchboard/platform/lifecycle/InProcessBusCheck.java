package io.switchboard.platform.lifecycle;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.cluster.ClusterMembership;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node with the in-process bus (no {@code bus.url}) is right alone, and wrong as soon as another
 * live node shares its store: the store makes it a member of their cluster (its row, their view,
 * leases), but what travels on the bus (bindings, so its phones are never rung from the others;
 * chat messages; account and session changes) never reaches it nor leaves it. Such a node used to
 * join quietly and stay ready. While other live nodes are in its view it logs an error naming
 * them, fails {@code /readyz} ({@code bus: ...}, so a balancer sends it nothing) and shows
 * {@code switchboard_bus_connected} 0, the meter the bus alert watches; alone it shows 1 (its bus
 * reaches every node there is), so the meter exists on every node.
 */
final class InProcessBusCheck {
    private static final Logger log = LoggerFactory.getLogger(InProcessBusCheck.class);

    private final ClusterMembership cluster;
    /** The other live nodes last logged about: a change is logged once, not at every view. */
    private List<String> logged = List.of();

    InProcessBusCheck(ClusterMembership cluster, MeterRegistry meters, Readiness readiness) {
        this.cluster = cluster;
        Gauge.builder("switchboard.bus.connected", this, check -> check.othersAlive(check.cluster.view()).isEmpty() ? 1 : 0)
                .description("1 while this node's bus reaches the other nodes (RabbitMQ connected; an in-process bus:"
                        + " no other node alive in this node's store)")
                .register(meters);
        readiness.register("bus", this::problem);
        cluster.onChange(this::viewChanged);
    }

    private static List<String> othersAlive(ClusterView view) {
        return view.nodes().stream().filter(node -> !node.self() && node.isAlive()).map(NodeRecord::id).toList();
    }

    private Optional<String> problem() {
        List<String> others = othersAlive(cluster.view());
        return others.isEmpty() ? Optional.empty() : Optional.of("in-process bus (no bus.url) while " + String.join(", ", others)
                + " share this node's store: set bus.url (SWITCHBOARD_BUS_URL) to the cluster's RabbitMQ");
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
                            + " their cluster, yet their events (registrations, so its phones are not rung from them; chat"
                            + " messages; account changes) never reach it, nor its theirs. /readyz answers 503 while this lasts;"
                            + " set bus.url (SWITCHBOARD_BUS_URL) to the cluster's RabbitMQ",
                    String.join(", ", others), others.size() == 1 ? "is" : "are");
        }
        logged = others;
    }
}
