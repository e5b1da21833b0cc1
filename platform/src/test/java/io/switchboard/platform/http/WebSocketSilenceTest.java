package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each HTTP server watches its own WebSocket clients' frames, wired when it starts: two servers
 * in one process do not share sessions, and no upgrade is needed to put the watch in place.
 */
class WebSocketSilenceTest {
    @Test
    void eachServerWatchesItsOwnStreamsFromTheStart() throws Exception {
        try (Metrics metrics = new Metrics()) {
            HttpServer first = server(metrics);
            HttpServer second = server(metrics);
            try {
                assertThat(first.webSocketsWatched()).as("wired at start, before any upgrade").isTrue();
                assertThat(second.webSocketsWatched()).isTrue();

                CompletableFuture<String> answer = new CompletableFuture<>();
                WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
                        .buildAsync(URI.create(first.baseUrl().replace("http://", "ws://") + "/ws/test/silence"),
                                new WebSocket.Listener() {
                                    @Override
                                    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                                        answer.complete(data.toString());
                                        return null;
                                    }
                                }).get(10, TimeUnit.SECONDS);
                socket.sendText("how long?", true);
                // "silent <duration> by <watch>": a positive time since the question arrived, from this server's own watch
                // (an endpoint that found no watch gets zero, and names none)
                String[] said = answer.get(10, TimeUnit.SECONDS).split(" ");
                assertThat(said).hasSize(4);
                assertThat(Duration.parse(said[1])).as("the endpoint finds its server's watch").isPositive()
                        .isLessThan(Duration.ofSeconds(10));
                assertThat(said[3]).as("the first server's watch").isEqualTo(String.valueOf(System.identityHashCode(
                        first.webSocketSilence())));
                assertThat(first.webSocketSilence().watched()).isEqualTo(1);
                assertThat(second.webSocketSilence().watched()).as("not the other server's session").isZero();
                socket.sendClose(1000, "done").get(10, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(10)).until(() -> first.webSocketSilence().watched() == 0);
            } finally {
                first.stop();
                second.stop();
            }
        }
    }

    /**
     * A text message over the session's limit is closed with 1009 in our words, whole numbers and
     * no locale (Jetty's were "Text message too large: 3,000 > 1,000"), and counted, once the rest
     * of it has been read (RFC 6455 §7.1.1); a message in several frames within the limit arrives
     * whole.
     */
    @Test
    void aTextMessageOverTheLimitIsClosedWith1009InPlainWords() throws Exception {
        try (Metrics metrics = new Metrics()) {
            HttpServer server = server(metrics);
            try {
                Client parts = Client.open(server);
                parts.socket.sendText("a".repeat(400), false).get(10, TimeUnit.SECONDS); // one send at a time (the JDK client refuses a second while one is pending)
                parts.socket.sendText("b".repeat(400), true).get(10, TimeUnit.SECONDS);
                assertThat(parts.texts.poll(10, TimeUnit.SECONDS)).isEqualTo("got 800 chars");

                Client big = Client.open(server);
                big.socket.sendText("é".repeat(600), false).get(10, TimeUnit.SECONDS); // 1200 bytes in UTF-8: over the 1000 at once
                assertThat(closedWithin(big, 1)).as("not before the rest of the message").isNull();
                big.socket.sendText("é", true).get(10, TimeUnit.SECONDS);
                assertThat(big.closed.get(10, TimeUnit.SECONDS))
                        .isEqualTo("1009 a text message over 1000 bytes (1200 so far); the limit is 1000");

                Client later = Client.open(server);
                later.socket.sendText("c".repeat(700), false).get(10, TimeUnit.SECONDS);
                later.socket.sendText("d".repeat(700), true).get(10, TimeUnit.SECONDS);
                assertThat(later.closed.get(10, TimeUnit.SECONDS))
                        .isEqualTo("1009 a text message over 1000 bytes (1400 so far); the limit is 1000");
                assertThat(metrics.registry().get("switchboard.websocket.too_big").counter().count()).isEqualTo(2);
            } finally {
                server.stop();
            }
        }
    }

    /**
     * Binary messages are put together here as text is: one over the session's limit is closed
     * with 1009 in our words (Jetty's were "Binary message too large: 1,200 > 1,000") and counted
     * with the text ones; one in several frames within the limit reaches the endpoint whole. An
     * endpoint that takes no binary ({@link WebSocketSilence#refuseBinary}) hears of one at its
     * first frame, whatever the size, and the session is closed with its code once the rest has
     * been read.
     */
    @Test
    void aBinaryMessageOverTheLimitIsClosedWith1009InPlainWordsOrRefusedByTheEndpoint() throws Exception {
        try (Metrics metrics = new Metrics()) {
            HttpServer server = server(metrics);
            try {
                Client parts = Client.open(server);
                parts.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[400]), false).get(10, TimeUnit.SECONDS);
                parts.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), true).get(10, TimeUnit.SECONDS);
                assertThat(parts.texts.poll(10, TimeUnit.SECONDS)).isEqualTo("got 403 bytes ending 3");
                parts.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[] {7}), true).get(10, TimeUnit.SECONDS);
                assertThat(parts.texts.poll(10, TimeUnit.SECONDS)).as("one frame").isEqualTo("got 1 bytes ending 7");

                Client big = Client.open(server);
                big.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[1200]), true).get(10, TimeUnit.SECONDS);
                assertThat(big.closed.get(10, TimeUnit.SECONDS))
                        .isEqualTo("1009 a binary message over 1000 bytes (1200 so far); the limit is 1000");

                Client later = Client.open(server);
                later.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[700]), false).get(10, TimeUnit.SECONDS);
                later.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[700]), true).get(10, TimeUnit.SECONDS);
                assertThat(later.closed.get(10, TimeUnit.SECONDS))
                        .isEqualTo("1009 a binary message over 1000 bytes (1400 so far); the limit is 1000");
                assertThat(metrics.registry().get("switchboard.websocket.too_big").counter().count()).isEqualTo(2);

                Client textOnly = Client.open(server, "/ws/test/text-only");
                textOnly.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[5000]), false).get(10, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(10)).until(() -> refusedBinary(metrics) == 1); // at the first frame
                assertThat(closedWithin(textOnly, 1)).as("not before the rest of the message").isNull();
                textOnly.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[5000]), true).get(10, TimeUnit.SECONDS);
                assertThat(textOnly.closed.get(10, TimeUnit.SECONDS)).isEqualTo("1003 text only");
                assertThat(refusedBinary(metrics)).as("once for the message").isEqualTo(1);
                assertThat(metrics.registry().get("switchboard.websocket.too_big").counter().count())
                        .as("refused by the endpoint, not over the limit").isEqualTo(2);
            } finally {
                server.stop();
            }
        }
    }

    /**
     * A refused message whose rest never comes does not keep its connection open: it is closed
     * with the refusal's code {@link WebSocketSilence#REFUSED_MESSAGE_WAIT} after the part that
     * was refused.
     */
    @Test
    void aRefusedMessageThatNeverEndsIsClosedAfterTheWait() throws Exception {
        try (Metrics metrics = new Metrics()) {
            HttpServer server = server(metrics);
            try {
                Client textOnly = Client.open(server, "/ws/test/text-only");
                long sent = System.nanoTime();
                textOnly.socket.sendBinary(java.nio.ByteBuffer.wrap(new byte[5000]), false).get(10, TimeUnit.SECONDS);
                assertThat(textOnly.closed.get(WebSocketSilence.REFUSED_MESSAGE_WAIT.toSeconds() + 10, TimeUnit.SECONDS))
                        .isEqualTo("1003 text only");
                assertThat(Duration.ofNanos(System.nanoTime() - sent)).as("after the wait, not at once")
                        .isGreaterThanOrEqualTo(WebSocketSilence.REFUSED_MESSAGE_WAIT.minusMillis(500));
            } finally {
                server.stop();
            }
        }
    }

    /**
     * A message refused while most of it is still on its way (4 MiB in one frame, written in large
     * writes) is read to its end before its session is closed (RFC 6455 §7.1.1): the client writes
     * all of it, then reads the Close frame and the end of the stream, no reset. Closed at the
     * first part, as it was, the node left megabytes unread and its kernel reset the connection:
     * the client's writes failed (a JDK client then reports an error, not the close code), and the
     * reset could take the Close frame with it. Ten connections for each refusal, as a reset need
     * not come every time.
     */
    @Test
    void aLargeRefusedMessageIsReadToItsEndThenClosedWithoutAReset() throws Exception {
        byte[] large = new byte[4 * 1024 * 1024];
        java.util.Arrays.fill(large, (byte) 'a'); // valid UTF-8 as text too
        record Refusal(String path, int opcode, String close) { }
        try (Metrics metrics = new Metrics()) {
            HttpServer server = server(metrics);
            try {
                for (Refusal refusal : java.util.List.of(
                        new Refusal("/ws/test/text-only", 2, "1003 text only"),
                        new Refusal("/ws/test/silence", 2, "1009 a binary message over 1000 bytes ("),
                        new Refusal("/ws/test/silence", 1, "1009 a text message over 1000 bytes ("))) {
                    for (int run = 1; run <= 10; run++) {
                        try (RawWebSocket client = RawWebSocket.open(server.baseUrl(), refusal.path())) {
                            java.io.IOException writeFailed = client.sendFrame(refusal.opcode(), large);
                            String outcome = (writeFailed == null ? "written whole" : "write failed: " + writeFailed)
                                    + "; " + client.closeAndEnd();
                            assertThat(outcome).as("%s, opcode %d, run %d", refusal.path(), refusal.opcode(), run)
                                    .matches("written whole; " + java.util.regex.Pattern.quote(refusal.close()) + ".*, then end of stream");
                        }
                    }
                }
            } finally {
                server.stop();
            }
        }
    }

    /** A message in parts leaves no buffer behind: each connection would otherwise keep its largest one. */
    @Test
    void aMessageInPartsLeavesNoBufferBehind() {
        java.util.List<String> texts = new java.util.ArrayList<>();
        WebSocketSilence.Listening listening = new WebSocketSilence.Listening(
                new WebSocketSilence(new io.micrometer.core.instrument.simple.SimpleMeterRegistry()),
                new org.eclipse.jetty.websocket.api.Session.Listener.AutoDemanding() {
                    @Override
                    public void onWebSocketText(String message) {
                        texts.add(message);
                    }
                });
        listening.onWebSocketPartialText("a".repeat(30_000), false);
        listening.onWebSocketPartialText("b".repeat(30_000), true);
        assertThat(texts).singleElement().satisfies(text -> assertThat(text).hasSize(60_000));
        assertThat(listening.bufferedCapacity()).as("dropped after the message").isZero();
        listening.onWebSocketPartialText("short", true);
        assertThat(texts).hasSize(2).last().isEqualTo("short");
        assertThat(listening.bufferedCapacity()).isZero();
    }

    /** A JDK WebSocket client to the test endpoint, with what it received. */
    private record Client(WebSocket socket, java.util.concurrent.BlockingQueue<String> texts, CompletableFuture<String> closed) {
        static Client open(HttpServer server) throws Exception {
            return open(server, "/ws/test/silence");
        }

        static Client open(HttpServer server, String path) throws Exception {
            java.util.concurrent.BlockingQueue<String> texts = new java.util.concurrent.LinkedBlockingQueue<>();
            CompletableFuture<String> closed = new CompletableFuture<>();
            WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create(server.baseUrl().replace("http://", "ws://") + path),
                            new WebSocket.Listener() {
                                @Override
                                public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                                    texts.add(data.toString());
                                    webSocket.request(1);
                                    return null;
                                }

                                @Override
                                public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
                                    closed.complete(statusCode + " " + reason);
                                    return null;
                                }
                            }).get(10, TimeUnit.SECONDS);
            return new Client(socket, texts, closed);
        }
    }

    /** The close {@code client} received within {@code seconds}, or null if none came. */
    private static String closedWithin(Client client, int seconds) throws Exception {
        try {
            return client.closed.get(seconds, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            return null;
        }
    }

    /** Binary messages the text-only endpoint has been told of (it counts them in the test's registry). */
    private static double refusedBinary(Metrics metrics) {
        return metrics.registry().counter("test.refused_binary").count();
    }

    private static HttpServer server(Metrics metrics) {
        HttpServer server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.addRoutes(routes -> routes.ws("/ws/test/silence", ws -> {
            ws.onConnect(ctx -> {
                ctx.session.setMaxTextMessageSize(1000);
                ctx.session.setMaxBinaryMessageSize(1000);
            });
            ws.onMessage(msg -> msg.send(msg.message().startsWith("how long")
                    ? "silent " + WebSocketSilence.of(msg) + " by " + System.identityHashCode(msg.attribute(WebSocketSilence.ATTRIBUTE))
                    : "got " + msg.message().length() + " chars"));
            ws.onBinaryMessage(msg -> msg.send("got " + msg.data().remaining() + " bytes ending "
                    + msg.data().get(msg.data().limit() - 1)));
        }));
        server.addRoutes(routes -> routes.ws("/ws/test/text-only", ws -> {
            ws.onConnect(ctx -> {
                ctx.session.setMaxBinaryMessageSize(1000);
                assertThat(WebSocketSilence.refuseBinary(ctx, 1003, "text only",
                        () -> metrics.registry().counter("test.refused_binary").increment())).isTrue();
            });
            ws.onBinaryMessage(msg -> msg.send("not refused"));
        }));
        server.start();
        return server;
    }
}
