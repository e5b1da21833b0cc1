package io.switchboard.server.chat;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stream client over a plain socket that reads every frame and answers none: no pong to the
 * node's pings, as a client on a dead network or a stuck tab would behave. The JDK's WebSocket
 * answers pings itself, so it cannot play this part.
 */
final class SilentStreamClient implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    final AtomicInteger pings = new AtomicInteger();
    /** The close frame's code and reason, or -1 when the connection ended without one. */
    final CompletableFuture<String> closed = new CompletableFuture<>();

    SilentStreamClient(String baseUrl, String pathAndQuery) throws IOException {
        URI base = URI.create(baseUrl);
        socket = new Socket(base.getHost(), base.getPort());
        socket.setSoTimeout(60_000);
        out = socket.getOutputStream();
        // RFC 6455 §4.1: the opening handshake
        out.write(("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort() + "\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                + "Sec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        in = new DataInputStream(socket.getInputStream());
        String head = io.switchboard.platform.http.RawUpgrade.readHead(in);
        if (!head.startsWith("HTTP/1.1 101")) {
            socket.close();
            throw new IOException("the upgrade was refused: " + head);
        }
        Thread.ofVirtual().start(this::read);
    }

    /** Sends a text frame, masked as every frame from a client must be (RFC 6455 §5.3). */
    synchronized void send(String text) throws IOException {
        byte[] payload = text.getBytes(StandardCharsets.UTF_8);
        if (payload.length > 125) {
            throw new IllegalArgumentException("short frames only");
        }
        byte[] mask = {1, 2, 3, 4};
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(0x81);
        frame.write(0x80 | payload.length);
        frame.write(mask);
        for (int i = 0; i < payload.length; i++) {
            frame.write(payload[i] ^ mask[i % 4]);
        }
        out.write(frame.toByteArray());
        out.flush();
    }

    /** "code reason" of the node's close frame, waiting up to {@code seconds}. */
    String awaitClose(int seconds) throws Exception {
        return closed.get(seconds, TimeUnit.SECONDS);
    }

    private void read() {
        try {
            while (true) {
                int first = in.readUnsignedByte();
                int second = in.readUnsignedByte();
                long length = second & 0x7f;
                if (length == 126) {
                    length = in.readUnsignedShort();
                } else if (length == 127) {
                    length = in.readLong();
                }
                byte[] payload = new byte[(int) length];
                in.readFully(payload);
                switch (first & 0x0f) {
                    case 0x9 -> pings.incrementAndGet();
                    case 0x8 -> {
                        int code = payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : 1005;
                        String reason = payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
                        closed.complete(code + " " + reason);
                        return;
                    }
                    default -> { }
                }
            }
        } catch (SocketTimeoutException e) {
            closed.complete("-1 no frame for a minute");
        } catch (IOException e) {
            closed.complete("-1 " + e.getMessage());
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
