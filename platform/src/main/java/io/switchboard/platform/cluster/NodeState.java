package io.switchboard.platform.cluster;

import java.util.Locale;

/** Where a node stands in the cluster's view. */
public enum NodeState {
    /** Heartbeating within the expiry. */
    ALIVE,
    /** Its last heartbeat is older than the expiry: killed, paused, cut off from the store. */
    DEAD,
    /** Stopped gracefully and said so. */
    LEFT;

    /** The lower-case name used in JSON, meters and the CLI. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
