package io.switchboard.platform.cluster;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The cluster as a module sees it: this node's id, the live view, notice of changes, ownership
 * of keys by rendezvous hashing over the live nodes, and leases for work done exactly once. A
 * single node is a cluster of one: it owns every key.
 */
public interface Cluster {
    /** This node's stable id (call records, leases, logs). */
    String nodeId();

    /** The view as last read from the store. */
    ClusterView view();

    /** Whether this node's membership heartbeat got through within the expiry; when false it must not act on leases. */
    boolean inGoodStanding();

    /**
     * Calls {@code listener} with each new view (a node joined, died or left, or this node's own
     * standing changed), on the cluster's thread: keep it short, hand work elsewhere.
     *
     * @return closing it stops the calls
     */
    AutoCloseable onChange(Consumer<ClusterView> listener);

    /** The live node that owns {@code key}: {@code view().owner(key)}. */
    default Optional<String> owner(String key) {
        return view().owner(key);
    }

    /** Leases held in the store under this node's membership. */
    Leases leases();

    Duration heartbeat();

    Duration expiry();

    /**
     * Adds an address this node advertises to the others under {@code name} (e.g.
     * {@code sip.udp}), read once the node's listeners are bound; a value of null is left out.
     */
    void advertise(String name, Supplier<Object> address);

    /**
     * Reads the advertised addresses again and writes them for the others, for an address that
     * changes while the node runs (a floating address it came to hold or lost); the others see
     * them at their next read of the view (a heartbeat). A node reads them once it has started.
     * Blocks on the store (within its timeouts).
     *
     * @return false when they could not be written (the store did not answer): try again later
     */
    default boolean publishAddresses() {
        return true;
    }
}
