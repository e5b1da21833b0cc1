package io.switchboard.telephony.numbers;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The numbers a running node routes by, held in memory so SIP threads never wait on the database.
 * Works like {@code AccountDirectory}: a poller compares {@link NumberStore#revision()} a few times
 * a second and reloads when it moved, so a change made by the CLI or another node is seen within a
 * second (the API and bus announcements reload at once, see {@code DirectoryUpdates}); readers see
 * an immutable snapshot swapped in one volatile write.
 */
public final class NumberDirectory implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NumberDirectory.class);
    private final io.switchboard.platform.RecurringFailure refreshes = new io.switchboard.platform.RecurringFailure(log,
            "could not refresh numbers from the store", "numbers are read from the store again");

    private final NumberStore store;
    private final Duration pollInterval;
    private final java.util.concurrent.locks.ReentrantLock reloading = new java.util.concurrent.locks.ReentrantLock();
    private volatile Snapshot snapshot = new Snapshot(-1, Map.of());
    private volatile ScheduledExecutorService poller;

    private record Snapshot(long revision, Map<String, RingGroup> byAddress) {
    }

    public NumberDirectory(NumberStore store, Duration pollInterval) {
        this.store = store;
        this.pollInterval = pollInterval;
    }

    public void start() {
        refresh();
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "number-directory");
            t.setDaemon(true);
            return t;
        });
        long every = pollInterval.toMillis();
        poller.scheduleWithFixedDelay(this::refreshQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        if (poller != null) {
            poller.shutdownNow();
        }
    }

    /** Reloads soon on the poller's thread (for bus handlers, which must not wait on the store). */
    public void refreshSoon() {
        ScheduledExecutorService executor = poller;
        if (executor != null) {
            try {
                executor.execute(this::refreshQuietly);
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                // closing: nothing left to keep current
            }
        }
    }

    private void refreshQuietly() {
        try {
            refresh();
            refreshes.succeeded();
        } catch (RuntimeException e) {
            refreshes.failed(e); // once, while the store is away: not at every poll
        }
    }

    /** Reloads when the store's revision differs from the one in memory. */
    public void refresh() {
        // A lock, not synchronized: API calls reload on virtual threads, and this holds the lock
        // across JDBC (and, for accounts, the removal listener's wait for the store), which would
        // pin their carrier thread inside a monitor on JDK 21-23.
        reloading.lock();
        try {
            long revision = store.revision();
            if (revision == snapshot.revision()) {
                return;
            }
            List<NumberEntry> entries = store.list();
            Map<String, RingGroup> byAddress = new HashMap<>(entries.size() * 2);
            for (NumberEntry entry : entries) {
                byAddress.put(entry.group().address(), entry.group());
            }
            snapshot = new Snapshot(revision, Map.copyOf(byAddress));
            log.debug("numbers loaded: {} at revision {}", entries.size(), revision);
        } finally {
            reloading.unlock();
        }
    }

    /**
     * The ring group a dialed user part names in a domain (one of the node's domains, as the
     * account directory resolves it). Numbers compare case-sensitively like SIP user parts
     * (RFC 3261 §19.1.4); domains do not.
     */
    public Optional<RingGroup> lookup(String number, String domain) {
        if (number == null || domain == null) {
            return Optional.empty();
        }
        return Optional.ofNullable(snapshot.byAddress().get(number + "@" + domain.toLowerCase(Locale.ROOT)));
    }

    public int size() {
        return snapshot.byAddress().size();
    }
}
