package io.switchboard.monitor.cluster;

import io.switchboard.platform.cluster.Cluster;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.Lease;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which monitors this node checks, in a cluster: those it owns by rendezvous hashing over the
 * live nodes ({@link ClusterView#ownsSelf}) and holds the lease of ({@code monitor:<name>} in
 * {@code platform_leases}). Also the named leases of periodic jobs ({@code monitor.job:<name>}),
 * owned the same way, so retention and folding run on one node.
 *
 * <p>{@link #refresh()} runs at start, at every change of the cluster view or of the catalog, and
 * every heartbeat (to pick up leases a departing holder has not let go of yet). It lets go of what
 * this node no longer owns (a graceful handover: released in the store, so the new owner takes it
 * at its next refresh rather than after the expiry), forgets everything at once when this node
 * is out of good standing (it cannot release: the store is unreachable or it was paused), and
 * acquires what it owns but does not hold, in one transaction for all of them. Gaining and losing
 * are reported to the tracker, which loads the monitor's state and open incident from the store
 * on gaining and forgets them on losing.
 *
 * <p>Holding costs no writes (see {@link io.switchboard.platform.cluster.Leases}); every write made
 * for a monitor carries the lease it was made under and is checked against it in its own
 * transaction ({@link #holds(Handle, Lease)}).
 */
public final class MonitorLeases implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MonitorLeases.class);
    static final String MONITOR_PREFIX = "monitor:";
    static final String JOB_PREFIX = "monitor.job:";

    private final Cluster cluster;
    private final Supplier<Set<String>> monitors;
    private final Set<String> jobs;
    private final Map<String, Lease> held = new ConcurrentHashMap<>();
    private final Map<String, Lease> heldJobs = new ConcurrentHashMap<>();
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("monitor-leases").factory());
    private volatile Consumer<Collection<String>> gained = names -> { };
    private volatile Consumer<Collection<String>> lost = names -> { };
    private volatile Consumer<Collection<String>> taken = names -> { };
    private volatile Consumer<Collection<String>> handingOver = names -> { };
    /** Whether a refresh in good standing has run: monitors gained after it are taken over, not started with. */
    private boolean refreshedOnce;
    private AutoCloseable viewSubscription;
    /** At most one on-demand refresh per this long, so checks due while a handover is pending do not each ask the store. */
    private static final long ON_DEMAND_GAP_NANOS = TimeUnit.MILLISECONDS.toNanos(250);
    private volatile long lastOnDemand = System.nanoTime() - ON_DEMAND_GAP_NANOS;
    private final java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();

    /**
     * @param monitors the names of the monitors in the catalog now
     * @param jobs     names of periodic jobs that run on one node
     */
    public MonitorLeases(Cluster cluster, Supplier<Set<String>> monitors, Set<String> jobs) {
        this.cluster = cluster;
        this.monitors = monitors;
        this.jobs = Set.copyOf(jobs);
    }

    /**
     * Whom to tell of monitors taken over after this node's first refresh (from a node that died,
     * left or handed them over), once they are loaded and held: their checks may be overdue. Not
     * for the first refresh, whose monitors keep the schedule's spread.
     */
    public void onTakenOver(Consumer<Collection<String>> taken) {
        this.taken = taken;
    }

    /**
     * Whom to tell, on the lease thread, of monitors about to be handed over gracefully: they no
     * longer count as held (no new result is accepted under them) but their leases are still this
     * node's, so what was accepted under them can still be written, fenced, before they are let
     * go. Returns when that is done (or its bound passed: later writes are refused by the fence).
     */
    public void onHandingOver(Consumer<Collection<String>> handingOver) {
        this.handingOver = handingOver;
    }

    /** Whom to tell of monitors gained (load their state) and lost (forget it); called on the lease thread. */
    public void onChange(Consumer<Collection<String>> gained, Consumer<Collection<String>> lost) {
        this.gained = gained;
        this.lost = lost;
    }

    /** Takes the leases this node owns now, then follows the view. */
    public void start() {
        refresh();
        viewSubscription = cluster.onChange(view -> refreshSoon());
        long every = cluster.heartbeat().toMillis();
        thread.scheduleWithFixedDelay(this::refreshQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    /** Re-judges ownership off the caller's thread (the catalog or the view changed). */
    public void refreshSoon() {
        try {
            thread.execute(this::refreshQuietly);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing
        }
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            log.warn("monitor leases: refresh failed (retried at the next heartbeat): {}", e.toString());
        }
    }

    /** Lets go of what is no longer this node's, takes what is. */
    public void refresh() {
        // A lock, not synchronized: refresh blocks on the store and may run on virtual threads.
        lock.lock();
        try {
            refreshLocked();
        } finally {
            lock.unlock();
        }
    }

    private void refreshLocked() {
        ClusterView view = cluster.view();
        boolean standing = cluster.inGoodStanding() && view.selfInGoodStanding();
        Set<String> catalog = monitors.get();
        List<String> lostNow = new ArrayList<>();
        List<Lease> toRelease = new ArrayList<>();
        for (Map.Entry<String, Lease> entry : Map.copyOf(held).entrySet()) {
            String name = entry.getKey();
            if (standing && catalog.contains(name) && view.ownsSelf(MONITOR_PREFIX + name)) {
                continue;
            }
            held.remove(name);
            lostNow.add(name);
            if (standing) {
                toRelease.add(entry.getValue());
            }
        }
        if (!toRelease.isEmpty()) {
            // A graceful handover: results already accepted under these leases are written first,
            // while the leases still hold; released before, the fence would refuse them all.
            try {
                handingOver.accept(List.copyOf(lostNow));
            } catch (RuntimeException e) {
                log.warn("monitor leases: writing what was accepted before a handover failed: {}", e.toString());
            }
            toRelease.forEach(this::release);
        }
        for (Map.Entry<String, Lease> entry : Map.copyOf(heldJobs).entrySet()) {
            if (!standing || !view.ownsSelf(JOB_PREFIX + entry.getKey())) {
                heldJobs.remove(entry.getKey());
                if (standing) {
                    release(entry.getValue());
                }
            }
        }
        if (!lostNow.isEmpty()) {
            // a monitor deleted from the catalogue lets its lease go too: that is no news about the cluster
            long moved = standing ? lostNow.stream().filter(catalog::contains).count() : lostNow.size();
            if (moved > 0) {
                log.info("monitor leases: {} monitors handed over or lost ({})", moved,
                        standing ? "the cluster changed" : "this node is out of the cluster");
            }
            lost.accept(lostNow);
        }
        if (!standing) {
            return;
        }
        Set<String> wanted = new TreeSet<>();
        for (String name : catalog) {
            if (!held.containsKey(name) && view.ownsSelf(MONITOR_PREFIX + name)) {
                wanted.add(MONITOR_PREFIX + name);
            }
        }
        for (String job : jobs) {
            if (!heldJobs.containsKey(job) && view.ownsSelf(JOB_PREFIX + job)) {
                wanted.add(JOB_PREFIX + job);
            }
        }
        if (wanted.isEmpty()) {
            refreshedOnce = true;
            return;
        }
        List<Lease> got = cluster.leases().acquireAll(wanted);
        Map<String, Lease> gainedNow = new java.util.LinkedHashMap<>();
        for (Lease lease : got) {
            if (lease.name().startsWith(MONITOR_PREFIX)) {
                gainedNow.put(lease.name().substring(MONITOR_PREFIX.length()), lease);
            } else {
                heldJobs.put(lease.name().substring(JOB_PREFIX.length()), lease);
            }
        }
        if (!gainedNow.isEmpty()) {
            // Adopted first, published after: until the tracker has loaded a monitor's stored state
            // and open incident, lease(name) stays empty and a check finishing meanwhile is not
            // counted, so it cannot start from an empty state that the adoption then overwrites. If
            // adopting fails, nothing is published; the next refresh acquires (the same fence) and
            // adopts again.
            gained.accept(List.copyOf(gainedNow.keySet()));
            held.putAll(gainedNow);
            log.info("monitor leases: took {} monitors (now holding {})", gainedNow.size(), held.size());
            if (refreshedOnce) {
                taken.accept(List.copyOf(gainedNow.keySet()));
            }
        }
        refreshedOnce = true;
    }

    private void release(Lease lease) {
        try {
            cluster.leases().release(lease);
        } catch (RuntimeException e) {
            log.debug("releasing {} failed (it expires with this node's membership): {}", lease.name(), e.toString());
        }
    }

    /** The lease this node checks {@code monitor} under, if it does (and is in good standing). */
    public Optional<Lease> lease(String monitor) {
        Lease lease = held.get(monitor);
        return lease != null && cluster.inGoodStanding() ? Optional.of(lease) : Optional.empty();
    }

    /**
     * Whether this node runs {@code monitor}'s checks now. A monitor this node owns but holds no
     * lease of yet (just added, or just handed over) is acquired here and now, so its first due
     * check is not lost waiting for the next refresh; blocks on the store, so call it off the
     * scheduler's thread.
     */
    public boolean runsHere(String monitor) {
        if (lease(monitor).isPresent()) {
            return true;
        }
        if (!cluster.inGoodStanding() || !cluster.view().ownsSelf(MONITOR_PREFIX + monitor)) {
            return false;
        }
        long now = System.nanoTime();
        long last = lastOnDemand;
        if (now - last < ON_DEMAND_GAP_NANOS) {
            return false; // another check asked a moment ago; a holder that has not let go yet is asked again later
        }
        lastOnDemand = now;
        try {
            refresh();
        } catch (RuntimeException e) {
            log.debug("monitor leases: taking {} failed: {}", monitor, e.toString());
        }
        return lease(monitor).isPresent();
    }

    /** The lease of periodic job {@code job}, if this node runs it now. */
    public Optional<Lease> job(String job) {
        Lease lease = heldJobs.get(job);
        return lease != null && cluster.inGoodStanding() ? Optional.of(lease) : Optional.empty();
    }

    /** Whether {@code lease} still holds, checked in the caller's transaction (see {@code Leases.holds}). */
    public boolean holds(Handle h, Lease lease) {
        return cluster.leases().holds(h, lease);
    }

    /** How many monitors this node holds. */
    public int heldCount() {
        return held.size();
    }

    /** Lets go of every lease (a graceful stop: the others take over at once). */
    @Override
    public void close() {
        thread.shutdownNow();
        if (viewSubscription != null) {
            try {
                viewSubscription.close();
            } catch (Exception e) {
                log.debug("closing the view subscription: {}", e.toString());
            }
        }
        lock.lock();
        try {
            held.clear();
            heldJobs.clear();
            try {
                cluster.leases().releaseAll(MONITOR_PREFIX);
                cluster.leases().releaseAll(JOB_PREFIX);
            } catch (RuntimeException e) {
                log.debug("releasing monitor leases failed (they expire with this node's membership): {}", e.toString());
            }
        } finally {
            lock.unlock();
        }
    }
}
