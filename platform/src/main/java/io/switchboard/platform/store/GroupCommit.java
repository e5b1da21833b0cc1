package io.switchboard.platform.store;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Group commit: callers queue items, and one writer thread takes whatever has queued up (up to
 * {@code maxBatch}) and hands it to {@code commit} as one batch, to be written in one
 * transaction. Under load a burst of thousands of writes costs a handful of commits; idle, a
 * single item is committed at once. SQLite allows one writer, and PostgreSQL gains the same way.
 *
 * <p>The queue is bounded: when the store is down or cannot keep up, {@link #offer} refuses at
 * once and the caller tells its client to retry, instead of memory filling up. {@code commit}
 * completes its items (acknowledges them) only after they are committed; if it throws, the whole
 * batch goes to {@code failed}. Items left when the writer stops go to {@code failed} too.
 *
 * <p>A commit costs the database (and, in a cluster, the announcement of what it changed) much the
 * same whatever its size, so under load the writer waits {@code commitDelay} after taking a batch
 * for more to arrive before committing it, as PostgreSQL's {@code commit_delay} does for its WAL
 * flushes. Under load means that more than one item queued while the previous commit ran: a write
 * that finds the writer idle is committed at once, and the delay falls on writes that had to
 * queue anyway. The wait is one sleep, not a wake-up per arriving item, and {@link #close} cuts it short.
 *
 * @param <T> what is queued, usually a change and the future its caller waits on
 */
public final class GroupCommit<T> implements AutoCloseable {
    private static final long POLL_MILLIS = 200;

    private final BlockingQueue<T> queue;
    private final int maxBatch;
    private final long commitDelayNanos;
    private final Consumer<List<T>> commit;
    private final BiConsumer<List<T>, RuntimeException> failed;
    private final Thread writer;
    private volatile boolean running = true;

    public GroupCommit(String threadName, int capacity, int maxBatch, Consumer<List<T>> commit,
                       BiConsumer<List<T>, RuntimeException> failed) {
        this(threadName, capacity, maxBatch, Duration.ZERO, commit, failed);
    }

    /** As above, waiting up to {@code commitDelay} under load for a fuller batch (zero: never). */
    public GroupCommit(String threadName, int capacity, int maxBatch, Duration commitDelay,
                       Consumer<List<T>> commit, BiConsumer<List<T>, RuntimeException> failed) {
        if (commitDelay.isNegative()) {
            throw new IllegalArgumentException("commitDelay is negative: " + commitDelay);
        }
        this.queue = new ArrayBlockingQueue<>(capacity);
        this.maxBatch = maxBatch;
        this.commitDelayNanos = commitDelay.toNanos();
        this.commit = commit;
        this.failed = failed;
        this.writer = Thread.ofPlatform().name(threadName).daemon().unstarted(this::writeLoop);
    }

    public void start() {
        writer.start();
    }

    /** Queues an item; false when the queue is full or the writer is stopping. */
    public boolean offer(T item) {
        return running && queue.offer(item);
    }

    public int backlog() {
        return queue.size();
    }

    private void writeLoop() {
        List<T> batch = new ArrayList<>(maxBatch);
        while (running || !queue.isEmpty()) {
            try {
                T first = queue.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, maxBatch - 1);
                if (commitDelayNanos > 0 && batch.size() > 1 && batch.size() < maxBatch && running) {
                    // more than one write queued behind the last commit: the writer is busy
                    long end = System.nanoTime() + commitDelayNanos;
                    for (long left = commitDelayNanos; left > 0 && running; left = end - System.nanoTime()) {
                        LockSupport.parkNanos(left); // may return early (spuriously): sleep the rest
                    }
                    queue.drainTo(batch, maxBatch - batch.size());
                }
                commit.accept(batch);
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } catch (RuntimeException e) {
                failed.accept(List.copyOf(batch), e);
            } finally {
                batch.clear();
            }
        }
    }

    /**
     * Stops taking items and commits what is queued, waiting up to five seconds; what is left
     * then goes to {@code failed} with {@code stopping}.
     */
    public void close(RuntimeException stopping) {
        running = false;
        LockSupport.unpark(writer); // out of a commit delay: commit what is queued now
        try {
            writer.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<T> left = new ArrayList<>();
        queue.drainTo(left);
        if (!left.isEmpty()) {
            failed.accept(left, stopping);
        }
    }

    @Override
    public void close() {
        close(new IllegalStateException("the node is stopping"));
    }
}
