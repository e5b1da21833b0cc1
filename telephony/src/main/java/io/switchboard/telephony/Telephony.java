package io.switchboard.telephony;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.config.ListenAddress;
import io.switchboard.platform.lifecycle.Component;
import io.switchboard.platform.lifecycle.NodeContext;
import io.switchboard.platform.lifecycle.NodeModule;
import io.switchboard.sip.transaction.TimerSettings;
import io.switchboard.sip.transaction.TransactionLayer;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.AccountException;
import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.accounts.DigestAlgorithm;
import io.switchboard.telephony.api.AccountsApi;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.auth.DigestPolicy;
import io.switchboard.telephony.auth.NonceService;
import io.switchboard.telephony.cluster.BindingAnnouncements;
import io.switchboard.telephony.cluster.ClusterNode;
import io.switchboard.telephony.cluster.ClusterPeerAddresses;
import io.switchboard.telephony.cluster.MembershipLiveness;
import io.switchboard.telephony.cluster.NodeLiveness;
import io.switchboard.telephony.cluster.RecentFailures;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import io.switchboard.telephony.registrar.Registrar;
import io.switchboard.telephony.registrar.RegistrarSettings;
import io.switchboard.telephony.sip.SipMetrics;
import io.switchboard.telephony.sip.SipService;
import io.switchboard.telephony.sip.SipTlsClientContexts;
import io.switchboard.telephony.sip.SipTlsContexts;
import io.switchboard.platform.tls.TlsClientSettings;
import io.switchboard.telephony.api.CallsApi;
import io.switchboard.telephony.api.NumbersApi;
import io.switchboard.telephony.calls.CallMetrics;
import io.switchboard.telephony.calls.CallRecordStore;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.telephony.calls.DeadNodeCalls;
import io.switchboard.telephony.cluster.LocalAddresses;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.platform.net.AddressRange;
import io.switchboard.telephony.proxy.FlowDirectory;
import io.switchboard.telephony.proxy.LocalEndpoints;
import io.switchboard.telephony.proxy.ProxyCore;
import io.switchboard.telephony.proxy.ProxySettings;
import io.switchboard.telephony.proxy.RouteSigner;
import io.switchboard.telephony.ws.SipWebSocketEndpoint;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The telephony module: device accounts, the SIP stack, the registrar and the location service.
 * Its config block is {@code telephony:} (see docs/telephony.md).
 */
public final class Telephony implements NodeModule {
    private static final Logger log = LoggerFactory.getLogger(Telephony.class);
    /** The keys of the {@code telephony:} block (flat, so each maps to one SWITCHBOARD_TELEPHONY_* variable). */
    static final List<String> KNOWN_KEYS = List.of("auth", "minExpires", "maxExpires", "defaultExpires", "maxContacts",
            "digestAlgorithms", "nonceLifetime", "floodLimit", "floodBurst", "maxMessageSize", "maxConnections",
            "maxConnectionsPerAddress", "partialMessageTimeout", "idleConnectionTimeout", "ioThreads",
            "udpReceiveBuffer", "workerThreads", "workerQueue", "trustedPeers", "timerC", "branchResponseTimeout", "advertisedAddress",
            "maxCallDuration", "sha256Domains", "directoryPoll", "aliases", "clusterAddress", "proxyProtocolFrom");

    /** How long calls being set up may take to be answered or given up when the node stops. */
    private static final Duration CALL_SETUP_DRAIN = Duration.ofSeconds(5);
    /** How long a stop waits for devices to answer the CANCELs of calls still ringing. */
    private static final Duration CANCEL_DRAIN = Duration.ofSeconds(2);

    private final Clock clock;
    private volatile TransportLayer transport;
    private volatile LocationService location;
    private volatile AccountDirectory directory;
    private volatile NumberDirectory numbers;
    private volatile CallTracker calls;
    private volatile ProxyCore proxy;
    private volatile SipWebSocketEndpoint webSockets;
    private volatile ClusterNode clusterNode;
    /** Set by {@link #useMembership} before the node starts; otherwise the cluster's node id. */
    private volatile String membershipNodeId;
    private volatile NodeLiveness liveness;

    public Telephony() {
        this(Clock.systemUTC());
    }

    public Telephony(Clock clock) {
        this.clock = clock;
    }

    @Override
    public String name() {
        return "telephony";
    }

    /**
     * Connects SIP across nodes to the cluster's membership (call before the node starts): bindings
     * made through this node record {@code nodeId} as the holder of their flow, and calls to
     * devices whose flow another node holds ask {@code liveness} whether that node is alive before
     * sending through it (see {@link NodeLiveness}). Without this, the node's cluster id and
     * membership are used ({@link MembershipLiveness}); tests use it to stage a node thought dead.
     */
    public void useMembership(String nodeId, NodeLiveness liveness) {
        this.membershipNodeId = nodeId;
        this.liveness = liveness;
    }

    @Override
    public void checkConfig(ConfigSection section) {
        section.allowOnly(KNOWN_KEYS);
        RegistrarSettings registrar = registrarSettings(section);
        digestPolicy(section, registrar);
        transportSettings(section);
        proxySettings(section, registrar.authenticate());
        maxCallDuration(section);
        directoryPoll(section);
        clusterAddress(section);
        proxyProtocolFrom(section);
        aliases(section);
    }

    /**
     * {@code telephony.aliases}: host names that name this node in a Route or Request-URI besides
     * its addresses and SIP domain, like Kamailio's {@code alias}. A phone whose outbound proxy is
     * {@code sip.example.com} (the name on the node's TLS certificate, which a TLS phone must use)
     * puts that name in its Route; without the alias the node would take it for another host and
     * refuse to relay (403). {@code localhost} always names the node.
     */
    static java.util.Set<String> aliases(ConfigSection section) {
        java.util.Set<String> aliases = new java.util.LinkedHashSet<>();
        aliases.add("localhost");
        if (section.has("aliases")) {
            for (String alias : section.stringList("aliases")) {
                String name = alias.strip().toLowerCase(java.util.Locale.ROOT);
                if (name.endsWith(".")) {
                    name = name.substring(0, name.length() - 1);
                }
                // RFC 3261 §25.1 hostname: labels of letters, digits and hyphens
                if (!name.matches("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")) {
                    throw section.problem("aliases", "\"" + alias + "\" is not a host name (e.g. sip.example.com)");
                }
                aliases.add(name);
            }
        }
        return java.util.Set.copyOf(aliases);
    }

    /**
     * {@code telephony.clusterAddress}: where other nodes send SIP for devices whose flow this node
     * holds, {@code tcp:HOST:PORT} or {@code udp:HOST:PORT} (an address literal); null when not set.
     */
    static ListenPoint clusterAddress(ConfigSection section) {
        if (!section.has("clusterAddress")) {
            return null;
        }
        String value = section.string("clusterAddress", "").strip();
        int first = value.indexOf(':');
        int last = value.lastIndexOf(':');
        String problem = "must be tcp:HOST:PORT or udp:HOST:PORT with an IP address literal, e.g. tcp:10.0.0.2:5060";
        if (first < 0 || last <= first) {
            throw section.problem("clusterAddress", problem);
        }
        String transport = value.substring(0, first).toLowerCase(java.util.Locale.ROOT);
        String host = value.substring(first + 1, last);
        String bare = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        int port;
        String portText = value.substring(last + 1);
        if (!io.switchboard.platform.config.AsciiDigits.of(portText, 5)) {
            throw section.problem("clusterAddress", problem);
        }
        port = Integer.parseInt(portText);
        if (!(transport.equals("tcp") || transport.equals("udp")) || port < 1 || port > 65535
                || io.netty.util.NetUtil.createByteArrayFromIpAddressString(bare) == null) {
            throw section.problem("clusterAddress", problem);
        }
        return new ListenPoint(Transport.parse(transport), bare, port);
    }

    /**
     * This node's node-to-node SIP URI (the Path of the bindings made through it): the configured
     * {@code clusterAddress}, else its first TCP listener, else its first UDP one; a wildcard bind
     * is named by the advertised address or the first address of an interface. Null when it has
     * neither (TLS only): other nodes cannot then reach the devices registered here.
     */
    static String clusterPath(ListenPoint configured, List<ListenPoint> bound, String advertised) {
        ListenPoint point = configured;
        if (point == null) {
            point = bound.stream().filter(p -> p.transport() == Transport.TCP).findFirst()
                    .or(() -> bound.stream().filter(p -> p.transport() == Transport.UDP).findFirst()).orElse(null);
        }
        if (point == null) {
            return null;
        }
        String host = point.host();
        byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
        boolean wildcard = literal != null && java.util.Arrays.equals(literal, new byte[literal.length]);
        if (wildcard) {
            host = advertised != null && !advertised.isBlank() ? advertised
                    : LocalEndpoints.firstInterfaceAddress(literal.length == 16);
        }
        if (host.contains(":") && !host.startsWith("[")) {
            host = "[" + host + "]"; // RFC 3261 §25.1: an IPv6 reference in brackets
        }
        return "sip:" + host + ":" + point.port() + (point.transport() == Transport.TCP ? ";transport=tcp" : "");
    }

    /** No upper bound, for {@link ConfigSection#duration(String, Duration, Duration, Duration)}. */
    private static final Duration MAX_DURATION = Duration.ofMillis(Long.MAX_VALUE);

    /**
     * {@code telephony.idleConnectionTimeout}: 0s keeps silent connections open for good (the
     * idle handler's own meaning of zero, which nodes configured so have relied on); otherwise at
     * least 1s, since a shorter one closes a connection between a phone's request and its answer.
     */
    private static Duration idleConnectionTimeout(ConfigSection s, Duration fallback) {
        Duration idle = s.duration("idleConnectionTimeout", fallback);
        return idle.isZero() ? idle : s.duration("idleConnectionTimeout", fallback, Duration.ofSeconds(1), MAX_DURATION);
    }

    /**
     * {@code telephony.maxCallDuration}: checked here, so 0s is a configuration error naming the key
     * (exit 2), not a failed start. Any positive value was taken before, so any still is.
     */
    private static Duration maxCallDuration(ConfigSection section) {
        return section.duration("maxCallDuration", Duration.ofHours(12), Duration.ofMillis(1), MAX_DURATION);
    }

    /** How often the account and number revisions are read: how soon a change without the bus (the CLI) holds. */
    private static Duration directoryPoll(ConfigSection section) {
        return section.duration("directoryPoll", Duration.ofMillis(250), Duration.ofMillis(50), Duration.ofHours(1));
    }

    @Override
    public void assemble(NodeContext context) {
        // Node.start has run checkConfig on this same block before anything started (the only
        // caller of assemble); the settings below are read from the block it accepted.
        ConfigSection section = context.section();
        RegistrarSettings registrarSettings = registrarSettings(section);
        TransportSettings transportSettings = transportSettings(section);
        String domain = context.config().domain();

        AccountStore accounts = new AccountStore(context.store().jdbi(), clock);
        Duration directoryPoll = directoryPoll(section);
        directory = new AccountDirectory(accounts, domain, directoryPoll);
        NonceService nonces = new NonceService(clock, registrarSettings.nonceLifetime(), 1 << 20);
        location = new LocationService();
        BindingStore bindings = new BindingStore(context.store().jdbi(), 100_000, context.store().settings().commitDelay());
        SipMetrics metrics = new SipMetrics(context.meters());
        transport = new TransportLayer(transportSettings, metrics);
        List<AddressRange> balancers = proxyProtocolFrom(section);
        if (!balancers.isEmpty()) {
            transport.setProxyProtocolSources(source -> balancers.stream().anyMatch(range -> range.contains(source)));
        }
        // node-to-node SIP carries the traffic of all of a node's devices: not one source to throttle
        ClusterPeerAddresses clusterPeers = new ClusterPeerAddresses();
        clusterPeers.update(context.cluster().view());
        AutoCloseable followingPeers = context.cluster().onChange(clusterPeers::update);
        transport.setFloodExempt(clusterPeers::contains);
        ProxySettings proxySettings = proxySettings(section, registrarSettings.authenticate());
        // a TCP phone whose connection is gone is connected to again (FlowDirectory#reconnect): its
        // branch waits for the connect before its response timeout starts, so the connect is kept
        // well under that timeout
        transport.setOutgoingTcp(tcpConnectTimeout(proxySettings.branchResponseTimeout()),
                TransportLayer.DEFAULT_MAX_PENDING_TCP_CONNECTS);
        LocalEndpoints endpoints = new LocalEndpoints(transport, proxySettings.advertisedAddress(),
                context.http()::listensOn, aliases(section));
        DigestAuthenticator authenticator = new DigestAuthenticator(directory, nonces,
                digestPolicy(section, registrarSettings), endpoints);
        // the node's stable cluster id: bindings name it as the holder of their flow
        String nodeId = membershipNodeId != null ? membershipNodeId : context.nodeId();
        ClusterNode cluster = new ClusterNode(nodeId);
        clusterNode = cluster;
        ListenPoint clusterAddress = clusterAddress(section);
        Registrar registrar = new Registrar(registrarSettings, directory, authenticator, location, bindings, clock, metrics,
                transport::executor, cluster);
        numbers = new NumberDirectory(new NumberStore(context.store().jdbi(), clock), directoryPoll);
        CallRecordStore callRecords = new CallRecordStore(context.store().jdbi(), 100_000);
        calls = new CallTracker(callRecords, new CallMetrics(context.meters()), clock, context.nodeId(),
                maxCallDuration(section));
        // a node that dies leaves its call records open: one survivor closes them (see DeadNodeCalls)
        DeadNodeCalls deadNodeCalls = new DeadNodeCalls(calls, clock);
        AutoCloseable followingDeaths = context.cluster().onChange(deadNodeCalls);
        deadNodeCalls.accept(context.cluster().view()); // after subscribing: no change falls between
        webSockets = new SipWebSocketEndpoint(transport, transportSettings.maxMessageSize(),
                transportSettings.maxConnectionsPerAddress(), (reason, t) -> metrics.dropped(reason, t, null));
        webSockets.useClientAddresses(context.http()::clientOf);
        // a TCP device is never connected to at the address of another node, a balancer (phones
        // behind one that sends no PROXY header share its address), a trusted peer or a trusted
        // HTTP proxy (FlowDirectory#reconnect)
        List<AddressRange> neverDialled = new ArrayList<>(balancers);
        neverDialled.addAll(proxySettings.trustedPeers());
        neverDialled.addAll(trustedHttpProxies(context));
        FlowDirectory flows = new FlowDirectory(transport, webSockets::flow, new LocalAddresses(), clock.millis(),
                address -> clusterPeers.contains(address) || neverDialled.stream().anyMatch(r -> r.contains(address)),
                context.http()::listensOn);
        // what this node advertises as sip.holds, and what its watch compares (HeldAddressWatch)
        java.util.function.Supplier<List<String>> heldNow = () -> flows.heldUdpListeners(transport.listenPoints());
        RouteSigner routeSigner = RouteSigner.fromStore(context.store().jdbi());
        proxy = new ProxyCore(proxySettings, location, directory, numbers, authenticator, calls, flows, endpoints,
                clock, metrics, routeSigner);
        NodeLiveness nodeLiveness = liveness != null ? liveness
                : new MembershipLiveness(context.cluster(), new RecentFailures(clock, Duration.ofSeconds(10)));
        java.util.concurrent.ExecutorService storeReads = Executors.newVirtualThreadPerTaskExecutor();
        // a single node's SQLite store holds nothing its memory does not: no store reads on a miss
        proxy.joinCluster(cluster, nodeLiveness, context.store().isSqlite() ? null : bindings::load, storeReads);
        BindingAnnouncements announcements = new BindingAnnouncements(context.bus(), location, nodeId, clock);
        DirectoryUpdates updates = new DirectoryUpdates(directory, numbers, location, bindings, proxy, context.bus());
        SipService service = new SipService(registrar, proxy, () -> context.readiness().refusesNewWork(), "Switchboard",
                metrics::strayResponse);
        TransactionLayer transactions = new TransactionLayer(transport, TimerSettings.rfc3261(), service);
        proxy.bind(transactions);
        metrics.bindGauges(location::size, transactions::size, transport::openConnections);

        List<ListenPoint> points = new ArrayList<>();
        for (ListenAddress address : context.config().sipListeners()) {
            if (address.transport().equals("ws")) {
                throw new ConfigException("sip", "SIP over WebSocket (" + address + ") is served on the HTTP port at "
                        + SipWebSocketEndpoint.PATH + "; list only udp, tcp and tls listeners here");
            }
            points.add(new ListenPoint(Transport.parse(address.transport()), address.host(), address.port()));
        }
        // RFC 3261 §26.2: SIP over TLS with the node's certificate (Node.checkConfig refused a tls
        // listener without one). Meters exist only on nodes that listen for it.
        SipTlsContexts sipTls = points.stream().anyMatch(p -> p.transport() == Transport.TLS)
                ? new SipTlsContexts(context.certificate().orElseThrow(() -> new ConfigException("sip",
                        "a tls listener needs the node's certificate: set tls.certificate and tls.key")), context.meters(),
                        metrics)
                : null;
        if (sipTls != null) {
            transport.setTls(sipTls.pipeline());
            warnUnlessCertificateNames(context.certificate().orElseThrow().current(), domain, "the node's certificate");
            // a renewal may bring a certificate for other names (a new order, a copy from another
            // host): said as at start, since phones will refuse it from now on
            context.certificate().orElseThrow().onChange(renewed ->
                    warnUnlessCertificateNames(renewed, domain, "the new certificate"));
        }
        // RFC 3261 §26.2: the connections the node opens itself to sips:/transport=tls targets
        SipTlsClientContexts sipTlsClient = new SipTlsClientContexts(
                TlsClientSettings.from(context.config().section("tls")), context.certificate());
        transport.setTlsClient(sipTlsClient.connector());

        ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "binding-expiry");
            t.setDaemon(true);
            return t;
        });
        context.addComponent(Component.of("telephony",
                () -> {
                    refuseADomainTheOtherNodesDoNotServe(context.cluster().view(), domain);
                    accounts.recordNodeDomain(domain).ifPresent(previous -> log.warn(
                            "the default domain changed from {} to {}: accounts keep their own domain (the digest realm);"
                                    + " devices of {} must use it in their registrations", previous, domain, previous));
                    directory.start();
                    numbers.start();
                    calls.start();
                    routeSigner.prepare();
                    long now = clock.millis();
                    tidyStoredBindings(bindings, now, registrarSettings.authenticate());
                    // listening before reading, so a binding announced meanwhile is not missed. A
                    // single node's bus reaches no other node: nobody to tell, and nothing to hear.
                    if (context.bus().spansNodes()) {
                        announcements.start(bindings);
                    }
                    List<Binding> live = bindings.loadLive(now);
                    location.merge(live, now);
                    bindings.start();
                    updates.start();
                    sweeper.scheduleWithFixedDelay(() -> expire(bindings), 1, 1, TimeUnit.SECONDS);
                    sweeper.scheduleWithFixedDelay(webSockets::ping, 25, 25, TimeUnit.SECONDS);
                    sweeper.scheduleWithFixedDelay(new HeldAddressWatch(heldNow,
                            () -> !transport.listenPoints().isEmpty(), context.cluster()), 1, 1, TimeUnit.SECONDS);
                    log.info("domain {}; accounts: {}; registrations restored: {}", domain, directory.size(),
                            live.size());
                },
                () -> {
                    updates.close();
                    announcements.close();
                    storeReads.shutdown();
                    sweeper.shutdownNow();
                    bindings.close();
                    followingDeaths.close();
                    calls.close();
                    numbers.close();
                    directory.close();
                }));
        // what the cluster view shows of this node's SIP: the bound listeners (ports chosen by the
        // system included) and the Path other nodes send calls for its devices to
        context.cluster().advertise("sip.listeners",
                () -> transport.listenPoints().stream().map(ListenPoint::toString).toList());
        context.cluster().advertise("sip.path", cluster::path);
        // what a node started later compares its own domain with (refuseADomainTheOtherNodesDoNotServe)
        context.cluster().advertise(DOMAIN_ADDRESS, () -> domain);
        // the floating addresses (UDP listeners on a specific address) this host holds now: other
        // nodes send through this one what must leave from them (see FlowDirectory#heldElsewhere)
        context.cluster().advertise("sip.holds", heldNow::get);
        // Route entries name a balancer only while every live node reads their node id (ProxyCore)
        context.cluster().advertise(NodeLiveness.ROUTES_BY_ID, () -> Boolean.TRUE);
        context.addListener(Component.of("sip",
                () -> {
                    if (sipTls != null) {
                        sipTls.start();
                    }
                    sipTlsClient.start();
                    for (ListenPoint bound : transport.start(points)) {
                        log.info("SIP listening on {}", bound);
                    }
                    cluster.setPath(clusterPath(clusterAddress, transport.listenPoints(), proxySettings.advertisedAddress()));
                    if (context.bus().spansNodes()) { // a single node has no other node to tell
                        log.info("SIP node {}: other nodes reach devices registered here through {}", nodeId,
                                cluster.path() == null ? "nothing (no tcp or udp listener)" : cluster.path());
                    }
                },
                () -> {
                    boolean waited = awaitCallSetups(context, CALL_SETUP_DRAIN);
                    int ended = proxy.endRinging(CANCEL_DRAIN);
                    if (ended > 0) {
                        log.info("the node is stopping: {} call(s) still ringing{} were cancelled and their callers"
                                + " answered 503, so they can call through another node", ended,
                                waited ? " after " + CALL_SETUP_DRAIN.toSeconds() + " s" : "");
                    }
                    transport.stop();
                    followingPeers.close();
                    transactions.stop();
                    if (sipTls != null) {
                        sipTls.stop();
                    }
                    sipTlsClient.stop();
                }));
        context.addReadinessCheck("sip", () -> points.isEmpty() || transport.isRunning() ? Optional.empty()
                : Optional.of("SIP listeners are not bound"));
        AccountsApi api = new AccountsApi(accounts, location, context.adminAuth(), context.json(), domain, clock, updates,
                b -> AccountsApi.connected(b, nodeId, held -> flows.toBinding(held).isPresent()));
        context.addRoutes(api::register);
        context.addRoutes(webSockets::register);
        context.addRoutes(new NumbersApi(new NumberStore(context.store().jdbi(), clock), directory, context.adminAuth(),
                context.json(), domain, updates)::register);
        context.addRoutes(new CallsApi(calls, callRecords, context.adminAuth(), context.json(), clock)::register);
    }

    /**
     * Phones check that the certificate names the host they dialed, which for SIP is the domain
     * (RFC 5922 §7): a certificate that does not name it (nor match it with a wildcard) works for
     * no phone that dials the domain. Said at start and at each renewal, not refused: a lab may
     * dial an address.
     */
    static void warnUnlessCertificateNames(io.switchboard.platform.tls.ServerCredentials certificate, String domain,
                                           String which) {
        String wanted = domain.toLowerCase(java.util.Locale.ROOT);
        for (String uri : certificate.uriNames()) {
            // the SIP domain identity RFC 5922 §7.1 prefers: sip:DOMAIN, no user part
            String u = uri.toLowerCase(java.util.Locale.ROOT);
            if (u.equals("sip:" + wanted) || u.equals("sips:" + wanted)) {
                return;
            }
        }
        for (String name : certificate.names()) {
            String n = name.toLowerCase(java.util.Locale.ROOT);
            if (n.equals(wanted) || n.startsWith("*.") && wanted.endsWith(n.substring(1))
                    && wanted.indexOf('.') == wanted.length() - n.length() + 1) {
                return;
            }
        }
        log.warn("{} names {}, not the SIP domain {}: phones that dial {} over TLS will refuse it"
                + " (RFC 5922 §7); get a certificate for the domain, or set domain to a name on the certificate",
                which, certificate.names(), domain, domain);
    }

    /** The cluster view's entry in which each node names its SIP domain. */
    static final String DOMAIN_ADDRESS = "sip.domain";

    /**
     * Every node of a cluster serves one default domain: a node started with another (a node added
     * without {@code domain}, which then defaults to the host's name) made the store's default
     * domain its own, so the command line then added accounts to it and found none of the
     * cluster's, and requests that name no known domain were taken for a different one depending
     * on the node a phone reached. Refused while a live node serves another: to change the domain,
     * stop every node and start them with the new one.
     */
    static void refuseADomainTheOtherNodesDoNotServe(io.switchboard.platform.cluster.ClusterView view, String domain) {
        java.util.Map<String, List<String>> othersByDomain = new java.util.TreeMap<>();
        for (io.switchboard.platform.cluster.NodeRecord node : view.nodes()) {
            Object theirs = node.addresses().get(DOMAIN_ADDRESS);
            if (!node.self() && node.isAlive() && theirs instanceof String other && !other.equalsIgnoreCase(domain)) {
                othersByDomain.computeIfAbsent(other, d -> new java.util.ArrayList<>()).add(node.id());
            }
        }
        if (!othersByDomain.isEmpty()) {
            String served = othersByDomain.entrySet().stream().map(e -> e.getKey() + " (node " + String.join(", ", e.getValue()) + ")")
                    .collect(java.util.stream.Collectors.joining(" and "));
            throw new io.switchboard.platform.config.ConfigException("domain", "is " + domain + ", but the cluster's live nodes"
                    + " serve " + served + ": give this node the same domain (--domain, SWITCHBOARD_DOMAIN); to change the"
                    + " cluster's domain, stop every node and start them all with the new one");
        }
    }

    /**
     * While the node refuses new dialogs (503, {@link SipService}) and still serves in-dialog
     * requests, calls being set up get a bounded moment to be answered, declined or cancelled
     * before the SIP sockets close. Established calls cannot be waited for (they last hours).
     *
     * @return true when calls still rang at the end of {@code limit}
     */
    private boolean awaitCallSetups(NodeContext context, Duration limit) throws InterruptedException {
        if (!context.readiness().refusesNewWork()) {
            return false;
        }
        long deadline = System.nanoTime() + limit.toNanos();
        while (calls.active().stream().anyMatch(call -> call.phase() == io.switchboard.telephony.calls.ActiveCall.Phase.RINGING)) {
            if (System.nanoTime() > deadline) {
                return true; // what still rings is cancelled next, in one line
            }
            Thread.sleep(50);
        }
        return false;
    }

    /**
     * Deletes stored bindings that expired or lost their account. Tidying, not a condition of
     * starting: on PostgreSQL these statements may cross another node's writer on the same rows
     * and fail as a deadlock; expired bindings are never loaded, and the next start tidies again.
     */
    private void tidyStoredBindings(BindingStore bindings, long now, boolean accountsRequired) {
        try {
            bindings.deleteExpired(now);
            if (accountsRequired) {
                // in SQL, against the accounts as they are: another node may have added an
                // account and stored its registration since this node read the directory
                int orphans = bindings.deleteWithoutAccount();
                if (orphans > 0) {
                    log.info("dropped {} stored registrations whose account no longer exists", orphans);
                }
            }
        } catch (RuntimeException e) {
            log.warn("tidying stored registrations failed ({}); the node starts without it", e.toString());
        }
    }

    private void expire(BindingStore bindings) {
        try {
            location.forgetOldRemovals(clock.millis());
            List<Binding> expired = location.removeExpired(clock.millis());
            if (!expired.isEmpty()) {
                bindings.submit(List.of(), expired);
            }
        } catch (RuntimeException e) {
            log.warn("binding expiry sweep failed: {}", e.toString());
        }
    }

    static RegistrarSettings registrarSettings(ConfigSection s) {
        RegistrarSettings d = RegistrarSettings.defaults();
        int min = s.integer("minExpires", d.minExpires(), 1, 86_400);
        int max = s.integer("maxExpires", d.maxExpires(), 1, Integer.MAX_VALUE);
        int def = s.integer("defaultExpires", d.defaultExpires(), 1, Integer.MAX_VALUE);
        if (max < min) {
            throw s.problem("maxExpires", "must not be below minExpires (" + min + ")");
        }
        if (def < min || def > max) {
            throw s.problem("defaultExpires", "must be between minExpires and maxExpires");
        }
        List<DigestAlgorithm> algorithms = new ArrayList<>();
        List<String> names = s.has("digestAlgorithms") ? s.stringList("digestAlgorithms") : List.of("MD5");
        for (String name : names) {
            DigestAlgorithm a = DigestAlgorithm.fromToken(name);
            if (a == null || name.isBlank()) {
                throw s.problem("digestAlgorithms", "unknown digest algorithm '" + name + "' (use SHA-256 and/or MD5)");
            }
            if (!algorithms.contains(a)) {
                algorithms.add(a);
            }
        }
        if (algorithms.isEmpty()) {
            throw s.problem("digestAlgorithms", "needs at least one of SHA-256, MD5");
        }
        return new RegistrarSettings(s.bool("auth", d.authenticate()), min, max, def,
                s.integer("maxContacts", d.maxContacts(), 1, 1000), algorithms,
                // a nonce that is stale at once would answer every REGISTER with stale=true (RFC 7616 3.5)
                s.duration("nonceLifetime", d.nonceLifetime(), Duration.ofSeconds(1), MAX_DURATION));
    }

    /**
     * Node-wide algorithms (one MD5 challenge unless {@code digestAlgorithms} says otherwise) and the
     * domains challenged with SHA-256 only ({@code sha256Domains}); accounts may choose their own.
     */
    static DigestPolicy digestPolicy(ConfigSection s, RegistrarSettings registrar) {
        Set<String> domains = new LinkedHashSet<>();
        for (String domain : s.stringList("sha256Domains")) {
            try {
                domains.add(AccountStore.validDomain(domain.strip()));
            } catch (AccountException e) {
                throw s.problem("sha256Domains", e.getMessage());
            }
        }
        return new DigestPolicy(registrar.algorithms(), domains);
    }

    /** {@code proxies.trusted} (the platform's block, checked when the node started); none when it is not declared. */
    private static List<AddressRange> trustedHttpProxies(NodeContext context) {
        try {
            return AddressRange.listFrom(context.config().section("proxies"), "trusted");
        } catch (IllegalArgumentException notDeclared) {
            return List.of();
        }
    }

    /**
     * How long a TCP connect to a device may take: half of telephony.branchResponseTimeout, at
     * most {@link TransportLayer#DEFAULT_TCP_CONNECT_TIMEOUT} (also when it is 0, Timer B).
     */
    static Duration tcpConnectTimeout(Duration branchResponseTimeout) {
        Duration cap = TransportLayer.DEFAULT_TCP_CONNECT_TIMEOUT;
        Duration half = branchResponseTimeout.dividedBy(2);
        return branchResponseTimeout.isZero() || half.compareTo(cap) > 0 ? cap : half;
    }

    static ProxySettings proxySettings(ConfigSection s, boolean authenticate) {
        ProxySettings d = ProxySettings.defaults();
        List<AddressRange> trusted = AddressRange.listFrom(s, "trustedPeers");
        Duration timerC = s.duration("timerC", d.timerC());
        if (timerC.compareTo(Duration.ofSeconds(1)) < 0) {
            throw s.problem("timerC", "must be at least 1s (RFC 3261 asks for more than 3 minutes)");
        }
        Duration branchResponseTimeout = s.duration("branchResponseTimeout", d.branchResponseTimeout());
        if (!branchResponseTimeout.isZero() && (branchResponseTimeout.compareTo(Duration.ofSeconds(1)) < 0
                || branchResponseTimeout.compareTo(Duration.ofSeconds(32)) > 0)) {
            // below a second a live UDP device behind a lossy link could be given up after one
            // retransmission; past 32 s the INVITE's own Timer B (64*T1) has ended the branch already
            throw s.problem("branchResponseTimeout", "must be 0 (wait for Timer B, 32s) or between 1s and 32s");
        }
        String advertised = s.has("advertisedAddress") ? s.string("advertisedAddress", null) : null;
        if (advertised != null && io.netty.util.NetUtil.createByteArrayFromIpAddressString(
                advertised.startsWith("[") ? advertised.substring(1, advertised.length() - 1) : advertised) == null) {
            throw s.problem("advertisedAddress", "must be an IP address literal");
        }
        return new ProxySettings(authenticate, trusted, timerC, advertised, branchResponseTimeout);
    }

    /**
     * {@code telephony.proxyProtocolFrom}: the load balancers (addresses or CIDR blocks) whose TCP and
     * TLS connections begin with a PROXY protocol header (HAProxy {@code send-proxy-v2}).
     */
    static List<AddressRange> proxyProtocolFrom(ConfigSection s) {
        return AddressRange.listFrom(s, "proxyProtocolFrom");
    }

    static TransportSettings transportSettings(ConfigSection s) {
        TransportSettings d = TransportSettings.defaults();
        int flood = s.integer("floodLimit", 2000, 0, 10_000_000);
        return new TransportSettings(
                s.integer("maxMessageSize", d.maxMessageSize(), 1024, 65_535),
                flood, s.integer("floodBurst", flood * 2, 0, 100_000_000),
                s.integer("maxConnections", d.maxConnections(), 1, 1_000_000),
                s.integer("maxConnectionsPerAddress", d.maxConnectionsPerAddress(), 1, 1_000_000),
                // the sweep that enforces it runs every second: under 1s it would cut off ordinary peers
                s.duration("partialMessageTimeout", d.partialMessageTimeout(), Duration.ofSeconds(1), MAX_DURATION),
                idleConnectionTimeout(s, d.idleConnectionTimeout()),
                s.integer("ioThreads", d.ioThreads(), 0, 256),
                s.integer("udpReceiveBuffer", d.udpReceiveBuffer(), 65_536, 256 * 1024 * 1024),
                s.integer("workerThreads", d.workerThreads(), 0, 256),
                s.integer("workerQueue", d.workerQueue(), 1024, 10_000_000));
    }

    /** The SIP listen points as bound (real ports when 0 was asked), for tests and logs. */
    public List<ListenPoint> listenPoints() {
        return transport == null ? List.of() : transport.listenPoints();
    }

    public LocationService location() {
        return location;
    }

    public AccountDirectory accounts() {
        return directory;
    }

    public NumberDirectory numbers() {
        return numbers;
    }

    public CallTracker calls() {
        return calls;
    }

    public ProxyCore proxy() {
        return proxy;
    }

    /** This node as other nodes see it for SIP (its id and node-to-node URI); null before assembly. */
    public ClusterNode clusterNode() {
        return clusterNode;
    }
}
