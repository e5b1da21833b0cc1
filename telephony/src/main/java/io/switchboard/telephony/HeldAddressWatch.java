package io.switchboard.telephony;

import io.switchboard.platform.cluster.Cluster;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Tells the other nodes when this host comes to hold a floating address it listens on for SIP over
 * UDP, or loses it (keepalived moves it): they read {@code sip.holds} from the cluster view (at
 * their next heartbeat) to know where a request to a device registered to that address must go.
 * Checked every second on the telephony sweep thread; the write to the store runs on a thread of
 * its own, so a slow store does not hold up the sweep, and one that failed is tried again at the
 * next check.
 */
final class HeldAddressWatch implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(HeldAddressWatch.class);

    /** What this node advertises as {@code sip.holds} now (FlowDirectory#heldUdpListeners of its listeners). */
    private final Supplier<List<String>> heldNow;
    /** Whether SIP listeners are open: while the node stops they close, and "now holds nothing" would be noise. */
    private final java.util.function.BooleanSupplier listening;
    private final Cluster cluster;
    private final AtomicBoolean publishing = new AtomicBoolean();
    private volatile List<String> lastPublished;

    HeldAddressWatch(Supplier<List<String>> heldNow, java.util.function.BooleanSupplier listening, Cluster cluster) {
        this.heldNow = heldNow;
        this.listening = listening;
        this.cluster = cluster;
    }

    @Override
    public void run() {
        try {
            List<String> held = heldNow.get();
            if (!listening.getAsBoolean()) {
                return; // read after what is held: listeners that closed meanwhile make it empty
            }
            List<String> before = lastPublished;
            // the first time too: the address may have moved since the node published at start
            if (held.equals(before) || !publishing.compareAndSet(false, true)) {
                return;
            }
            if (before != null) {
                log.info("SIP over UDP: this node now holds {} (was {}){}", held, before,
                        cluster.view().liveIds().size() > 1 ? "; telling the other nodes" : "");
            }
            Thread.ofVirtual().name("sip-holds-publish").start(() -> {
                try {
                    if (cluster.publishAddresses()) {
                        lastPublished = held;
                    }
                } finally {
                    publishing.set(false);
                }
            });
        } catch (RuntimeException e) {
            log.warn("could not publish the addresses this node holds: {}", e.toString());
        }
    }
}
