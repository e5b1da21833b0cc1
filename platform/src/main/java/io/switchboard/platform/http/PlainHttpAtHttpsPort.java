package io.switchboard.platform.http;

import io.switchboard.platform.tls.TlsHandshakeMeter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.DetectorConnectionFactory;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;

/**
 * The HTTPS connector's first factory: a connection whose first bytes are a TLS record goes on to
 * TLS as before; anything else (plain HTTP, typically {@code curl http://} to the HTTPS port) is
 * answered with a fixed HTTP/1.1 400 in plain words, naming the {@code https://} URL to use, and
 * closed. Without it the client got a TLS alert, which curl shows as "HTTP/0.9 not allowed".
 *
 * <p>The answer is written without reading the request through HTTP: nothing of it is served. It
 * is counted as a handshake failure {@code not_tls} (what the TLS engine counted it as before).
 * After the answer the node closes its side and reads what the client still sends, at most
 * {@link #DRAINED_AT_MOST} bytes, until the client closes: closing with request bytes unread would
 * make the kernel reset the connection, and the client could lose the answer (RFC 9112 §9.6).
 *
 * <p>Every accepted connection is bound by the handshake timeout from the start, before a byte has
 * come: until detection its idle timeout is the handshake timeout, and one that closes (or is
 * closed) before it sends enough to tell is counted as a handshake {@code incomplete} (TCP health
 * checks, silent sockets). A refused connection is closed at a fixed deadline, the linger after it
 * was accepted, whatever the client still sends: a client trickling a byte at a time (before the
 * blank line or after the answer) cannot hold the socket longer.
 */
final class PlainHttpAtHttpsPort extends DetectorConnectionFactory {
    /** The most of a request head read to find its Host and target. */
    private static final int HEAD_AT_MOST = 8 * 1024;
    private static final long DRAINED_AT_MOST = 64 * 1024;
    /** A host (name, IPv4, bracketed IPv6) with an optional port: anything else is not echoed back. */
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.\\-]{1,253}(:\\d{1,5})?|\\[[0-9A-Fa-f:.]{2,45}](:\\d{1,5})?");
    /** An origin-form target (RFC 9112 §3.2.1) of characters that need no escaping in the JSON answer. */
    private static final Pattern TARGET = Pattern.compile("/[A-Za-z0-9._~!$&'()*+,;=:@%/?\\-]{0,200}");

    private final TlsHandshakeMeter handshakes;
    private final Duration linger;

    /**
     * @param tls    where a connection that starts with TLS goes
     * @param linger the handshake timeout: how long a silent connection is kept before it shows
     *               whether it speaks TLS, and how long after it was accepted a refused one is
     *               closed at the latest
     */
    PlainHttpAtHttpsPort(SslConnectionFactory tls, TlsHandshakeMeter handshakes, Duration linger) {
        super(tls);
        this.handshakes = handshakes;
        this.linger = linger;
    }

    @Override
    public Connection newConnection(Connector connector, EndPoint endPoint) {
        Connection detecting = super.newConnection(connector, endPoint);
        // the handshake timeout applies from the first moment, not only once TLS bytes have come
        endPoint.setIdleTimeout(linger.toMillis());
        detecting.addEventListener(new Connection.Listener() {
            @Override
            public void onClosed(Connection connection) {
                // On detection Jetty closes this connection with the endpoint still open, to upgrade
                // it (to TLS, which counts from then on, or to the refusal, counted not_tls); closed
                // with the endpoint it means nothing came that could be told: silent, or too little.
                if (!endPoint.isOpen()) {
                    handshakes.incomplete();
                }
            }
        });
        return detecting;
    }

    @Override
    protected void nextProtocol(Connector connector, EndPoint endPoint, ByteBuffer buffer) {
        // the TLS engine used to count these when it failed on them: the meter keeps its meaning
        handshakes.failed(new javax.net.ssl.SSLException("plaintext connection: not a TLS record"));
        endPoint.setIdleTimeout(linger.toMillis());
        long deadline = endPoint.getCreatedTimeStamp() + linger.toMillis();
        endPoint.upgrade(new Refusal(endPoint, connector.getExecutor(), connector, deadline));
    }

    /** The answer to a request head (null if none came): 400, problem details, the https URL. */
    static byte[] refusal(String head, int port) {
        String host = null;
        String target = "/";
        if (head != null) {
            String[] lines = head.split("\r?\n");
            String[] requestLine = lines[0].split(" ");
            if (requestLine.length == 3 && TARGET.matcher(requestLine[1]).matches()) {
                target = requestLine[1];
            }
            for (int i = 1; i < lines.length; i++) {
                int colon = lines[i].indexOf(':');
                if (colon > 0 && lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT).equals("host")) {
                    String value = lines[i].substring(colon + 1).strip();
                    host = HOST.matcher(value).matches() ? value : null;
                    break;
                }
            }
        }
        String url = host == null ? "https://<this host>:" + port + target : "https://" + host + target;
        String body = "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,\"detail\":\"This port speaks"
                + " HTTPS; use " + url + " (plain HTTP is not served on it).\"}";
        byte[] content = body.getBytes(StandardCharsets.UTF_8);
        String response = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: "
                + content.length + "\r\nConnection: close\r\n\r\n";
        byte[] head0 = response.getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[head0.length + content.length];
        System.arraycopy(head0, 0, all, 0, head0.length);
        System.arraycopy(content, 0, all, head0.length, content.length);
        return all;
    }

    /** Reads the request head (up to a bound), writes the answer, then drains until the client closes. */
    private static final class Refusal extends AbstractConnection implements Connection.UpgradeTo {
        private final Connector connector;
        private final ByteBuffer head = ByteBuffer.allocate(HEAD_AT_MOST);
        private final ByteBuffer input = BufferUtil.allocate(4096);
        /** When the connection is closed whatever arrives (epoch millis). */
        private final long deadline;
        private boolean answered;
        private long drained;
        private Scheduler.Task closing;

        Refusal(EndPoint endPoint, Executor executor, Connector connector, long deadline) {
            super(endPoint, executor);
            this.connector = connector;
            this.deadline = deadline;
        }

        @Override
        public void onUpgradeTo(ByteBuffer prefilled) {
            // the bytes the detector read: the start of the request
            if (prefilled != null) {
                take(prefilled);
            }
        }

        @Override
        public void onOpen() {
            super.onOpen();
            long left = Math.max(0, deadline - System.currentTimeMillis());
            closing = connector.getScheduler().schedule(() -> getEndPoint().close(), left, TimeUnit.MILLISECONDS);
            if (headComplete()) {
                answer();
            } else {
                fillInterested();
            }
        }

        @Override
        public void onFillable() {
            try {
                while (true) {
                    BufferUtil.clear(input);
                    int read = getEndPoint().fill(input);
                    if (read < 0) {
                        if (answered) {
                            getEndPoint().close(); // the client read the answer and closed: done
                        } else {
                            answer();
                        }
                        return;
                    }
                    if (read == 0) {
                        fillInterested();
                        return;
                    }
                    if (answered) {
                        drained += read;
                        if (drained > DRAINED_AT_MOST) {
                            getEndPoint().close();
                            return;
                        }
                    } else {
                        take(input);
                        if (headComplete()) {
                            answer();
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                getEndPoint().close(e);
            }
        }

        @Override
        public void onClose(Throwable cause) {
            Scheduler.Task task = closing;
            if (task != null) {
                task.cancel();
            }
            super.onClose(cause);
        }

        private void take(ByteBuffer bytes) {
            int n = Math.min(bytes.remaining(), head.remaining());
            ByteBuffer slice = bytes.slice();
            slice.limit(n);
            head.put(slice);
            bytes.position(bytes.position() + n);
        }

        /**
         * Whether to answer now: the head has come whole (or as much as is read of it), or what came
         * cannot be the start of an HTTP request (garbage, a scanner), for which waiting for a
         * blank line would hold the socket until the timeout for nothing.
         */
        private boolean headComplete() {
            if (!head.hasRemaining() || !couldBeHttp(head.array(), head.position())) {
                return true;
            }
            String text = new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1);
            return text.contains("\r\n\r\n") || text.contains("\n\n");
        }

        /** A method token of capitals and a space (RFC 9112 §3), then printable ASCII lines only. */
        private static boolean couldBeHttp(byte[] bytes, int length) {
            int i = 0;
            while (i < length && bytes[i] >= 'A' && bytes[i] <= 'Z') {
                i++;
            }
            if (i < length && (i == 0 || bytes[i] != ' ')) {
                return false;
            }
            for (int k = i; k < length; k++) {
                int b = bytes[k] & 0xFF;
                if (b != '\t' && b != '\r' && b != '\n' && (b < 0x20 || b > 0x7E)) {
                    return false;
                }
            }
            return true;
        }

        private void answer() {
            answered = true;
            String text = head.position() == 0 ? null : new String(head.array(), 0, head.position(), StandardCharsets.ISO_8859_1);
            int port = connector instanceof org.eclipse.jetty.server.NetworkConnector network ? network.getLocalPort() : 443;
            getEndPoint().write(Callback.from(() -> {
                getEndPoint().shutdownOutput();
                if (getEndPoint().isOpen()) {
                    fillInterested();
                }
            }, failure -> getEndPoint().close(failure)), ByteBuffer.wrap(refusal(text, port)));
        }
    }
}
