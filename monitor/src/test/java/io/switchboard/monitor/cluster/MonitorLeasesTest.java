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
}
