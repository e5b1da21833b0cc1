package io.switchboard.platform.http;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * One request written byte for byte over a plain socket, and the answer as the server wrote it:
 * for requests no HTTP client would send (a bad version, a control character, a huge header).
 *
 * @param headers by lower-case name (the last value of each)
 */
public record RawHttp(int status, Map<String, String> headers, String body) {
    private static final int TIMEOUT_MS = 10_000;

    /** Sends {@code request} (the whole message, ISO-8859-1) to {@code baseUrl} and reads the answer until the server closes or its Content-Length is read. */
    public static RawHttp exchange(String baseUrl, byte[] request) throws IOException {
        URI base = URI.create(baseUrl);
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(TIMEOUT_MS);
            socket.getOutputStream().write(request);
            socket.getOutputStream().flush();
            return read(socket.getInputStream());
        }
    }

    /** One answer read from {@code in}: the head, then the body by its Content-Length, or to the end. */
    public static RawHttp read(InputStream in) throws IOException {
        String head = RawUpgrade.readHead(in);
        String[] lines = head.split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new TreeMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        String length = headers.get("content-length");
        byte[] body = length != null ? in.readNBytes(Integer.parseInt(length)) : in.readAllBytes();
        return new RawHttp(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    /** {@code METHOD target VERSION} with a Host header, {@code extraHeaders} (whole lines) and Connection: close. */
    public static RawHttp exchange(String baseUrl, String method, String target, String version, String extraHeaders)
            throws IOException {
        URI base = URI.create(baseUrl);
        String request = method + " " + target + " " + version + "\r\nHost: " + base.getHost() + ":" + base.getPort()
                + "\r\n" + extraHeaders + "Connection: close\r\n\r\n";
        return exchange(baseUrl, request.getBytes(StandardCharsets.ISO_8859_1));
    }
}
