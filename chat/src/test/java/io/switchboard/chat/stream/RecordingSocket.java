package io.switchboard.chat.stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.websocket.api.Callback;

/** A stream's socket for tests: keeps every frame sent (each written at once) and every close code. */
final class RecordingSocket implements StreamConnection.Socket {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final List<String> frames = new ArrayList<>();
    private final List<Integer> closes = new ArrayList<>();

    @Override
    public synchronized void send(String frame, Callback written) {
        frames.add(frame);
        written.succeed();
    }

    @Override
    public synchronized void close(int code, String reason, Callback written) {
        closes.add(code);
        written.succeed();
    }

    synchronized List<String> frames() {
        return List.copyOf(frames);
    }

    synchronized List<Integer> closes() {
        return List.copyOf(closes);
    }

    /** The {@code type} of each frame sent, in order. */
    List<String> types() {
        return frames().stream().map(RecordingSocket::read).map(frame -> frame.path("type").asText()).toList();
    }

    /** The sequence numbers of the messages sent, in the order sent. */
    List<Long> seqs() {
        return frames().stream().map(RecordingSocket::read).filter(frame -> frame.path("type").asText().equals("message"))
                .map(frame -> frame.path("seq").asLong()).toList();
    }

    private static JsonNode read(String frame) {
        try {
            return JSON.readTree(frame);
        } catch (Exception e) {
            throw new AssertionError("not JSON: " + frame, e);
        }
    }
}
