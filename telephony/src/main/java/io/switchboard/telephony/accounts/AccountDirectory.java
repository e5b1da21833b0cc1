package io.switchboard.telephony.accounts;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The accounts a running node authenticates against, held in memory so that SIP I/O threads never
 * wait on the database. A poller compares the store's account revision a few times a second and
 * reloads when it moved, so a change made by the CLI or another node is seen within a second; the
 * API and bus announcements call {@link #refresh()} (or {@link #refreshSoon()}) to be quicker still.
 * Readers see an immutable snapshot swapped in one volatile write.
 * <p>
 * A reload that finds an account gone (or removed and added again) tells the removal listener,
 * after the new snapshot is in place, so whatever it ends (bindings, ringing calls) cannot be
 * re-created by a request that authenticated against the old one.
 */
public final class AccountDirectory implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AccountDirectory.class);
    private final io.switchboard.platform.RecurringFailure refreshes = new io.switchboard.platform.RecurringFailure(log,
            "could not refresh accounts from the store", "accounts are read from the store again");

    private final AccountStore store;
    private final String defaultDomain;
    private final Duration pollInterval;
    private final java.util.concurrent.locks.ReentrantLock reloading = new java.util.concurrent.locks.ReentrantLock();
    private volatile Snapshot snapshot = new Snapshot(-1, Map.of(), Set.of());
    private volatile ScheduledExecutorService poller;
    private volatile Consumer<List<Account>> removalListener = removed -> { };

    private record Snapshot(long revision, Map<String, Account> byAddress, Set<String> domains) {
    }

    public AccountDirectory(AccountStore store, String defaultDomain, Duration pollInterval) {
        this.store = store;
        this.defaultDomain = defaultDomain.toLowerCase(Locale.ROOT);
        this.pollInterval = pollInterval;
    }

    public void start() {
        refresh();
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "account-directory");
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

    /** Called with the accounts a reload found removed; runs on the reloading thread, under the reload's lock. */
    public void onRemoved(Consumer<List<Account>> listener) {
        this.removalListener = listener;
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

    public String defaultDomain() {
        return defaultDomain;
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
            Snapshot before = snapshot;
            if (revision == before.revision()) {
                return;
            }
            List<Account> accounts = store.list();
            Map<String, Account> byAddress = new HashMap<>(accounts.size() * 2);
            Set<String> domains = new HashSet<>();
            domains.add(defaultDomain);
            for (Account account : accounts) {
                byAddress.put(account.username() + "@" + account.domain(), account);
                domains.add(account.domain());
            }
            snapshot = new Snapshot(revision, Map.copyOf(byAddress), Set.copyOf(domains));
            log.debug("accounts loaded: {} at revision {}", accounts.size(), revision);
            List<Account> removed = new ArrayList<>();
            for (Account old : before.byAddress().values()) {
                Account now = byAddress.get(old.username() + "@" + old.domain());
                // removed and added again between two reloads: the old account's registrations go too
                if (now == null || !now.createdAt().equals(old.createdAt())) {
                    removed.add(old);
                }
            }
            if (!removed.isEmpty()) {
                log.info("accounts removed: {}", removed.stream().map(Account::address).toList());
                removalListener.accept(removed);
            }
        } finally {
            reloading.unlock();
        }
    }

    /**
     * The account for a user at a host. A host that is one of our domains selects that domain;
     * any other host (the server's IP address, a name devices were configured with) means the
     * default domain, so a door panel pointed at 192.0.2.10 finds its account all the same.
     */
    public Optional<Account> lookup(String username, String host) {
        if (username == null) {
            return Optional.empty();
        }
        Snapshot current = snapshot;
        String domain = host == null ? defaultDomain : host.toLowerCase(Locale.ROOT);
        if (!current.domains().contains(domain)) {
            domain = defaultDomain;
        }
        return Optional.ofNullable(current.byAddress().get(username + "@" + domain));
    }

    /** The domain a host stands for: itself when it is one of ours, else the default domain. */
    public String domainFor(String host) {
        String domain = host == null ? defaultDomain : host.toLowerCase(Locale.ROOT);
        return snapshot.domains().contains(domain) ? domain : defaultDomain;
    }

    public int size() {
        return snapshot.byAddress().size();
    }
}
