package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.store.TcpRelay;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A node whose store goes silent (through a relay the test owns) keeps running: its heartbeats
 * fail without throwing, it counts itself out of the cluster after the expiry (the other node
 * counts it dead and can take its lease), and it is back once the store answers again.
 */
class ClusterStoreOutageTest {
    private static final ClusterSettings FAST = new ClusterSettings(Optional.empty(), Duration.ofMillis(200), Duration.ofSeconds(1));

    @Test
    void aNodeCutOffFromTheStoreCountsItselfOutAndComesBack() throws Exception {
        try (PostgresTestDatabase postgres = PostgresTestDatabase.create();
             TcpRelay relay = new TcpRelay("127.0.0.1", 5432);
             Store direct = Store.open(postgres.settings())) {
            direct.migrate("platform");
            StoreSettings viaRelay = new StoreSettings("jdbc:postgresql://127.0.0.1:" + relay.port() + "/" + postgres.name()
                    + "?socketTimeout=2&loginTimeout=2&connectTimeout=2", "postgres", null);
            LocalBus bus = new LocalBus(new SimpleMeterRegistry());
            SimpleMeterRegistry meters = new SimpleMeterRegistry();
            try (Store cutOff = Store.open(viaRelay)) {
                ClusterMembership a = ClusterMembership.create(FAST, "node-a", "test", cutOff.jdbi(), false, bus, meters);
                ClusterMembership b = ClusterMembership.create(FAST, "node-b", "test", direct.jdbi(), false, bus,
                        new SimpleMeterRegistry());
                a.start();
                b.start();
                try {
                    Lease lease = a.leases().acquire("job").orElseThrow();
                    await().atMost(Duration.ofSeconds(10)).until(() -> b.view().liveIds().size() == 2);

                    relay.goSilent();
                    await().atMost(Duration.ofSeconds(10)).until(() -> !a.inGoodStanding());
                    // the watchdog marks the view even while the heartbeat thread hangs on the silent store
                    await().atMost(Duration.ofSeconds(2)).until(() -> !a.view().selfInGoodStanding());
                    assertThat(a.view().ownsSelf("anything")).isFalse();
                    assertThat(a.view().liveIds()).doesNotContain("node-a");
                    await().atMost(Duration.ofSeconds(10)).until(() ->
                            b.view().node("node-a").map(NodeRecord::state).orElse(null) == NodeState.DEAD);
                    Lease taken = await().atMost(Duration.ofSeconds(10))
                            .until(() -> b.leases().acquire("job"), Optional::isPresent).orElseThrow();
                    assertThat(taken.fence()).isGreaterThan(lease.fence());
                    // the heartbeat in flight fails after the socket timeout (2 s): counted, not thrown
                    await().atMost(Duration.ofSeconds(15)).until(() ->
                            meters.get("switchboard.cluster.heartbeat.failures").counter().count() > 0);
                    assertThat(meters.get("switchboard.cluster.member").gauge().value()).isZero();

                    relay.heal();
                    await().atMost(Duration.ofSeconds(30)).until(a::inGoodStanding);
                    await().atMost(Duration.ofSeconds(10)).until(() -> b.view().liveIds().contains("node-a"));
                    assertThat(a.leases().holds(lease)).isFalse(); // the lease moved on while it was away
                } finally {
                    a.stop();
                    b.stop();
                }
            }
        }
    }
}
