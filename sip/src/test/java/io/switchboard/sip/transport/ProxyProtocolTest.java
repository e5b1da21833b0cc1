package io.switchboard.sip.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Connections through a load balancer that speaks the PROXY protocol (haproxy.org proxy-protocol.txt,
 * v1 text and v2 binary) over real sockets: the client named by the header stands for the
 * connection in Via received/rport (RFC 3261 §18.2.1, RFC 3581 §4), in the flow and in the
 * per-address connection limit; a listed peer without a valid header is refused and counted; an
 * unlisted peer is served as before. Also the flood limit's exemption of chosen sources (cluster nodes),
 * and what a peer that loses framing gets over a real socket (RFC 3261 §18.3).
 */
class ProxyProtocolTest {
    private final List<TransportLayer> layers = new ArrayList<>();
    private final List<String> drops = new CopyOnWriteArrayList<>();
    private final List<SipMessage> received = new CopyOnWriteArrayList<>();
    private final List<SipFlow> flows = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();

    private final SipStackObserver observer = new SipStackObserver() {
        @Override
        public void dropped(String reason, Transport transport, InetSocketAddress source) {
            drops.add(reason + " " + source.getAddress().getHostAddress());
        }

        @Override
        public void dropped(String reason, Transport transport, InetSocketAddress source, String detail) {
            details.add(detail);
            dropped(reason, transport, source);
        }

        @Override
        public void parseError(String reason, Transport transport, InetSocketAddress source) {
            drops.add("malformed " + source.getAddress().getHostAddress());
        }
    };
    private final List<String> details = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        layers.forEach(TransportLayer::stop);
    }

    private int start(TransportSettings settings, Predicate<InetAddress> proxyFrom, Transport transport) throws Exception {
        TransportLayer layer = new TransportLayer(settings.withIoThreads(1), observer);
        layer.setProxyProtocolSources(proxyFrom);
        layer.setInboundHandler((message, flow) -> {
            received.add(message);
            flows.add(flow);
        });
        layers.add(layer);
        return layer.start(List.of(new ListenPoint(transport, "127.0.0.1", 0))).getFirst().port();
    }

    private Socket connect(int port) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        sockets.add(socket);
        return socket;
    }

    static String options(String callId) {
        return "OPTIONS sip:node@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-" + callId + ";rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:node@127.0.0.1>\r\n"
                + "Call-ID: " + callId + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    }

    /** A v2 header (proxy-protocol.txt §2.2): PROXY command over TCP from {@code source}. */
    static byte[] v2(InetSocketAddress source, InetSocketAddress destination) {
        boolean v6 = source.getAddress().getAddress().length == 16;
        int addressLength = v6 ? 36 : 12;
        ByteBuffer header = ByteBuffer.allocate(16 + addressLength);
        header.put(new byte[]{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        header.put((byte) 0x21); // version 2, PROXY
        header.put((byte) (v6 ? 0x21 : 0x11)); // AF_INET6 or AF_INET, STREAM
        header.putShort((short) addressLength);
        header.put(source.getAddress().getAddress());
        header.put(destination.getAddress().getAddress());
        header.putShort((short) source.getPort());
        header.putShort((short) destination.getPort());
        return header.array();
    }

    /** A v2 LOCAL command (the balancer's own health check): no addresses. */
    static byte[] v2Local() {
        return new byte[]{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00};
    }

    private static void write(Socket socket, byte[]... parts) throws IOException {
        OutputStream out = socket.getOutputStream();
        for (byte[] part : parts) {
            out.write(part);
        }
        out.flush();
    }

    private static byte[] ascii(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }

    /** Whether the peer closed the connection within the time given (reads until end of stream). */
    private static boolean closedWithin(Socket socket, Duration limit) throws IOException {
        socket.setSoTimeout((int) limit.toMillis());
        InputStream in = socket.getInputStream();
        try {
            while (in.read() >= 0) {
                // discard
            }
            return true;
        } catch (java.net.SocketTimeoutException e) {
            return false;
        } catch (java.net.SocketException e) {
            return true; // reset
        }
    }

    @Test
    void aV1HeaderMakesItsClientTheSourceOfTheConnection() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket balancer = connect(port);
        write(balancer, ascii("PROXY TCP4 203.0.113.7 192.0.2.1 40001 5060\r\n" + options("v1")));

        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 1);
        SipRequest request = (SipRequest) received.getFirst();
        // RFC 3261 §18.2.1 and RFC 3581 §4: where the request really came from
        assertThat(request.topVia().param("received")).isEqualTo("203.0.113.7");
        assertThat(request.topVia().param("rport")).isEqualTo("40001");
        assertThat(flows.getFirst().remote()).isEqualTo(new InetSocketAddress("203.0.113.7", 40001));
        assertThat(flows.getFirst().toString()).contains("203.0.113.7");
        // and where it was sent: the balancer's address, as the client knows the server
        assertThat(flows.getFirst().reachedAt()).isEqualTo(new InetSocketAddress("192.0.2.1", 5060));

        // later messages on the same connection keep the client
        write(balancer, ascii(options("v1-second")));
        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 2);
        assertThat(received.get(1).topVia().param("received")).isEqualTo("203.0.113.7");
        assertThat(drops).isEmpty();
    }

    @Test
    void aV2HeaderWithAnIpv6ClientArrivingInPieces() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket balancer = connect(port);
        byte[] header = v2(new InetSocketAddress("2001:db8::7", 50123), new InetSocketAddress("2001:db8::1", 5060));
        write(balancer, java.util.Arrays.copyOf(header, 10));
        Thread.sleep(100);
        write(balancer, java.util.Arrays.copyOfRange(header, 10, header.length), ascii(options("v2")));

        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 1);
        assertThat(received.getFirst().topVia().param("received")).isEqualTo("2001:db8:0:0:0:0:0:7");
        assertThat(received.getFirst().topVia().param("rport")).isEqualTo("50123");
        assertThat(flows.getFirst().remote()).isEqualTo(new InetSocketAddress("2001:db8::7", 50123));
    }

    @Test
    void theConnectionLimitPerAddressCountsClientsNotTheBalancer() throws Exception {
        int port = start(TransportSettings.defaults().withConnectionLimits(100, 1), InetAddress::isLoopbackAddress,
                Transport.TCP);
        InetSocketAddress node = new InetSocketAddress("192.0.2.1", 5060);
        Socket first = connect(port);
        write(first, v2(new InetSocketAddress("198.51.100.1", 1000), node), ascii(options("a")));
        Socket second = connect(port);
        write(second, v2(new InetSocketAddress("198.51.100.2", 1000), node), ascii(options("b")));
        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 2);

        // a second connection of the same client is over its limit of one
        Socket again = connect(port);
        write(again, v2(new InetSocketAddress("198.51.100.1", 2000), node), ascii(options("c")));
        assertThat(closedWithin(again, Duration.ofSeconds(5))).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> !drops.isEmpty());
        assertThat(drops).containsExactly("connection_limit 198.51.100.1");
        assertThat(received).hasSize(2);
    }

    @Test
    void aListedPeerWithoutAHeaderIsRefusedAndCounted() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket plain = connect(port);
        write(plain, ascii(options("no-header")));
        assertThat(closedWithin(plain, Duration.ofSeconds(5))).isTrue();

        Socket garbled = connect(port);
        write(garbled, ascii("PROXY TCP4 not-an-address 192.0.2.1 1 2\r\n"));
        assertThat(closedWithin(garbled, Duration.ofSeconds(5))).isTrue();

        // the decoder closes a connection with a bad header before the refusal is counted
        await().atMost(Duration.ofSeconds(5)).until(() -> drops.size() >= 2);
        assertThat(received).isEmpty();
        assertThat(drops).containsExactly("proxy_header 127.0.0.1", "proxy_header 127.0.0.1");
    }

    @Test
    void aListedPeerThatSendsNothingIsClosedAfterTheHeaderTimeout() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket silent = connect(port);
        long begin = System.nanoTime();
        assertThat(closedWithin(silent, Duration.ofSeconds(10))).isTrue();
        long waitedMillis = Duration.ofNanos(System.nanoTime() - begin).toMillis();
        await().atMost(Duration.ofSeconds(5)).until(() -> !drops.isEmpty());
        assertThat(waitedMillis).isBetween(TransportLayer.PROXY_HEADER_TIMEOUT_MILLIS - 200, 8_000L);
        assertThat(drops).containsExactly("proxy_header 127.0.0.1");
    }

    @Test
    void aLocalCommandKeepsTheRealPeer() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket check = connect(port);
        write(check, v2Local(), ascii(options("local")));
        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 1);
        assertThat(flows.getFirst().remote().getAddress().getHostAddress()).isEqualTo("127.0.0.1");
        assertThat(flows.getFirst().remote().getPort()).isEqualTo(check.getLocalPort());
        assertThat(flows.getFirst().reachedAt()).isEqualTo(flows.getFirst().local());
        assertThat(drops).isEmpty();
    }

    @Test
    void anUnlistedPeerIsServedAsBeforeAndItsHeaderIsNotBelieved() throws Exception {
        int port = start(TransportSettings.defaults(), address -> false, Transport.TCP);
        Socket device = connect(port);
        write(device, ascii(options("plain")));
        await().atMost(Duration.ofSeconds(5)).until(() -> received.size() == 1);
        assertThat(flows.getFirst().remote().getAddress().getHostAddress()).isEqualTo("127.0.0.1");

        Socket forger = connect(port);
        write(forger, ascii("PROXY TCP4 203.0.113.9 192.0.2.1 40001 5060\r\n" + options("forged")));
        await().atMost(Duration.ofSeconds(5)).until(() -> !drops.isEmpty());
        Thread.sleep(200);
        assertThat(received).hasSize(1);
        assertThat(received).noneMatch(m -> "203.0.113.9".equals(m.topVia().param("received")));
        assertThat(drops).allMatch(d -> d.endsWith(" 127.0.0.1"));
    }

    @Test
    void floodExemptSourcesAreNotThrottled() throws Exception {
        TransportSettings oneASecond = TransportSettings.defaults().withFloodLimit(1, 1).withIoThreads(1);
        TransportLayer limited = new TransportLayer(oneASecond, observer);
        limited.setInboundHandler((message, flow) -> received.add(message));
        layers.add(limited);
        int limitedPort = limited.start(List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0))).getFirst().port();
        TransportLayer exempt = new TransportLayer(oneASecond, observer);
        exempt.setFloodExempt(InetAddress::isLoopbackAddress);
        List<SipMessage> fromNode = new CopyOnWriteArrayList<>();
        exempt.setInboundHandler((message, flow) -> fromNode.add(message));
        layers.add(exempt);
        int exemptPort = exempt.start(List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0))).getFirst().port();

        try (DatagramSocket node = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
            for (int i = 0; i < 10; i++) {
                for (int target : new int[]{limitedPort, exemptPort}) {
                    byte[] data = ascii(options("flood-" + i).replace("SIP/2.0/TCP", "SIP/2.0/UDP"));
                    node.send(new DatagramPacket(data, data.length, new InetSocketAddress("127.0.0.1", target)));
                }
            }
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fromNode.size() == 10);
        assertThat(received.size()).isLessThan(10);
        assertThat(drops).contains("flood 127.0.0.1");
    }

    /** Everything the peer sends until it closes, or null if it is still open after {@code limit}. */
    private static String readUntilClosed(Socket socket, Duration limit) throws IOException {
        socket.setSoTimeout((int) limit.toMillis());
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        try {
            socket.getInputStream().transferTo(all);
        } catch (java.net.SocketTimeoutException e) {
            return null;
        }
        return all.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aRequestWithoutContentLengthIsAnswered400BeforeTheConnectionCloses() throws Exception {
        int port = start(TransportSettings.defaults(), address -> false, Transport.TCP);
        Socket peer = connect(port);
        String head = options("no-length").replace("Content-Length: 0\r\n", "");
        // more follows the head, as when a peer streams on without framing: the answer must still
        // reach the peer (no reset from unread bytes) and the connection must end
        write(peer, ascii(head + "junk after the head".repeat(100)));
        String answer = readUntilClosed(peer, Duration.ofSeconds(5));
        assertThat(answer).startsWith("SIP/2.0 400 Bad Request - Content-Length is required over TCP\r\n")
                .contains("Call-ID: no-length\r\n");
        assertThat(drops).containsExactly("malformed 127.0.0.1");
        assertThat(received).isEmpty();
    }

    @Test
    void binaryJunkAfterAProxyHeaderClosesTheConnectionAtOnce() throws Exception {
        int port = start(TransportSettings.defaults(), InetAddress::isLoopbackAddress, Transport.TCP);
        Socket balancer = connect(port);
        byte[] junk = new byte[1024];
        for (int i = 0; i < junk.length; i++) {
            junk[i] = (byte) i;
        }
        write(balancer, v2(new InetSocketAddress("203.0.113.9", 40009), new InetSocketAddress("192.0.2.1", 5060)), junk);
        // not left open until the partial-message timeout (30 s): closed, counted against the client
        assertThat(closedWithin(balancer, Duration.ofSeconds(5))).isTrue();
        assertThat(drops).containsExactly("malformed 203.0.113.9");
    }

    @Test
    void anOversizeRequestIsAnswered513AndTheObserverToldItsSize() throws Exception {
        int port = start(TransportSettings.defaults(), address -> false, Transport.TCP);
        Socket peer = connect(port);
        write(peer, ascii(options("big").replace("Content-Length", "Subject: " + "a".repeat(70_000) + "\r\nContent-Length")));
        assertThat(readUntilClosed(peer, Duration.ofSeconds(5))).startsWith("SIP/2.0 513 Message Too Large\r\n")
                .contains("Call-ID: big\r\n");
        assertThat(drops).containsExactly("oversize 127.0.0.1");
        // what a log line needs to say more than "oversize": the size, the limit, what was done
        assertThat(details).singleElement().asString()
                .matches("a header section longer than the limit of \\d+ bytes: answered 513 Message Too Large, then closed the connection");
    }
}
