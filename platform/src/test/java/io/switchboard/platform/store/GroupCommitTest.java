package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GroupCommitTest {
    @Test
    void whatQueuesUpWhileACommitRunsGoesIntoTheNextBatch() throws Exception {
        List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        Semaphore entered = new Semaphore(0);
        Object gate = new Object();
        GroupCommit<Integer> writer = new GroupCommit<>("test-writer", 100, 50, batch -> {
            entered.release();
            synchronized (gate) {
                batches.add(List.copyOf(batch));
            }
        }, (batch, e) -> { });
        writer.start();
        synchronized (gate) {
            assertThat(writer.offer(0)).isTrue();
            assertThat(entered.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            // the writer is now blocked committing [0]; these pile up behind it
            for (int i = 1; i <= 10; i++) {
                writer.offer(i);
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> batches.size() == 2);
        assertThat(batches.get(0)).containsExactly(0);
        assertThat(batches.get(1)).containsExactly(1, 2, 3, 4, 5, 6, 7, 8, 9, 10);
        writer.close();
    }

    @Test
    void underLoadTheWriterWaitsForAFullerBatchButALoneWriteGoesAtOnce() throws Exception {
        List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        List<Integer> failed = Collections.synchronizedList(new ArrayList<>());
        Semaphore entered = new Semaphore(0);
        Object gate = new Object();
        Duration delay = Duration.ofSeconds(1);
        GroupCommit<Integer> writer = new GroupCommit<>("test-writer", 100, 50, delay, batch -> {
            entered.release();
            synchronized (gate) {
                batches.add(List.copyOf(batch));
            }
        }, (batch, e) -> failed.addAll(batch));
        writer.start();

        // two writes queue behind a commit: the writer is busy, so it waits for more
        synchronized (gate) {
            writer.offer(0);
            assertThat(entered.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            writer.offer(1);
            writer.offer(2);
        }
        Thread.sleep(delay.dividedBy(5).toMillis());
        writer.offer(3);
        await().atMost(Duration.ofSeconds(10)).until(() -> batches.size() == 2);
        assertThat(batches).containsExactly(List.of(0), List.of(1, 2, 3));

        // a write that finds the writer idle is committed without waiting for company
        long start = System.nanoTime();
        writer.offer(4);
        await().atMost(Duration.ofSeconds(10)).until(() -> batches.size() == 3);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(delay.dividedBy(2));
        assertThat(batches.get(2)).containsExactly(4);

        // stopping cuts a delay short and still commits what was taken
        synchronized (gate) {
            entered.drainPermits();
            writer.offer(5);
            assertThat(entered.tryAcquire(10, TimeUnit.SECONDS)).isTrue();
            writer.offer(6);
            writer.offer(7);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> batches.size() == 4 && writer.backlog() == 0);
        start = System.nanoTime();
        writer.close();
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(delay.dividedBy(2));
        assertThat(batches).last().isEqualTo(List.of(6, 7));
        assertThat(failed).isEmpty();
    }

    @Test
    void aFailedBatchAndWhatIsLeftAtCloseGoToFailed() {
        List<Integer> failed = Collections.synchronizedList(new ArrayList<>());
        GroupCommit<Integer> writer = new GroupCommit<>("test-writer", 3, 10, batch -> {
            throw new IllegalStateException("database down");
        }, (batch, e) -> failed.addAll(batch));
        writer.start();
        writer.offer(1);
        await().atMost(Duration.ofSeconds(10)).until(() -> failed.contains(1));
        writer.close();
        assertThat(writer.offer(2)).isFalse();

        GroupCommit<Integer> neverStarted = new GroupCommit<>("idle-writer", 2, 10, batch -> { }, (batch, e) -> failed.addAll(batch));
        assertThat(neverStarted.offer(7)).isTrue();
        assertThat(neverStarted.offer(8)).isTrue();
        assertThat(neverStarted.offer(9)).isFalse();
        neverStarted.close();
        assertThat(failed).contains(7, 8);
    }
}
