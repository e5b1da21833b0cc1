package io.switchboard.telephony.cluster;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The default {@link NodeLiveness}: a node is alive unless an attempt to reach it failed within
 * the last {@code quarantine}, so after one failed call the next ones do not wait on it again; it
 * is tried again once the quarantine is over (it may have come back).
 */
public final class RecentFailures implements NodeLiveness {
    private final Clock clock;
    private final long quarantineMillis;
    private final ConcurrentHashMap<String, Long> failedAt = new ConcurrentHashMap<>();

    public RecentFailures(Clock clock, Duration quarantine) {
        this.clock = clock;
        this.quarantineMillis = quarantine.toMillis();
    }

    @Override
    public boolean isAlive(String nodeId) {
        Long at = failedAt.get(nodeId);
        if (at == null) {
            return true;
        }
        if (clock.millis() - at >= quarantineMillis) {
            failedAt.remove(nodeId, at);
            return true;
        }
        return false;
    }

    @Override
    public void unreachable(String nodeId) {
        if (nodeId != null) {
            failedAt.put(nodeId, clock.millis());
        }
    }
}
