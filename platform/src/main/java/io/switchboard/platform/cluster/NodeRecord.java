package io.switchboard.platform.cluster;

import java.time.Instant;
import java.util.Map;

/**
 * One node as the store knows it.
 *
 * @param id             the node's stable id ({@code cluster.nodeId})
 * @param incarnation    random per process start: tells a restarted node from the one before it
 * @param state          alive, dead (heartbeat older than the expiry) or left (stopped gracefully)
 * @param addresses      what the node listens on: {@code http}, {@code https}, {@code sip} and what modules add
 * @param version        the node's software version
 * @param started        when the node registered, by the database's clock
 * @param heartbeatAgeMs how long ago its last heartbeat was, by the database's clock
 * @param loadAverage    the machine's one-minute load average at its last heartbeat (null: unknown)
 * @param self           whether this is the node that reads the view
 */
public record NodeRecord(
        String id,
        String incarnation,
        NodeState state,
        Map<String, Object> addresses,
        String version,
        Instant started,
        long heartbeatAgeMs,
        Double loadAverage,
        boolean self) {

    public NodeRecord {
        addresses = Map.copyOf(addresses);
    }

    public boolean isAlive() {
        return state == NodeState.ALIVE;
    }
}
