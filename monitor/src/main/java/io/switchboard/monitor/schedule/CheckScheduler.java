package io.switchboard.monitor.schedule;

import io.switchboard.monitor.MonitorMetrics;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckRunner;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs every monitor on its own interval.
 *
 * <p><b>Design.</b> One platform thread owns a priority queue of due times (a binary heap: with
 * 10,000 monitors a check costs about 14 comparisons to reschedule) and sleeps until the earliest.
 * When a check is due it hands it to a new virtual thread and goes straight back to the queue, so
 * the scheduling thread never waits on a check, a socket or the database. The virtual thread takes
 * one of {@code maxConcurrent} permits (the bound on sockets and memory in use at once), runs the
 * check, and passes the result on. Lateness is measured when the check really starts, after the
 * permit: it shows both a busy scheduler and a saturated permit pool.
 *
 * <p><b>Timing.</b> A new monitor's first run is placed at a random point of its first interval,
 * so monitors added together (an import of 10,000) are spread evenly instead of firing at once;
 * after that it runs at fixed rate (due + interval), so lateness does not accumulate into drift.
 * A monitor whose previous check is still running when it is due again is skipped (and counted)
 * rather than run twice at once; one that fell more than an interval behind (the machine was
 * suspended) starts again from now instead of catching up in a burst.
 *
 * <p><b>Changes.</b> {@link #schedule} and {@link #unschedule} may be called from any thread.
 * Every change takes a new generation from one scheduler-wide counter, and a queue entry runs only
 * while its generation is its monitor's current one; older entries are dropped when they come due.
 * Because generations are never reused, an update, a pause and resume, or a delete and re-create
 * within one interval never leaves an old entry that matches the new schedule (a per-monitor
 * counter restarting at 1 did, and the monitor then ran twice per interval for good).
 *
 * <p><b>Removal.</b> A check still running when its monitor is unscheduled finishes, but its
 * result is dropped instead of handed on: a deleted monitor must not come back to life as state,
 * gauges, rows or an incident that nothing would ever close.
 */
public final class CheckScheduler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CheckScheduler.class);
    private static final Duration STOP_WAIT = Duration.ofSeconds(5);

    /** Where results go; called on the check's virtual thread before the monitor may run again. */
    public interface ResultSink {
        void accept(MonitorDefinition monitor, CheckResult result, long latenessMillis);
    }

    private final CheckRunner runner;
    private final ResultSink sink;
    private final MonitorMetrics metrics;
    private final Semaphore permits;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final PriorityQueue<Slot> queue = new PriorityQueue<>((a, b) -> Long.compare(a.due, b.due));
    private final Map<String, Entry> entries = new HashMap<>();
    private final Set<Thread> inFlight = ConcurrentHashMap.newKeySet();
    private final AtomicInteger running = new AtomicInteger();
    private final AtomicLong generations = new AtomicLong();
    private final Thread thread;
    private volatile boolean stopping;
    private volatile java.util.function.Predicate<String> gate = name -> true;

    private record Slot(long due, String name, long generation) {
    }

    private static final class Entry {
        MonitorDefinition monitor;
        long generation;
        final AtomicBoolean busy = new AtomicBoolean();

        Entry(MonitorDefinition monitor) {
            this.monitor = monitor;
        }
    }

    public CheckScheduler(CheckRunner runner, ResultSink sink, MonitorMetrics metrics, int maxConcurrent) {
        this.runner = runner;
        this.sink = sink;
        this.metrics = metrics;
        this.permits = new Semaphore(maxConcurrent);
        this.thread = Thread.ofPlatform().daemon().name("monitor-scheduler").unstarted(this::loop);
    }

    public void start() {
        thread.start();
    }

    /**
     * Runs a due check only when {@code gate} allows it (in a cluster: this node holds the
     * monitor's lease). The gate is asked on the check's virtual thread and may block briefly. Every node keeps every monitor scheduled, so a node that takes a monitor
     * over runs it at its next due time, within one interval, or sooner with {@link #runSoon}.
     */
    public void gate(java.util.function.Predicate<String> gate) {
        this.gate = gate;
    }

    /** Adds a monitor, or applies a changed definition (the next run comes within a second or its interval). */
    public void schedule(MonitorDefinition monitor) {
        lock.lock();
        try {
            Entry entry = entries.get(monitor.name());
            long now = System.nanoTime();
            long first;
            if (entry == null) {
                entry = new Entry(monitor);
                entries.put(monitor.name(), entry);
                first = now + ThreadLocalRandom.current().nextLong(Math.max(1, monitor.interval().toNanos()));
            } else if (entry.monitor.equals(monitor)) {
                return;
            } else {
                entry.monitor = monitor;
                long soon = Math.min(monitor.interval().toNanos(), TimeUnit.SECONDS.toNanos(1));
                first = now + ThreadLocalRandom.current().nextLong(Math.max(1, soon));
            }
            entry.generation = generations.incrementAndGet();
            queue.add(new Slot(first, monitor.name(), entry.generation));
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs these monitors' checks soon (within a second or their interval, spread) and at their
     * interval from then on: for a node that just took monitors over from one that died, whose
     * next due times could otherwise be almost an interval away although the last check is
     * already overdue. A new generation replaces the monitor's chain of due times, so it is not
     * checked twice per interval afterwards. A monitor whose check is running is left as it is.
     */
    public void runSoon(java.util.Collection<String> names) {
        lock.lock();
        try {
            long now = System.nanoTime();
            for (String name : names) {
                Entry entry = entries.get(name);
                if (entry == null || entry.busy.get()) {
                    continue;
                }
                long soon = Math.min(entry.monitor.interval().toNanos(), TimeUnit.SECONDS.toNanos(1));
                entry.generation = generations.incrementAndGet();
                queue.add(new Slot(now + ThreadLocalRandom.current().nextLong(Math.max(1, soon)), name, entry.generation));
            }
            changed.signal();
        } finally {
            lock.unlock();
        }
    }

    public void unschedule(String name) {
        lock.lock();
        try {
            entries.remove(name);
            // its queue entries are dropped when they come due
        } finally {
            lock.unlock();
        }
    }

    public Set<String> scheduled() {
        lock.lock();
        try {
            return Set.copyOf(entries.keySet());
        } finally {
            lock.unlock();
        }
    }

    /** Due-time entries in the queue, stale ones included until they come due (tests). */
    int queued() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** True while {@code entry} is still the schedule of its monitor (not unscheduled or replaced by a removal). */
    private boolean isCurrent(String name, Entry entry) {
        lock.lock();
        try {
            return entries.get(name) == entry;
        } finally {
            lock.unlock();
        }
    }

    public int size() {
        lock.lock();
        try {
            return entries.size();
        } finally {
            lock.unlock();
        }
    }

    public int running() {
        return running.get();
    }

    public boolean isRunning() {
        return thread.isAlive() && !stopping;
    }

    private void loop() {
        List<Slot> due = new ArrayList<>();
        List<Entry> dueEntries = new ArrayList<>();
        while (!stopping) {
            lock.lock();
            try {
                Slot head = queue.peek();
                long now = System.nanoTime();
                if (head == null) {
                    changed.await();
                    continue;
                }
                if (head.due > now) {
                    changed.awaitNanos(head.due - now);
                    continue;
                }
                while ((head = queue.peek()) != null && head.due <= now) {
                    queue.poll();
                    Entry entry = entries.get(head.name);
                    if (entry == null || entry.generation != head.generation) {
                        continue;
                    }
                    long interval = entry.monitor.interval().toNanos();
                    long next = head.due + interval;
                    if (next <= now - interval) {
                        next = now + ThreadLocalRandom.current().nextLong(Math.max(1, interval));
                    }
                    queue.add(new Slot(next, head.name, head.generation));
                    due.add(head);
                    dueEntries.add(entry);
                }
            } catch (InterruptedException e) {
                if (stopping) {
                    break;
                }
            } finally {
                lock.unlock();
            }
            for (int i = 0; i < due.size(); i++) {
                dispatch(dueEntries.get(i), due.get(i).due);
            }
            due.clear();
            dueEntries.clear();
        }
    }

    private void dispatch(Entry entry, long dueNanos) {
        if (!entry.busy.compareAndSet(false, true)) {
            metrics.skipped();
            return;
        }
        MonitorDefinition monitor = entry.monitor;
        try {
            Thread.ofVirtual().name("check-" + monitor.name()).start(() -> run(entry, monitor, dueNanos));
        } catch (RuntimeException e) {
            entry.busy.set(false);
            log.error("cannot start the check of {}: {}", monitor.name(), e.toString());
        }
    }

    private void run(Entry entry, MonitorDefinition monitor, long dueNanos) {
        inFlight.add(Thread.currentThread());
        try {
            if (!gate.test(monitor.name())) {
                return; // on this virtual thread: the gate may ask the store
            }
            CheckResult result;
            long latenessNanos;
            permits.acquire();
            running.incrementAndGet();
            try {
                latenessNanos = System.nanoTime() - dueNanos;
                metrics.lateness(latenessNanos);
                result = runner.run(monitor);
            } finally {
                running.decrementAndGet();
                permits.release();
            }
            if (isCurrent(monitor.name(), entry)) {
                sink.accept(monitor, result, Math.max(0, latenessNanos / 1_000_000));
            }
        } catch (InterruptedException e) {
            // stopping
        } catch (RuntimeException e) {
            log.error("handling the result of {} failed", monitor.name(), e);
        } finally {
            entry.busy.set(false);
            inFlight.remove(Thread.currentThread());
        }
    }

    /** Stops scheduling; checks in flight get a few seconds to finish, then are interrupted. */
    @Override
    public void close() {
        stopping = true;
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(STOP_WAIT.toMillis());
            long deadline = System.nanoTime() + STOP_WAIT.toNanos();
            while (!inFlight.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            inFlight.forEach(Thread::interrupt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
