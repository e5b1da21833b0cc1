package io.switchboard.platform.cluster;

/**
 * Said on the bus topic {@value ClusterMembership#STRANGERS_TOPIC} by a node that heard another
 * announce itself ({@link ClusterAnnouncement}) but found no row of it in its own store: two
 * clusters on different databases share one bus exchange. The node named hears it too and learns
 * the same of the reporter, so the mistake shows in both clusters' logs, whichever started last.
 *
 * @param reporterId          the node that found no row of the other
 * @param reporterIncarnation which start of it
 * @param strangerId          the node it heard on the bus
 * @param strangerIncarnation which start of that node
 */
public record StrangerHeard(String reporterId, String reporterIncarnation, String strangerId, String strangerIncarnation) {
}
