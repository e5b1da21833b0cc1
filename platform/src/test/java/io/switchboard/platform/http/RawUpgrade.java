package io.switchboard.platform.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The answer to a WebSocket upgrade request sent over a plain socket, headers and body exactly as
 * the server wrote them (the JDK's WebSocket client hides the body and the cookies of a refusal).
 * The connection is closed after the answer, also after a 101.
 *
 * @param headers by lower-case name
 */
public record RawUpgrade(int status, Map<String, List<String>> headers, String body) {
    private static final int TIMEOUT_MS = 10_000;

    /**
     * Sends {@code GET pathAndQuery} with the upgrade headers of RFC 6455 §4.1 (and {@code extra})
     * to the server at {@code baseUrl} ({@code http://host:port}).
     */
    public static RawUpgrade attempt(String baseUrl, String pathAndQuery, Map<String, String> extra) throws IOException {
        URI base = URI.create(baseUrl);
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(TIMEOUT_MS);
            StringBuilder request = new StringBuilder()
                    .append("GET ").append(pathAndQuery).append(" HTTP/1.1\r\n")
                    .append("Host: ").append(base.getHost()).append(':').append(base.getPort()).append("\r\n")
                    .append("Upgrade: websocket\r\nConnection: Upgrade\r\n")
                    .append("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n");
            if (!extra.containsKey("Sec-WebSocket-Version")) {
                request.append("Sec-WebSocket-Version: 13\r\n");
            }
            extra.forEach((name, value) -> request.append(name).append(": ").append(value).append("\r\n"));
            request.append("\r\n");
            socket.getOutputStream().write(request.toString().getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            String head = readHead(in);
            String[] lines = head.split("\r\n");
            int status = Integer.parseInt(lines[0].split(" ")[1]);
            Map<String, List<String>> headers = new TreeMap<>();
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                headers.computeIfAbsent(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                        .add(lines[i].substring(colon + 1).strip());
            }
            String body = "";
            List<String> length = headers.get("content-length");
            if (status != 101 && length != null) {
                body = new String(in.readNBytes(Integer.parseInt(length.getFirst())), StandardCharsets.UTF_8);
            }
            return new RawUpgrade(status, headers, body);
        }
    }

    /** The first value of a header. */
    public Optional<String> header(String name) {
        List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
        return values == null ? Optional.empty() : Optional.of(values.getFirst());
    }

    /** Reads a response head up to its blank line (the line itself left out). */
    public static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        byte[] end = {'\r', '\n', '\r', '\n'};
        while (matched < end.length) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the connection closed before the end of the response head: " + head);
            }
            head.write(b);
            matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        String text = head.toString(StandardCharsets.ISO_8859_1);
        return text.substring(0, text.length() - end.length);
    }
}
