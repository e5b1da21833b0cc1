package io.switchboard.telephony.cluster;

import java.util.Objects;

/**
 * This node as the other nodes of a cluster see it for SIP: its id, written into every binding
 * made through it as the owner of the binding's flow, and its node-to-node SIP URI (the RFC 3327
 * Path of those bindings), where other nodes send requests for devices whose flow it holds.
 * <p>
 * The path is known only once the SIP listeners are bound (a port of 0 becomes a real port), so
 * it is set at start; until then it is null and bindings made carry none (none are made before
 * the listeners run).
 */
public final class ClusterNode {
    private final String id;
    private volatile String path;

    public ClusterNode(String id) {
        this.id = Objects.requireNonNull(id);
    }

    public String id() {
        return id;
    }

    /** The node-to-node SIP URI, e.g. {@code sip:10.0.0.2:5060;transport=tcp}; null before start. */
    public String path() {
        return path;
    }

    public void setPath(String path) {
        this.path = path;
    }

    /** True when a binding's owner is this node: made through it, in this run or an earlier one at the same address. */
    public boolean owns(String node, String nodePath) {
        if (node == null || id.equals(node)) {
            return true;
        }
        String own = path;
        return nodePath == null || nodePath.equals(own);
    }
}
