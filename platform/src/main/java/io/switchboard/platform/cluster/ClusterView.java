package io.switchboard.platform.cluster;

import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * The cluster as one node last read it from the store: every known node with its state, and
 * whether this node itself is in good standing (its heartbeat got through within the expiry).
 * Immutable; a new view replaces it at every heartbeat that sees a change.
 *
 * <p>Ownership ({@link #owner(String)}) is rendezvous hashing over the live nodes. A node out of
 * good standing is left out of its own computation: it must not act as the owner of anything
 * while the others may already count it dead.
 */
public record ClusterView(String selfId, List<NodeRecord> nodes, boolean selfInGoodStanding) {

    public ClusterView {
        nodes = List.copyOf(nodes);
    }

    /** Before the first read: this node alone, not yet in good standing. */
    public static ClusterView initial(String selfId) {
        return new ClusterView(selfId, List.of(), false);
    }

    /** Ids of the nodes alive by the store, sorted; without this node when it is out of good standing. */
    public Set<String> liveIds() {
        Set<String> ids = new TreeSet<>();
        for (NodeRecord node : nodes) {
            if (node.isAlive() && (selfInGoodStanding || !node.id().equals(selfId))) {
                ids.add(node.id());
            }
        }
        return ids;
    }

    /** The live node that owns {@code key}; empty when none is live. */
    public Optional<String> owner(String key) {
        return RendezvousHash.owner(key, liveIds());
    }

    /** Whether this node owns {@code key} (false whenever it is out of good standing). */
    public boolean ownsSelf(String key) {
        return selfInGoodStanding && owner(key).filter(selfId::equals).isPresent();
    }

    public Optional<NodeRecord> node(String id) {
        return nodes.stream().filter(n -> n.id().equals(id)).findFirst();
    }

    public long count(NodeState state) {
        return nodes.stream().filter(n -> n.state() == state).count();
    }

    /** Ids in {@code ids} that are not alive in this view. */
    Set<String> notAlive(Collection<String> ids) {
        Set<String> live = liveIds();
        Set<String> out = new TreeSet<>(ids);
        out.removeAll(live);
        return out;
    }
}
