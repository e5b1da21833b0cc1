package io.switchboard.server.telephony;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A SIP-over-WebSocket client (RFC 7118, subprotocol {@code sip}) that sends OPTIONS and reads the
 * answer: the probe of the tests that check a {@code ws://} or {@code wss://} endpoint answers SIP.
 */
public final class SipWebSocketProbe implements AutoCloseable {
    private final WebSocket socket;
    private final BlockingQueue<String> replies = new LinkedBlockingQueue<>();

    private SipWebSocketProbe(HttpClient client, URI uri, Map<String, String> headers) throws Exception {
        WebSocket.Builder builder = client.newWebSocketBuilder().subprotocols("sip");
        headers.forEach(builder::header);
        socket = builder.buildAsync(uri, new WebSocket.Listener() {
            @Override
            public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                replies.add(data.toString());
                webSocket.request(1);
                return null;
            }
        }).get(10, TimeUnit.SECONDS);
    }

    public static SipWebSocketProbe open(HttpClient client, URI uri) throws Exception {
        return new SipWebSocketProbe(client, uri, Map.of());
    }

    /** With extra handshake headers (e.g. what a proxy in front adds). */
    public static SipWebSocketProbe open(HttpClient client, URI uri, Map<String, String> headers) throws Exception {
        return new SipWebSocketProbe(client, uri, headers);
    }

    /**
     * Sends OPTIONS for {@code domain} with a Via of {@code transport} (WS or WSS) and returns the
     * answer to it (checked to carry its Call-ID), waiting at most 10 s.
     */
    public String options(String domain, String transport) throws Exception {
        String callId = UUID.randomUUID().toString();
        send("OPTIONS sip:" + domain + " SIP/2.0\r\n"
                + "Via: SIP/2.0/" + transport + " df7jal23ls0d.invalid;branch=z9hG4bK" + callId.substring(0, 8) + "\r\n"
                + "Max-Forwards: 70\r\nFrom: <sip:probe@" + domain + ">;tag=p1\r\nTo: <sip:" + domain + ">\r\n"
                + "Call-ID: " + callId + "\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        String answer = replies.poll(10, TimeUnit.SECONDS);
        if (answer == null) {
            throw new AssertionError("no answer to OPTIONS within 10 s");
        }
        if (!answer.contains(callId)) {
            throw new AssertionError("the answer is not to this OPTIONS (Call-ID " + callId + "):\n" + answer);
        }
        return answer;
    }

    /** Sends one text frame as it is. */
    public void send(String text) throws Exception {
        socket.sendText(text, true).get(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        socket.abort();
    }
}
