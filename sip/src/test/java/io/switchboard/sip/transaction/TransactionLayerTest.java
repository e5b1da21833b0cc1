package io.switchboard.sip.transaction;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.SipStackObserver;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportLayer;
import io.switchboard.sip.transport.TransportSettings;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class TransactionLayerTest {
    private static final TimerSettings FAST = new TimerSettings(Duration.ofMillis(50), Duration.ofMillis(400),
            Duration.ofMillis(500));

    private TransportLayer transport;
    private TransactionLayer transactions;
    private final List<String> drops = new CopyOnWriteArrayList<>();
    private final AtomicInteger parseErrors = new AtomicInteger();
    private int udpPort;
    private int tcpPort;

    private void start(TransportSettings settings, Consumer<ServerTransaction> onRequest) throws Exception {
        SipStackObserver observer = new SipStackObserver() {
            @Override
            public void dropped(String reason, Transport t, InetSocketAddress source) {
                drops.add(reason);
            }

            @Override
            public void parseError(String reason, Transport t, InetSocketAddress source) {
                parseErrors.incrementAndGet();
            }
        };
        transport = new TransportLayer(settings, observer);
        transactions = new TransactionLayer(transport, FAST, onRequest::accept);
        List<ListenPoint> bound = transport.start(List.of(new ListenPoint(Transport.UDP, "127.0.0.1", 0),
                new ListenPoint(Transport.TCP, "127.0.0.1", 0)));
        udpPort = bound.get(0).port();
        tcpPort = bound.get(1).port();
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

    static String request(String method, String branch, int peerPort) {
        return method + " sip:service@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/UDP 127.0.0.1:" + peerPort + ";branch=" + branch + ";rport\r\n"
                + "From: <sip:peer@127.0.0.1>;tag=p1\r\nTo: <sip:service@127.0.0.1>\r\n"
                + "Call-ID: " + branch + "@test\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    }

    @Test
    void serverTransactionAnswersOnceAndRepeatsTheAnswerToRetransmissions() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        start(TransportSettings.defaults(), tx -> {
            calls.incrementAndGet();
            tx.respond(SipResponse.to(tx.request(), 200, "OK").withToTag("t"));
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            String options = request("OPTIONS", "z9hG4bK-a1", peer.port());
            peer.send(options, udpPort);
            String first = peer.receive(2000);
            assertThat(first).startsWith("SIP/2.0 200 OK");
            // RFC 3581: rport filled in with the source port, received with the source address
            assertThat(first).contains("rport=" + peer.port()).contains("received=127.0.0.1");
            peer.send(options, udpPort);
            assertThat(peer.receive(2000)).isEqualTo(first);
            assertThat(calls.get()).isEqualTo(1);
            assertThat(transactions.size()).as("lingering in Completed (Timer J)").isEqualTo(1);
            // Timer J is 64*T1 = 3.2 s here; after it the same request is a new transaction
            await().atMost(6, TimeUnit.SECONDS).until(() -> transactions.size() == 0);
            peer.send(options, udpPort);
            assertThat(peer.receive(2000)).startsWith("SIP/2.0 200 OK");
            assertThat(calls.get()).isEqualTo(2);
        }
    }

    @Test
    void inviteErrorResponseIsRetransmittedUntilAck() throws Exception {
        start(TransportSettings.defaults(), tx -> tx.respond(SipResponse.to(tx.request(), 486, "Busy Here").withToTag("b")));
        try (LoopbackPeer peer = new LoopbackPeer()) {
            peer.send(request("INVITE", "z9hG4bK-inv1", peer.port()), udpPort);
            assertThat(peer.receive(2000)).startsWith("SIP/2.0 486");
            assertThat(peer.receive(2000)).as("Timer G retransmission").startsWith("SIP/2.0 486");
            String ack = request("ACK", "z9hG4bK-inv1", peer.port()).replace("To: <sip:service@127.0.0.1>",
                    "To: <sip:service@127.0.0.1>;tag=b");
            peer.send(ack, udpPort);
            // drain one retransmission that may have been in flight, then silence
            String next = peer.receive(300);
            if (next != null) {
                assertThat(next).startsWith("SIP/2.0 486");
            }
            assertThat(peer.receive(600)).isNull();
        }
    }

    @Test
    void inviteServerTransactionSendsTryingWhenTheTuIsSlow() throws Exception {
        start(TransportSettings.defaults(), tx -> {
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            peer.send(request("INVITE", "z9hG4bK-slow", peer.port()), udpPort);
            assertThat(peer.receive(2000)).startsWith("SIP/2.0 100 Trying");
        }
    }

    @Test
    void clientTransactionRetransmitsThenTimesOut() throws Exception {
        start(TransportSettings.defaults(), tx -> {
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            SipFlow flow = transport.flowTo(Transport.UDP, new InetSocketAddress("127.0.0.1", peer.port()))
                    .toCompletableFuture().get(2, TimeUnit.SECONDS);
            SipRequest options = outgoing("OPTIONS", transactions.newBranch());
            CountDownLatch timedOut = new CountDownLatch(1);
            transactions.sendRequest(options, flow, listener(r -> {
            }, timedOut));
            int received = 0;
            while (peer.receive(600) != null) {
                received++;
            }
            assertThat(received).as("Timer E retransmissions").isGreaterThanOrEqualTo(4);
            assertThat(timedOut.await(5, TimeUnit.SECONDS)).as("Timer F").isTrue();
            await().atMost(Duration.ofSeconds(2)).until(() -> transactions.size() == 0);
        }
    }

    /**
     * A TU that gave up on the peer stops the INVITE's retransmissions (Timer A): nothing more is
     * sent, yet the transaction lives on until Timer B (64*T1, 3.2 s here; RFC 3261 §17.1.1.2)
     * and then times out as usual.
     */
    @Test
    void aClientInviteThatStoppedRetransmittingSendsNothingMoreAndStillEndsAtTimerB() throws Exception {
        start(TransportSettings.defaults(), tx -> {
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            SipFlow flow = transport.flowTo(Transport.UDP, new InetSocketAddress("127.0.0.1", peer.port()))
                    .toCompletableFuture().get(2, TimeUnit.SECONDS);
            CountDownLatch timedOut = new CountDownLatch(1);
            long start = System.nanoTime();
            ClientTransaction transaction = transactions.sendRequest(outgoing("INVITE", transactions.newBranch()), flow,
                    listener(r -> {
                    }, timedOut));
            transaction.stopRetransmitting();
            long stoppedAt = System.nanoTime();
            assertThat(peer.receive(2000)).startsWith("INVITE");
            // Timer A would have sent it again at 50, 150, 350, 750 and 1550 ms
            assertNothingSentLaterThan(peer, stoppedAt, 2000);
            assertThat(transaction.isTerminated()).isFalse();
            assertThat(timedOut.await(5, TimeUnit.SECONDS)).as("Timer B").isTrue();
            assertThat((System.nanoTime() - start) / 1_000_000).as("ended at Timer B, 3.2 s").isGreaterThanOrEqualTo(3_100L);
            assertThat(peer.receive(200)).isNull();
            await().atMost(Duration.ofSeconds(2)).until(() -> transactions.size() == 0);
        }
    }

    /**
     * Receives for {@code millis}: a copy Timer A sent before stopRetransmitting (50 ms after the
     * first, should the test thread stall that long on a busy machine) may still come in, but none
     * sent after it, which would come 100 ms or more after it.
     */
    private static void assertNothingSentLaterThan(LoopbackPeer peer, long stoppedAtNanos, long millis) throws Exception {
        long end = System.nanoTime() + millis * 1_000_000;
        String copy;
        while ((copy = peer.receive((int) Math.max(1, (end - System.nanoTime()) / 1_000_000))) != null) {
            long after = (System.nanoTime() - stoppedAtNanos) / 1_000_000;
            assertThat(after).as("a retransmission %d ms after stopRetransmitting: %s", after, copy).isLessThan(100);
        }
    }

    /** A response that comes after the retransmissions stopped is still taken: delivered and, a 486, ACKed. */
    @Test
    void aClientInviteThatStoppedRetransmittingStillTakesALateResponse() throws Exception {
        start(TransportSettings.defaults(), tx -> {
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            SipFlow flow = transport.flowTo(Transport.UDP, new InetSocketAddress("127.0.0.1", peer.port()))
                    .toCompletableFuture().get(2, TimeUnit.SECONDS);
            List<Integer> statuses = new CopyOnWriteArrayList<>();
            ClientTransaction transaction = transactions.sendRequest(outgoing("INVITE", transactions.newBranch()), flow,
                    listener(r -> statuses.add(r.status()), new CountDownLatch(1)));
            transaction.stopRetransmitting();
            long stoppedAt = System.nanoTime();
            String sent = peer.receive(2000);
            assertThat(sent).startsWith("INVITE");
            assertNothingSentLaterThan(peer, stoppedAt, 1000);
            SipRequest received = (SipRequest) io.switchboard.sip.codec.SipParser.parse(sent.getBytes(StandardCharsets.UTF_8));
            peer.send(SipResponse.to(received, 180, "Ringing").withToTag("callee").toString(), udpPort);
            peer.send(SipResponse.to(received, 486, "Busy Here").withToTag("callee").toString(), udpPort);
            assertThat(peer.receive(2000)).startsWith("ACK sip:service@127.0.0.1").contains("tag=callee");
            await().atMost(Duration.ofSeconds(2)).until(() -> statuses.size() == 2); // the ACK leaves before the TU hears
            assertThat(statuses).containsExactly(180, 486);
        }
    }

    @Test
    void clientInviteAcksAnErrorResponseItself() throws Exception {
        start(TransportSettings.defaults(), tx -> {
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            SipFlow flow = transport.flowTo(Transport.UDP, new InetSocketAddress("127.0.0.1", peer.port()))
                    .toCompletableFuture().get(2, TimeUnit.SECONDS);
            List<Integer> statuses = new CopyOnWriteArrayList<>();
            SipRequest invite = outgoing("INVITE", transactions.newBranch());
            transactions.sendRequest(invite, flow, listener(r -> statuses.add(r.status()), new CountDownLatch(1)));
            String sent = peer.receive(2000);
            assertThat(sent).startsWith("INVITE");
            SipRequest received = (SipRequest) io.switchboard.sip.codec.SipParser.parse(sent.getBytes(StandardCharsets.UTF_8));
            SipResponse busy = SipResponse.to(received, 486, "Busy Here").withToTag("callee");
            peer.send(busy.toString(), udpPort);
            String ack = peer.receive(2000);
            while (ack != null && ack.startsWith("INVITE")) {
                ack = peer.receive(2000); // a retransmission raced the response
            }
            assertThat(ack).startsWith("ACK sip:service@127.0.0.1").contains("tag=callee").contains("CSeq: 1 ACK");
            peer.send(busy.toString(), udpPort); // retransmitted 486: ACK again, not delivered again
            assertThat(peer.receive(2000)).startsWith("ACK");
            assertThat(statuses).containsExactly(486);
        }
    }

    @Test
    void tcpRequestIsAnsweredOnTheSameConnection() throws Exception {
        start(TransportSettings.defaults(), tx -> tx.respond(SipResponse.to(tx.request(), 200, "OK").withToTag("t")));
        assertThat(optionsOverTcp("z9hG4bK-tcp")).isEqualTo("SIP/2.0 200 OK");
    }

    /** Sends an OPTIONS over a new TCP connection and returns the answer's status line. */
    private String optionsOverTcp(String branch) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", tcpPort)) {
            socket.setSoTimeout(3000);
            OutputStream out = socket.getOutputStream();
            out.write(request("OPTIONS", branch, 5060).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
                    .getBytes(StandardCharsets.UTF_8));
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            return in.readLine();
        }
    }

    @Test
    void workForAConnectionContinuesOnItsEventLoopAndForUdpOnTheLanes() throws Exception {
        // an answer that waited (a registration's commit) is written from the thread that reads
        // its connection, in order with the connection's other answers; UDP has no such thread
        java.util.Map<String, String> answeredOn = new java.util.concurrent.ConcurrentHashMap<>();
        java.util.concurrent.ExecutorService elsewhere = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            start(TransportSettings.defaults(), tx -> {
                String handledOn = Thread.currentThread().getName();
                elsewhere.execute(() -> transport.executor(tx.flow()).execute(() -> {
                    answeredOn.put(tx.flow().transport().name(), Thread.currentThread().getName() + " after " + handledOn);
                    tx.respond(SipResponse.to(tx.request(), 200, "OK").withToTag("t"));
                }));
            });
            assertThat(optionsOverTcp("z9hG4bK-later")).isEqualTo("SIP/2.0 200 OK");
            try (LoopbackPeer peer = new LoopbackPeer()) {
                peer.send(request("OPTIONS", "z9hG4bK-later-udp", peer.port()), udpPort);
                assertThat(peer.receive(3000)).startsWith("SIP/2.0 200 OK");
            }
        } finally {
            elsewhere.shutdownNow();
        }
        String tcp = answeredOn.get("TCP");
        assertThat(tcp).startsWith("sip-io");
        String[] threads = tcp.split(" after ");
        assertThat(threads[0]).as("the thread that read the request").isEqualTo(threads[1]);
        assertThat(answeredOn.get("UDP")).startsWith("sip-lane");
    }

    @Test
    void garbageOverTcpClosesTheConnectionAndIsCounted() throws Exception {
        start(TransportSettings.defaults(), tx -> tx.respond(SipResponse.to(tx.request(), 200, "OK")));
        try (Socket socket = new Socket("127.0.0.1", tcpPort)) {
            socket.setSoTimeout(3000);
            socket.getOutputStream().write("HELLO\r\nthis is not sip\r\n\r\n".getBytes(StandardCharsets.UTF_8));
            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(2)).until(() -> parseErrors.get() == 1);
    }

    @Test
    void slowPeerIsCutOff() throws Exception {
        start(TransportSettings.defaults().withTimeouts(Duration.ofMillis(500), Duration.ofMinutes(1)), tx -> {
        });
        try (Socket socket = new Socket("127.0.0.1", tcpPort)) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write("OPTIONS sip:a@b SIP/2.0\r\n".getBytes(StandardCharsets.UTF_8));
            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(drops).contains("slow_peer");
    }

    @Test
    void floodFromOneAddressIsDroppedAndCounted() throws Exception {
        AtomicInteger served = new AtomicInteger();
        start(TransportSettings.defaults().withFloodLimit(20, 20), tx -> {
            served.incrementAndGet();
            tx.respond(SipResponse.to(tx.request(), 200, "OK"));
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            for (int i = 0; i < 200; i++) {
                peer.send(request("OPTIONS", "z9hG4bK-flood" + i, peer.port()), udpPort);
            }
            await().atMost(Duration.ofSeconds(3)).until(() -> drops.stream().filter("flood"::equals).count() >= 150);
            assertThat(served.get()).isLessThan(60);
        }
    }

    @Test
    void anOverloadedLaneShedsNewRequestsButHandlesTheCallsInProgress() throws Exception {
        // one lane, held up for longer than a new request may wait (as a cold or starved node is)
        TransportSettings oneLane = new TransportSettings(65_535, 0, 0, 100, 100, Duration.ofSeconds(30),
                Duration.ofMinutes(1), 1, 4 * 1024 * 1024, 1, 1024);
        CountDownLatch held = new CountDownLatch(1);
        List<String> handled = new CopyOnWriteArrayList<>();
        start(oneLane, tx -> {
            handled.add(tx.request().method() + " " + tx.request().callId());
            if (tx.request().isMethod("INFO")) {
                held.countDown();
                try {
                    Thread.sleep(700); // a handler must never do this; here it stands for a lane far behind
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            tx.respond(SipResponse.to(tx.request(), 200, "OK"));
        });
        try (LoopbackPeer peer = new LoopbackPeer()) {
            peer.send(request("INFO", "z9hG4bK-hold", peer.port()), udpPort);
            assertThat(held.await(2, TimeUnit.SECONDS)).isTrue();
            // behind it: a new call's INVITE (no To tag) and a BYE of a call in progress
            peer.send(request("INVITE", "z9hG4bK-new", peer.port()), udpPort);
            peer.send(request("BYE", "z9hG4bK-old", peer.port()).replace("To: <sip:service@127.0.0.1>",
                    "To: <sip:service@127.0.0.1>;tag=s"), udpPort);
            await().atMost(Duration.ofSeconds(3)).until(() -> handled.size() == 2);
            assertThat(handled).containsExactly("INFO z9hG4bK-hold@test", "BYE z9hG4bK-old@test");
            assertThat(drops).containsExactly("shed");
            // the INVITE comes again (Timer A) once the lane has caught up, and is taken
            peer.send(request("INVITE", "z9hG4bK-new", peer.port()), udpPort);
            await().atMost(Duration.ofSeconds(3)).until(() -> handled.contains("INVITE z9hG4bK-new@test"));
        }
    }

    private SipRequest outgoing(String method, String branch) {
        SipRequest request = new SipRequest(method, SipUri.parse("sip:service@127.0.0.1"));
        request.headers().add(HeaderNames.VIA, Via.of("UDP", "127.0.0.1", udpPort, branch).toString());
        request.headers().add(HeaderNames.MAX_FORWARDS, "70");
        request.headers().add(HeaderNames.FROM, "<sip:node@127.0.0.1>;tag=n1");
        request.headers().add(HeaderNames.TO, "<sip:service@127.0.0.1>");
        request.headers().add(HeaderNames.CALL_ID, branch + "@node");
        request.headers().add(HeaderNames.CSEQ, "1 " + method);
        return request;
    }

    private static ClientTransactionListener listener(Consumer<SipResponse> responses, CountDownLatch timeout) {
        return new ClientTransactionListener() {
            @Override
            public void onResponse(ClientTransaction transaction, SipResponse response) {
                responses.accept(response);
            }

            @Override
            public void onTimeout(ClientTransaction transaction) {
                timeout.countDown();
            }

            @Override
            public void onTransportError(ClientTransaction transaction, Throwable cause) {
            }
        };
    }
}
