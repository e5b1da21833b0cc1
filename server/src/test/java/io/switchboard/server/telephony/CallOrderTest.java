package io.switchboard.server.telephony;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A thousand calls through the proxy, each end sending its messages back to back the way SIPp
 * does: the callee answers an INVITE with 180 and 200 at once, the caller sends ACK and BYE at once
 * on the 200. Both ends record what arrives per call: the caller must see the 180 before the 200
 * (a 180 relayed after the 200 is dropped by a UAC, RFC 3261 §13.2.2.4; a proxy drops it itself
 * once the final response went, §16.7 step 5), the callee the ACK before the BYE. Fifty calls are
 * in flight at once, so the node's lanes all have work and a shared pool would reorder them. Every
 * call must end recorded as completed: a BYE handled before the 200 once left it "cancelled".
 */
class CallOrderTest {
    static final String DOMAIN = "intercom.test";
    private static final int CALLS = 1000;
    private static final int IN_FLIGHT = 50;

    @TempDir
    Path dir;
    TelephonyNode node;
    final List<Peer> peers = new ArrayList<>();

    @AfterEach
    void stop() {
        peers.forEach(Peer::close);
        if (node != null) {
            node.close();
        }
    }

    /** A raw UDP endpoint that records the first arrival of each message kind per Call-ID. */
    static final class Peer implements AutoCloseable {
        final DatagramSocket socket;
        final InetSocketAddress node;
        final Map<String, List<String>> seen = new ConcurrentHashMap<>();
        final Thread reader;

        Peer(int nodePort, Consumer<SipMessage> onMessage) throws IOException {
            socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            socket.setReceiveBufferSize(4 * 1024 * 1024);
            node = new InetSocketAddress(InetAddress.getLoopbackAddress(), nodePort);
            reader = Thread.ofPlatform().daemon().start(() -> {
                byte[] buffer = new byte[65535];
                while (!socket.isClosed()) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    try {
                        socket.receive(packet);
                        onMessage.accept(SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength())));
                    } catch (IOException e) {
                        return;
                    } catch (Exception e) {
                        throw new IllegalStateException("unparsable message from the node", e);
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        /** Records {@code what} for the call unless it was seen before (a retransmission). */
        boolean firstSeen(String callId, String what) {
            List<String> order = seen.computeIfAbsent(callId, k -> new CopyOnWriteArrayList<>());
            synchronized (order) {
                if (order.contains(what)) {
                    return false;
                }
                order.add(what);
                return true;
            }
        }

        void send(String text) {
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            try {
                socket.send(new DatagramPacket(data, data.length, node));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    private static String via(Peer peer, String branch) {
        return "Via: SIP/2.0/UDP 127.0.0.1:" + peer.port() + ";rport;branch=z9hG4bK" + branch + "\r\n";
    }

    /** The callee's response: Vias, From, To (tagged), Call-ID, CSeq and, to an INVITE, Record-Route and Contact. */
    private static String response(Peer callee, SipRequest request, int status, String reason) {
        StringBuilder m = new StringBuilder("SIP/2.0 " + status + " " + reason + "\r\n");
        for (String via : request.headers().fields(HeaderNames.VIA)) {
            m.append("Via: ").append(via).append("\r\n");
        }
        String to = request.headers().get(HeaderNames.TO);
        m.append("From: ").append(request.headers().get(HeaderNames.FROM)).append("\r\n")
                .append("To: ").append(to.contains("tag=") ? to : to + ";tag=callee").append("\r\n")
                .append("Call-ID: ").append(request.callId()).append("\r\n")
                .append("CSeq: ").append(request.headers().get(HeaderNames.CSEQ)).append("\r\n");
        if (request.isMethod(SipRequest.INVITE)) {
            for (String rr : request.headers().fields(HeaderNames.RECORD_ROUTE)) {
                m.append("Record-Route: ").append(rr).append("\r\n");
            }
            m.append("Contact: <sip:bob@127.0.0.1:").append(callee.port()).append(">\r\n");
        }
        return m.append("Content-Length: 0\r\n\r\n").toString();
    }

    /** ACK or BYE in the dialog the 2xx set up (§12.2.1.1): to the callee's Contact, along the reversed Record-Route. */
    private static String inDialog(Peer caller, SipResponse ok, String method, int cseq) {
        List<String> routes = new ArrayList<>(ok.headers().values(HeaderNames.RECORD_ROUTE));
        Collections.reverse(routes);
        String target = NameAddress.parse(ok.headers().get(HeaderNames.CONTACT)).uri().toString();
        StringBuilder m = new StringBuilder(method + " " + target + " SIP/2.0\r\n")
                .append(via(caller, method + cseq + ok.callId().hashCode()))
                .append("Max-Forwards: 70\r\n");
        for (String route : routes) {
            m.append("Route: ").append(route).append("\r\n");
        }
        return m.append("From: ").append(ok.headers().get(HeaderNames.FROM)).append("\r\n")
                .append("To: ").append(ok.headers().get(HeaderNames.TO)).append("\r\n")
                .append("Call-ID: ").append(ok.callId()).append("\r\n")
                .append("CSeq: ").append(cseq).append(' ').append(method).append("\r\n")
                .append("Content-Length: 0\r\n\r\n").toString();
    }

    @Test
    void ackAndByeAnd180And200SentBackToBackArriveInOrderAcrossAThousandCalls() throws Exception {
        // Both phones send from 127.0.0.1, and the per-address flood limit (2,000/s, burst 4,000) is
        // below what 1,000 back-to-back calls from one address need: with it on, the node dropped
        // an ACK or a 180 now and then ("flood"), which looked like reordering. The limit has its
        // own tests; this one is about order.
        node = new TelephonyNode(dir, Map.of(), Map.of("SWITCHBOARD_TELEPHONY_AUTH", "false",
                "SWITCHBOARD_TELEPHONY_FLOOD_LIMIT", "0"));
        int port = node.sipPort(Transport.UDP);
        Semaphore window = new Semaphore(IN_FLIGHT);
        CountDownLatch done = new CountDownLatch(CALLS);
        List<String> unexpected = new CopyOnWriteArrayList<>();

        // What real UAs resend until answered, since UDP on a busy machine may drop a datagram:
        // the callee's 200 until its ACK (RFC 3261 §13.3.1.4), the caller's INVITE until any
        // answer (Timer A, §17.1.1.2; a node whose lanes fall behind sheds new requests and counts
        // on it) and its BYE until the 200 (Timer E, §17.1.2.2)
        Map<String, String> unacknowledged = new ConcurrentHashMap<>();
        Map<String, String> unanswered = new ConcurrentHashMap<>();
        Map<String, String> byesUnanswered = new ConcurrentHashMap<>();
        Peer[] callee = new Peer[1];
        callee[0] = new Peer(port, message -> {
            Peer self = callee[0];
            if (message instanceof SipRequest request) {
                String method = request.method();
                boolean first = self.firstSeen(request.callId(), method);
                switch (method) {
                    case SipRequest.INVITE -> {
                        if (first) { // 180 and 200 back to back, as SIPp's UAS sends them
                            self.send(response(self, request, 180, "Ringing"));
                            String ok = response(self, request, 200, "OK");
                            unacknowledged.put(request.callId(), ok);
                            self.send(ok);
                        }
                    }
                    case SipRequest.BYE -> {
                        unacknowledged.remove(request.callId());
                        self.send(response(self, request, 200, "OK"));
                    }
                    case SipRequest.ACK -> unacknowledged.remove(request.callId());
                    default -> unexpected.add("callee got " + request.startLine());
                }
            } else if (message instanceof SipResponse r) {
                self.firstSeen(r.callId(), r.cseq().method() + " " + r.status());
            }
        });
        peers.add(callee[0]);
        String register = "REGISTER sip:" + DOMAIN + " SIP/2.0\r\n" + via(callee[0], "reg") + "Max-Forwards: 70\r\n"
                + "From: <sip:bob@" + DOMAIN + ">;tag=r\r\nTo: <sip:bob@" + DOMAIN + ">\r\nCall-ID: reg@order\r\n"
                + "CSeq: 1 REGISTER\r\nContact: <sip:bob@127.0.0.1:" + callee[0].port() + ">\r\nExpires: 600\r\n"
                + "Content-Length: 0\r\n\r\n";
        callee[0].send(register);
        await().atMost(Duration.ofSeconds(5)).until(() -> callee[0].seen.containsKey("reg@order"));
        assertThat(callee[0].seen.get("reg@order")).containsExactly("REGISTER 200");

        Peer[] caller = new Peer[1];
        caller[0] = new Peer(port, message -> {
            Peer self = caller[0];
            if (!(message instanceof SipResponse response)) {
                unexpected.add("caller got " + message.startLine());
                return;
            }
            String method = response.cseq().method();
            unanswered.remove(response.callId());
            if (response.status() == 100) {
                return; // the proxy's own, hop by hop (§16.7 step 5)
            }
            boolean first = self.firstSeen(response.callId(), method + " " + response.status());
            if (!first) {
                if (method.equals(SipRequest.INVITE) && response.status() == 200) {
                    self.send(inDialog(self, response, SipRequest.ACK, 1)); // every 2xx is ACKed (§13.2.2.4)
                }
                return;
            }
            if (method.equals(SipRequest.INVITE) && response.status() == 200) {
                // ACK and BYE back to back, as SIPp's UAC sends them with no pause
                self.send(inDialog(self, response, SipRequest.ACK, 1));
                String bye = inDialog(self, response, SipRequest.BYE, 2);
                byesUnanswered.put(response.callId(), bye);
                self.send(bye);
            } else if (method.equals(SipRequest.BYE)) {
                byesUnanswered.remove(response.callId());
                done.countDown();
                window.release();
            } else if (response.status() != 180) {
                unexpected.add("caller got " + response.startLine() + " for " + method);
            }
        });
        peers.add(caller[0]);

        java.util.concurrent.ScheduledExecutorService timerA = java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        timerA.scheduleWithFixedDelay(() -> {
            unanswered.values().forEach(caller[0]::send);
            byesUnanswered.values().forEach(caller[0]::send);
            unacknowledged.values().forEach(callee[0]::send);
        }, 500, 500, TimeUnit.MILLISECONDS);
        List<String> callIds = new ArrayList<>();
        try {
        for (int i = 0; i < CALLS; i++) {
            assertThat(window.tryAcquire(10, TimeUnit.SECONDS)).as("a call slot within 10 s (call %d)", i).isTrue();
            String callId = "order-" + i + "@caller";
            callIds.add(callId);
            String invite = "INVITE sip:bob@" + DOMAIN + " SIP/2.0\r\n" + via(caller[0], "inv" + i)
                    + "Max-Forwards: 70\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=a" + i + "\r\nTo: <sip:bob@" + DOMAIN + ">\r\n"
                    + "Call-ID: " + callId + "\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:" + caller[0].port() + ">\r\n"
                    + "Content-Length: 0\r\n\r\n";
            unanswered.put(callId, invite);
            caller[0].send(invite);
        }
        assertThat(done.await(30, TimeUnit.SECONDS)).as("every call ended with a 200 to its BYE").isTrue();
        } finally {
            timerA.shutdownNow();
        }

        List<String> reordered = new ArrayList<>();
        for (String callId : callIds) {
            List<String> atCaller = caller[0].seen.get(callId);
            if (!List.of("INVITE 180", "INVITE 200", "BYE 200").equals(atCaller)) {
                reordered.add(callId + " at the caller: " + atCaller);
            }
            List<String> atCallee = callee[0].seen.get(callId);
            if (!List.of("INVITE", "ACK", "BYE").equals(atCallee)) {
                reordered.add(callId + " at the callee: " + atCallee);
            }
        }
        assertThat(reordered).as("calls whose messages arrived out of order or not at all (node drops: %s)",
                droppedAtNode()).isEmpty();
        assertThat(unexpected).isEmpty();
        // every call is recorded completed (answered, then ended by the BYE), none left in progress
        await().atMost(Duration.ofSeconds(3)).untilAsserted(() -> {
            CallMeters meters = CallMeters.read(node.node.http().baseUrl());
            assertThat(meters.value(CallMeters.ACTIVE)).isZero();
            assertThat(meters.value(CallMeters.DURATION_COUNT)).isEqualTo(CALLS);
        });
    }

    /** The node's {@code switchboard_sip_dropped_total} samples, to tell a drop at the node from one on the way. */
    private String droppedAtNode() {
        try {
            var response = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(node.node.http().baseUrl() + "/metrics")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            return response.body().lines().filter(l -> l.startsWith("switchboard_sip_dropped_total")).toList().toString();
        } catch (Exception e) {
            return "unknown (" + e + ")";
        }
    }
}
