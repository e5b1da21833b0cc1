package io.switchboard.telephony.registrar;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import io.switchboard.sip.transaction.TimerSettings;
import io.switchboard.sip.transaction.TransactionLayer;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.auth.DigestPolicy;
import io.switchboard.telephony.auth.NonceService;
import io.switchboard.telephony.sip.SipMetrics;
import io.switchboard.telephony.sip.SipService;
import io.switchboard.telephony.calls.CallMetrics;
import io.switchboard.telephony.calls.CallRecordStore;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.telephony.proxy.FlowDirectory;
import io.switchboard.telephony.proxy.LocalEndpoints;
import io.switchboard.telephony.proxy.ProxyCore;
import io.switchboard.telephony.proxy.ProxySettings;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/** A registrar on loopback UDP over a real store, the way the node assembles it, minus HTTP. */
final class RegistrarFixture implements AutoCloseable {
    static final String DOMAIN = "example.test";
    /** A second domain the fixture serves, listed in sha256Domains: challenged with SHA-256 only. */
    static final String SECURE_DOMAIN = "secure.test";

    /** Real time, moved on by tests (a nonce's or binding's lifetime passing). */
    final MutableClock clock = MutableClock.running();
    final Store store;
    final AccountStore accounts;
    final AccountDirectory directory;
    final LocationService location = new LocationService();
    final BindingStore bindings;
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final TransportLayer transport;
    final TransactionLayer transactions;
    final NumberDirectory numbers;
    final CallTracker calls;
    final DigestAuthenticator authenticator;
    final int port;
    /** The TCP listener's port; 0 without one. */
    final int tcpPort;
    /** A port the fixture claims for HTTP (WebSocket): no SIP listener, so no digest-uri may name it. */
    final int httpPort;

    RegistrarFixture(StoreSettings storeSettings, RegistrarSettings settings) throws Exception {
        this(storeSettings, settings, io.switchboard.telephony.proxy.ProxySettings.DEFAULT_BRANCH_RESPONSE_TIMEOUT);
    }

    /** @param branchResponseTimeout the proxy's telephony.branchResponseTimeout */
    RegistrarFixture(StoreSettings storeSettings, RegistrarSettings settings, Duration branchResponseTimeout)
            throws Exception {
        this(storeSettings, settings, branchResponseTimeout, settings.authenticate(), false);
    }

    /**
     * @param proxyAuthenticates whether the proxy challenges out-of-dialog requests (the registrar
     *                           follows {@code settings}); off lets any INVITE or MESSAGE reach routing
     * @param tcp                also a TCP listener, on {@link #tcpPort}
     */
    RegistrarFixture(StoreSettings storeSettings, RegistrarSettings settings, Duration branchResponseTimeout,
                     boolean proxyAuthenticates, boolean tcp) throws Exception {
        store = Store.open(storeSettings);
        store.migrate("telephony");
        accounts = new AccountStore(store.jdbi(), clock);
        directory = new AccountDirectory(accounts, DOMAIN, Duration.ofMillis(100));
        directory.start();
        bindings = new BindingStore(store.jdbi(), 10_000);
        location.load(bindings.loadLive(clock.millis()));
        bindings.start();
        NonceService nonces = new NonceService(clock, settings.nonceLifetime(), 1024);
        SipMetrics metrics = new SipMetrics(meters);
        transport = new TransportLayer(TransportSettings.defaults(), metrics);
        java.util.concurrent.atomic.AtomicInteger http = new java.util.concurrent.atomic.AtomicInteger();
        LocalEndpoints endpoints = new LocalEndpoints(transport, null, port -> port == http.get());
        authenticator = new DigestAuthenticator(directory, nonces,
                new DigestPolicy(settings.algorithms(), Set.of(SECURE_DOMAIN)), endpoints);
        Registrar registrar = new Registrar(settings, directory, authenticator, location, bindings, clock, metrics,
                transport::executor, new io.switchboard.telephony.cluster.ClusterNode("node"));
        numbers = new NumberDirectory(new NumberStore(store.jdbi(), clock), Duration.ofMillis(100));
        calls = new CallTracker(new CallRecordStore(store.jdbi(), 1000), new CallMetrics(meters), clock, "test");
        ProxyCore proxy = new ProxyCore(new ProxySettings(proxyAuthenticates, List.of(), Duration.ofSeconds(181), null,
                        branchResponseTimeout),
                location, directory, numbers, authenticator, calls, new FlowDirectory(transport, id -> java.util.Optional.empty()),
                endpoints, clock, metrics::authFailure,
                new io.switchboard.telephony.proxy.RouteSigner(new byte[32]));
        transactions = new TransactionLayer(transport, TimerSettings.rfc3261(),
                new SipService(registrar, proxy, () -> false, "test",
                        metrics::strayResponse));
        proxy.bind(transactions);
        List<ListenPoint> listeners = new java.util.ArrayList<>(List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0)));
        if (tcp) {
            listeners.add(new ListenPoint(Transport.TCP, "127.0.0.1", 0));
        }
        List<ListenPoint> bound = transport.start(listeners);
        port = bound.get(0).port();
        tcpPort = tcp ? bound.get(1).port() : 0;
        httpPort = port == 65535 ? port - 1 : port + 1;
        http.set(httpPort);
    }

    static RegistrarFixture sqlite(Path dir, RegistrarSettings settings) throws Exception {
        return new RegistrarFixture(StoreSettings.sqliteIn(dir), settings);
    }

    double counter(String name, String tag, String value) {
        var counter = meters.find(name).tag(tag, value).counter();
        return counter == null ? 0 : counter.count();
    }

    @Override
    public void close() {
        transactions.stop();
        transport.stop();
        bindings.close();
        calls.close();
        numbers.close();
        directory.close();
        store.close();
    }
}
