package io.switchboard.monitor.cluster;

/**
 * A write refused because the monitor's lease it was made under no longer holds: another node
 * took the monitor over, or this node's membership expired. Not an error: the work is another
 * node's now.
 */
public final class LeaseLost extends RuntimeException {
    public LeaseLost(String what) {
        super(what + ": this node no longer holds the monitor's lease", null, false, false);
    }
}
