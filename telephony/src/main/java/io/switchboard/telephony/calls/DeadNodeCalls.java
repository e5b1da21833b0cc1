package io.switchboard.telephony.calls;

import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;

import java.time.Clock;
import java.util.HashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Closes the call records of a node that died, as soon as the cluster view counts it dead.
 * <p>
 * A node records the calls it forwards, and only it ends them; one that stops gracefully marks
 * its calls in progress interrupted, and one that restarts marks what its previous run left open.
 * A node that dies and stays away leaves its records open, and without this they would read
 * "answered" in the history until the hourly check of abandoned records, which waits for the
 * longest possible call. So for each node a view shows dead, the live node that owns the key
 * {@code calls-of:<id>} (rendezvous hashing over the live nodes, as every node computes it) marks
 * that node's open records interrupted, once per incarnation of the dead node. If the owner dies
 * too, the next view gives the key to another node, which does it then. Two nodes that disagree
 * about the owner both do it, which is harmless (the update is the same); a node that was only
 * paused and comes back writes its calls' real state over it. A node that left gracefully (state
 * "left") closed its own. Views arrive on the cluster's thread; the work runs on the tracker's
 * sweep thread.
 */
public final class DeadNodeCalls implements Consumer<ClusterView> {
    static final String KEY_PREFIX = "calls-of:";

    private final CallTracker calls;
    private final Clock clock;
    /** "id incarnation" of dead nodes whose calls this node has closed, while the view shows them dead. */
    private final Set<String> closed = new HashSet<>();

    public DeadNodeCalls(CallTracker calls, Clock clock) {
        this.calls = calls;
        this.clock = clock;
    }

    @Override
    public synchronized void accept(ClusterView view) {
        long now = clock.millis();
        Set<String> dead = new HashSet<>();
        for (NodeRecord node : view.nodes()) {
            if (node.self() || node.state() != NodeState.DEAD) {
                continue;
            }
            String incarnation = node.id() + " " + node.incarnation();
            dead.add(incarnation);
            if (!closed.contains(incarnation) && view.ownsSelf(KEY_PREFIX + node.id())) {
                closed.add(incarnation);
                calls.nodeDied(node.id(), now);
            }
        }
        closed.retainAll(dead);
    }
}
