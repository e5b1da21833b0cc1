package io.switchboard.sip.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.switchboard.sip.message.SipMessage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a peer gets over real TCP and TLS sockets when framing goes wrong (RFC 3261 §18.3): a SIP
 * request line with something wrong in it is answered 400 and the connection kept; after an
 * answered framing error the flow is gone for routing at once, and the connection (TLS too) is
 * drained before it closes.
 */
class StreamFramingSocketTest {
    private final List<TransportLayer> layers = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();
    private final List<SipMessage> received = new CopyOnWriteArrayList<>();
    private final List<SipFlow> flows = new CopyOnWriteArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void stop() throws IOException {
        for (Socket socket : sockets) {
            socket.close();
        }
        layers.forEach(TransportLayer::stop);
    }

    private TransportLayer layer(TlsPipeline tls) {
        TransportLayer layer = new TransportLayer(TransportSettings.defaults().withIoThreads(1), new SipStackObserver() {
        });
        layer.setTls(tls);
        layer.setInboundHandler((message, flow) -> {
            received.add(message);
            flows.add(flow);
        });
        layers.add(layer);
        return layer;
    }

    private static String options(String callId) {
        return "OPTIONS sip:node@127.0.0.1 SIP/2.0\r\n"
                + "Via: SIP/2.0/TCP 10.9.9.9:5060;branch=z9hG4bK-" + callId + ";rport\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:node@127.0.0.1>\r\n"
                + "Call-ID: " + callId + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    }

    private static void write(Socket socket, String text) throws IOException {
        socket.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        socket.getOutputStream().flush();
    }

    /** One answer's head (up to the empty line); the answers here have no body. */
    private static String readHead(Socket socket) throws IOException {
        socket.setSoTimeout(10_000);
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.UTF_8).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after: " + head.toString(StandardCharsets.UTF_8));
            }
            head.write(b);
        }
        return head.toString(StandardCharsets.UTF_8);
    }

    private Socket tcp(int port) throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        sockets.add(socket);
        return socket;
    }

    @Test
    void aRequestLineWithATrailingSpaceIsAnswered400AndTheConnectionKept() throws Exception {
        TransportLayer layer = layer(null);
        int port = layer.start(List.of(new ListenPoint(Transport.TCP, "127.0.0.1", 0))).getFirst().port();
        Socket peer = tcp(port);
        // RFC 4475 §3.1.2.10: SP after the SIP-Version
        write(peer, options("trailing").replace("SIP/2.0\r\n", "SIP/2.0 \r\n"));
        assertThat(readHead(peer)).startsWith("SIP/2.0 400 ").contains("Call-ID: trailing\r\n");
        // nor is one without a version, or with a tab between its parts: the same 400, the same connection
        write(peer, options("no-version").replace(" SIP/2.0\r\n", "\r\n"));
        assertThat(readHead(peer)).startsWith("SIP/2.0 400 ").contains("Call-ID: no-version\r\n");
        write(peer, options("tab").replace("OPTIONS sip:", "OPTIONS\tsip:"));
        assertThat(readHead(peer)).startsWith("SIP/2.0 400 ").contains("Call-ID: tab\r\n");
        write(peer, options("after"));
        await().atMost(Duration.ofSeconds(10)).until(() -> received.size() == 1);
        assertThat(received.getFirst().header("Call-ID")).isEqualTo("after");
    }

    @Test
    void aFlowThatLostFramingIsGoneForRoutingOnceAnswered() throws Exception {
        TransportLayer layer = layer(null);
        int port = layer.start(List.of(new ListenPoint(Transport.TCP, "127.0.0.1", 0))).getFirst().port();
        Socket peer = tcp(port);
        write(peer, options("first"));
        await().atMost(Duration.ofSeconds(10)).until(() -> flows.size() == 1);
        SipFlow flow = flows.getFirst();
        assertThat(layer.flow(flow.id())).isPresent();

        write(peer, options("no-length").replace("Content-Length: 0\r\n", ""));
        assertThat(readHead(peer)).startsWith("SIP/2.0 400 Bad Request - Content-Length is required over TCP\r\n");
        // the connection is still being drained (2 s), but nothing may be routed to it any more
        assertThat(layer.flow(flow.id())).isEmpty();
        assertThat(flow.isOpen()).isFalse();
        assertThat(flow.send(options("x").getBytes(StandardCharsets.US_ASCII)).toCompletableFuture())
                .isCompletedExceptionally();
        // an answer to what came before on that connection is not sent on a new one (§18.2.2),
        // which would go towards a peer being disconnected for what it sent
        io.switchboard.sip.message.SipResponse late = io.switchboard.sip.message.SipResponse.to(
                (io.switchboard.sip.message.SipRequest) received.getFirst(), 200, "OK");
        java.util.concurrent.CompletableFuture<Void> answered = layer.sendResponse(late, flow).toCompletableFuture();
        await().atMost(Duration.ofSeconds(5)).until(answered::isDone);
        assertThat(answered).failsWithin(Duration.ZERO)
                .withThrowableOfType(java.util.concurrent.ExecutionException.class)
                .withCauseInstanceOf(java.nio.channels.ClosedChannelException.class);
    }

    @Test
    void overTlsTheAnswerIsFollowedByTheDrainBeforeTheClose() throws Exception {
        SslContext context = serverContext();
        TransportLayer layer = layer(new TlsPipeline(() -> context, Duration.ofSeconds(10), new TlsPipeline.HandshakeObserver() {
            @Override
            public void succeeded() {
            }

            @Override
            public void failed(Throwable cause, InetSocketAddress peer) {
            }
        }));
        int port = layer.start(List.of(new ListenPoint(Transport.TLS, "127.0.0.1", 0))).getFirst().port();
        SSLContext client = SSLContext.getInstance("TLS");
        // the test's self-signed certificate: trusted as it is (Netty's trust-all manager, for tests)
        client.init(null, io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
        Socket peer = client.getSocketFactory().createSocket("127.0.0.1", port);
        sockets.add(peer);
        // a body over the limit (§21.5.7), all of it sent: the server answers from the head while
        // the rest is still arriving, and must read it rather than reset the connection under it
        write(peer, options("big").replace("Content-Length: 0", "Content-Length: 70000") + "b".repeat(70_000));
        assertThat(readHead(peer)).startsWith("SIP/2.0 513 Message Too Large\r\n").contains("Call-ID: big\r\n");
        long answered = System.nanoTime();
        peer.setSoTimeout(10_000);
        try {
            while (peer.getInputStream().read() >= 0) {
                // nothing else comes before the close
            }
        } catch (IOException e) {
            // a reset is a close too, for the timing
        }
        // closed after the drain (2 s, measured here from when the answer was read), not at once
        assertThat(Duration.ofNanos(System.nanoTime() - answered)).isGreaterThan(Duration.ofMillis(500));
    }

    private SslContext serverContext() {
        try {
            Path store = dir.resolve("server.p12");
            if (!Files.exists(store)) {
                Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                        "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1",
                        "-dname", "CN=localhost", "-validity", "2", "-storetype", "PKCS12",
                        "-keystore", store.toString(), "-storepass", "changeit", "-keypass", "changeit")
                        .redirectErrorStream(true).start();
                String output = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(keytool.waitFor()).as(output).isZero();
            }
            KeyStore keys = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                keys.load(in, "changeit".toCharArray());
            }
            KeyManagerFactory factory = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            factory.init(keys, "changeit".toCharArray());
            return SslContextBuilder.forServer(factory).build();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
