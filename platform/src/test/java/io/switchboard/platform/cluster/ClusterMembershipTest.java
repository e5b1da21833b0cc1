package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership and leases of several nodes sharing one store, on SQLite and PostgreSQL, with short
 * heartbeats (100 ms) and expiry (600 ms) so that expiry is seen quickly.
 */
class ClusterMembershipTest {
    private static final ClusterSettings FAST = new ClusterSettings(Optional.empty(), Duration.ofMillis(100), Duration.ofMillis(600));

    @TempDir
    Path dir;
    private PostgresTestDatabase postgres;
    private Store store;
    private final LocalBus bus = new LocalBus(new SimpleMeterRegistry());
    private final List<ClusterMembership> started = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (ClusterMembership membership : started) {
            membership.stop();
        }
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private void open(String database) throws Exception {
        store = switch (database) {
            case "sqlite" -> Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("switchboard.db"), null, null));
            default -> {
                postgres = PostgresTestDatabase.create();
                yield Store.open(postgres.settings());
            }
        };
        store.migrate("platform");
    }

    private ClusterMembership member(String id) {
        return member(id, null);
    }

    /** A member started from the data directory {@code home} names (null: none, as the platform's own tests). */
    private ClusterMembership member(String id, DataDirClaim home) {
        ClusterMembership membership = ClusterMembership.create(FAST, id, "test", store.jdbi(), store.isSqlite(), bus,
                new SimpleMeterRegistry(), home);
        membership.advertise("http", () -> "127.0.0.1:80" + id.length());
        membership.start();
        started.add(membership);
        return membership;
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void nodesSeeEachOtherJoinLeaveAndExpire(String database) throws Exception {
        open(database);
        ClusterMembership a = member("node-a");
        List<ClusterView> seenByA = new CopyOnWriteArrayList<>();
        a.onChange(seenByA::add);
        assertThat(a.view().liveIds()).containsExactly("node-a");
        assertThat(a.view().ownsSelf("anything")).isTrue(); // a cluster of one owns every key

        ClusterMembership b = member("node-b");
        ClusterMembership c = member("node-c");
        await().atMost(Duration.ofSeconds(10)).until(() -> a.view().liveIds().size() == 3);
        await().atMost(Duration.ofSeconds(10)).until(() -> b.view().liveIds().size() == 3 && c.view().liveIds().size() == 3);
        NodeRecord fromA = a.view().node("node-b").orElseThrow();
        assertThat(fromA.addresses()).containsEntry("http", "127.0.0.1:806");
        assertThat(fromA.version()).isEqualTo("test");
        assertThat(fromA.self()).isFalse();
        assertThat(a.view().node("node-a").orElseThrow().self()).isTrue();
        assertThat(seenByA).isNotEmpty();
        for (int i = 0; i < 100; i++) {
            String key = "monitor-" + i;
            assertThat(a.view().owner(key)).isEqualTo(b.view().owner(key)).isEqualTo(c.view().owner(key));
        }

        // b stops heartbeating without leaving (a pause): it counts itself out, and the others count it dead
        b.pauseHeartbeats(true);
        await().atMost(Duration.ofSeconds(10)).until(() -> !b.inGoodStanding() && !b.view().liveIds().contains("node-b"));
        await().atMost(Duration.ofSeconds(10)).until(() ->
                a.view().node("node-b").map(NodeRecord::state).orElse(null) == NodeState.DEAD);
        assertThat(a.view().liveIds()).containsExactly("node-a", "node-c");
        b.pauseHeartbeats(false);
        await().atMost(Duration.ofSeconds(10)).until(() -> b.inGoodStanding() && a.view().liveIds().contains("node-b"));

        // c stops gracefully: left at once, no waiting for the expiry
        c.stop();
        started.remove(c);
        await().atMost(Duration.ofMillis(FAST.expiry().toMillis() - 50)).until(() ->
                a.view().node("node-c").map(NodeRecord::state).orElse(null) == NodeState.LEFT);

        // the CLI's reading of the table agrees
        List<NodeRecord> table = new ClusterTable(store.jdbi(), store.isSqlite()).read(null, FAST.expiry());
        assertThat(table).extracting(NodeRecord::id).containsExactly("node-a", "node-b", "node-c");
        assertThat(table).extracting(NodeRecord::state).containsExactly(NodeState.ALIVE, NodeState.ALIVE, NodeState.LEFT);
    }

    /**
     * Two stores, one bus: node-x, on a store of its own, is a stranger to node-a and node-b (one
     * store), and they to it; each side learns it, though node-x started last and so heard no one
     * announce, and nobody counts a node of its own store. The view itself is not touched.
     */
    @org.junit.jupiter.api.Test
    void aNodeOnTheBusButInAnotherStoreIsNamedAStrangerOnBothSides() throws Exception {
        open("sqlite");
        ClusterMembership a = member("node-a");
        ClusterMembership b = member("node-b");
        await().atMost(Duration.ofSeconds(10)).until(() -> a.view().liveIds().size() == 2);
        try (Store other = Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("other.db"), null, null))) {
            other.migrate("platform");
            io.micrometer.core.instrument.simple.SimpleMeterRegistry meters = new io.micrometer.core.instrument.simple.SimpleMeterRegistry();
            ClusterMembership x = ClusterMembership.create(FAST, "node-x", "test", other.jdbi(), true, bus, meters);
            x.start();
            started.add(x);
            await().atMost(Duration.ofSeconds(10)).until(() -> a.strangers().containsKey("node-x")
                    && b.strangers().containsKey("node-x") && x.strangers().keySet().containsAll(List.of("node-a", "node-b")));
            assertThat(meters.get("switchboard.cluster.strangers").gauge().value()).isEqualTo(2.0);
            assertThat(a.strangers()).containsOnlyKeys("node-x");
            assertThat(b.strangers()).containsOnlyKeys("node-x");
            assertThat(a.view().liveIds()).containsExactly("node-a", "node-b");
            assertThat(x.view().liveIds()).containsExactly("node-x");
            // a stranger that leaves is forgotten at once, and checks or reports of it made before
            // (a second's re-reading, a present announcement every 1.5 s here) do not bring it back
            bus.publish(ClusterMembership.TOPIC, new ClusterAnnouncement("node-x", x.incarnationId(), "present"));
            x.stop(); // while the others' second reading after that announcement is still to come
            started.remove(x);
            await().atMost(Duration.ofSeconds(5)).until(() -> a.strangers().isEmpty() && b.strangers().isEmpty());
            Thread.sleep(2_500);
            assertThat(a.strangers()).isEmpty();
            assertThat(b.strangers()).isEmpty();
        }
    }

    /**
     * A node heard before its row is readable (a row lost in a database failover, written again at
     * the node's next heartbeat) is not a stranger: the table is read once more before judging.
     */
    @org.junit.jupiter.api.Test
    void aNodeWhoseRowAppearsSoonAfterItWasHeardIsNoStranger() throws Exception {
        open("sqlite");
        try (var membershipLog = io.switchboard.platform.testing.CapturedLog.of(ClusterMembership.class)) {
            ClusterMembership a = member("node-a");
            bus.publish(ClusterMembership.TOPIC, new ClusterAnnouncement("node-z", "incarnation-z", "joined"));
            ClusterMembership z = member("node-z");
            await().atMost(Duration.ofSeconds(10)).until(() -> a.view().liveIds().contains("node-z"));
            // past the second reading (a second) and a present announcement of each (1.5 s at these heartbeats)
            Thread.sleep(2_500);
            assertThat(a.strangers()).isEmpty();
            assertThat(z.strangers()).isEmpty();
            assertThat(membershipLog.messagesAt(ch.qos.logback.classic.Level.ERROR)).isEmpty();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aSecondProcessUnderTheSameIdDisplacesTheFirstForGood(String database) throws Exception {
        open(database);
        ClusterMembership first = member("node-x");
        ClusterMembership second = member("node-x");
        // the node reads this to fail its readiness, so balancers and keepalived take it out too
        await().atMost(Duration.ofSeconds(10)).until(first::displaced);
        assertThat(first.inGoodStanding()).isFalse();
        assertThat(second.displaced()).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(second::inGoodStanding);
    }

    /**
     * A second process given the id of a live node from another data directory refuses to start
     * (it used to take the row and knock the healthy node out); one started from the node's own
     * data directory, which node.lock lets only one process hold, is that node restarted after a
     * kill -9 and starts at once. Once the row's heartbeat is past its expiry, the id is free.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aLiveNodesIdIsRefusedFromAnotherDataDirectoryAndTakenAtOnceFromItsOwn(String database) throws Exception {
        open(database);
        DataDirClaim home = new DataDirClaim("0f3c9a6e-1111-4000-8000-000000000001", "/srv/sb-b", "door-1");
        ClusterMembership first = member("node-y", home);
        for (DataDirClaim other : List.of(
                new DataDirClaim("0f3c9a6e-2222-4000-8000-000000000002", "/srv/sb-c", "door-1"),
                // a copy of the data directory (its id file with it) elsewhere is another data directory too
                new DataDirClaim(home.id(), "/srv/sb-b-copy", "door-1"),
                // and so is one restored at the same path on another machine (a cloned VM)
                new DataDirClaim(home.id(), "/srv/sb-b", "door-2"))) {
            ClusterMembership intruder = ClusterMembership.create(FAST, "node-y", "test", store.jdbi(), store.isSqlite(), bus,
                    new SimpleMeterRegistry(), other);
            assertThatThrownBy(intruder::start).isInstanceOf(io.switchboard.platform.config.ConfigException.class)
                    .hasMessageStartingWith("cluster.nodeId: node node-y is alive in this store")
                    .hasMessageContaining("from /srv/sb-b on door-1")
                    .hasMessageContaining("give each node its own cluster.nodeId");
        }
        Thread.sleep(FAST.heartbeat().toMillis() * 4);
        assertThat(first.displaced()).isFalse();
        assertThat(first.inGoodStanding()).isTrue();

        // kill -9 (heartbeats stop, the row is not marked left) and a restart from the same data directory
        first.pauseHeartbeats(true);
        ClusterMembership restarted = member("node-y", home);
        assertThat(restarted.inGoodStanding()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> restarted.view().liveIds().contains("node-y"));

        // a holder that stopped heartbeating a moment ago (a crash on another machine): a node from
        // elsewhere waits until that row is stale instead of refusing, then takes the id
        restarted.pauseHeartbeats(true);
        long before = System.nanoTime();
        ClusterMembership moved = member("node-y", new DataDirClaim("0f3c9a6e-3333-4000-8000-000000000003", "/srv/new", "door-2"));
        assertThat(moved.inGoodStanding()).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - before)).as("waited for the row's expiry")
                .isGreaterThanOrEqualTo(FAST.expiry().minus(FAST.heartbeat()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aLeaseIsFencedOnceItsHolderStopsHeartbeating(String database) throws Exception {
        open(database);
        ClusterMembership a = member("node-a");
        ClusterMembership b = member("node-b");
        Lease held = a.leases().acquire("job").orElseThrow();
        assertThat(a.leases().acquire("job")).contains(held); // holding again costs no new fence
        assertThat(b.leases().acquire("job")).isEmpty();      // a live holder keeps it
        assertThat(a.leases().holds(held)).isTrue();

        a.pauseHeartbeats(true);
        // once a's heartbeat is older than the expiry by the database's clock, a's writes are refused in SQL
        await().atMost(Duration.ofSeconds(10)).until(() -> !a.leases().holds(held));
        Lease taken = await().atMost(Duration.ofSeconds(10)).until(() -> b.leases().acquire("job"), Optional::isPresent).orElseThrow();
        assertThat(taken.fence()).isGreaterThan(held.fence());

        // a comes back: its old fence stays refused, and b's holding stands
        a.pauseHeartbeats(false);
        await().atMost(Duration.ofSeconds(10)).until(a::inGoodStanding);
        assertThat(a.leases().holds(held)).isFalse();
        assertThat(a.leases().acquire("job")).isEmpty();
        assertThat(b.leases().holds(taken)).isTrue();

        // a graceful handover: released, the next taker gets it at once with a higher fence
        b.leases().release(taken);
        Lease back = a.leases().acquire("job").orElseThrow();
        assertThat(back.fence()).isGreaterThan(taken.fence());

        // a node that leaves gives up its leases with its membership
        a.stop();
        started.remove(a);
        assertThat(b.leases().acquire("job")).map(Lease::fence).contains(back.fence() + 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite"})
    void aSecondProcessUnderTheSameIdDisplacesTheFirst(String database) throws Exception {
        open(database);
        ClusterMembership first = member("same");
        await().atMost(Duration.ofSeconds(5)).until(first::inGoodStanding);
        ClusterMembership second = member("same");
        await().atMost(Duration.ofSeconds(10)).until(() -> !first.inGoodStanding());
        assertThat(second.inGoodStanding()).isTrue();
        assertThat(second.view().liveIds()).containsExactly("same");
    }

    /**
     * A heartbeat in flight while the node stops (its store call outlasting stop()'s wait) finds
     * the row marked left by this incarnation: that is final, the node must not register again.
     * The leave is made here behind the running node's back, as the stop's leave would land.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aRowMarkedLeftByThisIncarnationIsNeverRegisteredAgain(String database) throws Exception {
        open(database);
        ClusterMembership a = member("node-a");
        ClusterMembership b = member("node-b");
        await().atMost(Duration.ofSeconds(10)).until(() -> a.inGoodStanding() && b.view().liveIds().contains("node-a"));
        ClusterTable table = new ClusterTable(store.jdbi(), store.isSqlite());
        assertThat(table.leave("node-a", a.incarnationId())).isTrue();

        await().atMost(Duration.ofSeconds(10)).until(() -> !a.inGoodStanding());
        // well past several heartbeats and an expiry: still left, never back
        await().pollDelay(Duration.ofMillis(FAST.expiry().toMillis() * 2)).atMost(Duration.ofSeconds(10)).until(() -> true);
        assertThat(table.read(null, FAST.expiry())).filteredOn(n -> n.id().equals("node-a"))
                .extracting(NodeRecord::state).containsExactly(NodeState.LEFT);
        assertThat(b.view().node("node-a").map(NodeRecord::state)).contains(NodeState.LEFT);
        assertThat(a.inGoodStanding()).isFalse();
    }
}
