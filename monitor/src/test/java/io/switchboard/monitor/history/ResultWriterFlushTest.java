package io.switchboard.monitor.history;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A flush (at a graceful handover, holding the leases' lock) waits for what was queued before it
 * was called, not for the queue to be empty: with results arriving all the time it was never
 * empty, and every handover waited the whole limit.
 */
class ResultWriterFlushTest {
    @TempDir
    Path dir;
    Store store;
    PostgresTestDatabase postgres;
    ResultWriter writer;

    @AfterEach
    void close() throws Exception {
        if (writer != null) {
            writer.close();
        }
        if (store != null) {
            store.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }

    private static ResultWriter.ResultRow row(String monitor, long at) {
        return new ResultWriter.ResultRow(monitor, new CheckResult(CheckStatus.UP, Instant.ofEpochMilli(at), 1, null, List.of(),
                Map.of()), 0, false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sqlite", "postgresql"})
    void flushReturnsOnceTheWritesBeforeItAreWrittenWhileOthersKeepComing(String database) throws Exception {
        if (database.equals("sqlite")) {
            store = Store.open(StoreSettings.sqliteIn(dir));
        } else {
            postgres = PostgresTestDatabase.create();
            store = Store.open(postgres.settings());
        }
        store.migrate("platform");
        store.migrate("monitor");
        writer = new ResultWriter(store.jdbi(), new MonitorMetrics(new SimpleMeterRegistry()), 5_000);
        writer.start();
        for (int i = 0; i < 100; i++) {
            assertThat(writer.submit(row("before", i))).isTrue();
        }
        AtomicBoolean streaming = new AtomicBoolean(true);
        Thread stream = Thread.ofPlatform().start(() -> {
            long at = 0;
            while (streaming.get()) {
                writer.submit(row("after", at++)); // faster than any store: the queue stays full
            }
        });
        try {
            Thread.sleep(300); // the writer is busy with the stream
            long begin = System.nanoTime();
            assertThat(writer.flush(Duration.ofSeconds(5))).isTrue();
            assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(3));
            int before = store.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM monitor_results WHERE monitor = 'before'")
                    .mapTo(Integer.class).one());
            assertThat(before).isEqualTo(100);
        } finally {
            streaming.set(false);
            stream.join();
        }
    }
}
