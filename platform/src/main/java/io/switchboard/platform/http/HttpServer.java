package io.switchboard.platform.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.javalin.Javalin;
import io.javalin.config.JavalinState;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import io.javalin.json.JavalinJackson;
import io.javalin.router.Endpoint;
import io.javalin.validation.ValidationException;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.lifecycle.Component;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.ServerCredentials;
import io.switchboard.platform.tls.TlsHandshakeMeter;
import io.switchboard.platform.tls.TlsSettings;
import java.net.InetSocketAddress;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's one HTTP server (Javalin 7 on Jetty 12, handlers on virtual threads).
 *
 * <p>Built in: {@code GET /livez} and its alias {@code /liveness} (200 while the process
 * serves), {@code GET /readyz} (200, or 503 with the reasons, from {@link Readiness}),
 * {@code GET /metrics} (Prometheus text). Every error leaves as RFC 9457 problem details and is
 * counted in {@code switchboard_http_errors_total{status}}.
 *
 * <p>Modules add their routes with {@link #addRoutes(HttpRoutes)} before {@link #start()};
 * Javalin 7 fixes the routes when the server is created.
 *
 * <p>While the node drains, {@code /readyz} answers 503 at once but requests are still served
 * (balancers need a few health checks to notice); once {@link Readiness#refuseNewWork()},
 * requests other than the health and metrics endpoints get 503 with {@code Retry-After}, and
 * {@link #stop()} lets requests in flight finish (bounded by the stop timeout) before closing.
 *
 * <p><b>HTTPS.</b> With {@link #serveHttps} the same routes are also served over TLS 1.2 and 1.3
 * (RFC 8446; older versions are refused) on a second connector of the same Jetty server, with the
 * node's certificate; WebSocket endpoints become {@code wss://} there. Answers on it carry
 * {@code Strict-Transport-Security} (RFC 6797; never on plain HTTP, §7.2). When the certificate
 * files change, {@link NodeCertificate} hands the new pair over and Jetty's
 * {@code SslContextFactory.reload} makes new handshakes use it; established connections keep
 * their sessions. The plain listener may be off (a null address) when HTTPS is on.
 */
public final class HttpServer implements Component {
    private static final Logger log = LoggerFactory.getLogger(HttpServer.class);
    private static final Set<String> OPERATIONAL_PATHS = Set.of("/livez", "/liveness", "/readyz", "/metrics");

    /** The plain HTTP address; null when plain HTTP is off. */
    private final HostPort address;
    private final Metrics metrics;
    private final Readiness readiness;
    private final Duration stopTimeout;
    /** The Jetty server under Javalin: its graceful stop gets what is left of the stop timeout. */
    private volatile org.eclipse.jetty.server.Server jetty;
    private static final String IN_FLIGHT = "switchboard.inFlight";
    /** The largest request body any API takes (Javalin's default, stated so the 413 can name it). */
    static final long MAX_BODY_BYTES = 1_000_000;
    /** Requests admitted (past the drain check) and not yet through the after-handlers (WebSocket streams not counted). */
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private final ObjectMapper json;
    private final List<HttpRoutes> contributions = new ArrayList<>();
    private volatile Javalin app;
    private HostPort httpsAddress;
    private NodeCertificate certificate;
    private volatile ServerConnector plainConnector;
    private volatile ServerConnector secureConnector;
    private volatile SslContextFactory.Server httpsContext;
    private Runnable stopFollowingCertificate = () -> { };
    private volatile TrustedProxies trustedProxies = TrustedProxies.none();
    /** The connectors' idle timeout; null for Jetty's. */
    private volatile Duration idleTimeout;
    /** Where Javalin's WebSocket endpoints are created: wrapped so they note their clients' frames ({@link WebSocketSilence}). */
    private volatile org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServletFactory webSocketFactory;
    /** This server's watch on its WebSocket clients' frames, wired at {@link #start()}. */
    private final WebSocketSilence silence;

    /**
     * @param address     where plain HTTP listens, or null for none (then {@link #serveHttps} is required)
     * @param stopTimeout how long {@link #stop()} waits for requests in flight
     */
    public HttpServer(HostPort address, Metrics metrics, Readiness readiness, Duration stopTimeout) {
        this.address = address;
        this.metrics = metrics;
        this.readiness = readiness;
        this.stopTimeout = stopTimeout;
        this.silence = new WebSocketSilence(metrics.registry());
        this.json = new ObjectMapper()
                .registerModule(new JavaTimeModule())
                .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    }

    /**
     * Believes {@code X-Forwarded-For} from these proxies for a request's client address
     * ({@link TrustedProxies}). Only before {@link #start()}.
     */
    public synchronized void trustProxies(TrustedProxies proxies) {
        if (app != null) {
            throw new IllegalStateException("trusted proxies are set before the server starts");
        }
        this.trustedProxies = proxies;
    }

    /**
     * How long a connection may send nothing before Jetty gives up on it (its idle timeout; Jetty's
     * 30 s unless set): a request body that stops arriving for this long is answered 408. Only
     * before {@link #start()}.
     */
    synchronized void idleTimeout(Duration timeout) {
        if (app != null) {
            throw new IllegalStateException("the idle timeout is set before the server starts");
        }
        this.idleTimeout = timeout;
    }

    /**
     * The client a connection speaks for: the peer, or the client its {@code X-Forwarded-For}
     * names if the peer is a trusted proxy. For what reads the peer outside a request (a WebSocket
     * session, whose address Jetty takes from the socket).
     */
    public InetSocketAddress clientOf(InetSocketAddress peer, List<String> forwardedFor) {
        return trustedProxies.clientOf(peer, forwardedFor);
    }

    /**
     * Also serves every route over HTTPS at {@code address} with the node's certificate. Only
     * before {@link #start()}.
     */
    public synchronized void serveHttps(HostPort address, NodeCertificate certificate) {
        if (app != null) {
            throw new IllegalStateException("HTTPS must be set up before the server starts");
        }
        this.httpsAddress = java.util.Objects.requireNonNull(address);
        this.certificate = java.util.Objects.requireNonNull(certificate);
    }

    /** The JSON mapper request and response bodies go through; modules may reuse it (e.g. for WebSocket frames). */
    public ObjectMapper json() {
        return json;
    }

    /**
     * Adds a module's routes. Only before {@link #start()}.
     *
     * @throws IllegalStateException once started
     */
    public synchronized void addRoutes(HttpRoutes routes) {
        if (app != null) {
            throw new IllegalStateException("HTTP routes must be added before the server starts");
        }
        contributions.add(routes);
    }

    @Override
    public String name() {
        return "http";
    }

    @Override
    public synchronized void start() {
        if (app != null) {
            throw new IllegalStateException("HTTP server already started");
        }
        if (address == null && httpsAddress == null) {
            throw new IllegalStateException("neither HTTP nor HTTPS has an address to listen on");
        }
        ProblemResponses problems = new ProblemResponses(json, metrics.registry());
        Javalin created = Javalin.create(config -> {
            config.concurrency.useVirtualThreads = true;
            config.startup.showJavalinBanner = false;
            config.startup.showOldJavalinVersionWarning = false;
            config.startup.startupWatcherEnabled = false;
            config.jsonMapper(new JavalinJackson(json, true));
            // A known path with the wrong method is 405 with Allow (RFC 9110 §15.5.6), not a 404
            // that tells a client the endpoint does not exist.
            config.http.prefer405over404 = true;
            config.http.maxRequestSize = MAX_BODY_BYTES;
            JettyProblemErrorHandler jettyErrors = new JettyProblemErrorHandler(json, problems);
            config.jetty.modifyServer(server -> {
                jetty = server;
                server.setStopTimeout(stopTimeout.toMillis());
                // What Jetty answers itself (414, 431, bad URI or header, 505) is problem+json too.
                server.setErrorHandler(jettyErrors);
            });
            // Jetty caches request header fields per connection. Bearer tokens differ from request
            // to request on a shared connection (a gateway, a balancer, one client for many
            // people), so the cache only churned: evicting and re-inserting was ~5% of the API's
            // CPU under load (JFR). Without it headers are simply parsed.
            TrustedProxies proxies = trustedProxies;
            config.jetty.modifyHttpConfiguration(http -> {
                http.setHeaderCacheSize(0);
                if (!proxies.isEmpty()) {
                    // the HTTPS configuration is a copy of this one and keeps its customizers
                    http.addCustomizer(new ForwardedForCustomizer(proxies));
                }
            });
            // Javalin adds its own plain connector only when none is given; both are ours.
            if (address != null) {
                config.jetty.addConnector(this::plainConnector);
            }
            if (httpsAddress != null) {
                config.jetty.addConnector(this::secureConnector);
            }
            // The node has no HTTP sessions (bearer tokens), but Javalin asks for one on every
            // WebSocket upgrade, even to a path with no endpoint, before any route of ours runs
            // (WebSocketUpgrades discards those it sees). Jetty would keep each in memory until a
            // scavenger ran (every 10 min), so anyone could fill the heap with upgrade requests:
            // a null cache and store keep none, and no cookie is sent.
            config.jetty.modifyServletContextHandler(handler -> {
                handler.setErrorHandler(jettyErrors);
                var sessions = handler.getSessionHandler();
                var cache = new org.eclipse.jetty.session.NullSessionCache(sessions);
                cache.setSessionDataStore(new org.eclipse.jetty.session.NullSessionDataStore());
                sessions.setSessionCache(cache);
                sessions.setUsingCookies(false);
            });
            config.jetty.modifyWebSocketServletFactory(factory -> webSocketFactory = factory);
            RoutesConfig routes = config.routes;
            registerErrorMapping(routes, problems);
            routes.before(this::refuseWhileDraining);
            // counted once admitted: a 503 during the stop is no work the stop should wait for
            routes.before(ctx -> {
                ctx.attribute(IN_FLIGHT, Boolean.TRUE);
                inFlight.incrementAndGet();
            });
            routes.after(ctx -> {
                if (ctx.attribute(IN_FLIGHT) != null) {
                    inFlight.decrementAndGet();
                }
                if (ctx.statusCode() == 204) {
                    // no content, so no type of content (RFC 9110 §15.3.5): Javalin's default text/plain went out on every 204
                    ctx.res().setContentType(null);
                }
            });
            routes.before(HttpServer::refuseUnstorableText);
            routes.before(HttpServer::refuseRepeatedQueryParameters);
            // HTTP before-handlers do not run on WebSocket upgrades: a new chat stream or SIP
            // WebSocket is new work too, and its query parameters reach the store as well.
            routes.wsBeforeUpgrade(this::refuseWhileDraining);
            // how the endpoint of this upgrade finds this server's silence watch (WebSocketSilence.of)
            routes.wsBeforeUpgrade(ctx -> ctx.attribute(WebSocketSilence.ATTRIBUTE, silence));
            routes.wsBeforeUpgrade(HttpServer::refuseUnstorableText);
            routes.get("/livez", HttpServer::alive);
            routes.get("/liveness", HttpServer::alive);
            routes.get("/readyz", this::ready);
            routes.get("/metrics", this::scrape);
            for (HttpRoutes contribution : contributions) {
                contribution.register(routes);
            }
            answerHeadLikeGet(config.unsafe, routes);
        });
        try {
            created.start();
        } catch (RuntimeException e) {
            created.stop();
            throw new IllegalStateException(listenersText() + ": " + RootCause.message(e), e);
        }
        if (!silence.watch(webSocketFactory)) {
            log.warn("WebSocket streams cannot be watched for silence (no WebSocket creator after start): streams whose"
                    + " client answers no ping are not closed");
        }
        app = created;
        if (plainConnector != null) {
            log.info("HTTP listening on {}", baseUrl());
        }
        if (secureConnector != null) {
            log.info("HTTPS listening on {} (TLS 1.2 and 1.3)", httpsBaseUrl());
        }
    }

    private String listenersText() {
        if (address == null) {
            return "HTTPS cannot listen on " + httpsAddress;
        }
        return "HTTP cannot listen on " + address + (httpsAddress == null ? "" : " or HTTPS on " + httpsAddress);
    }

    private ServerConnector plainConnector(Server server, HttpConfiguration http) {
        ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
        connector.setHost(address.host());
        connector.setPort(address.port());
        if (idleTimeout != null) {
            connector.setIdleTimeout(idleTimeout.toMillis());
        }
        plainConnector = connector;
        return connector;
    }

    private ServerConnector secureConnector(Server server, HttpConfiguration http) {
        TlsSettings settings = certificate.settings();
        SslContextFactory.Server tls = new SslContextFactory.Server();
        httpsContext = tls;
        AtomicReference<ServerCredentials> serving = new AtomicReference<>();
        // Registered before the pair in use is read: a renewal applied in between reaches this
        // factory rather than being missed until the next one.
        stopFollowingCertificate = certificate.onChange(renewed -> takeCredentials(tls, serving, renewed));
        ServerCredentials now = certificate.current();
        synchronized (tls) {
            if (serving.get() == null) {
                useKeyStore(tls, now.keyStore());
                serving.set(now);
            }
        }
        tls.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        tls.setIncludeCipherSuites(io.switchboard.platform.tls.CipherSuites.HTTPS.toArray(String[]::new));
        // Client-initiated renegotiation (TLS 1.2) costs the server a full handshake per request: a cheap flood.
        tls.setRenegotiationAllowed(false);
        HttpConfiguration secure = new HttpConfiguration(http);
        secure.setSecureScheme("https");
        // One certificate and nothing to choose by SNI: a request whose Host is not among its names
        // (an IP address a balancer checks, a second domain) is served rather than refused with 400.
        secure.addCustomizer(new SecureRequestCustomizer(false, false, settings.hstsMaxAge().toSeconds(), false));
        TlsHandshakeMeter handshakes = new TlsHandshakeMeter(metrics.registry(), "https");
        // TLS first; what is not TLS at all (plain HTTP sent to this port) gets a 400 naming the https URL
        ServerConnector connector = new ServerConnector(server,
                new PlainHttpAtHttpsPort(new HandshakeBoundSslConnectionFactory(tls, "http/1.1", settings.handshakeTimeout(),
                        handshakes), handshakes, settings.handshakeTimeout()),
                new HttpConnectionFactory(secure));
        connector.setHost(httpsAddress.host());
        connector.setPort(httpsAddress.port());
        if (idleTimeout != null) {
            connector.setIdleTimeout(idleTimeout.toMillis());
        }
        secureConnector = connector;
        return connector;
    }

    /**
     * Makes {@code tls} serve {@code credentials}, or throws with it still serving the pair it had.
     * Jetty's {@code reload} unloads the factory before loading it again: were the load to fail,
     * the factory would hold nothing and every handshake would fail until the next renewal. So the
     * key store is built first (a failure there changes nothing), and a failed load is followed by
     * a reload of the previous pair.
     */
    private static void takeCredentials(SslContextFactory.Server tls, AtomicReference<ServerCredentials> serving,
                                        ServerCredentials credentials) {
        KeyStore store = credentials.keyStore();
        synchronized (tls) {
            ServerCredentials before = serving.get();
            if (before == null || !tls.isStarted()) {
                useKeyStore(tls, store); // not serving yet: loaded when Jetty starts it
                serving.set(credentials);
                return;
            }
            try {
                tls.reload(factory -> useKeyStore((SslContextFactory.Server) factory, store));
                serving.set(credentials);
            } catch (Exception e) {
                KeyStore previous = before.keyStore();
                try {
                    tls.reload(factory -> useKeyStore((SslContextFactory.Server) factory, previous));
                } catch (Exception again) {
                    e.addSuppressed(again);
                    log.error("HTTPS could load neither the new certificate nor the previous one; handshakes fail until"
                            + " the next renewal", e);
                }
                throw new IllegalStateException("HTTPS could not load the new certificate: " + RootCause.message(e), e);
            }
        }
    }

    private static void useKeyStore(SslContextFactory.Server tls, KeyStore store) {
        tls.setKeyStore(store);
        tls.setKeyStorePassword(ServerCredentials.KEY_STORE_PASSWORD);
        tls.setKeyManagerPassword(ServerCredentials.KEY_STORE_PASSWORD);
    }

    /**
     * Refuses early, with the same message {@link #start()} would give, when the listen address is
     * taken or cannot be bound: the node then stops before opening its store and modules. Binds
     * with SO_REUSEADDR like Jetty, so a port in TIME_WAIT still counts as free. Port 0 is skipped.
     */
    public void checkHttpAddressFree() {
        checkAddressFree("HTTP", address);
    }

    /** As {@link #checkHttpAddressFree()}, for the HTTPS address (configured under its own key, {@code https}). */
    public void checkHttpsAddressFree() {
        checkAddressFree("HTTPS", httpsAddress);
    }

    private static void checkAddressFree(String what, HostPort address) {
        if (address == null || address.port() == 0) {
            return;
        }
        java.net.InetSocketAddress socketAddress = new java.net.InetSocketAddress(address.host(), address.port());
        if (socketAddress.isUnresolved()) {
            // a failed start (exit 1), not a configuration error: the resolver may not be up yet at
            // boot, and a supervisor then tries again
            throw new IllegalStateException(what + " cannot listen on " + address + ": \"" + address.host()
                    + "\" does not resolve to an address (a mistyped name, or no DNS yet)");
        }
        try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
            probe.setReuseAddress(true);
            probe.bind(socketAddress);
        } catch (java.io.IOException e) {
            throw new IllegalStateException(what + " cannot listen on " + address + ": " + RootCause.message(e), e);
        }
    }

    private static void registerErrorMapping(RoutesConfig routes, ProblemResponses problems) {
        routes.exception(ApiProblem.class, problems::apiProblem);
        routes.exception(HttpResponseException.class, problems::javalinResponse);
        routes.exception(JsonProcessingException.class, problems::badJson);
        routes.exception(ValidationException.class, problems::validation);
        routes.exception(Exception.class, problems::uncaught);
    }

    private void refuseWhileDraining(Context ctx) {
        if (readiness.refusesNewWork() && !OPERATIONAL_PATHS.contains(ctx.path())) {
            throw ApiProblem.unavailable("This node is shutting down; retry on another node.")
                    .withHeader("Connection", "close")
                    .withHeader("Retry-After", "1");
        }
    }

    /**
     * No HTTP endpoint takes a query parameter twice: {@code ?limit=5&limit=500} is 400 naming it,
     * where the first used to win silently. (The chat stream's WebSocket upgrade, which takes
     * {@code resume} once per chat, is not an HTTP route and does not pass here.)
     */
    private static void refuseRepeatedQueryParameters(Context ctx) {
        for (Map.Entry<String, List<String>> parameter : ctx.queryParamMap().entrySet()) {
            if (parameter.getValue().size() > 1) {
                String name = parameter.getKey();
                throw ApiProblem.badRequest("query parameter '" + (name.length() > 40 ? name.substring(0, 40) + "…" : name)
                        + "' is given " + parameter.getValue().size() + " times; give it once");
            }
        }
    }

    /**
     * Query parameters reach queries as text: one with a NUL or an unpaired surrogate is a 400
     * naming it here, for every route, rather than a database error later. Request bodies are
     * checked by {@link RequestBodies#object}; a NUL in the path Jetty refuses itself (400).
     */
    private static void refuseUnstorableText(Context ctx) {
        for (Map.Entry<String, List<String>> parameter : ctx.queryParamMap().entrySet()) {
            StorableText.require("query parameter name", parameter.getKey());
            for (String value : parameter.getValue()) {
                StorableText.require("query parameter '" + parameter.getKey() + "'", value);
            }
        }
    }

    private static void alive(Context ctx) {
        ctx.json(Map.of("status", "ok"));
    }

    private void ready(Context ctx) {
        List<String> problems = readiness.problems();
        if (problems.isEmpty()) {
            ctx.json(Map.of("status", "ok"));
        } else {
            // status first, always (Map.of has no order): scripts and people read it first
            Map<String, Object> body = new java.util.LinkedHashMap<>();
            body.put("status", "unavailable");
            body.put("reasons", problems);
            ctx.status(503).json(body);
        }
    }

    /**
     * HEAD is GET without the body (RFC 9110 §9.3.2: the same status and header fields). Javalin
     * answers HEAD on a GET route with an empty 200 without running the route, so {@code HEAD
     * /readyz} said 200 on a node that was not ready (a balancer checking with HEAD kept sending it
     * work), a HEAD without a token got 200 where GET gets 401, and {@code /metrics} lost its
     * content type. Each GET route therefore also answers HEAD through the same handler, befores
     * and afters included; Jetty writes no body for a HEAD request.
     */
    private static void answerHeadLikeGet(JavalinState config, RoutesConfig routes) {
        List<Endpoint> endpoints = config.internalRouter.allHttpHandlers().stream()
                .map(parsed -> parsed.endpoint)
                .toList();
        Set<String> headPaths = endpoints.stream()
                .filter(endpoint -> endpoint.method == HandlerType.HEAD)
                .map(endpoint -> endpoint.path)
                .collect(Collectors.toSet());
        for (Endpoint endpoint : endpoints) {
            if (endpoint.method == HandlerType.GET && !headPaths.contains(endpoint.path)) {
                routes.head(endpoint.path, endpoint.handler);
            }
        }
    }

    private void scrape(Context ctx) {
        ctx.contentType(Metrics.CONTENT_TYPE).result(metrics.scrape());
    }

    /**
     * The plain HTTP port; with port 0 configured, the ephemeral port the OS chose.
     *
     * @throws IllegalStateException before start, or when plain HTTP is off
     */
    public int port() {
        return started(plainConnector, "plain HTTP").getLocalPort();
    }

    /** The HTTPS port, as {@link #port()}. */
    public int httpsPort() {
        return started(secureConnector, "HTTPS").getLocalPort();
    }

    private ServerConnector started(ServerConnector connector, String what) {
        if (app == null) {
            throw new IllegalStateException("HTTP server is not started");
        }
        if (connector == null) {
            throw new IllegalStateException(what + " is not served by this node");
        }
        return connector;
    }

    /** This server's watch on WebSocket frames, and whether Javalin's endpoints are wrapped for it; for tests. */
    WebSocketSilence webSocketSilence() {
        return silence;
    }

    boolean webSocketsWatched() {
        return silence.watches(webSocketFactory);
    }

    /** The HTTPS connector's TLS settings as Jetty applies them, for tests. */
    SslContextFactory.Server httpsContextFactory() {
        started(secureConnector, "HTTPS");
        return httpsContext;
    }

    /** Whether {@link #start()} has bound the listeners (and ports can be asked for). */
    public boolean isStarted() {
        return app != null;
    }

    /** Whether plain HTTP is served. */
    public boolean servesHttp() {
        return address != null;
    }

    /** Whether HTTPS is served. */
    public boolean servesHttps() {
        return httpsAddress != null;
    }

    /** True when {@code port} is one this server listens on (plain or HTTPS), for SIP's "is this URI me". */
    public boolean listensOn(int port) {
        ServerConnector plain = plainConnector;
        ServerConnector secure = secureConnector;
        return (plain != null && plain.getLocalPort() == port) || (secure != null && secure.getLocalPort() == port);
    }

    /** The bound plain HTTP address, with the real port. */
    public HostPort boundAddress() {
        int port = port(); // throws when plain HTTP is off
        return new HostPort(address.host(), port);
    }

    /** The bound HTTPS address, with the real port. */
    public HostPort boundHttpsAddress() {
        int port = httpsPort(); // throws when HTTPS is off
        return new HostPort(httpsAddress.host(), port);
    }

    /** {@code http://host:port}, for logs and tests. A wildcard host is shown as configured. */
    public String baseUrl() {
        return "http://" + address.hostForUrl() + ":" + port();
    }

    /** {@code https://host:port}, as {@link #baseUrl()}. */
    public String httpsBaseUrl() {
        return "https://" + httpsAddress.hostForUrl() + ":" + httpsPort();
    }

    /** How long connections accepted before the listeners closed get to send their request and have it answered. */
    private static final Duration ACCEPTED_GRACE = Duration.ofSeconds(1);
    /** Connections accepted this shortly before the listeners closed may not have sent their request yet. */
    private static final Duration RECENTLY_ACCEPTED = Duration.ofMillis(500);

    /**
     * Closes the listening sockets (a client connecting from now on is refused, and goes elsewhere),
     * then waits, up to {@link #ACCEPTED_GRACE} and the deadline, for the connections already
     * accepted to be done: while the server still runs, a request on one gets its 503 with
     * {@code Connection: close}, and the connection closes. Left to Jetty's graceful stop, the
     * listener closed while the stop was under way: a connection accepted in that instant could be
     * left unserved and open until the process ended, and its client saw a reset for a request the
     * node had taken in (HttpServerTest, clientsConnectingWhileTheNodeStops...).
     */
    private void closeListeners(long deadline) {
        List<ServerConnector> listening = new ArrayList<>();
        for (ServerConnector connector : new ServerConnector[] {plainConnector, secureConnector}) {
            if (connector != null && connector.isOpen()) {
                connector.close(); // the channel only: Jetty's acceptor sees it closed and ends quietly
                listening.add(connector);
            }
        }
        long until = Math.min(deadline, System.nanoTime() + ACCEPTED_GRACE.toNanos());
        // Only connections accepted just before the close are waited for: older ones (a
        // balancer's keep-alive pool, WebSocket sessions, chat streams) had their chance and
        // would hold every stop for the whole grace. A socket accepted an instant before the
        // close reaches the list only once a selector took it, hence a short first pause.
        long recentSince = System.currentTimeMillis() - RECENTLY_ACCEPTED.toMillis();
        try {
            Thread.sleep(Math.max(0, Math.min(50, (until - System.nanoTime()) / 1_000_000)));
            while (System.nanoTime() < until && listening.stream().anyMatch(c -> c.getConnectedEndPoints().stream()
                    .anyMatch(e -> e.getCreatedTimeStamp() >= recentSince))) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Lets requests in flight finish within the stop timeout while the listener stays open, so a
     * request that comes meanwhile (a new connection, or a keep-alive one a balancer reuses) is
     * answered 503 with {@code Retry-After} and {@code Connection: close} instead of finding the
     * port closed; then stops accepting connections and closes what is left (Jetty's graceful
     * shutdown, within what is left of the timeout).
     */
    @Override
    public synchronized void stop() {
        Javalin running = app;
        if (running == null) {
            return;
        }
        stopFollowingCertificate.run();
        long deadline = System.nanoTime() + stopTimeout.toNanos();
        if (readiness.refusesNewWork()) {
            try {
                while (inFlight.get() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (readiness.refusesNewWork()) {
            closeListeners(deadline);
        }
        org.eclipse.jetty.server.Server server = jetty;
        if (server != null) {
            // what is left, at least a second for idle keep-alive connections to be closed cleanly
            server.setStopTimeout(Math.max(1000, (deadline - System.nanoTime()) / 1_000_000));
        }
        try {
            running.stop();
        } catch (RuntimeException e) {
            // Jetty has closed the connectors by the time it reports the timeout.
            log.warn("HTTP stopped with connections still open after {} ms: {}", stopTimeout.toMillis(), RootCause.message(e));
        }
    }
}
