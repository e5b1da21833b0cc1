package io.switchboard.monitor.concurrent;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Work in order per key: items submitted under one key are handled one batch at a time, in the
 * order they came, on a virtual thread of that key's lane; different keys never wait for each
 * other. Used for a monitor's announcements (a recovery is never prepared before the DOWN it ends)
 * and a channel's deliveries (a slow channel delays only itself).
 *
 * <p><b>Design.</b> A lane is a queue and at most one draining thread. Everything that changes a
 * lane happens inside {@link ConcurrentHashMap#compute} for its key, so "append, and start a drainer
 * if none runs" and "take the next batch, or remove the lane when it is empty" are atomic with
 * respect to each other: there is never a second drainer for a key, and a lane with nothing to do
 * is gone from the map, so the map holds only keys with work (monitors and channels that were
 * removed leave nothing behind).
 *
 * <p><b>Caveats.</b> Each lane holds at most {@code capacity} waiting items; {@link #submit}
 * refuses beyond that (and after {@link #close}), and the caller must say what was not done. The
 * handler runs on the lane's thread and may block; a handler that never returns stalls its key.
 *
 * @param <T> what is queued
 */
public final class KeyedLanes<T> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KeyedLanes.class);

    /** Handles a batch taken from one lane, in submission order. */
    public interface Handler<T> {
        void handle(String key, List<T> batch);
    }

    private static final class Lane<T> {
        final ArrayDeque<T> waiting = new ArrayDeque<>();
    }

    private final String name;
    private final int capacity;
    private final int maxBatch;
    private final Handler<T> handler;
    private final ConcurrentHashMap<String, Lane<T>> lanes = new ConcurrentHashMap<>();
    private final Set<Thread> drainers = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /**
     * @param name     thread names are {@code name-KEY}
     * @param capacity items waiting per key, at most
     * @param maxBatch items handed to the handler at once (1: one by one)
     */
    public KeyedLanes(String name, int capacity, int maxBatch, Handler<T> handler) {
        if (capacity < 1 || maxBatch < 1) {
            throw new IllegalArgumentException("capacity and maxBatch must be at least 1");
        }
        this.name = name;
        this.capacity = capacity;
        this.maxBatch = maxBatch;
        this.handler = handler;
    }

    public int capacity() {
        return capacity;
    }

    /** Queues the item on its key's lane; false when that lane is full or the lanes are closed. Never blocks. */
    public boolean submit(String key, T item) {
        if (closed) {
            return false;
        }
        boolean[] accepted = {false};
        boolean[] startDrainer = {false};
        lanes.compute(key, (k, lane) -> {
            Lane<T> l = lane == null ? new Lane<>() : lane;
            if (l.waiting.size() >= capacity) {
                return l;
            }
            l.waiting.add(item);
            accepted[0] = true;
            // a new lane has no drainer; an existing one has (it removes the lane before it stops)
            startDrainer[0] = lane == null;
            return l;
        });
        if (startDrainer[0]) {
            Thread.ofVirtual().name(name + "-" + key).start(() -> drain(key));
        }
        return accepted[0];
    }

    /** Items waiting on a key's lane (not counting the batch being handled). */
    public int waiting(String key) {
        Lane<T> lane = lanes.get(key);
        if (lane == null) {
            return 0;
        }
        int[] n = {0};
        lanes.computeIfPresent(key, (k, l) -> {
            n[0] = l.waiting.size();
            return l;
        });
        return n[0];
    }

    /** Items waiting on every lane (not counting the batches being handled). */
    public int waiting() {
        int total = 0;
        for (String key : lanes.keySet()) {
            total += waiting(key);
        }
        return total;
    }

    /** Keys with a lane right now: those with work waiting or being handled. */
    public int lanes() {
        return lanes.size();
    }

    private void drain(String key) {
        Thread self = Thread.currentThread();
        drainers.add(self);
        try {
            while (true) {
                List<T> batch = new ArrayList<>();
                lanes.compute(key, (k, lane) -> {
                    if (lane == null) {
                        return null;
                    }
                    while (batch.size() < maxBatch && !lane.waiting.isEmpty()) {
                        batch.add(lane.waiting.poll());
                    }
                    return batch.isEmpty() ? null : lane;
                });
                if (batch.isEmpty()) {
                    return;
                }
                try {
                    handler.handle(key, batch);
                } catch (RuntimeException e) {
                    log.error("{} lane {}: handling {} item(s) failed", name, key, batch.size(), e);
                }
                if (Thread.interrupted() && closed) {
                    Lane<T> left = lanes.remove(key);
                    if (left != null && !left.waiting.isEmpty()) {
                        log.warn("{} lane {}: {} item(s) not handled: the node is stopping", name, key, left.waiting.size());
                    }
                    return;
                }
            }
        } finally {
            drainers.remove(self);
        }
    }

    /** Refuses new items; lets the lanes finish what they hold for up to {@code wait}, then interrupts them. */
    public void close(long wait, TimeUnit unit) {
        closed = true;
        long deadline = System.nanoTime() + unit.toNanos(wait);
        try {
            while ((!lanes.isEmpty() || !drainers.isEmpty()) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        drainers.forEach(Thread::interrupt);
        // an interrupted task still records how it ended (a notification claim's outcome): a
        // little longer for that, so it is written before the store closes
        long recordDeadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        try {
            while (!drainers.isEmpty() && System.nanoTime() < recordDeadline) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        close(5, TimeUnit.SECONDS);
    }
}
