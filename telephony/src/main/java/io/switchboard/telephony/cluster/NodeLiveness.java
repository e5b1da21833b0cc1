package io.switchboard.telephony.cluster;

/**
 * Whether another node of the cluster is alive, as far as this node can tell: the proxy asks
 * before it sends a call through the node that holds a device's flow. A node thought dead is not
 * tried: a device registered through it over UDP is sent to directly at the address it registered
 * from, one registered over TCP, TLS or WebSocket is skipped (its connection ended with the node).
 * <p>
 * The proxy reports each failed attempt to reach a node ({@link #unreachable}); the default
 * implementation ({@link RecentFailures}) knows nothing else. A membership service with heartbeats
 * plugs in by implementing {@link #isAlive} with its view (and may ignore the reports).
 */
public interface NodeLiveness {
    boolean isAlive(String nodeId);

    /** A request to the node could not be delivered (connection refused or timed out, transport error). */
    default void unreachable(String nodeId) {
    }

    /**
     * The id of the node of the cluster that listens for SIP at this port of this host (a Record-Route
     * entry it wrote names it so), or null when none is known: what decides whether an in-dialog
     * request whose route set names that node is sent to it or routed in its place. Only an address
     * given here is ever connected to for such an entry (its signature does not cover the address),
     * so the default, knowing none, has every node route in the place of the others.
     */
    default String nodeListeningAt(String host, int port) {
        return null;
    }

    /**
     * The node-to-node SIP URI ({@code sip.path}, e.g. {@code sip:10.0.0.2:5060;transport=tcp}) the
     * cluster view lists for a node, dead or alive, or empty when the view does not list it: where
     * an in-dialog request goes whose Route entry that node Record-Routed under its id (an entry
     * that names a balancer, not the node). The default, knowing no view, knows none.
     */
    default java.util.Optional<String> pathOf(String nodeId) {
        return java.util.Optional.empty();
    }

    /**
     * Whether every live node of the cluster routes in-dialog requests by the node id in a Route
     * entry (advertised as {@value #ROUTES_BY_ID}): only then may an entry name an address every
     * node answers at (a balancer's), since a node of an earlier version takes such an entry for its
     * own by the address alone. The default, knowing no other node, says yes.
     */
    default boolean everyNodeRoutesById() {
        return true;
    }

    /** What a node that routes in-dialog requests by node id advertises in the cluster view, as true. */
    String ROUTES_BY_ID = "sip.routesById";

    /** A node of the cluster and the Path other nodes reach the devices registered through it at. */
    record NodePath(String id, String path) {
    }

    /**
     * The live node that holds the UDP listener {@code udpListener} now ({@code udp:10.0.0.100:5060},
     * advertised as {@code sip.holds}): where a request to a device registered to a floating
     * address must go, since only the holder can send from it. Empty when no live node says so.
     */
    default java.util.Optional<NodePath> nodeHolding(String udpListener) {
        return java.util.Optional.empty();
    }
}
