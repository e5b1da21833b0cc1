package io.switchboard.platform.cluster;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.lifecycle.Component;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's membership of the cluster, kept in the shared store ({@code platform_cluster_nodes}).
 *
 * <p><b>Heartbeat.</b> On start the node writes its row (id, a new incarnation, addresses,
 * version, start time) and then renews {@code heartbeat_at} every {@code cluster.heartbeat} on a
 * thread of its own, reading the whole table back in the same beat to build the {@link ClusterView}.
 * Every time is the database's ({@link ClusterTable}); a node is dead to the others when its last
 * heartbeat is older than ITS {@code cluster.expiry} by the database's clock: each heartbeat
 * writes the node's own expiry into its row, so nodes configured differently still agree.
 *
 * <p><b>Standing.</b> A heartbeat that fails (store outage) is logged and counted, never thrown.
 * The node measures, on its own monotonic clock, the time since it <em>sent</em> its last
 * heartbeat that got through; the database stamped that heartbeat no earlier, so once this time
 * passes the expiry the others may count the node dead, and it counts itself out
 * ({@link #inGoodStanding()} false, a view without it as owner) until a heartbeat gets through
 * again. A separate watchdog thread checks this every quarter heartbeat, because the heartbeat
 * thread itself may be stuck in a database call. Leases do not rely on this alone: their writes
 * check membership in SQL ({@link Leases}).
 *
 * <p><b>Bus.</b> Joins, published addresses and graceful leaves are announced on {@value #TOPIC}; a
 * node that hears one re-reads the view at once. A graceful stop marks the row left before the bus closes, so the
 * others move its work without waiting for the expiry.
 *
 * <p><b>Strangers.</b> A node that announces itself on the bus but has no row in this node's store
 * is on another database while sharing the bus exchange: a mistyped {@code store.url}, or two
 * clusters given one {@code bus.exchange}. Each would apply the other's events (bindings, chat
 * messages) against a store that has none of their data. So every node also announces itself
 * every {@value #PRESENT_EVERY_BEATS} heartbeats, or every {@link #PRESENT_AT_MOST} when that is
 * sooner ({@code present}), while its own heartbeats get through, and a node that hears of an id
 * its view lacks reads the table {@link #strangerRecheck} later (a joining node's row is there by
 * then, and a row lost in a database failover is written again at the node's next heartbeat: a
 * row of this store never makes a stranger). Still absent, the node is a stranger: an error in the log (once per
 * incarnation), {@code switchboard_cluster_strangers}, {@code GET /api/v1/cluster}, and a report on
 * {@value #STRANGERS_TOPIC}, so the other side, which may never hear this node announce itself,
 * learns the same of it. A stranger is forgotten when its row appears, when it says it left, or
 * {@link #STRANGER_KEPT} after it was last heard. Neither side stops serving: which one is
 * misconfigured is not for a node to tell. Two clusters that use the same node ids each find a
 * row under the other's ids and see no stranger.
 */
public final class ClusterMembership implements Cluster, Component {
    private static final Logger log = LoggerFactory.getLogger(ClusterMembership.class);
    public static final String TOPIC = "cluster.members";
    public static final String STRANGERS_TOPIC = "cluster.strangers";
    /** Strangers remembered (and errors logged once per incarnation) at most: they are a handful or a mistake. */
    private static final int MAX_STRANGERS = 1_000;
    /** The longest a starting node waits to see whether the live-looking holder of its id is alive. */
    private static final java.time.Duration MAX_WAIT_FOR_HOLDER = java.time.Duration.ofSeconds(60);
    /** How often (in heartbeats) a node announces that it is still here, for strangers to be noticed. */
    static final int PRESENT_EVERY_BEATS = 15;
    /** ... but at least this often, whatever the heartbeat: a stranger is kept for three of these. */
    static final Duration PRESENT_AT_MOST = Duration.ofSeconds(30);
    /** A stranger not heard for this long (three of its {@code present} announcements) is forgotten. */
    static final Duration STRANGER_KEPT = PRESENT_AT_MOST.multipliedBy(3);
    /** Rows of nodes not heard of for this long are deleted. */
    static final Duration PRUNE_AFTER = Duration.ofHours(1);
    private static final int PRUNE_EVERY_BEATS = 150;

    private final ClusterSettings settings;
    private final String nodeId;
    private final String incarnation;
    private final String version;
    private final ClusterTable table;
    /** The data directory this node runs from, written into its row; null in the platform's own tests. */
    private final DataDirClaim home;
    private final Leases leases;
    private final Bus bus;
    private final Map<String, Supplier<Object>> addresses = new LinkedHashMap<>();
    private final List<Consumer<ClusterView>> listeners = new CopyOnWriteArrayList<>();
    private final Counter heartbeatFailures;
    private final ScheduledExecutorService beats = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("cluster-heartbeat").factory());
    private final ScheduledExecutorService watchdog = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("cluster-watchdog").factory());
    private volatile ClusterView view;
    /** System.nanoTime() when the last heartbeat that got through was sent; 0: none yet. */
    private volatile long lastRenewedSent;
    private volatile boolean displaced;
    private volatile boolean heartbeatFailing;
    private volatile boolean paused;
    private volatile boolean stopped;
    /**
     * Held around re-registering and around leaving, so that a heartbeat in flight when stop()
     * gives up waiting for it cannot register the node again after it left.
     */
    private final Object rejoin = new Object();
    private long beatsSincePrune;
    private long beatsSincePresent;
    private AutoCloseable subscription;
    private AutoCloseable strangerReports;
    /** Nodes heard on the bus with no row in this store: id to when last heard (epoch ms, this node's clock). */
    private final Map<String, Long> strangers = new java.util.concurrent.ConcurrentHashMap<>();
    /** Each stranger's incarnation its error was logged for: once per start of it, not at every hearing. */
    private final Map<String, String> strangersLogged = new java.util.concurrent.ConcurrentHashMap<>();
    /**
     * Strangers that said they left, by id to that incarnation: a check still scheduled from an
     * earlier hearing (or a report of theirs still on its way) must not bring them back.
     */
    private final Map<String, String> strangersLeft = new java.util.concurrent.ConcurrentHashMap<>();

    private ClusterMembership(ClusterSettings settings, String nodeId, String incarnation, String version,
                              ClusterTable table, Leases leases, Bus bus, MeterRegistry meters, DataDirClaim home) {
        this.settings = settings;
        this.home = home;
        this.nodeId = nodeId;
        this.incarnation = incarnation;
        this.version = version;
        this.table = table;
        this.leases = leases;
        this.bus = bus;
        this.view = ClusterView.initial(nodeId);
        for (NodeState state : NodeState.values()) {
            Gauge.builder("switchboard.cluster.nodes", this, m -> m.view.count(state))
                    .description("Nodes in the cluster view by state (alive, dead, left)")
                    .tag("state", state.label()).register(meters);
        }
        Gauge.builder("switchboard.cluster.member", this, m -> m.inGoodStanding() ? 1 : 0)
                .description("1 while this node's membership heartbeat is within the expiry")
                .register(meters);
        heartbeatFailures = Counter.builder("switchboard.cluster.heartbeat.failures")
                .description("Membership heartbeats the store did not take").register(meters);
        Gauge.builder("switchboard.cluster.strangers", this, m -> m.strangers().size())
                .description("Nodes heard on the bus that are not in this node's store"
                        + " (another database shares the bus exchange)")
                .register(meters);
    }

    /**
     * A membership for {@code nodeId} under a new incarnation, with its table and leases, that names
     * no data directory: a second one under the same id takes the row over (tests of modules).
     */
    public static ClusterMembership create(ClusterSettings settings, String nodeId, String version,
                                           org.jdbi.v3.core.Jdbi jdbi, boolean sqlite, Bus bus, MeterRegistry meters) {
        return create(settings, nodeId, version, jdbi, sqlite, bus, meters, null);
    }

    /**
     * As above, running from the data directory {@code home}: {@link #start()} refuses to take the
     * row of a live node that runs from another one (see {@link DataDirClaim}).
     */
    public static ClusterMembership create(ClusterSettings settings, String nodeId, String version,
                                           org.jdbi.v3.core.Jdbi jdbi, boolean sqlite, Bus bus, MeterRegistry meters,
                                           DataDirClaim home) {
        String incarnation = UUID.randomUUID().toString();
        return new ClusterMembership(settings, nodeId, incarnation, version, new ClusterTable(jdbi, sqlite),
                new Leases(jdbi, sqlite, nodeId, incarnation, settings.expiry()), bus, meters, home);
    }

    @Override
    public String name() {
        return "cluster";
    }

    /**
     * Registers the node and starts heartbeating.
     *
     * @throws io.switchboard.platform.config.ConfigException when a live node from another data
     *         directory holds this id: taking its row would knock it out of the cluster (it would
     *         find itself displaced and stop serving), so this one does not start
     */
    @Override
    public synchronized void start() {
        long sent = System.nanoTime();
        java.util.Optional<ClusterTable.Holder> held = table.register(nodeId, incarnation, addresses(), version, loadAverage(),
                settings.heartbeat(), settings.expiry(), home);
        if (held.isPresent()) {
            // The row may be a process that is already gone (a crash on another machine, a
            // container whose host name changed, a data-dir-id regenerated): wait until its
            // heartbeat would be stale and one heartbeat more, then try again. Only a holder that
            // heartbeat meanwhile is alive; refusing at once made a conflict that clears itself a
            // stop with exit 2, which systemd does not retry.
            ClusterTable.Holder holder = held.get();
            long expiryMs = holder.expiryMs() != null ? holder.expiryMs() : settings.expiry().toMillis();
            long waitMs = Math.min(Math.max(0, expiryMs - holder.heartbeatAgeMs()) + settings.heartbeat().toMillis(),
                    MAX_WAIT_FOR_HOLDER.toMillis());
            log.warn("cluster: node {} has a heartbeat {} ms old in this store from {} on {}; waiting {} ms to see whether"
                    + " that node is alive", nodeId, holder.heartbeatAgeMs(), holder.dataDir(), holder.host(), waitMs);
            try {
                Thread.sleep(waitMs);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for node " + nodeId + "'s row", e);
            }
            sent = System.nanoTime();
            held = table.register(nodeId, incarnation, addresses(), version, loadAverage(), settings.heartbeat(),
                    settings.expiry(), home);
        }
        held.ifPresent(holder -> {
                    throw new io.switchboard.platform.config.ConfigException("cluster.nodeId", "node " + nodeId
                            + " is alive in this store (last heartbeat " + holder.heartbeatAgeMs() + " ms ago) and runs from "
                            + holder.dataDir() + " on " + holder.host() + ", not from this data directory; give each node its"
                            + " own cluster.nodeId (--node-id, SWITCHBOARD_CLUSTER_NODEID), or stop that node first");
        });
        lastRenewedSent = sent;
        subscription = bus.subscribe(TOPIC, ClusterAnnouncement.class, this::heard);
        strangerReports = bus.subscribe(STRANGERS_TOPIC, StrangerHeard.class, this::reportHeard);
        refreshView();
        log.info("cluster: this node is {} ({} of {} nodes alive: {}); heartbeat {} ms, expiry {} ms", nodeId,
                view.count(NodeState.ALIVE), view.nodes().size(), view.liveIds(),
                settings.heartbeat().toMillis(), settings.expiry().toMillis());
        announce("joined");
        long every = settings.heartbeat().toMillis();
        beats.scheduleWithFixedDelay(this::beat, every, every, TimeUnit.MILLISECONDS);
        long check = Math.max(every / 4, 25);
        watchdog.scheduleWithFixedDelay(this::checkStanding, check, check, TimeUnit.MILLISECONDS);
    }

    /**
     * Re-reads the addresses (modules' listeners are bound by now), writes them to the row and says
     * so on the bus: the others re-read the view at once, not at their next heartbeat, so a node
     * that begins to take calls is reachable by its node-to-node address everywhere from its first
     * call (an in-dialog request that names it by id goes where the view says it listens).
     */
    @Override
    public boolean publishAddresses() {
        try {
            table.updateAddresses(nodeId, incarnation, addresses());
            announce("addresses");
            return true;
        } catch (RuntimeException e) {
            log.warn("cluster: could not update this node's addresses: {}", e.toString());
            return false;
        }
    }

    @Override
    public void stop() {
        stopped = true;
        beats.shutdown();
        watchdog.shutdown();
        try {
            beats.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // Under the rejoin lock: a beat() still in flight (its store call may outlast the wait
        // above) re-registers only before this leave, never after it.
        try {
            boolean left;
            synchronized (rejoin) {
                left = table.leave(nodeId, incarnation);
            }
            if (left) {
                log.info("cluster: node {} left the cluster", nodeId);
            }
        } catch (RuntimeException e) {
            log.warn("cluster: could not mark this node as left ({}); the others will count it dead after {} ms",
                    e.toString(), settings.expiry().toMillis());
        }
        announce("left");
        for (AutoCloseable closing : new AutoCloseable[] {subscription, strangerReports}) {
            if (closing != null) {
                try {
                    closing.close();
                } catch (Exception e) {
                    log.debug("closing a cluster subscription: {}", e.toString());
                }
            }
        }
    }

    /** For tests: stop (or resume) heartbeating without leaving, as a paused or cut-off node would. */
    public void pauseHeartbeats(boolean pause) {
        this.paused = pause;
    }

    private void beat() {
        if (stopped) {
            return;
        }
        if (!paused) {
            long sent = System.nanoTime();
            try {
                ClusterTable.Beat beat = table.heartbeat(nodeId, incarnation, loadAverage(), settings.heartbeat(), settings.expiry());
                switch (beat) {
                    case RENEWED -> lastRenewedSent = sent;
                    case MISSING -> {
                        synchronized (rejoin) {
                            if (!stopped) {
                                log.warn("cluster: this node's row was gone; registering again");
                                if (table.register(nodeId, incarnation, addresses(), version, loadAverage(), settings.heartbeat(),
                                        settings.expiry(), home).isPresent()) {
                                    // a node from another data directory took the id meanwhile: the next
                                    // beat finds its incarnation in the row and counts this one out
                                    log.warn("cluster: a node from another data directory registered as {} meanwhile", nodeId);
                                } else {
                                    lastRenewedSent = sent;
                                }
                            }
                        }
                    }
                    // Only this process's own stop() marks its incarnation left: that is final. A
                    // beat that was in flight during the stop must not bring the node back, or the
                    // others would count a departed node alive until the expiry.
                    case LEFT -> {
                        if (!stopped) {
                            log.warn("cluster: this node's row is marked left; it stays out of the cluster");
                        }
                        stopped = true;
                    }
                    case DISPLACED -> {
                        if (!displaced) {
                            log.error("cluster: another process now runs as node {} (its row has another incarnation);"
                                    + " this one counts itself out of the cluster: give each node its own cluster.nodeId", nodeId);
                        }
                        displaced = true;
                    }
                }
                if (heartbeatFailing && beat != ClusterTable.Beat.DISPLACED) {
                    heartbeatFailing = false;
                    log.info("cluster: heartbeats get through again");
                }
            } catch (RuntimeException e) {
                heartbeatFailures.increment();
                if (!heartbeatFailing) {
                    heartbeatFailing = true;
                    log.warn("cluster: heartbeat failed ({}); this node counts itself out after {} ms without one",
                            e.toString(), settings.expiry().toMillis());
                }
            }
        }
        refreshView();
        if (++beatsSincePresent >= presentEveryBeats()) {
            beatsSincePresent = 0;
            if (inGoodStanding()) {
                // not while cut off from the store: a row pruned meanwhile would make this node a
                // "stranger" to the others, for the wrong reason
                announce("present");
            }
        }
        if (++beatsSincePrune >= PRUNE_EVERY_BEATS) {
            beatsSincePrune = 0;
            try {
                table.prune(PRUNE_AFTER);
            } catch (RuntimeException e) {
                log.debug("cluster: pruning old rows failed: {}", e.toString());
            }
        }
    }

    private void heard(ClusterAnnouncement announcement) {
        if (announcement == null || announcement.nodeId() == null || stopped
                || nodeId.equals(announcement.nodeId()) && incarnation.equals(announcement.incarnation())) {
            return;
        }
        String id = announcement.nodeId();
        boolean left = "left".equals(announcement.event());
        boolean known = view.node(id).isPresent();
        if (left) {
            if (!known && announcement.incarnation() != null) {
                if (strangersLeft.size() >= MAX_STRANGERS) {
                    strangersLeft.clear();
                }
                strangersLeft.put(id, announcement.incarnation());
            }
            forgetStranger(id, "it left");
        }
        if (!"present".equals(announcement.event())) {
            try {
                beats.execute(this::refreshView); // a join, new addresses or a leave: the view now
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // stopping
            }
        }
        if (!left && !known) {
            // a node joining this cluster is in the table by the time the check reads it
            checkStrangerLater(id, announcement.incarnation(), true);
        }
    }

    /** A node reported this one as a stranger: it is one here too unless this store has its row. */
    private void reportHeard(StrangerHeard report) {
        if (report == null || !nodeId.equals(report.strangerId()) || !incarnation.equals(report.strangerIncarnation())
                || report.reporterId() == null || stopped) {
            return;
        }
        checkStrangerLater(report.reporterId(), report.reporterIncarnation(), false);
    }

    /**
     * Reads the table again {@link #strangerRecheck} from now: a node still without a row is a
     * stranger (see the class comment); {@code report} says so on the bus for it to learn.
     */
    private void checkStrangerLater(String id, String itsIncarnation, boolean report) {
        try {
            beats.schedule(() -> {
                if (!stopped && refreshView() && view.node(id).isEmpty()) {
                    strangerHeard(id, itsIncarnation);
                    if (report) {
                        announceStranger(id, itsIncarnation);
                    }
                }
            }, strangerRecheck().toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping
        }
    }

    private long presentEveryBeats() {
        long beatsIn30s = Math.max(1, PRESENT_AT_MOST.toMillis() / Math.max(1, settings.heartbeat().toMillis()));
        return Math.min(PRESENT_EVERY_BEATS, beatsIn30s);
    }

    /** Two heartbeats (a node whose row was lost writes it again at its next), at least a second. */
    private Duration strangerRecheck() {
        return settings.heartbeat().multipliedBy(2).compareTo(Duration.ofSeconds(1)) < 0
                ? Duration.ofSeconds(1) : settings.heartbeat().multipliedBy(2);
    }

    private void strangerHeard(String id, String itsIncarnation) {
        if (strangers.size() >= MAX_STRANGERS && !strangers.containsKey(id)) {
            strangers.clear();
            strangersLogged.clear();
        }
        if (itsIncarnation != null && itsIncarnation.equals(strangersLeft.get(id))) {
            return; // it left; this comes from a check or report made before
        }
        strangersLeft.remove(id); // a new start of it, still on the wrong store
        strangers.put(id, System.currentTimeMillis());
        String started = itsIncarnation == null ? "" : itsIncarnation;
        if (!started.equals(strangersLogged.put(id, started))) {
            log.error("cluster: node {} is on this node's bus but not in its store: two clusters on different databases"
                    + " share one bus exchange and each receives the other's events. Give each cluster its own"
                    + " bus.exchange, or point the node that is in the wrong one at its cluster's store.url", id);
        }
    }

    private void forgetStranger(String id, String why) {
        strangersLogged.remove(id);
        if (strangers.remove(id) != null) {
            log.info("cluster: node {} is no longer a stranger on this node's bus: {}", id, why);
        }
    }

    private void announceStranger(String id, String itsIncarnation) {
        try {
            bus.publish(STRANGERS_TOPIC, new StrangerHeard(nodeId, incarnation, id, itsIncarnation));
        } catch (RuntimeException e) {
            log.debug("cluster: reporting stranger {} failed: {}", id, e.toString());
        }
    }

    /**
     * Nodes heard on the bus within {@link #STRANGER_KEPT} that this node's store has no row of
     * (see the class comment), with when each was last heard (epoch ms).
     */
    public Map<String, Long> strangers() {
        long since = System.currentTimeMillis() - STRANGER_KEPT.toMillis();
        strangers.forEach((id, heardAt) -> {
            if (heardAt < since) {
                // its error stays logged: if it is heard again, it is the same mistake, not news
                if (strangers.remove(id, heardAt)) {
                    log.info("cluster: node {} is no longer a stranger on this node's bus: not heard for {} s", id,
                            STRANGER_KEPT.toSeconds());
                }
            }
        });
        return Map.copyOf(strangers);
    }

    private void announce(String event) {
        try {
            bus.publish(TOPIC, new ClusterAnnouncement(nodeId, incarnation, event));
        } catch (RuntimeException e) {
            log.debug("cluster: announcing {} failed: {}", event, e.toString());
        }
    }

    /**
     * Reads the table; on failure keeps the nodes it had and only re-judges its own standing.
     *
     * @return whether the table was read (the view is the store's as of now)
     */
    private boolean refreshView() {
        // Read outside the lock: the read may hang on a silent store, and the watchdog must still
        // be able to mark this node out meanwhile.
        List<NodeRecord> nodes;
        try {
            nodes = table.read(nodeId, settings.expiry());
        } catch (RuntimeException e) {
            log.debug("cluster: reading the view failed: {}", e.toString());
            nodes = null;
        }
        synchronized (this) {
            replaceView(new ClusterView(nodeId, nodes == null ? view.nodes() : nodes, inGoodStanding()));
        }
        if (nodes != null && !strangers.isEmpty()) {
            for (NodeRecord node : nodes) {
                forgetStranger(node.id(), "its row is in this node's store after all");
            }
        }
        return nodes != null;
    }

    private synchronized void checkStanding() {
        boolean standing = inGoodStanding();
        if (standing != view.selfInGoodStanding()) {
            replaceView(new ClusterView(nodeId, view.nodes(), standing));
        }
    }

    private void replaceView(ClusterView next) {
        ClusterView before = view;
        view = next;
        logChanges(before, next);
        if (!sameShape(before, next)) {
            for (Consumer<ClusterView> listener : listeners) {
                try {
                    listener.accept(next);
                } catch (RuntimeException e) {
                    log.warn("cluster: a view listener failed: {}", e.toString());
                }
            }
        }
    }

    /** Whether two views agree on every node's state and incarnation and on this node's standing. */
    private static boolean sameShape(ClusterView a, ClusterView b) {
        if (a.selfInGoodStanding() != b.selfInGoodStanding() || a.nodes().size() != b.nodes().size()) {
            return false;
        }
        for (int i = 0; i < a.nodes().size(); i++) {
            NodeRecord x = a.nodes().get(i);
            NodeRecord y = b.nodes().get(i);
            if (!x.id().equals(y.id()) || x.state() != y.state() || !Objects.equals(x.incarnation(), y.incarnation())) {
                return false;
            }
        }
        return true;
    }

    private void logChanges(ClusterView before, ClusterView next) {
        if (before.selfInGoodStanding() && !next.selfInGoodStanding() && lastRenewedSent != 0 && !displaced) {
            // (displaced: the error above said why; the heartbeats themselves were fine)
            log.warn("cluster: this node has had no heartbeat through for over {} ms: it counts itself out of the"
                    + " cluster and acts on no lease until one gets through", settings.expiry().toMillis());
        } else if (!before.selfInGoodStanding() && next.selfInGoodStanding() && !before.nodes().isEmpty()) {
            log.info("cluster: this node is back in the cluster");
        }
        if (before.nodes().isEmpty()) {
            return; // the first read: start() logs the view
        }
        for (NodeRecord node : next.nodes()) {
            if (node.self()) {
                continue;
            }
            NodeRecord old = before.node(node.id()).orElse(null);
            boolean wasAlive = old != null && old.isAlive();
            boolean restarted = old != null && !Objects.equals(old.incarnation(), node.incarnation());
            if (node.isAlive() && (!wasAlive || restarted)) {
                log.info("cluster: node {} joined (version {}, addresses {}); {} alive", node.id(), node.version(),
                        node.addresses(), next.count(NodeState.ALIVE));
            } else if (wasAlive && node.state() == NodeState.DEAD) {
                log.warn("cluster: node {} lost: no heartbeat for {} ms; {} alive", node.id(), node.heartbeatAgeMs(),
                        next.count(NodeState.ALIVE));
            } else if (wasAlive && node.state() == NodeState.LEFT) {
                log.info("cluster: node {} left; {} alive", node.id(), next.count(NodeState.ALIVE));
            }
        }
    }

    private Map<String, Object> addresses() {
        Map<String, Object> out = new LinkedHashMap<>();
        synchronized (addresses) {
            addresses.forEach((name, supplier) -> {
                try {
                    Object value = supplier.get();
                    if (value != null) {
                        out.put(name, value);
                    }
                } catch (RuntimeException e) {
                    log.debug("cluster: address {} unavailable: {}", name, e.toString());
                }
            });
        }
        return out;
    }

    private static Double loadAverage() {
        double load = ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        return load < 0 ? null : Math.round(load * 100) / 100.0;
    }

    @Override
    public String nodeId() {
        return nodeId;
    }

    /** Random per process start. */
    public String incarnationId() {
        return incarnation;
    }

    @Override
    public ClusterView view() {
        return view;
    }

    /** Another process registered under this node's id: this one counts itself out for good (until restarted). */
    public boolean displaced() {
        return displaced;
    }

    @Override
    public boolean inGoodStanding() {
        long sent = lastRenewedSent;
        return !displaced && !stopped && sent != 0 && System.nanoTime() - sent < settings.expiry().toNanos();
    }

    @Override
    public AutoCloseable onChange(Consumer<ClusterView> listener) {
        listeners.add(listener);
        return () -> listeners.remove(listener);
    }

    @Override
    public Leases leases() {
        return leases;
    }

    @Override
    public Duration heartbeat() {
        return settings.heartbeat();
    }

    @Override
    public Duration expiry() {
        return settings.expiry();
    }

    @Override
    public void advertise(String name, Supplier<Object> address) {
        synchronized (addresses) {
            addresses.put(name, address);
        }
    }
}
