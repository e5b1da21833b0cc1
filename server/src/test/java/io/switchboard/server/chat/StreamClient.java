package io.switchboard.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A person's real-time stream as a test sees it: frames arrive in a queue, in order. */
final class StreamClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final LinkedBlockingQueue<JsonNode> frames = new LinkedBlockingQueue<>();
    private final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final StringBuilder partial = new StringBuilder();
    private final WebSocket socket;
    volatile int pings;
    volatile String closeReason;

    private StreamClient(URI uri, boolean reading) throws Exception {
        this.socket = HttpClient.newHttpClient().newWebSocketBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .buildAsync(uri, new Listener(reading))
                .get(15, TimeUnit.SECONDS);
    }

    static StreamClient connect(URI uri) throws Exception {
        return new StreamClient(uri, true);
    }

    /** A client that reads nothing at all: its frames pile up on the server (a slow consumer). */
    static StreamClient connectWithoutReading(URI uri) throws Exception {
        return new StreamClient(uri, false);
    }

    void send(String text) {
        socket.sendText(text, true).join();
    }

    /**
     * Sends {@code bytes} as one binary message, in frames of at most {@code frame} bytes; stops
     * when the server has closed the stream meanwhile (its close frame closes this side's output).
     */
    void sendBinary(byte[] bytes, int frame) {
        for (int at = 0; at < bytes.length; at += frame) {
            int end = Math.min(bytes.length, at + frame);
            try {
                socket.sendBinary(java.nio.ByteBuffer.wrap(bytes, at, end - at), end == bytes.length).join();
            } catch (java.util.concurrent.CompletionException e) {
                if (socket.isOutputClosed()) {
                    return;
                }
                throw e;
            }
        }
    }

    /** The next frame, whatever its type; fails after {@code seconds}. */
    JsonNode next(int seconds) throws InterruptedException {
        JsonNode frame = frames.poll(seconds, TimeUnit.SECONDS);
        if (frame == null) {
            throw new AssertionError("no frame within " + seconds + " s");
        }
        return frame;
    }

    /** The next frame of this type, skipping others (collected in {@code skipped} when not null). */
    JsonNode next(String type, int seconds, List<JsonNode> skipped) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode frame = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
            if (frame == null) {
                throw new AssertionError("no '" + type + "' frame within " + seconds + " s");
            }
            if (type.equals(frame.path("type").asText())) {
                return frame;
            }
            if (skipped != null) {
                skipped.add(frame);
            }
        }
    }

    JsonNode next(String type) throws InterruptedException {
        return next(type, 15, null);
    }

    /** Every message frame up to and including the one with {@code seq} in {@code chatId}. */
    List<JsonNode> messagesUntil(String chatId, long seq, int seconds) throws InterruptedException {
        List<JsonNode> messages = new ArrayList<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            JsonNode frame = left <= 0 ? null : frames.poll(left, TimeUnit.NANOSECONDS);
            if (frame == null) {
                throw new AssertionError("message " + seq + " of " + chatId + " did not arrive within " + seconds
                        + " s; got " + messages);
            }
            if (frame.path("type").asText().equals("message")) {
                messages.add(frame);
                if (frame.path("chatId").asText().equals(chatId) && frame.path("seq").asLong() == seq) {
                    return messages;
                }
            }
        }
    }

    /** Frames already received and not yet taken. */
    List<JsonNode> drain() {
        List<JsonNode> rest = new ArrayList<>();
        frames.drainTo(rest);
        return rest;
    }

    /** The close code the server sent, waiting up to {@code seconds}. */
    int awaitClose(int seconds) throws Exception {
        return closed.get(seconds, TimeUnit.SECONDS);
    }

    boolean isClosed() {
        return closed.isDone();
    }

    @Override
    public void close() {
        if (!closed.isDone()) {
            socket.abort();
        }
    }

    private final class Listener implements WebSocket.Listener {
        private final boolean reading;

        Listener(boolean reading) {
            this.reading = reading;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            if (reading) {
                webSocket.request(1);
            }
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                try {
                    frames.add(JSON.readTree(partial.toString()));
                } catch (Exception e) {
                    frames.add(JSON.createObjectNode().put("type", "unparsable").put("text", partial.toString()));
                }
                partial.setLength(0);
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, java.nio.ByteBuffer message) {
            pings++;
            webSocket.request(1);
            return WebSocket.Listener.super.onPing(webSocket, message);
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            closeReason = reason;
            closed.complete(statusCode);
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            closed.complete(-1);
        }
    }
}
