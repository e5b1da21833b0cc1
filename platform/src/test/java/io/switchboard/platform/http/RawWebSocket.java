package io.switchboard.platform.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A WebSocket client on a plain socket, for what the JDK's client hides: whether all of a large
 * frame could be written before the server closed, and how the connection ended after the
 * server's Close frame. A server that closes its socket with bytes of the frame still unread has
 * it reset: the client's writes fail (a broken pipe, or the reset itself), and the Close frame may
 * be lost. Frames are written as RFC 6455 §5.2 has a client write them (masked); the server's are
 * read unmasked.
 */
final class RawWebSocket implements AutoCloseable {
    private static final int TIMEOUT_MS = 20_000;
    /** How much of a frame goes to the socket per write: large writes, as a client with a large message makes. */
    private static final int WRITE_CHUNK = 256 * 1024;

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private RawWebSocket(Socket socket) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.out = socket.getOutputStream();
    }

    /** Upgrades a connection to {@code path} on the server at {@code baseUrl} ({@code http://host:port}). */
    static RawWebSocket open(String baseUrl, String path) throws IOException {
        URI base = URI.create(baseUrl);
        Socket socket = new Socket(base.getHost(), base.getPort());
        try {
            socket.setSoTimeout(TIMEOUT_MS);
            String request = "GET " + path + " HTTP/1.1\r\n"
                    + "Host: " + base.getHost() + ":" + base.getPort() + "\r\n"
                    + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            String head = RawUpgrade.readHead(socket.getInputStream());
            if (!head.startsWith("HTTP/1.1 101")) {
                throw new IOException("not upgraded: " + head);
            }
            return new RawWebSocket(socket);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Writes one whole frame ({@code opcode}: 1 text, 2 binary) carrying {@code payload}, in large
     * writes. Returns null when all of it was written, else why a write failed (the server closed
     * the connection before it had read the frame: a reset or a broken pipe).
     */
    IOException sendFrame(int opcode, byte[] payload) {
        byte[] mask = new byte[4];
        ThreadLocalRandom.current().nextBytes(mask);
        ByteBuffer header = ByteBuffer.allocate(14);
        header.put((byte) (0x80 | opcode)); // FIN: the message in this one frame
        if (payload.length < 126) {
            header.put((byte) (0x80 | payload.length));
        } else if (payload.length <= 0xFFFF) {
            header.put((byte) (0x80 | 126)).putShort((short) payload.length);
        } else {
            header.put((byte) (0x80 | 127)).putLong(payload.length);
        }
        header.put(mask);
        byte[] masked = new byte[payload.length];
        for (int i = 0; i < payload.length; i++) {
            masked[i] = (byte) (payload[i] ^ mask[i & 3]);
        }
        try {
            out.write(header.array(), 0, header.position());
            for (int at = 0; at < masked.length; at += WRITE_CHUNK) {
                out.write(masked, at, Math.min(WRITE_CHUNK, masked.length - at));
            }
            out.flush();
            return null;
        } catch (IOException e) {
            return e;
        }
    }

    /**
     * Reads frames up to the server's Close and says how the connection went from there:
     * {@code "<code> <reason>, then end of stream"} (or what came instead); or what ended it
     * before a Close frame came ({@code "no close frame: <exception>"}, a reset among them).
     */
    String closeAndEnd() {
        String close;
        try {
            close = readClose();
        } catch (IOException e) {
            return "no close frame: " + e;
        }
        return close + ", then " + end();
    }

    private String readClose() throws IOException {
        while (true) {
            int first = readByte();
            int second = readByte();
            long length = second & 0x7F;
            if (length == 126) {
                length = ((readByte() << 8) | readByte());
            } else if (length == 127) {
                length = ByteBuffer.wrap(in.readNBytes(8)).getLong();
            }
            byte[] payload = in.readNBytes((int) length);
            if (payload.length < length) {
                throw new IOException("the connection ended inside a frame");
            }
            if ((first & 0x0F) == 0x8) {
                int code = payload.length >= 2 ? ((payload[0] & 0xFF) << 8) | (payload[1] & 0xFF) : 1005;
                String reason = payload.length > 2 ? new String(payload, 2, payload.length - 2, StandardCharsets.UTF_8) : "";
                return code + " " + reason;
            }
        }
    }

    private int readByte() throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new IOException("end of stream before a close frame");
        }
        return b;
    }

    /**
     * How the connection ended after the Close frame: "end of stream" (the server's FIN; also
     * what a reset reads as once a failed write has reported it), else what came or was thrown.
     */
    private String end() {
        try {
            int next = in.read();
            return next < 0 ? "end of stream" : "more bytes after the close frame";
        } catch (SocketException e) {
            return "reset (" + e.getMessage() + ")";
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
