package io.switchboard.platform.cluster;

/**
 * A lease this node acquired: {@code fence} is the number the store gave this holding. Writes
 * made under the lease pass it to {@link Leases#holds}, which refuses them once another node has
 * taken the lease (a higher fence) or this node's membership expired.
 */
public record Lease(String name, long fence) {
}
