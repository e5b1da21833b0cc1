package io.switchboard.monitor.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.CheckType;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.support.Defs;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CheckSchedulerTest {
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final MonitorMetrics metrics = new MonitorMetrics(registry);
    final Map<String, List<Long>> lateness = new ConcurrentHashMap<>();
    final AtomicInteger concurrent = new AtomicInteger();
    final AtomicInteger maxConcurrent = new AtomicInteger();
    final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    /** A check that takes {@code slow}'s time for monitors named slow*, and no time otherwise. */
    CheckRunner runner(Duration slow) {
        return new CheckRunner(Clock.systemUTC()).with(CheckType.TCP, monitor -> {
            int now = concurrent.incrementAndGet();
            maxConcurrent.accumulateAndGet(now, Math::max);
            AtomicInteger mine = inFlight.computeIfAbsent(monitor.name(), n -> new AtomicInteger());
            mine.incrementAndGet();
            try {
                if (monitor.name().startsWith("slow")) {
                    Thread.sleep(slow.toMillis());
                }
                return new CheckResult(CheckStatus.UP, Instant.now(), 0, null, List.of(), Map.of());
            } finally {
                concurrent.decrementAndGet();
                mine.decrementAndGet();
            }
        });
    }

    CheckScheduler.ResultSink sink() {
        return (monitor, result, late) -> lateness.computeIfAbsent(monitor.name(), n -> new CopyOnWriteArrayList<>()).add(late);
    }

    static MonitorDefinition tcp(String name, String interval) {
        return Defs.monitor("name: " + name + "\ntype: tcp\ntarget: 127.0.0.1:1\ninterval: " + interval + "\ntimeout: 30s\n");
    }

    @Test
    void aSlowTargetNeverDelaysTheOthers() {
        try (CheckScheduler scheduler = new CheckScheduler(runner(Duration.ofSeconds(3)), sink(), metrics, 100)) {
            scheduler.start();
            for (int i = 0; i < 20; i++) {
                scheduler.schedule(tcp("slow-" + i, "1s"));
            }
            for (int i = 0; i < 50; i++) {
                scheduler.schedule(tcp("fast-" + i, "1s"));
            }
            // all fifty counted: before any fast result arrives, "every fast one has three" holds of none
            await().atMost(Duration.ofSeconds(20)).until(() -> lateness.keySet().stream().filter(n -> n.startsWith("fast"))
                    .filter(n -> lateness.get(n).size() >= 3).count() == 50);
            List<Long> fast = lateness.entrySet().stream().filter(e -> e.getKey().startsWith("fast"))
                    .flatMap(e -> e.getValue().stream()).sorted().toList();
            // every fast check started on time (a loaded 2-core machine gets a generous bound)
            assertThat(fast.get((int) (fast.size() * 0.99) - 1)).isLessThan(500L);
            // the slow ones run one at a time each: their overlapping runs were skipped and counted
            assertThat(registry.get("switchboard.monitor.checks.skipped").counter().count()).isGreaterThan(0);
            assertThat(lateness.keySet().stream().filter(n -> n.startsWith("slow"))
                    .mapToInt(n -> lateness.get(n).size()).max().orElse(0)).isLessThanOrEqualTo(3);
        }
    }

    @Test
    void theConcurrencyBoundHolds() {
        try (CheckScheduler scheduler = new CheckScheduler(runner(Duration.ofMillis(300)), sink(), metrics, 4)) {
            scheduler.start();
            for (int i = 0; i < 30; i++) {
                scheduler.schedule(tcp("slow-" + i, "1s"));
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> lateness.values().stream().mapToInt(List::size).sum() >= 40);
            assertThat(maxConcurrent.get()).isLessThanOrEqualTo(4);
        }
    }

    @Test
    void unscheduledMonitorsStopAndChangedOnesTakeTheirNewInterval() throws Exception {
        try (CheckScheduler scheduler = new CheckScheduler(runner(Duration.ZERO), sink(), metrics, 10)) {
            scheduler.start();
            scheduler.schedule(tcp("a", "1s"));
            scheduler.schedule(tcp("b", "1s"));
            await().atMost(Duration.ofSeconds(10)).until(() -> lateness.containsKey("a") && lateness.containsKey("b"));
            scheduler.unschedule("a");
            scheduler.schedule(tcp("b", "1h"));
            int a = lateness.get("a").size();
            int b = lateness.get("b").size();
            // over two and a half of a's old intervals: no result of a any more (one handed out before the
            // unschedule is dropped, not reported), and b runs once soon on its new schedule, then hourly
            await().pollDelay(Duration.ofMillis(2500)).atMost(Duration.ofSeconds(5)).until(() -> true);
            await().atMost(Duration.ofSeconds(10)).until(() -> inFlight.get("a").get() == 0);
            assertThat(lateness.get("a")).hasSize(a);
            assertThat(lateness.get("b").size()).isLessThanOrEqualTo(b + 1);
            assertThat(scheduler.scheduled()).containsExactly("b");
        }
    }

    @Test
    void aMonitorTakenOverRunsSoonAndThenOncePerInterval() {
        try (CheckScheduler scheduler = new CheckScheduler(runner(Duration.ZERO), sink(), metrics, 10)) {
            scheduler.start();
            scheduler.schedule(tcp("hourly", "1h"));
            scheduler.schedule(tcp("two-seconds", "2s"));
            await().atMost(Duration.ofSeconds(10)).until(() -> lateness.containsKey("two-seconds"));
            // an hourly monitor's first run may be up to an hour away: taken over, it runs within a second
            scheduler.runSoon(java.util.List.of("hourly", "two-seconds", "unknown"));
            await().atMost(Duration.ofSeconds(5)).until(() -> lateness.containsKey("hourly"));
            int before = lateness.get("two-seconds").size();
            // the old chain of due times is replaced, not doubled: about 3 runs in 6 s, not 6
            await().pollDelay(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(8)).until(() -> true);
            assertThat(lateness.get("two-seconds").size() - before).isBetween(2, 4);
            assertThat(lateness.get("hourly")).hasSize(1);
        }
    }

    @Test
    void pausedAndResumedWithinAnIntervalItRunsOncePerIntervalAgain() {
        try (CheckScheduler scheduler = new CheckScheduler(runner(Duration.ZERO), sink(), metrics, 10)) {
            scheduler.start();
            MonitorDefinition a = tcp("a", "2s");
            scheduler.schedule(a);
            await().atMost(Duration.ofSeconds(10)).until(() -> lateness.containsKey("a"));
            // pause and resume (the watcher's unschedule and schedule) well inside one interval, three times
            for (int i = 0; i < 3; i++) {
                scheduler.unschedule("a");
                scheduler.schedule(a);
            }
            // the entries left in the queue by the old schedules are dropped as they come due: one stays
            await().atMost(Duration.ofSeconds(20)).until(() -> scheduler.queued() == 1);
            int before = lateness.get("a").size();
            long begin = System.nanoTime();
            await().pollDelay(Duration.ofSeconds(12)).atMost(Duration.ofSeconds(30)).until(() -> true);
            double intervals = (System.nanoTime() - begin) / 2e9;
            int runs = lateness.get("a").size() - before;
            // once per 2 s interval (plus one for the window's edges); a leftover entry matching the new
            // schedule would give two per interval, for good
            assertThat(runs).isBetween(1, (int) Math.floor(intervals) + 1);
            assertThat(scheduler.queued()).isEqualTo(1);
        }
    }

    @Test
    void aResultOfARemovedMonitorIsDropped() {
        CheckRunner slowRunner = runner(Duration.ofSeconds(2));
        try (CheckScheduler scheduler = new CheckScheduler(slowRunner, sink(), metrics, 10)) {
            scheduler.start();
            scheduler.schedule(tcp("slow-gone", "1s"));
            await().atMost(Duration.ofSeconds(10)).until(() -> inFlight.containsKey("slow-gone") && inFlight.get("slow-gone").get() == 1);
            scheduler.unschedule("slow-gone");
            await().atMost(Duration.ofSeconds(20)).until(() -> inFlight.get("slow-gone").get() == 0);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> !lateness.containsKey("slow-gone"));
        }
    }
}
