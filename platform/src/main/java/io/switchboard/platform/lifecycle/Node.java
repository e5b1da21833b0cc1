package io.switchboard.platform.lifecycle;

import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.auth.AdminTokens;
import io.switchboard.platform.auth.AdminTokensApi;
import io.switchboard.platform.auth.AuthApi;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.bus.BusSettings;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.bus.RabbitBus;
import io.switchboard.platform.cluster.ClusterApi;
import io.switchboard.platform.cluster.ClusterMembership;
import io.switchboard.platform.cluster.ClusterSettings;
import io.switchboard.platform.cluster.ClusterTable;
import io.switchboard.platform.cluster.NodeIdentity;
import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.http.HttpServer;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.TlsClientSettings;
import io.switchboard.platform.tls.TlsSettings;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/**
 * One Switchboard node: starts the shared machinery and the feature modules in order and stops
 * them in reverse.
 *
 * <p>Start: config check → the TLS certificate ({@code tls:} block; read and checked, then
 * watched for renewals) → data directory → store → platform migrations (and the first admin token) → people
 * and sign-in ({@code auth:} block, {@code /api/v1/auth/*}) and the bus → cluster membership (the node's row in the
 * store, heartbeats; {@code /api/v1/cluster}) → each module's migrations → each module's {@code assemble} → module
 * components → HTTP → listeners → the node's bound addresses written to its membership row.
 * If a step fails, what already started is stopped and {@link NodeStartException} names the step.
 *
 * <p>Drain (SIGTERM/SIGINT after {@link #stopOnSignals()}): {@code /readyz} turns 503 at once
 * while the node goes on serving for {@code drainDelay}, so a balancer's health checks take it out
 * of rotation before anything is refused (closing listeners at once would reset the connections
 * a balancer still sends new requests on); then it stops. A second signal cuts the delay short.
 *
 * <p>Stop: new work is refused (HTTP 503 with Retry-After, SIP 503 for new dialogs while
 * in-dialog requests are still served), then components stop in reverse order: SIP gives calls
 * being set up a moment, HTTP lets requests in flight finish, writers commit what is queued, and
 * then the node leaves the cluster (its membership row is marked left, so the others take over its
 * work at once rather than after the expiry) before the bus and the store close. The
 * whole stop is bounded: a component that does not return in time is left behind with a warning
 * so the process still exits.
 */
public final class Node {
    private static final Logger log = LoggerFactory.getLogger(Node.class);
    /**
     * How long HTTP waits for requests in flight when stopping: longer than the store's socket
     * timeout (15 s), so a request waiting on a silent database still gets its 503, not a reset.
     */
    static final Duration HTTP_DRAIN = Duration.ofSeconds(16);
    /** The bound on a whole stop (HTTP's drain, then the other components). */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(25);
    /** How often the store is asked whether it answers, for the log's "not usable" and "answers again" lines. */
    private static final Duration STORE_WATCH_PERIOD = Duration.ofSeconds(5);
    /** The least time any one component gets to stop, even when earlier ones used up the budget. */
    private static final Duration MIN_COMPONENT_STOP = Duration.ofMillis(500);

    /**
     * The file a node locks in its data directory for as long as it runs (and leaves there): the
     * CLI takes it as a sign that a node ran with that directory.
     */
    public static final String DATA_DIR_LOCK_FILE = DataDirectoryLock.FILE_NAME;

    private enum State { NEW, STARTING, RUNNING, STOPPING, STOPPED, FAILED }

    private final NodeConfig config;
    private final List<NodeModule> modules;
    private final Duration stopTimeout;
    private final Metrics metrics = new Metrics();
    private final Readiness readiness = new Readiness();
    private final HttpServer http;
    private final List<Component> moduleComponents = new ArrayList<>();
    private final List<Component> listeners = new ArrayList<>();
    /** Started components, in start order; stopped in reverse. */
    private final List<Component> started = new ArrayList<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Counted down by a second signal, or by stop(): ends the drain delay early. */
    private final CountDownLatch drainCut = new CountDownLatch(1);
    private final AtomicBoolean drainRequested = new AtomicBoolean();
    private final Object lifecycle = new Object();
    private volatile State state = State.NEW;
    private Store store;
    private AdminTokens adminTokens;
    private AdminAuth adminAuth;
    private PersonAuth personAuth;
    private Bus bus;
    private ClusterMembership cluster;
    private NodeCertificate certificate;

    /**
     * @param modules feature modules in the order they are migrated, assembled and started
     */
    public Node(NodeConfig config, List<NodeModule> modules) {
        this(config, modules, STOP_TIMEOUT);
    }

    Node(NodeConfig config, List<NodeModule> modules, Duration stopTimeout) {
        this.config = config;
        this.modules = List.copyOf(modules);
        this.stopTimeout = stopTimeout;
        this.http = new HttpServer(config.http(), metrics, readiness, HTTP_DRAIN);
        readiness.register("node", () -> switch (state) {
            case RUNNING -> Optional.empty();
            case NEW, STARTING -> Optional.of("starting");
            case STOPPING, STOPPED -> Optional.of("stopping");
            case FAILED -> Optional.of("failed to start");
        });
    }

    /**
     * Starts everything; returns when listeners are open and the node is ready, or, when
     * {@link #stop()} was called meanwhile (a signal), once what had started has stopped again:
     * {@link #isRunning()} then says false.
     *
     * @throws NodeStartException naming the step that failed; what had started is stopped again
     * @throws ConfigException when a module refuses its config block
     */
    public void start() {
        synchronized (lifecycle) {
            if (state != State.NEW) {
                throw new IllegalStateException("a node starts once; it is " + state);
            }
            state = State.STARTING;
            long begin = System.nanoTime();
            String step = "config";
            try {
                checkConfig();
                step = "tls";
                openCertificate();
                step = "data directory";
                createDataDirectory(config.dataDir());
                DataDirectoryLock claim = DataDirectoryLock.acquire(config.dataDir());
                started.add(Component.of("data directory lock", () -> { }, claim::close));
                // before the store and modules start: a taken port is the commonest slip. Each step
                // is named for its config key, so a taken HTTPS port reads "https: ...".
                step = "http";
                http.checkHttpAddressFree();
                step = "https";
                http.checkHttpsAddressFree();
                log.info("config: {}", config.describeOneLine());
                log.info("data in {}", config.dataDir());

                step = "store";
                refuseToGoOnIfStopped(step);
                store = Store.open(config.store(), metrics.registry());
                Store opened = store;
                started.add(Component.of("store", () -> { }, opened::close));
                readiness.register("store", store::reachabilityProblem);
                store.migrate("platform");
                adminTokens = new AdminTokens(store.jdbi(), Clock.systemUTC());
                step = "admin token";
                adminTokens.createFirstTokenIfNone(config.dataDir());
                step = "auth";
                personAuth = PersonAuth.fromConfig(config.section("auth"), store.jdbi(), Clock.systemUTC(), metrics.registry());
                adminAuth = new AdminAuth(adminTokens, personAuth);
                http.addRoutes(new AuthApi(personAuth, adminAuth, http.json()));
                http.addRoutes(new AdminTokensApi(adminTokens, adminAuth));
                PersonAuth people = personAuth;
                people.start();
                started.add(Component.of("auth", () -> { }, people::stop));
                step = "bus";
                refuseToGoOnIfStopped(step);
                bus = openBus();
                people.connect(bus);
                step = "cluster";
                openCluster();

                for (NodeModule module : modules) {
                    step = "migrations of " + module.name();
                    if (module.hasMigrations()) {
                        store.migrate(module.name());
                    }
                }
                for (NodeModule module : modules) {
                    step = "module " + module.name();
                    module.assemble(new NodeContext(this, module.name()));
                }
                for (Component component : List.copyOf(moduleComponents)) {
                    step = component.name();
                    refuseToGoOnIfStopped(step);
                    startComponent(component);
                }
                step = http.servesHttp() ? "http" : "https"; // the key of the listener a failure names first
                refuseToGoOnIfStopped(step);
                startComponent(http);
                for (Component listener : List.copyOf(listeners)) {
                    step = listener.name();
                    refuseToGoOnIfStopped(step);
                    startComponent(listener);
                }
                refuseToGoOnIfStopped("publishing the node's addresses");
                cluster.publishAddresses();
                // from now on, not during the migrations: a long one holds SQLite's only connection,
                // and the probe would have logged an outage that was none
                store.watchReachability(STORE_WATCH_PERIOD);
                state = State.RUNNING;
                log.info("node started in {} ms", (System.nanoTime() - begin) / 1_000_000);
            } catch (StoppedDuringStart e) {
                // SIGTERM or Ctrl-C while starting: what had started stops, and the node exits as a
                // stop, not as a failed start (it used to finish starting, say "started", then stop)
                log.info("stop requested while starting; not starting {} and the rest, stopping what had started", e.step);
                undoStart(State.STOPPED);
                log.info("stopped");
            } catch (Exception e) {
                log.debug("start failed at {}", step, e);
                undoStart(State.FAILED);
                if (e instanceof ConfigException invalid) {
                    // A module found its config block unusable: still the operator's config error.
                    throw invalid;
                }
                var storeTrouble = io.switchboard.platform.store.StoreFailure.kind(e);
                if (storeTrouble.isPresent()) {
                    // the driver's message names the statement, not the trouble: say what it was, and where
                    String what = storeTrouble.get().whatTheStoreDid();
                    throw new NodeStartException(step + ": the store at " + config.store().maskedUrl() + " " + what + " ("
                            + io.switchboard.platform.RootCause.message(e) + ")", e);
                }
                throw new NodeStartException(step + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
            }
        }
    }

    /** A start that failed or was stopped: listeners already open take no new work while what had started stops. */
    private void undoStart(State end) {
        state = end;
        readiness.refuseNewWork();
        stopStarted();
        stopped.countDown();
    }

    /** Thrown between start steps once a stop was asked for. */
    private static final class StoppedDuringStart extends Exception {
        private final String step;

        StoppedDuringStart(String step) {
            super(null, null, false, false);
            this.step = step;
        }
    }

    /** {@link #stop()} counts {@code drainCut} down before it waits for the start to end. */
    private void refuseToGoOnIfStopped(String nextStep) throws StoppedDuringStart {
        if (drainCut.getCount() == 0) {
            throw new StoppedDuringStart(nextStep);
        }
    }

    /**
     * The data directory, made when missing. A file in the way or no permission is the
     * configuration's mistake (exit 2, with the reason, where the bare path alone used to be given);
     * other I/O errors are a failed start.
     */
    private static void createDataDirectory(java.nio.file.Path dataDir) {
        try {
            Files.createDirectories(dataDir);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new ConfigException("dataDir", dataDir + " is a file, not a directory");
        } catch (java.io.IOException e) {
            String why = io.switchboard.platform.RootCause.fileProblem(e);
            if (why.equals("permission denied") || why.equals("Not a directory") || why.equals("Read-only file system")) {
                // no permission, a file on the path, or a place the node may never write (ProtectSystem=strict)
                throw new ConfigException("dataDir", "cannot create " + dataDir + ": " + why);
            }
            // an I/O error or a file system not mounted yet may pass: a failed start (exit 1), which a supervisor retries
            throw new IllegalStateException("cannot create " + dataDir + ": " + why, e);
        }
    }

    /** Every block of the config, the platform's and the modules', before anything is touched. */
    private void checkConfig() {
        PersonAuth.checkConfig(config.section("auth"));
        http.trustProxies(io.switchboard.platform.http.TrustedProxies.fromConfig(config.section("proxies")));
        if (TlsSettings.from(config.section("tls")).isEmpty() && config.https() != null) {
            throw new ConfigException("https", "needs the node's certificate: set tls.certificate and tls.key"
                    + " (PEM files; see docs/tls.md)");
        }
        if (TlsSettings.from(config.section("tls")).isEmpty()
                && config.sipListeners().stream().anyMatch(listener -> listener.transport().equals("tls"))) {
            throw new ConfigException("sip", "a tls listener needs the node's certificate: set tls.certificate and tls.key"
                    + " (PEM files; see docs/tls.md)");
        }
        TlsClientSettings.from(config.section("tls")); // tls.trust is read and checked now: exit 2, not a failed call later
        BusSettings.from(config.section("bus"));
        ClusterSettings.from(config.section("cluster"));
        for (NodeModule module : modules) {
            // A module whose block was not declared to the loader reads none (and gets the same
            // wiring error as before from NodeContext.section() if it ever asks).
            if (config.declares(module.name())) {
                module.checkConfig(config.section(module.name()));
            }
        }
    }

    /**
     * Reads the node's certificate and key (a problem with them is a config error: exit 2 before
     * anything else opens), starts watching them for renewals, and gives HTTPS its address.
     */
    private void openCertificate() throws Exception {
        Optional<TlsSettings> settings = TlsSettings.from(config.section("tls"));
        if (settings.isEmpty()) {
            return;
        }
        certificate = NodeCertificate.load(settings.get(), metrics.registry());
        startComponent(certificate);
        if (config.https() != null) {
            http.serveHttps(config.https(), certificate);
        } else if (config.sipListeners().stream().noneMatch(l -> l.transport().equals("tls"))) {
            log.warn("tls.certificate is set but nothing serves it: add an https listener (--https HOST:PORT)"
                    + " or a tls: SIP listener (--sip ...,tls:HOST:5061)");
        }
    }

    /** The in-process bus, or with {@code bus.url} RabbitMQ between nodes (connecting in the background). */
    private Bus openBus() {
        Optional<BusSettings> settings = BusSettings.from(config.section("bus"));
        if (settings.isEmpty()) {
            log.info("bus: in-process (single node; set bus.url to join a cluster over RabbitMQ)");
            return new LocalBus(metrics.registry());
        }
        RabbitBus rabbit = new RabbitBus(settings.get(), http.json(), metrics.registry());
        rabbit.start();
        started.add(Component.of("bus", () -> { }, rabbit::close));
        return rabbit;
    }

    /**
     * This node's membership: its stable id, its row in the store (addresses from the config until
     * the listeners are bound), heartbeats, and {@code GET /api/v1/cluster}. Started here, so it
     * stops after the modules (their work finishes before the node leaves) and before the bus.
     */
    private void openCluster() throws Exception {
        ClusterSettings settings = ClusterSettings.from(config.section("cluster"));
        String nodeId = NodeIdentity.resolve(settings, config.dataDir());
        // the data directory's claim: this node's lock on it is held by now, so its row may be
        // taken back at once after a crash, and a live node under this id elsewhere is refused
        cluster = ClusterMembership.create(settings, nodeId, version(), store.jdbi(), store.isSqlite(), bus,
                metrics.registry(), io.switchboard.platform.cluster.DataDirClaim.of(config.dataDir()));
        if (config.http() != null) {
            cluster.advertise("http", () -> http.isStarted() ? http.boundAddress().toString() : config.http().toString());
        }
        if (config.https() != null) {
            cluster.advertise("https", () -> http.isStarted() ? http.boundHttpsAddress().toString() : config.https().toString());
        }
        if (!config.sipListeners().isEmpty()) {
            cluster.advertise("sip", () -> config.sipListeners().stream().map(Object::toString).toList());
        }
        http.addRoutes(new ClusterApi(cluster, new ClusterTable(store.jdbi(), store.isSqlite()), adminAuth));
        // a node another process took the id of serves nothing the cluster counts: out of the
        // balancer and the floating address too, not only out of the view
        ClusterMembership membership = cluster;
        readiness.register("cluster", () -> membership.displaced()
                ? Optional.of("another process runs as node " + nodeId + "; this one is out of the cluster: give each node"
                        + " its own cluster.nodeId and restart this one")
                : Optional.empty());
        if (bus instanceof LocalBus) {
            // before the start: the first view (read in start()) already names the others
            new InProcessBusCheck(cluster, metrics.registry());
        }
        startComponent(cluster);
    }

    /** The software version from the jar's manifest, or {@code dev} when running from classes. */
    static String version() {
        String version = Node.class.getPackage().getImplementationVersion();
        return version == null ? "dev" : version;
    }

    private void startComponent(Component component) throws Exception {
        component.start();
        started.add(component);
    }

    /**
     * Drains and stops. Safe to call more than once and from a shutdown hook; later calls
     * return at once.
     */
    public void stop() {
        drainCut.countDown();
        synchronized (lifecycle) {
            if (state != State.RUNNING) {
                if (state == State.NEW) {
                    state = State.STOPPED;
                    metrics.close();
                    stopped.countDown();
                }
                return;
            }
            state = State.STOPPING;
            readiness.refuseNewWork();
            log.info("stopping: readiness is off, new work is refused, work in flight finishes");
            stopStarted();
            state = State.STOPPED;
            log.info("stopped");
            stopped.countDown();
        }
    }

    private void stopStarted() {
        long deadline = System.nanoTime() + stopTimeout.toNanos();
        for (Component component : started.reversed()) {
            long remaining = Math.max(deadline - System.nanoTime(), MIN_COMPONENT_STOP.toNanos());
            stopWithin(component, Duration.ofNanos(remaining));
        }
        started.clear();
        metrics.close();
    }

    private static void stopWithin(Component component, Duration limit) {
        Thread stopper = Thread.ofPlatform().daemon().name("stop-" + component.name()).unstarted(() -> {
            try {
                component.stop();
            } catch (Exception e) {
                log.warn("stopping {} failed: {}", component.name(), e.toString());
            }
        });
        stopper.start();
        try {
            if (!stopper.join(limit)) {
                log.warn("{} did not stop within {} ms; leaving it behind", component.name(), limit.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Only SIGHUP asked this node to stop (no TERM or INT): it exits 129 so a supervisor restarts it. */
    private volatile boolean hangUpOnly;

    /**
     * Makes SIGTERM, SIGINT and SIGHUP drain and stop the node, then exit the JVM with status 0
     * (129 when only SIGHUP came: a restart under a supervisor). A JVM
     * killed by a signal exits 143 even after its shutdown hooks ran; handling the signal and
     * calling {@code System.exit(0)} instead gives init systems and orchestrators the clean
     * status a graceful stop deserves. The shutdown hook also covers other exits
     * ({@code System.exit} elsewhere, or a platform without {@code sun.misc.Signal}).
     */

    public void stopOnSignals() {
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("node-shutdown").unstarted(this::stop));
        // HUP too: the JVM's default for it is an exit without the drain. It comes when the
        // terminal a node runs in closes, or from an operator expecting a reload, which a node
        // does not need (certificates reload by themselves; the config is read at start).
        for (String name : List.of("TERM", "INT", "HUP")) {
            try {
                Signal.handle(new Signal(name), signal -> {
                    if (drainRequested.compareAndSet(false, true)) {
                        log.info("SIG{} received{}", name, name.equals("HUP") ? ": draining and stopping as for SIGTERM, with exit"
                                + " status 129 so a supervisor restarts the node (the config is read at start; certificates"
                                + " reload by themselves)" : "");
                        // Off the signal thread: the delay is long, and a second signal must get through.
                        hangUpOnly = name.equals("HUP");
                        Thread.ofPlatform().name("node-drain").start(() -> {
                            drain();
                            // HUP ends as a signal's exit (128 + 1), not a clean 0: under systemd's
                            // Restart=on-failure the node comes back, so a HUP is a graceful restart.
                            // A TERM or INT meanwhile (systemctl stop) makes it a stop after all.
                            System.exit(hangUpOnly ? 129 : 0);
                        });
                    } else {
                        if (!name.equals("HUP")) {
                            hangUpOnly = false;
                        }
                        log.info("SIG{} received again: stopping without waiting out the drain delay", name);
                        drainCut.countDown();
                    }
                });
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                log.debug("cannot handle SIG{}: {}; the shutdown hook will stop the node", name, e.toString());
            }
        }
    }

    /**
     * The first step of a stop, for balancers: {@code /readyz} answers 503 from now on while the
     * node still serves everything, for {@code drainDelay} (or until {@link #stop()} is called, or
     * a second signal). The caller stops the node afterwards.
     */
    public void drain() {
        Duration delay = config.drainDelay();
        if (state != State.RUNNING) {
            return;
        }
        readiness.startDraining();
        if (delay.isZero()) {
            return;
        }
        log.info("draining: /readyz answers 503; serving on for {} ms so balancers move traffic away (drainDelay)",
                delay.toMillis());
        try {
            if (drainCut.await(delay.toMillis(), TimeUnit.MILLISECONDS)) {
                log.info("drain delay cut short");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Blocks until the node has stopped (or failed to start). */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    public boolean isRunning() {
        return state == State.RUNNING;
    }

    public NodeConfig config() {
        return config;
    }

    public Metrics metrics() {
        return metrics;
    }

    public Readiness readiness() {
        return readiness;
    }

    public HttpServer http() {
        return http;
    }

    /** The store; available once {@link #start()} has opened it. */
    public Store store() {
        if (store == null) {
            throw new IllegalStateException("the store is opened by start()");
        }
        return store;
    }

    public AdminTokens adminTokens() {
        if (adminTokens == null) {
            throw new IllegalStateException("admin tokens need the store, opened by start()");
        }
        return adminTokens;
    }

    public AdminAuth adminAuth() {
        if (adminAuth == null) {
            throw new IllegalStateException("admin auth needs the store, opened by start()");
        }
        return adminAuth;
    }

    /** People and sign-in; available once {@link #start()} has opened the store. */
    public PersonAuth personAuth() {
        if (personAuth == null) {
            throw new IllegalStateException("people need the store, opened by start()");
        }
        return personAuth;
    }

    /**
     * The node's TLS certificate, kept current as its files are renewed; empty without a
     * {@code tls:} block. TLS listeners take it from here (HTTPS; SIP over TLS).
     */
    public Optional<NodeCertificate> certificate() {
        return Optional.ofNullable(certificate);
    }

    /** The bus modules publish events on and subscribe to; available once {@link #start()} has begun. */
    public Bus bus() {
        if (bus == null) {
            throw new IllegalStateException("the bus is created by start()");
        }
        return bus;
    }

    /** This node's cluster membership; available once {@link #start()} has opened the store and the bus. */
    public ClusterMembership cluster() {
        if (cluster == null) {
            throw new IllegalStateException("the cluster membership is created by start()");
        }
        return cluster;
    }

    void addModuleComponent(Component component) {
        requireStarting();
        moduleComponents.add(component);
    }

    void addListener(Component listener) {
        requireStarting();
        listeners.add(listener);
    }

    private void requireStarting() {
        if (state != State.STARTING) {
            throw new IllegalStateException("components are added while modules assemble");
        }
    }
}
