package io.switchboard.telephony.proxy;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.telephony.proxy.ProxyNode.Peer;
import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A device registered over TCP whose connection is gone (the node restarted, its network dropped
 * it) and whose Contact asks for TCP ({@code ;transport=tcp}) is reached over a new connection the
 * node opens (RFC 3261 §18.1.1), as one registered over TLS is ({@code OutboundTlsTest}): to the
 * address it registered from and its Contact's port, never to another host its Contact names, not
 * when it registered with reg-id (RFC 5626 §5.3), not for a Contact without transport=tcp (UDP).
 * The new connection carries the dialog's in-dialog requests and later calls; one that cannot be
 * opened fails its branch at once, as a 503 (§16.9), and the caller hears the other devices.
 */
class TcpReconnectTest {
    @TempDir
    Path dir;
    ProxyNode node;
    final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new ProxyNode(dir, Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
        node.close();
    }

    private <T extends AutoCloseable> T closed(T thing) {
        closing.add(thing);
        return thing;
    }

    /** bob's registration over TCP from 127.0.0.1 with this Contact, over a connection that is gone. */
    private Binding bindTcp(String contact, String headerParams) {
        return bind(contact, headerParams, "TCP");
    }

    private Binding bind(String contact, String headerParams, String transport) {
        long now = node.clock.millis();
        Binding binding = new Binding(ProxyNode.BOB, contact, "<" + contact + ">" + headerParams,
                "reg-" + UUID.randomUUID(), 1, 1000, now + 600_000, now, transport, "127.0.0.1", 40_000, null, 0,
                transport.toLowerCase(Locale.ROOT) + ":" + UUID.randomUUID(), "test", null, 0, null, null, now);
        node.location.update(ProxyNode.BOB, bindings -> {
            List<Binding> after = new ArrayList<>(bindings);
            after.add(binding);
            return after;
        });
        return binding;
    }

    @Test
    void aTcpDeviceWhoseConnectionIsGoneGetsTheCallOverANewConnectionThatCarriesTheDialogAndLaterCalls()
            throws Exception {
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        bindTcp("sip:bob@127.0.0.1:" + phone.port() + ";transport=tcp", "");
        Peer caller = closed(new Peer());

        String callId = caller.invite(node.port);
        Connection connection = phone.awaitConnection();
        assertThat(connection).as("the node opens a TCP connection to bob's source address and Contact port").isNotNull();
        SipRequest invite = connection.await("INVITE");
        assertThat(invite.callId()).isEqualTo(callId);
        assertThat(invite.requestUri().toString()).isEqualTo("sip:bob@127.0.0.1:" + phone.port() + ";transport=tcp");
        assertThat(invite.topVia().transport()).isEqualTo("TCP");
        connection.respond(invite, 200, "OK");
        SipResponse ok = caller.awaitFinal(callId, 5_000);
        assertThat(ok).isNotNull();
        assertThat(ok.status()).isEqualTo(200);

        // in-dialog requests along the Record-Route (its flow token names the new connection)
        caller.send(inDialog("ACK", 1, ok, caller), nodeAddress());
        assertThat(connection.await("ACK")).as("the ACK over the connection the node opened").isNotNull();
        caller.send(inDialog("BYE", 2, ok, caller), nodeAddress());
        SipRequest bye = connection.await("BYE");
        assertThat(bye).as("the BYE over the connection the node opened").isNotNull();
        connection.respond(bye, 200, "OK");

        // a later call takes the same connection while it is open
        String later = caller.invite(node.port);
        SipRequest again = connection.await("INVITE");
        assertThat(again.callId()).isEqualTo(later);
        connection.respond(again, 486, "Busy Here");
        assertThat(caller.awaitFinal(later, 5_000).status()).isEqualTo(486);
        assertThat(phone.accepted).as("one connection carried both calls").hasSize(1);
    }

    @Test
    void onlyTheSourceAddressIsConnectedToAndOnlyForATcpContactWithoutRegId() throws Exception {
        TcpDevice phone = closed(new TcpDevice(InetAddress.getLoopbackAddress()));
        TcpDevice elsewhere = closed(new TcpDevice(InetAddress.getByName("127.0.0.2")));
        FlowDirectory flows = new FlowDirectory(node.transport, id -> Optional.empty());
        int port = phone.port();
        int otherPort = elsewhere.port();
        long now = node.clock.millis();

        // a Contact naming another address than the one bob registered from: never dialled
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.2:" + otherPort + ";transport=tcp", "", "TCP", now))).isEmpty();
        // an outbound (RFC 5626) registration is reached over its flow or not at all (§5.3)
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp",
                ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1", "TCP", now))).isEmpty();
        // a Contact without transport=tcp is a UDP one (§19.1.4); another transport, or sips:
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port, "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=udp", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=ws", "", "TCP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sips:bob@127.0.0.1:" + port + ";transport=tcp", "", "TCP", now))).isEmpty();
        // registered over something else than TCP
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp", "", "UDP", now))).isEmpty();
        assertThat(flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";transport=tcp", "", "WS", now))).isEmpty();

        // a name in the Contact is never looked up: the connection goes to the source address
        SipFlow byName = flows.reconnect(binding("sip:bob@phone.example.test:" + port + ";transport=TCP", "", "TCP", now))
                .orElseThrow().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(byName.remote()).isEqualTo(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        // the source address itself as a literal: the connection already open to it
        SipFlow byAddress = flows.reconnect(binding("sip:bob@127.0.0.1:" + port + ";Transport=Tcp", "", "TCP", now))
                .orElseThrow().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(byAddress).isSameAs(byName);
        assertThat(phone.awaitConnection()).isNotNull();
        assertThat(phone.accepted).hasSize(1);

        // and through the proxy: a call to a Contact naming another host finds bob unavailable
        node.location.update(ProxyNode.BOB, bindings -> List.of());
        bindTcp("sip:bob@127.0.0.2:" + otherPort + ";transport=tcp", "");
        Peer caller = closed(new Peer());
        String callId = caller.invite(node.port);
        assertThat(caller.awaitFinal(callId, 5_000).status()).isEqualTo(480);
        Thread.sleep(200);
        assertThat(elsewhere.accepted).as("the host the Contact named saw no connection").isEmpty();
    }

    @Test
    void aConnectThatFailsEndsItsBranchAtOnceAndTheCallerHearsTheOtherDevices() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = probe.getLocalPort(); // nothing listens there once it is closed
        }
        bindTcp("sip:bob@127.0.0.1:" + closedPort + ";transport=tcp", "");
        Peer caller = closed(new Peer());

        // alone: the refused connect is the branch's 503 (§16.9), which goes up as 500 (§16.7 step 6)
        long started = System.nanoTime();
        String alone = caller.invite(node.port);
        SipResponse failed = caller.awaitFinal(alone, 5_000);
        assertThat(failed).isNotNull();
        assertThat(failed.status()).isEqualTo(500);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));

        // with a second device (over UDP), the caller gets that device's answer, just as soon
        Peer desk = closed(new Peer());
        node.bind(desk, "UDP", null, 0, null, 0);
        started = System.nanoTime();
        String call = caller.invite(node.port);
        Peer.Received atDesk = desk.await("INVITE", 5_000);
        assertThat(atDesk).isNotNull();
        desk.respond(atDesk, 486, "Busy Here");
        SipResponse busy = caller.awaitFinal(call, 5_000);
        assertThat(busy.status()).isEqualTo(486);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(2));
    }

    private static Binding binding(String contact, String headerParams, String transport, long now) {
        return new Binding(ProxyNode.BOB, contact, "<" + contact + ">" + headerParams, "reg-1", 1, 1000, now + 60_000,
                now, transport, "127.0.0.1", 40_000, null, 0, "gone-flow", "test", null, 0, null, null, now);
    }

    private InetSocketAddress nodeAddress() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), node.port);
    }

    /** An in-dialog request of the caller after the 2xx {@code ok}: to its Contact, along its Record-Route reversed (§12.1.2). */
    private static String inDialog(String method, int cseq, SipResponse ok, Peer caller) {
        List<String> recordRoute = new ArrayList<>(ok.headers().values("Record-Route"));
        java.util.Collections.reverse(recordRoute);
        String contact = ok.header("Contact");
        String target = contact.substring(contact.indexOf('<') + 1, contact.indexOf('>'));
        StringBuilder r = new StringBuilder(method).append(' ').append(target).append(" SIP/2.0\r\n")
                .append("Via: SIP/2.0/UDP 127.0.0.1:").append(caller.port()).append(";rport;branch=z9hG4bK")
                .append(UUID.randomUUID()).append("\r\n")
                .append("Max-Forwards: 70\r\n");
        for (String route : recordRoute) {
            r.append("Route: ").append(route).append("\r\n");
        }
        return r.append("From: ").append(ok.header("From")).append("\r\n")
                .append("To: ").append(ok.header("To")).append("\r\n")
                .append("Call-ID: ").append(ok.callId()).append("\r\n")
                .append("CSeq: ").append(cseq).append(' ').append(method).append("\r\n")
                .append("Content-Length: 0\r\n\r\n").toString();
    }

    /** A device's own TCP listener (where its Contact says it takes requests): keeps each connection the node opens. */
    static final class TcpDevice implements AutoCloseable {
        final ServerSocket server;
        final List<Connection> accepted = new CopyOnWriteArrayList<>();
        private final BlockingQueue<Connection> fresh = new LinkedBlockingQueue<>();

        TcpDevice(InetAddress address) throws IOException {
            server = new ServerSocket(0, 10, address);
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        Connection c = new Connection(server.accept());
                        accepted.add(c);
                        fresh.add(c);
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return server.getLocalPort();
        }

        Connection awaitConnection() throws InterruptedException {
            return fresh.poll(10, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Connection c : accepted) {
                c.socket.close();
            }
        }
    }

    /** One connection at the device: reads SIP framed by Content-Length (§18.3), answers as a UAS. */
    static final class Connection {
        final Socket socket;
        final BlockingQueue<SipRequest> requests = new LinkedBlockingQueue<>();

        Connection(Socket socket) {
            this.socket = socket;
            Thread.ofVirtual().start(this::read);
        }

        private void read() {
            try (InputStream in = socket.getInputStream()) {
                while (true) {
                    ByteArrayOutputStream head = new ByteArrayOutputStream();
                    int c;
                    while (!endsWithBlankLine(head)) {
                        if ((c = in.read()) < 0) {
                            return;
                        }
                        if (head.size() == 0 && (c == '\r' || c == '\n')) {
                            continue; // a keep-alive CRLF between messages
                        }
                        head.write(c);
                    }
                    String text = head.toString(StandardCharsets.UTF_8);
                    int length = 0;
                    for (String line : text.split("\r\n")) {
                        String lower = line.toLowerCase(Locale.ROOT);
                        if (lower.startsWith("content-length:") || lower.startsWith("l:")) {
                            length = Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
                        }
                    }
                    head.write(in.readNBytes(length));
                    SipMessage message = SipParser.parse(head.toByteArray());
                    if (message instanceof SipRequest request) {
                        requests.add(request);
                    }
                }
            } catch (IOException | io.switchboard.sip.codec.SipParseException | RuntimeException closed) {
                // the test is over (the node sends nothing it could not parse)
            }
        }

        private static boolean endsWithBlankLine(ByteArrayOutputStream head) {
            byte[] b = head.toByteArray();
            int n = b.length;
            return n >= 4 && b[n - 4] == '\r' && b[n - 3] == '\n' && b[n - 2] == '\r' && b[n - 1] == '\n';
        }

        /** The next request of {@code method} within 10 s, skipping others; null if none. */
        SipRequest await(String method) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            for (long left; (left = end - System.nanoTime()) > 0; ) {
                SipRequest r = requests.poll(left, TimeUnit.NANOSECONDS);
                if (r != null && r.isMethod(method)) {
                    return r;
                }
            }
            return null;
        }

        void respond(SipRequest request, int status, String reason) throws IOException {
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append(' ').append(reason).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            for (String rr : request.headers().fields("Record-Route")) {
                r.append("Record-Route: ").append(rr).append("\r\n");
            }
            String to = request.header("To");
            r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(to).append(to.contains("tag=") ? "" : ";tag=bob").append("\r\n")
                    .append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n")
                    .append("Contact: <sip:bob@127.0.0.1:").append(socket.getLocalPort()).append(";transport=tcp>\r\n")
                    .append("Content-Length: 0\r\n\r\n");
            synchronized (this) {
                socket.getOutputStream().write(r.toString().getBytes(StandardCharsets.UTF_8));
                socket.getOutputStream().flush();
            }
        }
    }
}
