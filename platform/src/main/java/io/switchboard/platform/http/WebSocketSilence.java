package io.switchboard.platform.http;

import io.javalin.websocket.WsContext;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketCreator;
import org.eclipse.jetty.ee10.websocket.server.JettyWebSocketServletFactory;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * How long each open WebSocket of one HTTP server has heard nothing from its client: no frame of
 * any kind, pongs included (RFC 6455 §5.5.3: a pong answers a ping, so it is the sign a client is
 * there).
 *
 * <p>Jetty's idle timeout cannot tell this: its timer restarts on every write as well as every
 * read, so a server that pings a client counts its own pings as activity, and a client that never
 * answers is never idle. Javalin's endpoint does not see pongs either (its listener leaves
 * {@code onWebSocketPong} out). So the HTTP server wraps each endpoint Javalin creates in a
 * {@link Listening} that notes when a frame came before passing it on, and an endpoint that wants
 * to close silent clients asks {@link #of(WsContext)}.
 *
 * <p>Each {@link HttpServer} has its own (two servers in one process, as in tests, never see each
 * other's sessions), wired when it starts: {@link #watch} replaces Javalin's creator once, before
 * the listeners take traffic, rather than at the first upgrade under live traffic. Each upgrade
 * carries the server's instance as an attribute ({@link #ATTRIBUTE}), which is how an endpoint's
 * {@link WsContext} finds it.
 */
public final class WebSocketSilence {
    /** The upgrade attribute holding the server's instance (Javalin copies upgrade attributes to the {@link WsContext}). */
    static final String ATTRIBUTE = "io.switchboard.http.webSocketSilence";
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(WebSocketSilence.class);

    /** When each open session last received a frame ({@link System#nanoTime()}). */
    private final Map<Session, Long> lastReceived = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicBoolean unwatchedSaid = new java.util.concurrent.atomic.AtomicBoolean();

    /** How each session whose endpoint takes no binary messages refuses one ({@link #refuseBinary}). */
    private final Map<Session, BinaryRefusal> binaryRefusals = new ConcurrentHashMap<>();

    /**
     * How long a refused message may take to arrive whole before its session is closed anyway
     * (its close waits for the rest: {@link Listening#closeOnceRead}). Counted from the part that
     * was refused; a client still sending by then is closed with the rest unread.
     */
    static final Duration REFUSED_MESSAGE_WAIT = Duration.ofSeconds(5);

    /** An endpoint's answer to a binary message: {@code refused} at its first frame, the close once it is read. */
    private record BinaryRefusal(int code, String reason, Runnable refused) {
    }

    /** Text and binary messages over their session's limit, closed with 1009. */
    private final io.micrometer.core.instrument.Counter tooBig;

    WebSocketSilence(io.micrometer.core.instrument.MeterRegistry meters) {
        this.tooBig = io.micrometer.core.instrument.Counter.builder("switchboard.websocket.too_big")
                .description("WebSocket text and binary messages over their endpoint's size limit, closed with 1009")
                .register(meters);
    }

    /**
     * For an endpoint that takes no binary messages (the chat stream: its frames are JSON text):
     * {@code refused} runs at the first frame of any binary message on {@code ctx}'s session (the
     * endpoint counts it and stops writing to the session), the rest of that message is read and
     * dropped, never collected, and the session is then closed with {@code code} and
     * {@code reason}: once the message has been read to its end, or after
     * {@link #REFUSED_MESSAGE_WAIT} if it has not ended by then (RFC 6455 §7.1.1: see
     * {@link Listening#closeOnceRead}). Without it, a binary message is collected up to the
     * session's {@code maxBinaryMessageSize} before the endpoint hears of it, and one over that is
     * closed with 1009 "a binary message over ..." here: the endpoint's own answer to a binary
     * frame (its close code and reason, its count) would never come.
     *
     * @return false when the server does not watch this session (the endpoint's
     *         {@code onBinaryMessage} then gets the binary messages within Jetty's limit)
     */
    public static boolean refuseBinary(WsContext ctx, int code, String reason, Runnable refused) {
        if (!(ctx.attribute(ATTRIBUTE) instanceof WebSocketSilence silence) || !silence.lastReceived.containsKey(ctx.session)) {
            return false;
        }
        silence.binaryRefusals.put(ctx.session, new BinaryRefusal(code, reason, refused));
        if (!silence.lastReceived.containsKey(ctx.session)) {
            silence.binaryRefusals.remove(ctx.session); // closed meanwhile: its close forgot it before the put
        }
        return true;
    }

    /**
     * How long the stream of {@code ctx} has received nothing from its client (since it opened, if
     * nothing yet); zero when its server does not watch streams.
     */
    public static Duration of(WsContext ctx) {
        return ctx.attribute(ATTRIBUTE) instanceof WebSocketSilence silence ? silence.of(ctx.session) : Duration.ZERO;
    }

    /** How long {@code session} has received nothing from its client (since it opened, if nothing yet). */
    Duration of(Session session) {
        Long last = lastReceived.get(session);
        return last == null ? Duration.ZERO : Duration.ofNanos(System.nanoTime() - last);
    }

    /** Whether {@code factory} creates endpoints that note their frames here. */
    boolean watches(JettyWebSocketServletFactory factory) {
        return factory != null && factory.getMapping("/") instanceof NotingCreator noting && noting.silence() == this;
    }

    /** Open sessions this instance notes frames for. */
    int watched() {
        return lastReceived.size();
    }

    /**
     * Makes every endpoint {@code factory} creates note its frames. Called once the server has
     * started (Javalin sets its creator when its servlet starts, after the server's own
     * configuration has run), before it is handed any traffic.
     *
     * @return false when there was no creator to wrap (the streams would not be watched)
     */
    boolean watch(JettyWebSocketServletFactory factory) {
        if (factory == null) {
            return false;
        }
        synchronized (factory) {
            JettyWebSocketCreator creator = factory.getMapping("/");
            if (creator == null) {
                return false;
            }
            if (!(creator instanceof NotingCreator)) {
                factory.setCreator(new NotingCreator(this, creator));
            }
            return true;
        }
    }

    private record NotingCreator(WebSocketSilence silence, JettyWebSocketCreator created) implements JettyWebSocketCreator {
        @Override
        public Object createWebSocket(org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeRequest request,
                                      org.eclipse.jetty.ee10.websocket.server.JettyServerUpgradeResponse response)
                throws Exception {
            Object endpoint = created.createWebSocket(request, response);
            if (endpoint instanceof Session.Listener.AutoDemanding listener) {
                return new Listening(silence, listener);
            }
            if (silence.unwatchedSaid.compareAndSet(false, true)) {
                // a Javalin whose endpoint changed shape: silent clients would no longer be closed
                log.warn("WebSocket endpoints of type {} cannot be watched for silence: streams whose client answers no"
                        + " ping are not closed", endpoint.getClass().getName());
            }
            return endpoint;
        }
    }

    /**
     * Javalin's endpoint with every frame from the client noted. It overrides the methods Javalin's
     * does (text and binary in their partial forms, put together here), plus {@code onWebSocketPong}:
     * Jetty binds only overridden methods, so pings are still answered by Jetty itself.
     *
     * <p>Text comes in parts ({@code onWebSocketPartialText}) and is put together here, with the
     * session's {@code maxTextMessageSize} checked as Jetty would (UTF-8 bytes), before the whole
     * message goes to Javalin's {@code onWebSocketText}. Only so can a message over the limit be
     * closed with our own words: Jetty closes with 1009 and its exception's text as the reason
     * ("Text message too large: 100,000 > 65,536", numbers in the node's locale) before the
     * endpoint hears anything. Here it is 1009 (RFC 6455 §7.4.1) with "a text message over M
     * bytes (N so far); the limit is M", counted in {@code switchboard_websocket_too_big_total}.
     *
     * <p>A message refused (too big, or binary to an endpoint that takes none) is read to its end
     * and dropped before its session is closed ({@link #closeOnceRead}).
     */
    public static final class Listening implements Session.Listener.AutoDemanding {
        private final WebSocketSilence silence;
        private final Session.Listener.AutoDemanding endpoint;
        private volatile Session session;
        /**
         * The parts of a text message so far (null between messages), and their size in UTF-8; Jetty
         * delivers one part at a time. Made for each message in parts and dropped after it: kept,
         * it would hold its largest capacity (up to the limit, twice that in chars) for the life of
         * the connection.
         */
        private StringBuilder pending;
        private long pendingBytes;
        /** True while the rest of a message refused as too big is still arriving. */
        private boolean refusing;
        /** The parts of a binary message so far (null between messages), as {@link #pending} for text. */
        private java.io.ByteArrayOutputStream pendingBinary;
        private long pendingBinaryBytes;
        /** True while the rest of a binary message refused (too big, or by the endpoint) is still arriving. */
        private boolean refusingBinary;
        /**
         * The close of a refused message whose rest is still arriving (null when none), sent at its
         * last part or when {@link #REFUSED_MESSAGE_WAIT} is over, whichever comes first: taken by
         * compare-and-set, as the wait ends on another thread.
         */
        private final java.util.concurrent.atomic.AtomicReference<RefusedClose> closeAfterRest =
                new java.util.concurrent.atomic.AtomicReference<>();

        /** The close code and reason of a refused message (one instance per message: compared by identity). */
        private record RefusedClose(int code, String reason) {
        }

        Listening(WebSocketSilence silence, Session.Listener.AutoDemanding endpoint) {
            this.silence = silence;
            this.endpoint = endpoint;
        }

        private void received() {
            Session open = session;
            if (open != null) {
                // replace, not put: a frame handled while another thread closes the session must
                // not bring back the entry the close removed
                silence.lastReceived.replace(open, System.nanoTime());
            }
        }

        @Override
        public void onWebSocketOpen(Session session) {
            this.session = session;
            silence.lastReceived.put(session, System.nanoTime());
            endpoint.onWebSocketOpen(session);
        }

        @Override
        public void onWebSocketPartialText(String part, boolean last) {
            received();
            Session open = session;
            if (refusing) {
                refusing = !last; // the rest of a message refused already
                if (last) {
                    sendRefusedClose(open, closeAfterRest.get());
                }
                return;
            }
            long limit = open == null ? -1 : open.getMaxTextMessageSize();
            pendingBytes += utf8Length(part);
            if (limit > 0 && pendingBytes > limit) {
                long got = pendingBytes;
                pending = null;
                pendingBytes = 0;
                refusing = !last;
                silence.tooBig.increment();
                // RFC 6455 §7.4.1: 1009, a message too big to process; the reason fits a close frame (§5.5)
                closeOnceRead(open, last, 1009,
                        "a text message over " + limit + " bytes (" + got + " so far); the limit is " + limit);
                return;
            }
            if (last && pending == null) {
                pendingBytes = 0;
                endpoint.onWebSocketText(part); // a message in one frame, the usual case: no copy
                return;
            }
            if (pending == null) {
                pending = new StringBuilder(part.length() * 2);
            }
            pending.append(part);
            if (last) {
                String whole = pending.toString();
                pending = null;
                pendingBytes = 0;
                endpoint.onWebSocketText(whole);
            }
        }

        /** The chars the connection holds for a message in parts between messages (0 when it holds none). */
        int bufferedCapacity() {
            return pending == null ? 0 : pending.capacity();
        }

        /** How many bytes {@code text} is in UTF-8, as the frame carried it. */
        private static long utf8Length(String text) {
            long bytes = 0;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c < 0x80) {
                    bytes++;
                } else if (c < 0x800) {
                    bytes += 2;
                } else if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                    bytes += 4;
                    i++;
                } else {
                    bytes += 3;
                }
            }
            return bytes;
        }

        /**
         * Binary messages come in parts too, for the same reason as text: Jetty, collecting them for
         * the endpoint, closes one over {@code maxBinaryMessageSize} with 1009 and its own words
         * ("Binary message too large: 70,000 > 65,536") before the endpoint hears anything. Here a
         * session with a {@link #refuseBinary refusal} has it run at the first part; otherwise the
         * message is collected, checked against the session's limit (1009, "a binary message over M
         * bytes (N so far); the limit is M", counted as too big) and handed whole to the endpoint.
         */
        @Override
        public void onWebSocketPartialBinary(ByteBuffer part, boolean last, Callback callback) {
            received();
            Session open = session;
            if (refusingBinary) {
                refusingBinary = !last; // the rest of a message refused already
                callback.succeed();
                if (last) {
                    sendRefusedClose(open, closeAfterRest.get());
                }
                return;
            }
            BinaryRefusal refusal = open == null ? null : silence.binaryRefusals.get(open);
            if (refusal != null) {
                refusingBinary = !last;
                callback.succeed();
                refusal.refused().run();
                closeOnceRead(open, last, refusal.code(), refusal.reason());
                return;
            }
            long limit = open == null ? -1 : open.getMaxBinaryMessageSize();
            pendingBinaryBytes += part.remaining();
            if (limit > 0 && pendingBinaryBytes > limit) {
                long got = pendingBinaryBytes;
                pendingBinary = null;
                pendingBinaryBytes = 0;
                refusingBinary = !last;
                callback.succeed();
                silence.tooBig.increment();
                closeOnceRead(open, last, 1009,
                        "a binary message over " + limit + " bytes (" + got + " so far); the limit is " + limit);
                return;
            }
            if (last && pendingBinary == null) {
                pendingBinaryBytes = 0;
                endpoint.onWebSocketBinary(part, callback); // a message in one frame, the usual case: no copy
                return;
            }
            if (pendingBinary == null) {
                pendingBinary = new java.io.ByteArrayOutputStream(Math.max(256, part.remaining() * 2));
            }
            // copied: Jetty reuses the part's buffer once its callback has succeeded
            byte[] bytes = new byte[part.remaining()];
            part.get(bytes);
            pendingBinary.writeBytes(bytes);
            callback.succeed();
            if (last) {
                ByteBuffer whole = ByteBuffer.wrap(pendingBinary.toByteArray());
                pendingBinary = null;
                pendingBinaryBytes = 0;
                endpoint.onWebSocketBinary(whole, Callback.NOOP);
            }
        }

        /**
         * Closes {@code open} with {@code code} and {@code reason} for a message refused at this
         * part: at once if the part is the message's last, else once the rest of the message has
         * been read and dropped (at its last part), or when {@link #REFUSED_MESSAGE_WAIT} is over if
         * the rest has not come by then, so that no refused connection stays open for good. The
         * wait is a timer, no thread waits.
         *
         * <p>Why not at once: RFC 6455 §7.1.1 and §5.5.1 have an endpoint that sent a Close frame
         * go on reading (and drop data frames) until the peer's Close, and only then close the TCP
         * connection, the server first. Jetty 12.1 does not: once it has written a Close frame whose
         * code is not 1000, 1005 or 3000 and over (1003 and 1009 among them) it closes the TCP
         * connection at once, reading nothing more (WebSocketSessionState.onOutgoingFrame goes
         * straight to CLOSED; WebSocketCoreSession.sendFrame then closes the connection). A socket
         * closed with bytes still unread in its receive buffer is reset by the kernel (RFC 2525
         * §2.17), and a reset can drop the Close frame before the client reads it: a client that
         * sent a large message saw the connection reset instead of the node's 1003. Read to its end
         * first, the message leaves nothing unread, and the close is a FIN behind the Close frame.
         * The node still does not wait for the client's Close after sending its own (Jetty offers
         * no way to): a client that sends more right behind the refused message can still be reset.
         */
        private void closeOnceRead(Session open, boolean last, int code, String reason) {
            if (last) {
                open.close(code, reason, Callback.NOOP);
                return;
            }
            RefusedClose close = new RefusedClose(code, reason);
            closeAfterRest.set(close);
            // on the timer's own thread (a close does not block): handed to the common pool, each
            // would start a thread of its own on a machine of two cores or fewer
            java.util.concurrent.CompletableFuture.delayedExecutor(REFUSED_MESSAGE_WAIT.toMillis(),
                    java.util.concurrent.TimeUnit.MILLISECONDS, Runnable::run).execute(() -> sendRefusedClose(open, close));
        }

        /** Sends {@code close} unless it was sent already (its message ended, or its wait was over) or the session closed. */
        private void sendRefusedClose(Session open, RefusedClose close) {
            if (close != null && closeAfterRest.compareAndSet(close, null)) {
                open.close(close.code(), close.reason(), Callback.NOOP);
            }
        }

        @Override
        public void onWebSocketPong(ByteBuffer payload) {
            received();
            endpoint.onWebSocketPong(payload);
        }

        @Override
        public void onWebSocketClose(int statusCode, String reason, Callback callback) {
            forget();
            endpoint.onWebSocketClose(statusCode, reason, callback);
        }

        @Override
        public void onWebSocketError(Throwable cause) {
            forget();
            endpoint.onWebSocketError(cause);
        }

        private void forget() {
            Session open = session;
            if (open != null) {
                silence.lastReceived.remove(open);
                silence.binaryRefusals.remove(open);
            }
            closeAfterRest.set(null); // closed meanwhile: a refused message's wait has nothing left to close
        }
    }
}
