package io.switchboard.platform.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A node is judged alive by the expiry it stores with its heartbeat, not by the reader's own
 * cluster.expiry: nodes configured differently agree on who is alive and who may take a lease.
 */
class NodeExpiryTest {
    @TempDir
    Path dir;
    PostgresTestDatabase postgres;
    Store store;

    @AfterEach
    void close() throws Exception {
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private ClusterTable open(String database) throws Exception {
        if (database.equals("sqlite")) {
            store = Store.open(new StoreSettings("jdbc:sqlite:" + dir.resolve("s.db"), null, null));
        } else {
            postgres = PostgresTestDatabase.create();
            store = Store.open(postgres.settings());
        }
        store.migrate("platform");
        return new ClusterTable(store.jdbi(), store.isSqlite());
    }

    /** Makes the node's last heartbeat {@code ageMs} old by the database's clock. */
    private void heartbeatAge(String nodeId, long ageMs, ClusterTable table) {
        store.jdbi().useHandle(h -> h.createUpdate("UPDATE platform_cluster_nodes SET heartbeat_at = " + table.now() + " - :age"
                + " WHERE node_id = :n").bind("age", ageMs).bind("n", nodeId).execute());
    }

    private NodeState state(ClusterTable table, String nodeId, Duration readersExpiry) {
        return table.read("fast", readersExpiry).stream().filter(n -> n.id().equals(nodeId)).findFirst().orElseThrow().state();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aNodeIsJudgedByItsOwnStoredExpiry(String database) throws Exception {
        ClusterTable table = open(database);
        Duration fastExpiry = Duration.ofSeconds(2);
        table.register("fast", "inc-fast", Map.of(), "test", null, Duration.ofMillis(500), fastExpiry);
        table.register("slow", "inc-slow", Map.of(), "test", null, Duration.ofSeconds(5), Duration.ofSeconds(20));
        Leases slow = new Leases(store.jdbi(), store.isSqlite(), "slow", "inc-slow", Duration.ofSeconds(20));
        Leases fast = new Leases(store.jdbi(), store.isSqlite(), "fast", "inc-fast", fastExpiry);
        assertThat(slow.acquire("monitor:web")).isPresent();

        // 5 s without a heartbeat: dead by the fast node's 2 s, alive by the slow node's own 20 s
        heartbeatAge("slow", 5_000, table);
        assertThat(state(table, "slow", fastExpiry)).isEqualTo(NodeState.ALIVE);
        assertThat(fast.acquire("monitor:web")).as("a live holder's lease").isEmpty();
        assertThat(table.heartbeat("slow", "inc-slow", null, Duration.ofSeconds(5), Duration.ofSeconds(20)))
                .isEqualTo(ClusterTable.Beat.RENEWED);

        // past its own expiry it is dead to everyone, and its lease can be taken
        heartbeatAge("slow", 25_000, table);
        assertThat(state(table, "slow", Duration.ofMinutes(1))).isEqualTo(NodeState.DEAD);
        assertThat(fast.acquire("monitor:web")).isPresent();

        // a row from a node of before (no stored expiry) is judged by the reader's own
        store.jdbi().useHandle(h -> h.execute("UPDATE platform_cluster_nodes SET expiry_ms = NULL WHERE node_id = 'slow'"));
        heartbeatAge("slow", 5_000, table);
        assertThat(state(table, "slow", fastExpiry)).isEqualTo(NodeState.DEAD);
        assertThat(state(table, "slow", Duration.ofSeconds(30))).isEqualTo(NodeState.ALIVE);
        List<Long> stored = store.jdbi().withHandle(h -> h.createQuery("SELECT expiry_ms FROM platform_cluster_nodes"
                + " WHERE node_id = 'fast'").mapTo(Long.class).list());
        assertThat(stored).containsExactly(2_000L);
    }
}
