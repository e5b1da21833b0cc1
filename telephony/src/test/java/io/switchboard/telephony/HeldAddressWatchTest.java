package io.switchboard.telephony;

import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.Leases;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The watch writes the held floating addresses when they change, and again after a write that failed. */
class HeldAddressWatchTest {
    /** A cluster whose address writes answer from a script (true: written), counting them. */
    private static final class ScriptedCluster implements Cluster {
        final Deque<Boolean> answers = new ArrayDeque<>();
        final AtomicInteger writes = new AtomicInteger();

        @Override
        public synchronized boolean publishAddresses() {
            writes.incrementAndGet();
            return answers.isEmpty() || answers.poll();
        }

        @Override
        public String nodeId() {
            return "node-a";
        }

        @Override
        public ClusterView view() {
            return ClusterView.initial("node-a");
        }

        @Override
        public boolean inGoodStanding() {
            return true;
        }

        @Override
        public AutoCloseable onChange(Consumer<ClusterView> listener) {
            return () -> { };
        }

        @Override
        public Leases leases() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Duration heartbeat() {
            return Duration.ofSeconds(2);
        }

        @Override
        public Duration expiry() {
            return Duration.ofSeconds(6);
        }

        @Override
        public void advertise(String name, Supplier<Object> address) {
        }
    }

    @Test
    void aChangeIsWrittenOnceAndAFailedWriteIsTriedAgain() {
        ScriptedCluster cluster = new ScriptedCluster();
        AtomicReference<List<String>> held = new AtomicReference<>(List.of());
        HeldAddressWatch watch = new HeldAddressWatch(held::get, () -> true, cluster);

        watch.run(); // the first check writes what is held, in case it moved since the node started
        await().atMost(Duration.ofSeconds(5)).until(() -> cluster.writes.get() == 1);
        watchUntilIdle(watch, cluster, 1);

        cluster.answers.add(false); // the store does not answer the next write
        held.set(List.of("udp:10.0.0.100:5060"));
        watch.run();
        await().atMost(Duration.ofSeconds(5)).until(() -> cluster.writes.get() == 2);
        watch.run(); // not written: tried again
        await().atMost(Duration.ofSeconds(5)).until(() -> cluster.writes.get() == 3);
        watchUntilIdle(watch, cluster, 3);
    }

    /** While the node stops its listeners close: that they hold nothing is not news for the other nodes. */
    @Test
    void nothingIsWrittenOnceTheListenersHaveClosed() {
        ScriptedCluster cluster = new ScriptedCluster();
        AtomicReference<List<String>> held = new AtomicReference<>(List.of("udp:10.0.0.100:5060"));
        java.util.concurrent.atomic.AtomicBoolean listening = new java.util.concurrent.atomic.AtomicBoolean(true);
        HeldAddressWatch watch = new HeldAddressWatch(held::get, listening::get, cluster);
        watch.run();
        await().atMost(Duration.ofSeconds(5)).until(() -> cluster.writes.get() == 1);
        watchUntilIdle(watch, cluster, 1);

        listening.set(false);
        held.set(List.of());
        watchUntilIdle(watch, cluster, 1);
    }

    /** Runs the watch a few more times and checks nothing more is written (what is held did not change). */
    private static void watchUntilIdle(HeldAddressWatch watch, ScriptedCluster cluster, int writes) {
        for (int i = 0; i < 5; i++) {
            await().pollDelay(Duration.ofMillis(20)).until(() -> true); // the write's thread has finished
            watch.run();
        }
        await().pollDelay(Duration.ofMillis(100)).until(() -> true);
        assertThat(cluster.writes.get()).isEqualTo(writes);
    }
}
