package io.switchboard.telephony.proxy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transaction.TimerSettings;
import io.switchboard.sip.transaction.TransactionLayer;
import io.switchboard.sip.transaction.TransactionUser;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.accounts.AccountStore;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.auth.DigestPolicy;
import io.switchboard.telephony.auth.NonceService;
import io.switchboard.telephony.calls.CallMetrics;
import io.switchboard.telephony.calls.CallRecordStore;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.telephony.cluster.ClusterNode;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.numbers.NumberStore;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.LocationService;
import io.switchboard.telephony.registrar.RegistrarSettings;
import io.switchboard.telephony.sip.SipMetrics;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The proxy of one cluster node ("node-a") on loopback UDP, without authentication and without a
 * registrar: bindings are put into its location service directly, so a test chooses which node
 * holds each device's flow and how the device registered. {@link Peer} plays the devices, the
 * caller and another node.
 */
final class ProxyNode implements AutoCloseable {
    static final String DOMAIN = "example.test";
    static final String BOB = "sip:bob@" + DOMAIN;

    final MutableClock clock = MutableClock.running();
    /** When this node started on {@link #clock}: a TCP binding older than this is one from before a restart. */
    final long startedAtMillis = clock.millis();
    final Store store;
    final AccountDirectory directory;
    final NumberDirectory numbers;
    final CallTracker calls;
    final LocationService location = new LocationService();
    final TransportLayer transport;
    final TransactionLayer transactions;
    final ProxyCore proxy;
    final int port;
    /** The TCP listener's port, when the node has one ({@link #ProxyNode(Path, Duration, TransportSettings, boolean)}); else 0. */
    final int tcpPort;
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private long versions;

    ProxyNode(Path dir, Duration branchResponseTimeout) throws Exception {
        this(dir, branchResponseTimeout, TransportSettings.defaults(), false);
    }

    /** With these transport settings, and also a TCP listener on loopback when {@code tcp}. */
    ProxyNode(Path dir, Duration branchResponseTimeout, TransportSettings transportSettings, boolean tcp) throws Exception {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("telephony");
        directory = new AccountDirectory(new AccountStore(store.jdbi(), clock), DOMAIN, Duration.ofMillis(100));
        directory.start();
        numbers = new NumberDirectory(new NumberStore(store.jdbi(), clock), Duration.ofMillis(100));
        SipMetrics metrics = new SipMetrics(meters);
        calls = new CallTracker(new CallRecordStore(store.jdbi(), 1000), new CallMetrics(meters), clock, "node-a");
        transport = new TransportLayer(transportSettings, metrics);
        LocalEndpoints endpoints = new LocalEndpoints(transport, null, port -> false);
        DigestAuthenticator authenticator = new DigestAuthenticator(directory,
                new NonceService(clock, Duration.ofMinutes(5), 1024),
                new DigestPolicy(RegistrarSettings.defaults().algorithms(), Set.of()), endpoints);
        proxy = new ProxyCore(new ProxySettings(false, List.of(), Duration.ofSeconds(181), null, branchResponseTimeout),
                location, directory, numbers, authenticator, calls, new FlowDirectory(transport, id -> Optional.empty(),
                        new io.switchboard.telephony.cluster.LocalAddresses(), startedAtMillis, address -> false, port -> false),
                endpoints, clock, metrics::authFailure, new RouteSigner(new byte[32]));
        transactions = new TransactionLayer(transport, TimerSettings.rfc3261(), new TransactionUser() {
            @Override
            public void onRequest(ServerTransaction transaction) {
                proxy.onRequest(transaction);
            }

            @Override
            public void onAck(SipRequest ack, SipFlow flow) {
                proxy.onAck(ack, flow);
            }
        });
        proxy.bind(transactions);
        List<ListenPoint> bound = transport.start(tcp
                ? List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0), new ListenPoint(Transport.TCP, "127.0.0.1", 0))
                : List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0)));
        port = bound.get(0).port();
        tcpPort = tcp ? bound.get(1).port() : 0;
        ClusterNode self = new ClusterNode("node-a");
        self.setPath("sip:127.0.0.1:" + port);
        proxy.joinCluster(self, nodeId -> true, null, Runnable::run);
    }

    /**
     * A registration of one of bob's devices at {@code device}: through this node ({@code node}
     * null) or through the node {@code node} whose node-to-node SIP listens at {@code nodePort}.
     */
    Binding bind(Peer device, String transport, String node, int nodePort, String instance, int regId) {
        long now = clock.millis();
        long version = now + ++versions;
        String contact = "sip:bob@127.0.0.1:" + device.port() + (transport.equals("UDP") ? "" : ";transport="
                + transport.toLowerCase(java.util.Locale.ROOT));
        String header = "<" + contact + ">" + (instance == null ? "" : ";+sip.instance=\"" + instance + "\"")
                + (regId > 0 ? ";reg-id=" + regId : "");
        String flowId = transport.toLowerCase(java.util.Locale.ROOT) + ":" + UUID.randomUUID();
        Binding binding = new Binding(BOB, contact, header, "reg-" + version, 1, 1000, now + 600_000, now, transport,
                "127.0.0.1", device.port(), null, 0, flowId, "test", instance, regId, node,
                node == null ? null : "sip:127.0.0.1:" + nodePort, version);
        location.update(BOB, bindings -> {
            List<Binding> after = new ArrayList<>();
            for (Binding b : bindings) {
                if (!b.contact().equals(contact)) {
                    after.add(b);
                }
            }
            after.add(binding);
            return after;
        });
        return binding;
    }

    @Override
    public void close() {
        transactions.stop();
        transport.stop();
        calls.close();
        numbers.close();
        directory.close();
        store.close();
    }

    /**
     * A UDP socket on loopback playing a device, the caller or another node: it keeps every
     * request it receives with where it came from, and hands responses to {@link #awaitFinal}.
     */
    static final class Peer implements AutoCloseable {
        record Received(SipRequest request, SocketAddress from) {
        }

        final DatagramSocket socket;
        final BlockingQueue<Received> requests = new LinkedBlockingQueue<>();
        final BlockingQueue<SipResponse> responses = new LinkedBlockingQueue<>();
        /** Every request received, retransmissions included, in order. */
        final List<SipRequest> log = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final Thread reader;

        Peer() throws SocketException {
            socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            reader = Thread.ofVirtual().start(this::read);
        }

        int port() {
            return socket.getLocalPort();
        }

        private void read() {
            byte[] buffer = new byte[65535];
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    socket.receive(packet);
                    SipMessage message = SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
                    if (message instanceof SipRequest request) {
                        log.add(request);
                        requests.add(new Received(request, packet.getSocketAddress()));
                    } else if (message instanceof SipResponse response) {
                        responses.add(response);
                    }
                }
            } catch (IOException | io.switchboard.sip.codec.SipParseException closed) {
                // the test is over (a node never sends what it cannot parse)
            }
        }

        /** The next request of {@code method} received within {@code millis}, skipping others; null if none. */
        Received await(String method, long millis) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            for (long left; (left = end - System.nanoTime()) > 0; ) {
                Received r = requests.poll(left, TimeUnit.NANOSECONDS);
                if (r != null && r.request().isMethod(method)) {
                    return r;
                }
            }
            return null;
        }

        /** The Call-IDs of the INVITEs received (retransmissions once). */
        List<String> invitedCalls() {
            return log.stream().filter(r -> r.isMethod(SipRequest.INVITE)).map(SipRequest::callId).distinct().toList();
        }

        /** Answers a request received from {@code to} as a UAS would (its To tag, its Contact). */
        void respond(Received to, int status, String reason) throws IOException {
            SipRequest request = to.request();
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append(' ').append(reason).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            for (String rr : request.headers().fields("Record-Route")) {
                r.append("Record-Route: ").append(rr).append("\r\n");
            }
            String toHeader = request.header("To");
            r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(toHeader).append(toHeader.contains("tag=") || status == 100 ? "" : ";tag=dev")
                    .append("\r\n")
                    .append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n")
                    .append("Contact: <sip:bob@127.0.0.1:").append(port()).append(">\r\n")
                    .append("Content-Length: 0\r\n\r\n");
            send(r.toString(), to.from());
        }

        void send(String text, SocketAddress to) throws IOException {
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(data, data.length, to));
        }

        /** Calls bob through the node: sends an INVITE with a new Call-ID and returns the Call-ID. */
        String invite(int nodePort) throws IOException {
            String callId = UUID.randomUUID() + "@caller";
            String text = "INVITE " + BOB + " SIP/2.0\r\n"
                    + "Via: SIP/2.0/UDP 127.0.0.1:" + port() + ";rport;branch=z9hG4bK" + UUID.randomUUID() + "\r\n"
                    + "Max-Forwards: 70\r\n"
                    + "From: <sip:alice@" + DOMAIN + ">;tag=" + UUID.randomUUID().toString().substring(0, 8) + "\r\n"
                    + "To: <" + BOB + ">\r\n"
                    + "Call-ID: " + callId + "\r\n"
                    + "CSeq: 1 INVITE\r\n"
                    + "Contact: <sip:alice@127.0.0.1:" + port() + ">\r\n"
                    + "Content-Length: 0\r\n\r\n";
            send(text, new InetSocketAddress(InetAddress.getLoopbackAddress(), nodePort));
            return callId;
        }

        /** The final response to the call {@code callId} within {@code millis}, or null. */
        SipResponse awaitFinal(String callId, long millis) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            for (long left; (left = end - System.nanoTime()) > 0; ) {
                SipResponse r = responses.poll(left, TimeUnit.NANOSECONDS);
                if (r != null && r.status() >= 200 && r.callId().equals(callId)) {
                    return r;
                }
            }
            return null;
        }

        @Override
        public void close() {
            socket.close();
        }
    }
}
