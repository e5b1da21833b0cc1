package io.switchboard.chat.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class MessageWriterPostgresTest extends MessageWriterContract {
    private PostgresTestDatabase database;

    @Override
    Store openStore() throws Exception {
        database = PostgresTestDatabase.create();
        return Store.open(database.settings());
    }

    @Override
    void dropStore() throws Exception {
        if (database != null) {
            database.close();
        }
    }

    /**
     * Two nodes (two pools, two writers) store batches that hold the same chats in opposite
     * orders at the same moment. Each numbering update locks its chat's row until the commit, so
     * unless both take the rows in one order they deadlock, and PostgreSQL aborts one batch after
     * {@code deadlock_timeout}. PostgreSQL's own count of deadlocks in the database must not move.
     */
    @Test
    void crossingBatchesOfTwoNodesNeverDeadlock() throws Exception {
        List<String> chatIds = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            chatIds.add(chats.create("anna", List.of("boris"), "group " + i, null, null).chat().id());
        }
        long deadlocksBefore = deadlocks();
        Store otherNode = Store.open(database.settings());
        MessageWriter first = new MessageWriter(store.jdbi(), Clock.systemUTC(), 100, committed::addAll);
        MessageWriter second = new MessageWriter(otherNode.jdbi(), Clock.systemUTC(), 100, committed::addAll);
        ExecutorService nodes = Executors.newFixedThreadPool(2);
        List<CompletableFuture<MessageWriter.Sent>> all = new ArrayList<>();
        long began = System.nanoTime();
        try {
            int rounds = 6;
            CyclicBarrier together = new CyclicBarrier(2);
            for (int round = 0; round < rounds; round++) {
                List<MessageWriter.Send> forward = batch(chatIds, "anna", round, all);
                List<MessageWriter.Send> backward = batch(chatIds.reversed(), "boris", round, all);
                Future<?> a = nodes.submit(() -> {
                    together.await();
                    first.store(forward);
                    return null;
                });
                Future<?> b = nodes.submit(() -> {
                    together.await();
                    second.store(backward);
                    return null;
                });
                a.get(30, TimeUnit.SECONDS);
                b.get(30, TimeUnit.SECONDS);
            }
            for (CompletableFuture<MessageWriter.Sent> sent : all) {
                assertThat(sent.get(1, TimeUnit.SECONDS).replayed()).isFalse();
            }
        } finally {
            nodes.shutdownNow();
            otherNode.close();
        }
        long elapsedMillis = (System.nanoTime() - began) / 1_000_000;
        // every chat got every message, numbered without gaps
        for (String chat : chatIds) {
            assertThat(chats.lastSeq(chat)).hasValue(12L);
        }
        // Pools' backends report their statistics when they end: close ours too, then read the count.
        store.close();
        long after = deadlocks();
        for (int i = 0; i < 20 && after == deadlocksBefore; i++) {
            Thread.sleep(100);
            after = deadlocks();
        }
        assertThat(after).as("deadlocks PostgreSQL counted in %s", database.name()).isEqualTo(deadlocksBefore);
        store = Store.open(database.settings());
        // A deadlock costs deadlock_timeout (1 s) per round; without any, the rounds take a fraction of that.
        assertThat(elapsedMillis).isLessThan(5_000);
    }

    private static List<MessageWriter.Send> batch(List<String> chatIds, String sender, int round,
                                                  List<CompletableFuture<MessageWriter.Sent>> all) {
        List<MessageWriter.Send> batch = new ArrayList<>();
        for (String chat : chatIds) {
            CompletableFuture<MessageWriter.Sent> done = new CompletableFuture<>();
            all.add(done);
            batch.add(new MessageWriter.Send(chat, sender, sender + " " + round, null, "h", done));
        }
        return batch;
    }

    private long deadlocks() throws Exception {
        try (Connection c = DriverManager.getConnection(database.settings().url(), database.settings().user(), null);
             ResultSet rs = c.createStatement().executeQuery(
                     "select deadlocks from pg_stat_database where datname = current_database()")) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
