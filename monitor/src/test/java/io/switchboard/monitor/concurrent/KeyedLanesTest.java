package io.switchboard.monitor.concurrent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class KeyedLanesTest {
    @Test
    void itemsOfAKeyKeepTheirOrderAndIdleLanesAreGone() {
        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        try (KeyedLanes<Integer> lanes = new KeyedLanes<>("test", 10_000, 1,
                (key, batch) -> seen.computeIfAbsent(key, k -> new CopyOnWriteArrayList<>()).addAll(batch))) {
            for (int i = 0; i < 1000; i++) {
                for (String key : List.of("a", "b", "c")) {
                    assertThat(lanes.submit(key, i)).isTrue();
                }
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> seen.values().stream().mapToInt(List::size).sum() == 3000);
            for (String key : List.of("a", "b", "c")) {
                assertThat(seen.get(key)).isSorted().hasSize(1000);
            }
            // nothing left waiting: the map holds no lane for any key
            await().atMost(Duration.ofSeconds(10)).until(() -> lanes.lanes() == 0);
        }
    }

    @Test
    void aFullLaneRefusesAndOtherKeysGoOn() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<String> handled = new CopyOnWriteArrayList<>();
        KeyedLanes<String> lanes = new KeyedLanes<>("test", 2, 1, (key, batch) -> {
            if (key.equals("stuck")) {
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            handled.addAll(batch);
        });
        assertThat(lanes.submit("stuck", "s1")).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> lanes.waiting("stuck") == 0); // s1 is being handled
        assertThat(lanes.submit("stuck", "s2")).isTrue();
        assertThat(lanes.submit("stuck", "s3")).isTrue();
        assertThat(lanes.submit("stuck", "s4")).isFalse();
        assertThat(lanes.submit("free", "f1")).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> handled.contains("f1"));
        release.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> handled.containsAll(List.of("s1", "s2", "s3")));
        lanes.close();
        assertThat(lanes.submit("free", "f2")).isFalse();
    }

    @Test
    void batchesTakeWhatWaited() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        List<List<Integer>> batches = new CopyOnWriteArrayList<>();
        try (KeyedLanes<Integer> lanes = new KeyedLanes<>("test", 100, 50, (key, batch) -> {
            batches.add(batch);
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })) {
            lanes.submit("k", 0);
            await().atMost(Duration.ofSeconds(10)).until(() -> batches.size() == 1);
            for (int i = 1; i <= 70; i++) {
                lanes.submit("k", i);
            }
            release.countDown();
            await().atMost(Duration.ofSeconds(10)).until(() -> batches.stream().mapToInt(List::size).sum() == 71);
            assertThat(batches).extracting(List::size).containsExactly(1, 50, 20);
        }
    }
}
