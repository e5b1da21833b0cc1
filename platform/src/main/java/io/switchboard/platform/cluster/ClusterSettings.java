package io.switchboard.platform.cluster;

import io.switchboard.platform.config.ConfigSection;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The {@code cluster:} block: {@code nodeId} (default: made once and kept in the data directory),
 * {@code heartbeat} (how often a node renews its membership row, default 2 s) and {@code expiry}
 * (how long after its last heartbeat a node counts as dead, default 6 s; more than two heartbeats,
 * so one slow or lost heartbeat does not make a node dead). Every node of a cluster should use the
 * same {@code expiry}: the fenced writes of leases check it.
 *
 * <p>{@code nodeid} is accepted beside {@code nodeId} because {@code SWITCHBOARD_CLUSTER_NODEID}
 * becomes {@code cluster.nodeid} (one word) by the environment's naming rule; the flag
 * {@code --node-id} sets it too. When both are present {@code nodeid} wins: it came from the
 * environment or the command line, which win over the file.
 */
public record ClusterSettings(Optional<String> nodeId, Duration heartbeat, Duration expiry) {
    public static final List<String> KNOWN_KEYS = List.of("nodeId", "nodeid", "heartbeat", "expiry");
    /** What a typo is told the block has: {@code nodeid} is the environment's spelling of {@code nodeId}, not a second setting. */
    private static final List<String> SHOWN_KEYS = List.of("nodeId", "heartbeat", "expiry");
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
    public static final Duration DEFAULT_EXPIRY = Duration.ofSeconds(6);
    /** Letters, digits, {@code . _ -}; starts with a letter or digit; at most 64 (the column's width). */
    static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Duration MIN_HEARTBEAT = Duration.ofMillis(100);
    private static final Duration MAX_HEARTBEAT = Duration.ofMinutes(1);

    public ClusterSettings {
        nodeId = nodeId == null ? Optional.empty() : nodeId;
    }

    /** The defaults: generated node id, 2 s heartbeat, 6 s expiry. */
    public static ClusterSettings defaults() {
        return new ClusterSettings(Optional.empty(), DEFAULT_HEARTBEAT, DEFAULT_EXPIRY);
    }

    /**
     * @throws io.switchboard.platform.config.ConfigException naming the key and the problem
     */
    public static ClusterSettings from(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS, SHOWN_KEYS);
        String key = section.has("nodeid") ? "nodeid" : "nodeId";
        Optional<String> nodeId = section.string(key).map(String::strip);
        if (nodeId.isPresent() && !NODE_ID.matcher(nodeId.get()).matches()) {
            throw section.problem(key, "nodeId", "\"" + nodeId.get() + "\" is not a node id: 1-64 of letters, digits,"
                    + " . _ -, starting with a letter or digit");
        }
        Duration heartbeat = section.duration("heartbeat", DEFAULT_HEARTBEAT, MIN_HEARTBEAT, MAX_HEARTBEAT);
        Duration expiry = section.duration("expiry", section.has("heartbeat") ? heartbeat.multipliedBy(3) : DEFAULT_EXPIRY);
        if (expiry.compareTo(heartbeat.multipliedBy(2)) <= 0) {
            // Name where the heartbeat came from: the expiry alone may be what the user wrote.
            String heartbeatNamed = section.has("heartbeat")
                    ? section.named("heartbeat") + ", which is " + ConfigSection.written(heartbeat) + ","
                    : "cluster.heartbeat, " + ConfigSection.written(heartbeat) + " by default,";
            throw section.problem("expiry", ConfigSection.written(expiry) + " must be more than twice "
                    + heartbeatNamed + " so one late heartbeat does not make a live node dead");
        }
        return new ClusterSettings(nodeId, heartbeat, expiry);
    }
}
