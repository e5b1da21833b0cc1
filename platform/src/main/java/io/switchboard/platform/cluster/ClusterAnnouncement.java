package io.switchboard.platform.cluster;

/**
 * What a node says on the bus topic {@value ClusterMembership#TOPIC} when it joins, publishes its
 * addresses (its listeners are bound) or leaves, so the others re-read the view at once instead of
 * at their next heartbeat, and now and then that it is still here. Only a hint: the store is the
 * truth, and a node that dies says nothing.
 *
 * @param nodeId      who
 * @param incarnation which start of it
 * @param event       {@code joined}, {@code addresses}, {@code left}, or {@code present} (still here:
 *                    said every few heartbeats, for nodes on another store to be noticed)
 */
public record ClusterAnnouncement(String nodeId, String incarnation, String event) {
}
