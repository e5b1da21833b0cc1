package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.cluster.ClusterMembership;
import io.switchboard.platform.cluster.ClusterSettings;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A gained monitor's lease is published only once the tracker has adopted it. */
class MonitorLeasesTest {
    @TempDir
    Path dir;
    private Store store;
    private ClusterMembership membership;
    private MonitorLeases leases;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("monitor");
        membership = ClusterMembership.create(new ClusterSettings(Optional.empty(), Duration.ofSeconds(1), Duration.ofSeconds(30)),
                "node-a", "test", store.jdbi(), store.isSqlite(), new LocalBus(new SimpleMeterRegistry()), new SimpleMeterRegistry());
        membership.start();
    }

    @AfterEach
    void close() {
        if (leases != null) {
            leases.close();
        }
        membership.stop();
        store.close();
    }

    @Test
    void aLeaseIsNotPublishedBeforeItsMonitorIsAdopted() {
        leases = new MonitorLeases(membership, () -> Set.of("web", "db"), Set.of());
        Map<String, Optional<Lease>> seenWhileAdopting = new ConcurrentHashMap<>();
        leases.onChange(names -> names.forEach(n -> seenWhileAdopting.put(n, leases.lease(n))), names -> { });
        leases.start();

        assertThat(seenWhileAdopting).containsOnlyKeys("web", "db");
        assertThat(seenWhileAdopting.values()).allMatch(Optional::isEmpty);
        assertThat(leases.lease("web")).isPresent();
        assertThat(leases.lease("db")).isPresent();
    }

    @Test
    void aFailedAdoptionPublishesNothingAndIsRetriedUnderTheSameFence() {
        leases = new MonitorLeases(membership, () -> Set.of("web"), Set.of());
        AtomicBoolean fail = new AtomicBoolean(true);
        List<String> adopted = new java.util.concurrent.CopyOnWriteArrayList<>();
        leases.onChange(names -> {
            if (fail.get()) {
                throw new IllegalStateException("store unreachable");
            }
            adopted.addAll(names);
        }, names -> { });
        assertThatThrownBy(leases::refresh).hasMessageContaining("store unreachable");
        assertThat(leases.lease("web")).isEmpty();
        Long fence = store.jdbi().withHandle(h -> h.createQuery("SELECT fence FROM platform_leases WHERE name = 'monitor:web'")
                .mapTo(Long.class).one());

        fail.set(false);
        leases.refresh();
        assertThat(adopted).containsExactly("web");
        assertThat(leases.lease("web")).map(Lease::fence).contains(fence);
    }

    @Test
    void resultsAcceptedBeforeAGracefulHandoverAreWrittenBeforeTheLeaseIsLetGo() throws Exception {
        Set<String> catalog = ConcurrentHashMap.newKeySet();
        catalog.add("web");
        leases = new MonitorLeases(membership, () -> Set.copyOf(catalog), Set.of());
        leases.start();
        Lease lease = leases.lease("web").orElseThrow();

        // a store slower than the checks: the writer's first batch waits until the test lets it go
        io.switchboard.monitor.MonitorMetrics metrics = new io.switchboard.monitor.MonitorMetrics(
                new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
        java.util.concurrent.CountDownLatch slowStore = new java.util.concurrent.CountDownLatch(1);
        io.switchboard.monitor.history.ResultWriter writer = new io.switchboard.monitor.history.ResultWriter(store.jdbi(), metrics, 100);
        writer.fenceWith((h, l) -> {
            try {
                slowStore.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return leases.holds(h, l);
        });
        leases.onHandingOver(names -> {
            try {
                writer.flush(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        writer.start();
        java.time.Instant at = java.time.Instant.parse("2026-01-01T00:00:00Z");
        for (int i = 0; i < 3; i++) {
            writer.submit(new io.switchboard.monitor.history.ResultWriter.ResultRow("web",
                    io.switchboard.monitor.check.CheckResult.down(at.plusSeconds(i), 1, "refused", List.of(), Map.of()), 0, true, lease));
        }

        // the monitor goes elsewhere (here: out of the catalog) while those wait
        catalog.remove("web");
        Thread handover = Thread.ofVirtual().start(leases::refresh);
        Thread.sleep(300);
        slowStore.countDown();
        handover.join(Duration.ofSeconds(15));
        writer.close();

        long stored = store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM monitor_results WHERE monitor = 'web'")
                .mapTo(Long.class).one());
        assertThat(stored).as("results accepted under the lease").isEqualTo(3);
        assertThat(metrics.resultsDroppedTotal()).isZero();
        String holder = store.jdbi().withHandle(h -> h.createQuery("SELECT holder FROM platform_leases WHERE name = 'monitor:web'")
                .mapTo(String.class).findOne().orElse(null));
        assertThat(holder).as("let go after the writes").isNull();
        assertThat(leases.lease("web")).isEmpty();
    }
}
