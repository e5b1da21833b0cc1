package io.switchboard.telephony.sip;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.tls.NodeCertificate;
import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.platform.tls.TlsClientSettings;
import io.switchboard.platform.tls.TlsSettings;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.transport.SipDomainIdentity;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportFailure;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.proxy.FlowDirectory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.Principal;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outgoing SIP over TLS (RFC 3261 §26.2) against real TLS servers in the test (the JDK's
 * SSLServerSocket with certificates from a test CA): the server's chain must lead to
 * {@code tls.trust}, its certificate must name the SIP domain or host connected for (RFC 5922 §7),
 * the handshake is bounded in time, the node's certificate is presented when the server asks, a
 * connection is reused and carries requests back, and every outcome is counted.
 */
class OutboundTlsTest {
    private static final Identity CA = TestCertificates.authority("Outbound Test CA");
    private static final Identity OTHER_CA = TestCertificates.authority("Somebody Else's CA");

    @TempDir
    Path dir;
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final List<AutoCloseable> closing = new CopyOnWriteArrayList<>();
    private final List<SipMessage> received = new CopyOnWriteArrayList<>();
    private final List<SipFlow> receivedOn = new CopyOnWriteArrayList<>();
    private TransportLayer transport;

    @BeforeEach
    void start() throws Exception {
        transport = transportTrusting(Optional.empty());
    }

    private TransportLayer transportTrusting(Optional<NodeCertificate> own) throws Exception {
        return transportTrusting(own, TransportSettings.defaults().withIoThreads(1), TransportLayer.DEFAULT_MAX_PENDING_TLS_CONNECTS);
    }

    private TransportLayer transportTrusting(Optional<NodeCertificate> own, TransportSettings transportSettings,
                                             int maxPending) throws Exception {
        Path trust = Files.writeString(dir.resolve("trust.pem"), TestCertificates.pem(CA.certificate()));
        TlsClientSettings settings = TlsClientSettings.from(ConfigSection.of("tls",
                Map.of("trust", trust.toString(), "handshakeTimeout", "3s", "connectTimeout", "5s")));
        SipMetrics metrics = new SipMetrics(meters);
        TransportLayer layer = new TransportLayer(transportSettings, metrics);
        layer.setTlsClient(new SipTlsClientContexts(settings, own).connector(), maxPending);
        layer.setInboundHandler((message, flow) -> {
            received.add(message);
            receivedOn.add(flow);
        });
        layer.start(List.of());
        closing.add(layer::stop);
        return layer;
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    private double outcome(String outcome) {
        var counter = meters.find("switchboard.sip.tls.connects").tag("outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    private TransportFailure failure(InetSocketAddress remote, String name) {
        Throwable thrown = null;
        try {
            transport.tlsFlowTo(remote, name).toCompletableFuture().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            thrown = e.getCause() != null ? e.getCause() : e;
        }
        assertThat(thrown).as("the connection must fail").isInstanceOf(TransportFailure.class);
        return (TransportFailure) thrown;
    }

    @Test
    void connectsChecksTheDomainReusesTheConnectionAndTakesRequestsBack() throws Exception {
        TlsPeer peer = peer(TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "sip.example.test"), null);
        InetSocketAddress at = peer.address();

        SipFlow flow = transport.tlsFlowTo(at, "sip.example.test").toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(flow.transport()).isEqualTo(Transport.TLS);
        assertThat(flow.isOpen()).isTrue();
        // a later request to the same peer takes the same connection (RFC 3261 §18.1.1: connections are reused)
        SipFlow again = transport.tlsFlowTo(at, "sip.example.test").toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(again.id()).isEqualTo(flow.id());
        // without a name the certificate must be for the address, which this one is not
        assertThat(failure(at, "127.0.0.1").reason()).isEqualTo("name_mismatch");

        flow.send(options("sip:sip.example.test").getBytes(StandardCharsets.UTF_8)).toCompletableFuture().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> peer.text().contains("OPTIONS sip:sip.example.test SIP/2.0"));
        assertThat(peer.sniNames.getFirst()).isEqualTo("sip.example.test");

        // the peer sends a request back on the connection the node opened: it is handled like any other
        peer.sendOnFirst(options("sip:node.example.test"));
        await().atMost(Duration.ofSeconds(10)).until(() -> !received.isEmpty());
        assertThat(((SipRequest) received.getFirst()).requestUri().toString()).isEqualTo("sip:node.example.test");
        assertThat(receivedOn.getFirst().id()).isEqualTo(flow.id());
        assertThat(outcome("ok")).isEqualTo(1);
        assertThat(outcome("name_mismatch")).isEqualTo(1);
    }

    @Test
    void aCertificateForAnotherNameIsRefusedBeforeAnySipIsSent() throws Exception {
        TlsPeer peer = peer(TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "other.example.test"), null);
        // the wrong peer speaks first, right after its handshake: none of it may be handled
        peer.greeting = options("sip:node.example.test");
        TransportFailure failure = failure(peer.address(), "sip.example.test");
        assertThat(failure.reason()).isEqualTo("name_mismatch");
        assertThat(failure.getMessage()).contains("other.example.test").contains("RFC 5922");
        assertThat(failure.timedOut()).isFalse();
        await().atMost(Duration.ofSeconds(10)).until(() -> peer.closedConnections.get() == 1);
        // the handshake did finish (so the node could have written): the refusal was the name check's
        assertThat(peer.handshakes.get()).isEqualTo(1);
        assertThat(peer.text()).as("nothing was written to the wrong peer").isEmpty();
        // what the wrong peer sends right after its handshake is not handled either (item: no flow before the check)
        assertThat(received).isEmpty();
        assertThat(outcome("name_mismatch")).isEqualTo(1);
    }

    @Test
    void anUntrustedCertificateIsRefused() throws Exception {
        TlsPeer peer = peer(TestCertificates.server(OTHER_CA, Instant.now().plus(Duration.ofDays(30)), "sip.example.test"), null);
        TransportFailure failure = failure(peer.address(), "sip.example.test");
        assertThat(failure.reason()).isEqualTo("untrusted");
        assertThat(outcome("untrusted")).isEqualTo(1);
    }

    @Test
    void anExpiredCertificateIsRefused() throws Exception {
        TlsPeer peer = peer(TestCertificates.server(CA, "EC", Instant.now().minus(Duration.ofDays(60)),
                Instant.now().minus(Duration.ofDays(1)), "sip.example.test"), null);
        assertThat(failure(peer.address(), "sip.example.test").reason()).isEqualTo("untrusted");
    }

    @Test
    void aServerThatNeverAnswersTheHandshakeFailsWithinTheHandshakeTimeout() throws Exception {
        ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        closing.add(silent);
        List<Socket> held = new CopyOnWriteArrayList<>();
        Thread.ofVirtual().start(() -> {
            try {
                while (!silent.isClosed()) {
                    held.add(silent.accept()); // accepted and never answered
                }
            } catch (IOException e) {
                // closed
            }
        });
        long started = System.nanoTime();
        TransportFailure failure = failure(new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.getLocalPort()),
                "sip.example.test");
        assertThat(failure.reason()).isEqualTo("handshake_timeout");
        assertThat(failure.timedOut()).as("marked a timeout (the proxy takes any failure as the device"
                + " unreachable: a 480 ranked after the other devices' answers)").isTrue();
        // 3 s of handshake timeout, with room for a loaded machine
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(15));
        assertThat(outcome("handshake_timeout")).isEqualTo(1);
        for (Socket s : held) {
            s.close();
        }
    }

    @Test
    void aClosedPortIsRefusedAtOnce() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        TransportFailure failure = failure(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), "sip.example.test");
        assertThat(failure.reason()).isEqualTo("connect_refused");
        assertThat(outcome("connect_refused")).isEqualTo(1);
    }

    @Test
    void theNodeCertificateIsPresentedWhenTheServerAsksForOne() throws Exception {
        Identity node = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "node.example.test");
        Path cert = node.writeChain(dir.resolve("node.crt"));
        Path key = node.writeKey(dir.resolve("node.key"), KeyFormat.PKCS8);
        NodeCertificate certificate = NodeCertificate.load(new TlsSettings(cert, key, null, Duration.ofSeconds(1),
                Duration.ofDays(365)), meters);
        TransportLayer mutual = transportTrusting(Optional.of(certificate));
        // a trunk that requires a client certificate signed by CA (mutual TLS)
        TlsPeer trunk = peer(TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "sip:trunk.example.test"), CA);

        SipFlow flow = mutual.tlsFlowTo(trunk.address(), "trunk.example.test").toCompletableFuture().get(20, TimeUnit.SECONDS);
        flow.send(options("sip:trunk.example.test").getBytes(StandardCharsets.UTF_8)).toCompletableFuture().get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> trunk.text().contains("OPTIONS"));
        assertThat(trunk.clients.getFirst().getName()).isEqualTo("CN=node.example.test");

        // without a certificate of its own the node cannot get in: the trunk refuses the handshake.
        // TLS 1.3: the client may finish before the server has checked it, so the stage may complete
        // and the server then close at once; either way the trunk must never read a byte of SIP,
        // which the node writes here as soon as it believes it has a connection
        TlsPeer strict = peer(TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "trunk.example.test"), CA);
        boolean refusedInHandshake;
        try {
            SipFlow anonymous = transport.tlsFlowTo(strict.address(), "trunk.example.test").toCompletableFuture()
                    .get(20, TimeUnit.SECONDS);
            refusedInHandshake = false;
            anonymous.send(options("sip:trunk.example.test").getBytes(StandardCharsets.UTF_8));
            await().atMost(Duration.ofSeconds(10)).until(() -> !anonymous.isOpen());
        } catch (java.util.concurrent.ExecutionException e) {
            refusedInHandshake = true;
            assertThat(e.getCause()).isInstanceOf(TransportFailure.class);
            assertThat(((TransportFailure) e.getCause()).reason()).isIn("refused_by_peer", "closed");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> strict.closedConnections.get() == 1);
        assertThat(strict.handshakes.get()).as("the trunk accepted no anonymous client").isZero();
        assertThat(strict.clients).isEmpty();
        assertThat(strict.text()).as("refused in the handshake: " + refusedInHandshake).isEmpty();
    }

    @Test
    void aDeviceWhoseConnectionIsGoneIsConnectedToOnlyAtTheAddressItRegisteredFrom() throws Exception {
        Instant later = Instant.now().plus(Duration.ofDays(30));
        // the phone listens at the address it registered from; another host (127.0.0.2) with a
        // certificate that would pass must never be dialled because a Contact names it
        TlsPeer phone = peer(TestCertificates.server(CA, later, "phone.example.test", "127.0.0.1"), null);
        TlsPeer elsewhere = peerOn(InetAddress.getByName("127.0.0.2"),
                TestCertificates.server(CA, later, "127.0.0.2", "phone.example.test"));
        FlowDirectory flows = new FlowDirectory(transport, id -> Optional.empty());
        int phonePort = phone.address().getPort();
        int otherPort = elsewhere.address().getPort();

        // a Contact naming another address than the source: no connection at all (RFC 5922 check or not)
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.2:" + otherPort, "TLS"))).isEmpty();
        // the same with transport=tls on a sip: URI
        assertThat(flows.reconnect(binding("sip:alice@127.0.0.2:" + otherPort + ";transport=tls", "TLS"))).isEmpty();
        // a name in the Contact is the certificate's name only: the connection goes to the source address
        SipFlow flow = flows.reconnect(binding("sips:alice@phone.example.test:" + phonePort, "TLS")).orElseThrow()
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(flow.remote().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(flow.remote().getPort()).isEqualTo(phonePort);
        await().atMost(Duration.ofSeconds(10)).until(() -> phone.sniNames.contains("phone.example.test"));
        // the source address itself as a literal
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.1:" + phonePort, "TLS")).orElseThrow()
                .toCompletableFuture().get(20, TimeUnit.SECONDS).remote().getPort()).isEqualTo(phonePort);
        // registered over something else than TLS, or a Contact for another transport: never
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.1:" + phonePort, "TCP"))).isEmpty();
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.1:" + phonePort, "UDP"))).isEmpty();
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.1:" + phonePort + ";transport=ws", "TLS"))).isEmpty();
        assertThat(flows.reconnect(binding("sips:alice@127.0.0.1:" + phonePort + ";transport=tcp", "TLS"))).isEmpty();
        assertThat(elsewhere.accepted).as("the other host saw no connection").isEmpty();
    }

    private static io.switchboard.telephony.registrar.Binding binding(String contact, String transport) {
        long now = System.currentTimeMillis();
        return new io.switchboard.telephony.registrar.Binding("sip:alice@example.test", contact, "<" + contact + ">",
                "reg-1", 1, 1000, now + 60_000, now, transport, "127.0.0.1", 40_000, "127.0.0.1", 5061,
                "gone-flow", "test", null, 0, "node-1", "sip:127.0.0.1:5060", now);
    }

    @Test
    void aPeerThatFailedIsNotDialledAgainAtOnce() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        InetSocketAddress closed = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        assertThat(failure(closed, "sip.example.test").reason()).isEqualTo("connect_refused");
        // within the next seconds requests fail at once (not a timeout; the device is unreachable, 480
        // at the proxy) without a new connect
        TransportFailure again = failure(closed, "sip.example.test");
        assertThat(again.reason()).isEqualTo("recent_failure");
        assertThat(again.timedOut()).isFalse();
        assertThat(outcome("connect_refused")).isEqualTo(1);
        assertThat(outcome("recent_failure")).isEqualTo(1);
    }

    @Test
    void connectionsBeingOpenedAreCappedAndWaitersForOnePeerShareOne() throws Exception {
        TransportLayer capped = transportTrusting(Optional.empty(), TransportSettings.defaults().withIoThreads(1), 1);
        ServerSocket silent = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        closing.add(silent);
        List<Socket> held = new CopyOnWriteArrayList<>();
        closing.add(() -> {
            for (Socket s : held) {
                s.close();
            }
        });
        Thread.ofVirtual().start(() -> {
            try {
                while (!silent.isClosed()) {
                    held.add(silent.accept()); // never answers the handshake
                }
            } catch (IOException e) {
                // closed
            }
        });
        InetSocketAddress at = new InetSocketAddress(InetAddress.getLoopbackAddress(), silent.getLocalPort());
        var first = capped.tlsFlowTo(at, "a.example.test").toCompletableFuture();
        assertThat(capped.tlsFlowTo(at, "a.example.test").toCompletableFuture()).as("same peer: the same attempt").isSameAs(first);
        Throwable busy = null;
        try {
            capped.tlsFlowTo(at, "b.example.test").toCompletableFuture().getNow(null);
        } catch (CompletionException e) {
            busy = e.getCause();
        }
        assertThat(busy).isInstanceOf(TransportFailure.class);
        assertThat(((TransportFailure) busy).reason()).isEqualTo("busy");
        assertThat(outcome("busy")).isEqualTo(1);
        assertThat(first.isDone()).isFalse();
        // the attempt ends (handshake timeout) and frees its place
        Throwable timedOut = null;
        try {
            first.get(20, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            timedOut = e.getCause();
        }
        assertThat(((TransportFailure) timedOut).reason()).isEqualTo("handshake_timeout");
        var next = capped.tlsFlowTo(at, "c.example.test").toCompletableFuture();
        assertThat(next.isCompletedExceptionally()).as("a place is free again").isFalse();
    }

    @Test
    void connectionsTheNodeOpensAreNotRefusedByTheLimitOnConnectionsFromOneAddress() throws Exception {
        // at most one connection from any one address: a limit for what peers open to us
        TransportLayer limited = transportTrusting(Optional.empty(),
                TransportSettings.defaults().withIoThreads(1).withConnectionLimits(100, 1), 8);
        Instant later = Instant.now().plus(Duration.ofDays(30));
        TlsPeer one = peer(TestCertificates.server(CA, later, "one.example.test"), null);
        TlsPeer two = peer(TestCertificates.server(CA, later, "two.example.test"), null);
        SipFlow first = limited.tlsFlowTo(one.address(), "one.example.test").toCompletableFuture().get(20, TimeUnit.SECONDS);
        SipFlow second = limited.tlsFlowTo(two.address(), "two.example.test").toCompletableFuture().get(20, TimeUnit.SECONDS);
        assertThat(first.isOpen()).isTrue();
        assertThat(second.isOpen()).isTrue();
        assertThat(outcome("connection_limit")).isZero();
    }

    @Test
    void aHandshakeTimeoutOutOfRangeIsAConfigError() {
        for (String bad : List.of("0s", "10m")) {
            assertThatThrownBy(() -> TlsClientSettings.from(ConfigSection.of("tls", Map.of("handshakeTimeout", bad))))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("handshakeTimeout");
        }
        assertThat(TlsClientSettings.from(ConfigSection.of("tls", Map.of("handshakeTimeout", "2s"))).handshakeTimeout())
                .isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void aResponseWhoseTlsConnectionClosedGoesOverANewConnectionToTheViaSentBy() throws Exception {
        Identity node = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1");
        NodeCertificate certificate = NodeCertificate.load(new TlsSettings(node.writeChain(dir.resolve("n.crt")),
                node.writeKey(dir.resolve("n.key"), KeyFormat.PKCS8), null, Duration.ofSeconds(5), Duration.ofDays(365)), meters);
        TransportLayer layer = new TransportLayer(TransportSettings.defaults().withIoThreads(1), new SipMetrics(meters));
        layer.setTls(new SipTlsContexts(certificate, meters, new SipMetrics(meters)).pipeline());
        Path trust = Files.writeString(dir.resolve("trust.pem"), TestCertificates.pem(CA.certificate()));
        layer.setTlsClient(new SipTlsClientContexts(TlsClientSettings.from(ConfigSection.of("tls",
                Map.of("trust", trust.toString()))), Optional.empty()).connector());
        List<SipFlow> flows = new CopyOnWriteArrayList<>();
        List<SipMessage> requests = new CopyOnWriteArrayList<>();
        layer.setInboundHandler((message, flow) -> {
            requests.add(message);
            flows.add(flow);
        });
        int port = layer.start(List.of(new io.switchboard.sip.transport.ListenPoint(Transport.TLS, "127.0.0.1", 0)))
                .getFirst().port();
        closing.add(layer::stop);
        // the phone listens with a certificate for its address, as RFC 3261 §18.2.2 needs of it
        TlsPeer phoneListener = peer(TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1"), null);

        try (SSLSocket phone = (SSLSocket) CA.trustingContext().getSocketFactory().createSocket("127.0.0.1", port)) {
            phone.startHandshake();
            String request = options("sip:node.example.test").replace("Via: SIP/2.0/TLS 127.0.0.1:5061",
                    "Via: SIP/2.0/TLS 127.0.0.1:" + phoneListener.address().getPort());
            phone.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
            phone.getOutputStream().flush();
            await().atMost(Duration.ofSeconds(10)).until(() -> !requests.isEmpty());
        }
        SipFlow gone = flows.getFirst();
        await().atMost(Duration.ofSeconds(10)).until(() -> !gone.isOpen());

        layer.sendResponse(io.switchboard.sip.message.SipResponse.to((SipRequest) requests.getFirst(), 200, "OK"), gone)
                .toCompletableFuture().get(20, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> phoneListener.text().startsWith("SIP/2.0 200 OK"));
    }

    @Test
    void sipDomainIdentitiesFollowRfc5922() {
        Instant later = Instant.now().plus(Duration.ofDays(30));
        // §7.1: sip: URIs are the identities; DNS names are then not used
        var withUri = TestCertificates.server(CA, later, "sip:example.test", "dns-only.example.test").certificate();
        assertThat(SipDomainIdentity.matches(withUri, "example.test")).isTrue();
        assertThat(SipDomainIdentity.matches(withUri, "EXAMPLE.test.")).isTrue();
        assertThat(SipDomainIdentity.matches(withUri, "dns-only.example.test")).isFalse();
        // only DNS names: those
        var dnsOnly = TestCertificates.server(CA, later, "proxy.example.test").certificate();
        assertThat(SipDomainIdentity.matches(dnsOnly, "proxy.example.test")).isTrue();
        assertThat(SipDomainIdentity.matches(dnsOnly, "example.test")).isFalse();
        // §7.2: a wildcard matches nothing
        var wildcard = TestCertificates.server(CA, later, "*.example.test").certificate();
        assertThat(SipDomainIdentity.matches(wildcard, "proxy.example.test")).isFalse();
        // an address literal against the iPAddress names
        var address = TestCertificates.server(CA, later, "phone.example.test", "192.0.2.7").certificate();
        assertThat(SipDomainIdentity.matches(address, "192.0.2.7")).isTrue();
        assertThat(SipDomainIdentity.matches(address, "192.0.2.8")).isFalse();
    }

    @Test
    void aTrustFileThatIsMissingOrHoldsNoCertificateIsAConfigError() throws Exception {
        assertThatThrownBy(() -> TlsClientSettings.from(ConfigSection.of("tls", Map.of("trust", dir.resolve("none.pem").toString()))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("trust").hasMessageContaining("does not exist");
        Path empty = Files.writeString(dir.resolve("empty.pem"), "nothing here\n");
        assertThatThrownBy(() -> TlsClientSettings.from(ConfigSection.of("tls", Map.of("trust", empty.toString()))))
                .isInstanceOf(ConfigException.class).hasMessageContaining("trust");
        assertThat(TlsClientSettings.from(ConfigSection.empty("tls")).trust()).as("default: the JDK trust store").isNull();
    }

    private static String options(String uri) {
        return "OPTIONS " + uri + " SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK" + System.nanoTime()
                + "\r\nMax-Forwards: 70\r\nFrom: <sip:probe@example.test>;tag=1\r\nTo: <" + uri + ">\r\n"
                + "Call-ID: " + System.nanoTime() + "@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    }

    private TlsPeer peer(Identity identity, Identity clientCa) throws IOException {
        TlsPeer peer = new TlsPeer(identity.presentingContext(clientCa), clientCa != null, InetAddress.getLoopbackAddress());
        closing.add(peer);
        return peer;
    }

    private TlsPeer peerOn(InetAddress address, Identity identity) throws IOException {
        TlsPeer peer = new TlsPeer(identity.presentingContext(null), false, address);
        closing.add(peer);
        return peer;
    }

    /** A TLS server on loopback: accepts connections, records what it reads, who the clients were and the SNI. */
    static final class TlsPeer implements AutoCloseable {
        final SSLServerSocket server;
        final ByteArrayOutputStream read = new ByteArrayOutputStream();
        final List<Principal> clients = new CopyOnWriteArrayList<>();
        final List<String> sniNames = new CopyOnWriteArrayList<>();
        final List<SSLSocket> accepted = new CopyOnWriteArrayList<>();
        final AtomicInteger closedConnections = new AtomicInteger();
        final AtomicInteger handshakes = new AtomicInteger();
        /** Written right after the handshake when set. */
        volatile String greeting;

        TlsPeer(SSLContext context, boolean needClientAuth, InetAddress address) throws IOException {
            server = (SSLServerSocket) context.getServerSocketFactory().createServerSocket(0, 10, address);
            server.setNeedClientAuth(needClientAuth);
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        SSLSocket socket = (SSLSocket) server.accept();
                        accepted.add(socket);
                        Thread.ofVirtual().start(() -> serve(socket));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        private void serve(SSLSocket socket) {
            try (socket) {
                socket.setSoTimeout(30_000);
                socket.startHandshake();
                handshakes.incrementAndGet();
                if (greeting != null) {
                    socket.getOutputStream().write(greeting.getBytes(StandardCharsets.UTF_8));
                    socket.getOutputStream().flush();
                }
                if (socket.getSession() instanceof javax.net.ssl.ExtendedSSLSession session) {
                    for (var name : session.getRequestedServerNames()) {
                        if (name instanceof javax.net.ssl.SNIHostName host) {
                            sniNames.add(host.getAsciiName());
                        }
                    }
                }
                try {
                    clients.add(socket.getSession().getPeerPrincipal());
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                    // no client certificate asked for
                }
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[4096];
                int n;
                while ((n = in.read(buffer)) >= 0) {
                    synchronized (read) {
                        read.write(buffer, 0, n);
                    }
                }
            } catch (IOException e) {
                // refused handshakes and closed connections end here
            } finally {
                closedConnections.incrementAndGet();
            }
        }

        InetSocketAddress address() {
            return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
        }

        String text() {
            synchronized (read) {
                return read.toString(StandardCharsets.UTF_8);
            }
        }

        void sendOnFirst(String message) throws IOException {
            SSLSocket socket = accepted.getFirst();
            socket.getOutputStream().write(message.getBytes(StandardCharsets.UTF_8));
            socket.getOutputStream().flush();
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (SSLSocket s : accepted) {
                s.close();
            }
        }
    }
}
