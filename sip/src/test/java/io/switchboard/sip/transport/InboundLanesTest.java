package io.switchboard.sip.transport;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

class InboundLanesTest {
    private static final long MS = 1_000_000L;
    private InboundLanes lanes;

    @AfterEach
    void stop() {
        if (lanes != null) {
            lanes.stop(2000);
        }
    }

    @Test
    void tasksOfOneKeyRunInOrderOnOneLaneAndKeysSpreadOverLanes() throws Exception {
        lanes = new InboundLanes(4, 100_000, "test-lane");
        Map<Long, List<Integer>> seen = new ConcurrentHashMap<>();
        Map<Long, Integer> laneOfKey = new ConcurrentHashMap<>();
        List<String> wrongLane = new CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(64 * 500);
        for (int i = 0; i < 500; i++) {
            for (long key = 0; key < 64; key++) {
                int seq = i;
                long k = key;
                assertThat(lanes.offer(key, () -> {
                    seen.computeIfAbsent(k, x -> new CopyOnWriteArrayList<>()).add(seq);
                    int lane = InboundLanes.currentLane();
                    if (laneOfKey.computeIfAbsent(k, x -> lane) != lane || lane != lanes.laneOf(k)) {
                        wrongLane.add(k + " on " + lane);
                    }
                    done.countDown();
                })).isTrue();
            }
        }
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(wrongLane).isEmpty();
        for (List<Integer> order : seen.values()) {
            assertThat(order).isSorted().hasSize(500);
        }
        assertThat(laneOfKey.values()).containsOnly(0, 1, 2, 3).contains(0, 1, 2, 3);
        assertThat(InboundLanes.currentLane()).as("not a lane thread").isEqualTo(-1);
    }

    @Test
    void aMessageThatFailsOrOverflowsTheStackLeavesItsLaneRunning() throws Exception {
        lanes = new InboundLanes(1, 100, "test-lane");
        CountDownLatch after = new CountDownLatch(1);
        assertThat(lanes.offer(7, () -> {
            throw new IllegalStateException("a bad message");
        })).isTrue();
        assertThat(lanes.offer(7, InboundLanesTest::recurse)).isTrue();
        assertThat(lanes.offer(7, after::countDown)).isTrue();
        assertThat(after.await(10, TimeUnit.SECONDS)).as("the lane still takes work").isTrue();
    }

    private static int recurse() {
        return recurse() + 1;
    }

    @Test
    void aFullLaneRefusesAndTheOthersGoOn() throws Exception {
        lanes = new InboundLanes(2, 2, "test-lane");
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch holding = new CountDownLatch(1);
        assertThat(lanes.offer(0, () -> {
            holding.countDown();
            try {
                release.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })).isTrue();
        assertThat(holding.await(2, TimeUnit.SECONDS)).isTrue();
        AtomicInteger ran = new AtomicInteger();
        assertThat(lanes.offer(2, ran::incrementAndGet)).isTrue();
        assertThat(lanes.offer(4, ran::incrementAndGet)).isTrue();
        assertThat(lanes.offer(6, ran::incrementAndGet)).as("lane 0 holds two already").isFalse();
        CountDownLatch other = new CountDownLatch(1);
        assertThat(lanes.offer(1, other::countDown)).isTrue();
        assertThat(other.await(2, TimeUnit.SECONDS)).as("lane 1 is not held up by lane 0").isTrue();
        assertThat(lanes.queued()).isEqualTo(2);
        release.countDown();
        org.awaitility.Awaitility.await().atMost(2, TimeUnit.SECONDS).until(() -> ran.get() == 2);
        lanes.stop(2000);
        assertThat(lanes.offer(1, ran::incrementAndGet)).as("stopped lanes take nothing").isFalse();
        lanes = null;
    }

    @Test
    void aLaneIsBehindOnlyWhenItsDelayStaysAboveTheTargetForAnInterval() throws Exception {
        lanes = new InboundLanes(1, 16, "test-lane");
        List<Boolean> answers = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        long t = 1_000_000_000_000L;
        lanes.offer(0, () -> {
            // (readAt, now) pairs: a burst that waits 200 ms, under the interval, is not behind
            answers.add(InboundLanes.behind(t, t + 200 * MS));
            answers.add(InboundLanes.behind(t + 100 * MS, t + 300 * MS));
            answers.add(InboundLanes.behind(t + 350 * MS, t + 360 * MS)); // under the target: over
            // above the target from 400 ms on, for 300 ms: behind from then on
            answers.add(InboundLanes.behind(t + 200 * MS, t + 400 * MS));
            answers.add(InboundLanes.behind(t + 500 * MS, t + 699 * MS));
            answers.add(InboundLanes.behind(t + 520 * MS, t + 700 * MS));
            answers.add(InboundLanes.behind(t + 600 * MS, t + 760 * MS));
            answers.add(InboundLanes.behind(t + 700 * MS, t + 710 * MS)); // caught up
            answers.add(InboundLanes.behind(t + 700 * MS, t + 860 * MS));
            // one wait past the limit is behind at once
            answers.add(InboundLanes.behind(t + 400 * MS, t + 900 * MS));
            done.countDown();
        });
        assertThat(done.await(2, TimeUnit.SECONDS)).isTrue();
        assertThat(answers).containsExactly(false, false, false, false, false, true, true, false, false, true);
        // off the lanes only the limit applies
        assertThat(InboundLanes.behind(t, t + 399 * MS)).isFalse();
        assertThat(InboundLanes.behind(t, t + 401 * MS)).isTrue();
    }
}
