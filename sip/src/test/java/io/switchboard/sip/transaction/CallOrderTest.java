package io.switchboard.sip.transaction;

import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.SipStackObserver;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Messages of one call that a peer sends back to back reach the far side in that order: the node
 * relays each message it receives to a second peer (as a proxy forwards ACK, BYE and responses,
 * RFC 3261 §16.7, §16.11), and the second peer checks the order per Call-ID. With a shared pool in
 * place of the lanes, about one pair in three came out reversed.
 */
class CallOrderTest {
    private static final TimerSettings FAST = new TimerSettings(Duration.ofMillis(50), Duration.ofMillis(400),
            Duration.ofMillis(500));
    private static final int CALLS = 1000;
    private static final Pattern CALL_ID = Pattern.compile("(?m)^Call-ID: (\\S+)");

    private TransportLayer transport;
    private TransactionLayer transactions;
    private final List<String> drops = new CopyOnWriteArrayList<>();

    /**
     * A node that relays: ACKs for a 2xx and responses that match no transaction (both handled
     * statelessly, §16.11 and §16.7) and BYEs (answered 200 once relayed) go to {@code far}.
     */
    private int[] startRelay(InetSocketAddress far) throws Exception {
        SipStackObserver observer = new SipStackObserver() {
            @Override
            public void dropped(String reason, Transport t, InetSocketAddress source) {
                drops.add(reason);
            }

            @Override
            public void parseError(String reason, Transport t, InetSocketAddress source) {
                drops.add("malformed: " + reason);
            }
        };
        // more lanes than cores, so a shared pool would run neighbours in parallel as on a big machine
        TransportSettings settings = new TransportSettings(65_535, 0, 0, 100, 100, Duration.ofSeconds(30),
                Duration.ofMinutes(1), 0, 4 * 1024 * 1024, 4, 65_536);
        transport = new TransportLayer(settings, observer);
        transactions = new TransactionLayer(transport, FAST, new TransactionUser() {
            @Override
            public void onRequest(ServerTransaction transaction) {
                relay(transaction.request(), far);
                transaction.respond(SipResponse.to(transaction.request(), 200, "OK"));
            }

            @Override
            public void onAck(io.switchboard.sip.message.SipRequest ack, SipFlow flow) {
                relay(ack, far);
            }

            @Override
            public void onStrayResponse(SipResponse response, SipFlow flow) {
                relay(response, far);
            }
        });
        List<ListenPoint> bound = transport.start(List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0),
                new ListenPoint(Transport.TCP, "127.0.0.1", 0)));
        return new int[]{bound.get(0).port(), bound.get(1).port()};
    }

    private void relay(SipMessage message, InetSocketAddress far) {
        SipFlow flow = transport.flowTo(Transport.UDP, far).toCompletableFuture().join();
        transport.send(message, flow);
    }

    @AfterEach
    void stop() {
        if (transactions != null) {
            transactions.stop();
        }
        if (transport != null) {
            transport.stop();
        }
    }

    /** What the far side saw, per Call-ID, in arrival order. */
    private static final class FarSide implements AutoCloseable {
        final LoopbackPeer peer;
        final Map<String, List<String>> seen = new ConcurrentHashMap<>();
        final AtomicInteger received = new AtomicInteger();
        final Thread reader;

        FarSide() throws Exception {
            peer = new LoopbackPeer();
            peer.socket.setReceiveBufferSize(4 * 1024 * 1024);
            reader = Thread.ofPlatform().daemon().start(() -> {
                while (!peer.socket.isClosed()) {
                    try {
                        String text = peer.receive(200);
                        if (text == null) {
                            continue;
                        }
                        Matcher m = CALL_ID.matcher(text);
                        if (m.find()) {
                            String first = text.substring(0, text.indexOf('\r'));
                            String what = first.startsWith("SIP/2.0 ") ? first.substring(8, 11) : first.substring(0, first.indexOf(' '));
                            seen.computeIfAbsent(m.group(1), k -> new CopyOnWriteArrayList<>()).add(what);
                            received.incrementAndGet();
                        }
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
        }

        InetSocketAddress address() {
            return new InetSocketAddress(InetAddress.getLoopbackAddress(), peer.port());
        }

        @Override
        public void close() {
            peer.close();
        }
    }

    static String ack(String callId, int peerPort, String transport) {
        return inDialog("ACK", 1, callId, peerPort, transport);
    }

    static String bye(String callId, int peerPort, String transport) {
        return inDialog("BYE", 2, callId, peerPort, transport);
    }

    private static String inDialog(String method, int cseq, String callId, int peerPort, String transport) {
        return method + " sip:callee@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/" + transport + " 127.0.0.1:" + peerPort + ";branch=z9hG4bK-" + method + "-" + callId.replaceAll("[^A-Za-z0-9]", "") + ";rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:caller@127.0.0.1>;tag=c\r\nTo: <sip:callee@127.0.0.1>;tag=e\r\n"
                + "Call-ID: " + callId + "\r\nCSeq: " + cseq + " " + method + "\r\nContent-Length: 0\r\n\r\n";
    }

    /** A response to an INVITE this node never forwarded: handed to the TU as a stray, relayed. */
    static String response(int status, String reason, String callId) {
        return "SIP/2.0 " + status + " " + reason + "\r\n"
                + "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-elsewhere-" + callId.replaceAll("[^A-Za-z0-9]", "") + "\r\n"
                + "From: <sip:caller@127.0.0.1>;tag=c\r\nTo: <sip:callee@127.0.0.1>;tag=e\r\n"
                + "Call-ID: " + callId + "\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    }

    private static void assertInOrder(FarSide far, List<String> callIds, int perCall, List<String> expected) {
        await().atMost(10, TimeUnit.SECONDS).until(() -> far.received.get() >= callIds.size() * perCall);
        List<String> reordered = new ArrayList<>();
        for (String callId : callIds) {
            List<String> order = far.seen.get(callId);
            if (!expected.equals(order)) {
                reordered.add(callId + " " + order);
            }
        }
        assertThat(reordered).as("calls whose messages reached the far side out of order").isEmpty();
    }

    @Test
    void ackAndByeSentBackToBackOverUdpArriveInOrder() throws Exception {
        try (FarSide far = new FarSide(); LoopbackPeer caller = new LoopbackPeer(); LoopbackPeer callee = new LoopbackPeer()) {
            int udp = startRelay(far.address())[0];
            List<String> callIds = new ArrayList<>();
            for (int i = 0; i < CALLS; i++) {
                String callId = "order-" + i + "@test";
                callIds.add(callId);
                // the caller's ACK and BYE, and the callee's 180 and 200 of another call, back to back
                caller.send(ack(callId, caller.port(), "UDP"), udp);
                caller.send(bye(callId, caller.port(), "UDP"), udp);
                callee.send(response(180, "Ringing", "r" + callId), udp);
                callee.send(response(200, "OK", "r" + callId), udp);
                if (i % 100 == 99) {
                    int sent = (i + 1) * 4;
                    // a window, so no socket buffer on the way overflows: losses are not what is tested
                    await().atMost(10, TimeUnit.SECONDS).until(() -> far.received.get() >= sent - 200);
                }
            }
            assertInOrder(far, callIds, 4, List.of("ACK", "BYE"));
            List<String> responseIds = callIds.stream().map(id -> "r" + id).toList();
            assertInOrder(far, responseIds, 2, List.of("180", "200"));
            assertThat(drops).isEmpty();
        }
    }

    @Test
    void ackAndByeOnOneTcpConnectionArriveInOrder() throws Exception {
        try (FarSide far = new FarSide()) {
            int tcp = startRelay(far.address())[1];
            List<String> callIds = new ArrayList<>();
            try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), tcp)) {
                OutputStream out = socket.getOutputStream();
                for (int i = 0; i < CALLS; i++) {
                    String callId = "tcp-" + i + "@test";
                    callIds.add(callId);
                    out.write((ack(callId, socket.getLocalPort(), "TCP") + bye(callId, socket.getLocalPort(), "TCP"))
                            .getBytes(StandardCharsets.UTF_8));
                    if (i % 100 == 99) {
                        out.flush();
                        int sent = (i + 1) * 2;
                        await().atMost(10, TimeUnit.SECONDS).until(() -> far.received.get() >= sent - 100);
                    }
                }
                out.flush();
                assertInOrder(far, callIds, 2, List.of("ACK", "BYE"));
            }
            assertThat(drops).isEmpty();
        }
    }
}
