package io.switchboard.platform.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;

class GroupCommitTest {
    @Test
    void whatQueuesUpWhileACommitRunsGoesIntoTheNextBatch() throws Exception {
        List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        Object gate = new Object();
        GroupCommit<Integer> writer = new GroupCommit<>("test-writer", 100, 50, batch -> {
            synchronized (gate) {
                batches.add(List.copyOf(batch));
            }
        }, (batch, e) -> { });
        writer.start();
        synchronized (gate) {
            assertThat(writer.offer(0)).isTrue();
            await().atMost(Duration.ofSeconds(10)).until(() -> writer.backlog() == 0);
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
