package io.switchboard.monitor.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.history.ResultWriter;
import io.switchboard.platform.cluster.ClusterTable;
import io.switchboard.platform.cluster.Lease;
import io.switchboard.platform.cluster.Leases;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL a result batch share-locks the lease rows it is written under, and a takeover
 * locks lease rows in name order. A batch that checked its leases in queue order (B, then A)
 * against a takeover holding A and wanting B would deadlock; checked in name order it waits.
 */
class LeaseLockOrderPostgresTest {
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

    private long deadlocks(Jdbi jdbi) {
        return jdbi.withHandle(h -> {
            h.execute("SELECT pg_stat_clear_snapshot()");
            return h.createQuery("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").mapTo(Long.class).one();
        });
    }

    @Test
    void aBatchChecksItsLeasesInTheTakeoversOrderSoTheyCannotDeadlock() throws Exception {
        postgres = PostgresTestDatabase.create();
        store = Store.open(postgres.settings());
        store.migrate("platform");
        store.migrate("monitor");
        Jdbi jdbi = store.jdbi();
        new ClusterTable(jdbi, false).register("node-a", "inc-a", Map.of(), "test", null, Duration.ofSeconds(1), Duration.ofSeconds(30));
        Leases leases = new Leases(jdbi, false, "node-a", "inc-a", Duration.ofSeconds(30));
        Lease a = leases.acquire("monitor:a").orElseThrow();
        Lease b = leases.acquire("monitor:b").orElseThrow();
        MonitorMetrics metrics = new MonitorMetrics(new SimpleMeterRegistry());
        ResultWriter writer = new ResultWriter(jdbi, metrics, 10);
        writer.fenceWith(leases::holds);
        Instant at = Instant.parse("2026-01-01T00:00:00Z");
        // queued B first: one batch
        writer.submit(new ResultWriter.ResultRow("b", CheckResult.down(at, 1, "refused", List.of(), Map.of()), 0, true, b));
        writer.submit(new ResultWriter.ResultRow("a", CheckResult.down(at, 1, "refused", List.of(), Map.of()), 0, true, a));
        long deadlocksBefore = deadlocks(jdbi);

        Throwable takeoverFailed = null;
        try (Handle takeover = jdbi.open()) {
            takeover.begin();
            // a takeover in name order has locked A ...
            takeover.execute("UPDATE platform_leases SET acquired_at = acquired_at WHERE name = 'monitor:a'");
            writer.start();
            // the batch is now waiting for A (and, in queue order, would hold B): PostgreSQL shows its lock not granted
            await().atMost(Duration.ofSeconds(10)).until(() -> jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM pg_locks l"
                    + " JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()")
                    .mapTo(Long.class).one()) > 0);
            try {
                // ... and now wants B
                takeover.execute("SET LOCAL lock_timeout = '5s'");
                takeover.execute("UPDATE platform_leases SET acquired_at = acquired_at WHERE name = 'monitor:b'");
                takeover.commit();
            } catch (RuntimeException e) {
                takeoverFailed = e;
                takeover.rollback();
            }
        }
        assertThat(writer.flush(Duration.ofSeconds(20))).isTrue();
        writer.close();

        assertThat(takeoverFailed).as("the takeover went through").isNull();
        Thread.sleep(1_000); // statistics are published shortly after a transaction ends
        assertThat(deadlocks(jdbi)).as("deadlocks on PostgreSQL").isEqualTo(deadlocksBefore);
        long rows = jdbi.withHandle(h -> h.createQuery("SELECT COUNT(*) FROM monitor_results").mapTo(Long.class).one());
        assertThat(rows).isEqualTo(2);
    }
}
