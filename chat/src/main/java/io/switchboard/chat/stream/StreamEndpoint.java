package io.switchboard.chat.stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.javalin.config.RoutesConfig;
import io.javalin.http.Context;
import io.javalin.websocket.WsContext;
import io.switchboard.chat.ChatMetrics;
import io.switchboard.chat.ChatSettings;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.platform.auth.AdminAuth;
import io.switchboard.platform.auth.BearerToken;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.auth.Principal;
import io.switchboard.platform.config.AsciiDigits;
import io.switchboard.platform.http.ApiProblem;
import io.switchboard.platform.http.RequestBodies;
import io.switchboard.platform.http.WebSocketSilence;
import io.switchboard.platform.http.WebSocketUpgrades;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /api/v1/stream}: a person's real-time stream over WebSocket. The access token comes
 * in the {@code Authorization} header or, from browsers, as the {@code access_token} query
 * parameter (RFC 6750 §2.3); without a valid one the upgrade is refused with 401.
 *
 * <p>A returning client says where it left each chat, either in the URL —
 * {@code ?resume=<chatId>:<seq>[:<rev>],...} — or as its first frame:
 * {@code {"type":"resume","chats":{"<chatId>":<seq>, ...}}} (or {@code {"<chatId>":{"seq":N,"rev":R}}}),
 * and receives what it missed before anything newer. Other frames from the client (JSON text):
 * {@code {"type":"hello"}} to start at once without resuming; {@code {"type":"ping"}} (answered
 * {@code pong}); {@code {"type":"token","accessToken":"..."}} to renew the token without
 * reconnecting. The server pings every {@code chat.streamHeartbeat} and closes a stream silent for
 * three heartbeats; a stream whose token expires or is revoked is closed with 4001: at once when its
 * sign-in is signed out (or its refresh token reused) on any node, otherwise at the token check
 * once a heartbeat.
 */
public final class StreamEndpoint {
    public static final String PATH = "/api/v1/stream";
    private static final Logger log = LoggerFactory.getLogger(StreamEndpoint.class);
    private static final String STREAM = "chat.stream";
    /** RFC 6455 §7.4.1: 1003, a type of data the endpoint cannot accept (frames are JSON text). */
    private static final int BINARY_REFUSED = 1003;
    private static final String BINARY_REFUSED_REASON = "frames are JSON text";
    private static final int MAX_CLIENT_FRAME = 64 * 1024;
    private static final String BEGAN = "chat.stream.began";
    /** The fields each client frame may have. */
    private static final Map<String, Set<String>> FIELDS = Map.of(
            "hello", Set.of("type"),
            "ping", Set.of("type"),
            "resume", Set.of("type", "chats"),
            "token", Set.of("type", "accessToken"));
    static final String NODE_STOPPING = "node stopping; reconnect and resume";
    /** How long a stopping node waits for its streams' close frames to be written. */
    private static final Duration CLOSE_FRAMES_WAIT = Duration.ofSeconds(2);
    /** Heartbeats a client may leave unanswered, sending nothing else either, before its stream is closed. */
    private static final int SILENT_HEARTBEATS = 3;

    private final PersonAuth auth;
    private final StreamHub hub;
    private final ChatStore store;
    private final ObjectMapper json;
    private final ChatSettings settings;
    private final ChatMetrics metrics;
    private final Clock clock;
    private final java.util.concurrent.atomic.AtomicBoolean catchingUpPeriodically = new java.util.concurrent.atomic.AtomicBoolean();
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("chat-stream-timers").factory());

    public StreamEndpoint(PersonAuth auth, ChatStore store, ObjectMapper json, ChatSettings settings, ChatMetrics metrics,
                          Clock clock) {
        this.auth = auth;
        this.store = store;
        this.json = json;
        this.settings = settings;
        this.metrics = metrics;
        this.clock = clock;
        this.hub = new StreamHub(store, new StreamFrames(json), metrics, settings.streamReorderWait());
        metrics.streams(hub::streams);
    }

    public StreamHub hub() {
        return hub;
    }

    public void register(RoutesConfig routes) {
        WebSocketUpgrades.answerPlainRequests(routes, PATH, "?access_token=<token>", "");
        WebSocketUpgrades.register(routes, PATH, this::authorizeUpgrade, ws -> {
            ws.onConnect(this::connected);
            ws.onMessage(ctx -> received(ctx, ctx.message()));
            // Binary messages are refused at their first frame (connected() arranges it); this
            // handler only serves a server that does not watch its streams (WebSocketSilence).
            ws.onBinaryMessage(this::refuseBinary);
            ws.onClose(this::closed);
            ws.onError(this::closed);
        });
    }

    /**
     * Starts the token check, once a heartbeat: streams whose token has expired or was revoked are
     * closed. A sign-in that ends closes its streams at once (off the thread that heard of it).
     */
    public void start() {
        auth.tokens().whenEnded(session -> {
            if (!timers.isShutdown()) {
                timers.execute(() -> closeSignIn(session));
            }
        });
        long every = settings.streamHeartbeat().toMillis();
        timers.scheduleWithFixedDelay(this::checkTokens, every, every, TimeUnit.MILLISECONDS);
        // Looked at four times a heartbeat: a silent client is closed at most a quarter heartbeat late.
        long silenceCheck = Math.max(10, every / 4);
        timers.scheduleWithFixedDelay(this::closeSilentStreams, silenceCheck, silenceCheck, TimeUnit.MILLISECONDS);
    }

    /**
     * From now on, every open stream catches up with the store once per {@code every} (nothing
     * for zero; only the first call counts). Called once the bus spans nodes: a single node's bus
     * never loses an event.
     */
    public void keepCatchingUp(Duration every) {
        if (every.isZero() || !catchingUpPeriodically.compareAndSet(false, true)) {
            return;
        }
        try {
            timers.scheduleWithFixedDelay(hub::catchUpUnannounced, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // stopping
        }
    }

    /**
     * Closes every open stream with 1001 (going away, RFC 6455 §7.4.1): clients reconnect, through
     * the balancer, to another node and resume. Called when the node stops, before the web server
     * does; waits a moment for the close frames to be written.
     */
    public void closeAll() {
        List<java.util.concurrent.CompletableFuture<Void>> written = new java.util.ArrayList<>();
        hub.forEach(stream -> written.add(stream.close(1001, NODE_STOPPING)));
        try {
            java.util.concurrent.CompletableFuture.allOf(written.toArray(java.util.concurrent.CompletableFuture[]::new))
                    .get(CLOSE_FRAMES_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            // a client that does not read: the web server's stop ends its connection
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the timers and closes what streams are left (see {@link #closeAll()}). */
    public void stop() {
        timers.shutdownNow();
        closeAll();
        hub.shutdown();
    }

    private void authorizeUpgrade(Context ctx) {
        // HTTP routes refuse a repeated query parameter before they run; upgrades are checked here
        // (only 'resume' may repeat, one chat each)
        for (Map.Entry<String, List<String>> parameter : ctx.queryParamMap().entrySet()) {
            if (parameter.getValue().size() > 1 && !parameter.getKey().equals("resume")) {
                metrics.rejected("bad_request");
                throw ApiProblem.badRequest("query parameter '" + shorten(parameter.getKey()) + "' is given "
                        + parameter.getValue().size() + " times; give it once");
            }
        }
        try {
            // a misspelt 'resume' would otherwise be passed over and the client miss what it asked for
            io.switchboard.platform.http.QueryParams.allowOnly(ctx, Set.of("access_token", "resume"));
        } catch (ApiProblem e) {
            metrics.rejected("bad_request");
            throw e;
        }
        String headerToken = BearerToken.from(ctx.header("Authorization")).orElse(null);
        String queryToken = ctx.queryParam("access_token");
        if (headerToken != null && queryToken != null && !queryToken.isBlank() && !queryToken.strip().equals(headerToken)) {
            // RFC 6750 §3.1: more than one way of sending the token is an invalid request; the
            // node would otherwise pick one of two people silently
            metrics.rejected("bad_request");
            throw ApiProblem.badRequest("Two different access tokens: one in the Authorization header, another as"
                    + " ?access_token=. Send one (RFC 6750 §2).");
        }
        try {
            resumeParameter(ctx.queryParams("resume"));
        } catch (IllegalArgumentException e) {
            metrics.rejected("bad_request");
            throw ApiProblem.badRequest("'resume': " + e.getMessage());
        }
        String token = token(ctx.header("Authorization"), ctx.queryParam("access_token"));
        Optional<Principal> principal = token == null ? Optional.empty() : auth.principal(token);
        if (principal.isEmpty()) {
            metrics.rejected("unauthorized");
            if (token != null && !AdminAuth.isAdminToken(token)) {
                auth.refusedUpgradeToken(PATH, ctx.ip()); // a stolen or forged token tried: logged, rate-limited
            }
            String why = token != null && AdminAuth.isAdminToken(token)
                    ? "An admin token is not a person: the stream carries a person's chats; sign in as a person"
                            + " (POST /api/v1/auth/sign-in) and send that access token."
                    : token == null ? "The stream needs a valid access token: 'Authorization: Bearer <token>' or ?access_token=<token>."
                    : "The access token is not valid or has expired; refresh it (POST /api/v1/auth/refresh) or sign in again.";
            throw ApiProblem.unauthorized(why).withHeader("WWW-Authenticate", "Bearer realm=\"switchboard\"");
        }
        Map<String, StreamConnection.ResumePoint> fromUrl = resumeParameter(ctx.queryParams("resume"));
        if (fromUrl != null) {
            Optional<String> beyond;
            try {
                beyond = beyondNewest(principal.get().personId(), fromUrl);
            } catch (RuntimeException e) {
                log.warn("a stream of {} could not read its chats: {}", principal.get().username(), e.toString());
                throw ApiProblem.unavailable("Your chats could not be read just now; reconnect in a moment.")
                        .withHeader("Retry-After", "5");
            }
            if (beyond.isPresent()) {
                metrics.rejected("bad_request");
                throw ApiProblem.badRequest("'resume': " + beyond.get());
            }
        }
    }

    private static String token(String header, String queryToken) {
        return BearerToken.from(header).orElse(queryToken == null || queryToken.isBlank() ? null : queryToken.strip());
    }

    private void connected(WsContext ctx) {
        String token = token(ctx.header("Authorization"), ctx.queryParam("access_token"));
        Optional<Principal> principal = token == null ? Optional.empty() : auth.principal(token);
        if (principal.isEmpty()) {
            metrics.rejected("unauthorized");
            ctx.closeSession(StreamConnection.TOKEN_EXPIRED, "the access token is not valid");
            return;
        }
        Duration heartbeat = settings.streamHeartbeat();
        // Jetty's timeout only ends a stream on which neither side wrote anything (the node's pings
        // restart it); a client that stops answering is closed by closeSilentStreams.
        ctx.session.setIdleTimeout(heartbeat.multipliedBy(SILENT_HEARTBEATS));
        ctx.session.setMaxTextMessageSize(MAX_CLIENT_FRAME);
        // At the first frame of a binary message, whatever its size: collected first, one over
        // Jetty's limit was closed with Jetty's 1009 and words, uncounted, not the 1003 of the docs.
        // The 1003 itself is sent once the message has been read (WebSocketSilence.refuseBinary).
        WebSocketSilence.refuseBinary(ctx, BINARY_REFUSED, BINARY_REFUSED_REASON, () -> binaryRefused(ctx));
        ctx.enableAutomaticPings(heartbeat.toMillis(), TimeUnit.MILLISECONDS);
        StreamConnection stream = new StreamConnection(ctx, principal.get(), token, hub, clock, settings.streamQueueLimit());
        ctx.attribute(STREAM, stream);
        hub.register(stream);
        try {
            // After registering: every commit from here on reaches the stream, and what was
            // committed before is below these marks.
            stream.startFrom(store.lastSeqs(principal.get().personId()));
        } catch (RuntimeException e) {
            log.warn("a stream of {} could not read its chats: {}", principal.get().username(), e.toString());
            stream.close(1011, "could not read your chats; reconnect later");
            return;
        }
        stream.sendControl(hub.frames().control("ready", Map.of("personId", principal.get().personId(),
                "resumeWindowMs", settings.resumeWindow().toMillis())));
        Map<String, StreamConnection.ResumePoint> fromUrl = resumeParameter(ctx.queryParams("resume"));
        if (fromUrl != null) {
            stream.start(fromUrl);
        } else {
            timers.schedule(() -> stream.start(Map.of()), settings.resumeWindow().toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /**
     * A whole binary message, on a server that does not watch its streams (else {@link #binaryRefused}
     * hears of it at its first frame): a bad frame, closing the stream (1003).
     */
    private void refuseBinary(WsContext ctx) {
        StreamConnection stream = ctx.attribute(STREAM);
        metrics.rejected("bad_frame");
        if (stream != null) {
            stream.close(BINARY_REFUSED, BINARY_REFUSED_REASON);
        }
    }

    /**
     * The first frame of a binary message: a bad frame. The stream sends nothing more from now
     * on; WebSocketSilence closes the socket with 1003 once the rest of the message has been read
     * (RFC 6455 §7.1.1: closed with it unread, the connection could be reset before the client
     * read the 1003).
     */
    private void binaryRefused(WsContext ctx) {
        metrics.rejected("bad_frame");
        closed(ctx);
    }

    /**
     * {@code <chatId>:<seq>[:<rev>]} separated by commas, in one {@code resume} parameter or several
     * (each counts: a client that repeats the parameter per chat must not have chats passed over,
     * then reported synced without their replay), or null when absent.
     *
     * @throws IllegalArgumentException naming what is wrong, a chat named twice among them
     */
    static Map<String, StreamConnection.ResumePoint> resumeParameter(List<String> values) {
        if (values == null || values.isEmpty()) {
            return null;
        }
        Map<String, StreamConnection.ResumePoint> points = new LinkedHashMap<>();
        for (String entry : String.join(",", values).split(",")) {
            if (entry.isBlank()) {
                continue;
            }
            String[] parts = entry.strip().split(":");
            try {
                if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty()
                        || !AsciiDigits.of(parts[1], 18) || (parts.length == 3 && !AsciiDigits.of(parts[2], 18))) {
                    throw new NumberFormatException(); // digits only: parseLong would take "+3"
                }
                long seq = Long.parseLong(parts[1]);
                Long rev = parts.length == 3 ? Long.parseLong(parts[2]) : null;
                if (seq < 0 || (rev != null && rev < 0)) {
                    throw new NumberFormatException();
                }
                // a chat id in upper case is the same chat (RFC 9562 §4)
                if (points.put(io.switchboard.platform.http.Uuids.folded(parts[0]), new StreamConnection.ResumePoint(seq, rev)) != null) {
                    throw new IllegalArgumentException("chat " + shorten(parts[0]) + " is named twice");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("expected <chatId>:<seq>[:<rev>] separated by commas, got '"
                        + shorten(entry) + "'");
            }
        }
        return points;
    }

    private static String shorten(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "…" : text;
    }

    private void received(WsContext ctx, String text) {
        StreamConnection stream = ctx.attribute(STREAM);
        if (stream == null) {
            return;
        }
        JsonNode frame;
        try {
            // read as strictly as a request body: one object, each name once, nothing after it
            frame = RequestBodies.object(json, text.getBytes(StandardCharsets.UTF_8), "A frame");
        } catch (ApiProblem malformed) {
            refuse(stream, malformed.detail());
            return;
        }
        JsonNode typeNode = frame.get("type");
        if (typeNode == null || !typeNode.isTextual()) {
            refuse(stream, "a frame needs 'type' (a string): hello, resume, ping or token");
            return;
        }
        String type = typeNode.asText();
        Set<String> fields = FIELDS.get(type);
        if (fields == null) {
            refuse(stream, "unknown frame type '" + shorten(type) + "'; expected hello, resume, ping or token");
            return;
        }
        try {
            // a misspelt field ("chat" for "chats") is said, not passed over in silence; the frame
            // is still acted on, so a client that adds a field of its own (a timestamp on its
            // pings) keeps its stream, and what it needs (the chats to resume) is checked below
            RequestBodies.requireOnly(frame, fields);
        } catch (ApiProblem unknownField) {
            stream.sendControl(hub.frames().control("error", Map.of("detail", type + ": " + unknownField.detail())));
        }
        switch (type) {
            case "hello" -> {
                if (began(ctx, stream)) {
                    stream.start(Map.of());
                }
            }
            case "ping" -> stream.sendControl(hub.frames().control("pong", Map.of()));
            case "resume" -> resume(ctx, stream, frame.get("chats"));
            case "token" -> renew(stream, frame.path("accessToken").asText(null));
            default -> throw new IllegalStateException("a frame type without a case: " + type);
        }
    }

    /**
     * The client's first hello or resume: true. A second one gets an error frame (the stream has
     * started; what it asks cannot be done now) and false. A hello after the resume window started
     * the stream is no mistake and changes nothing.
     */
    private boolean began(WsContext ctx, StreamConnection stream) {
        if (ctx.attribute(BEGAN) != null) {
            refuse(stream, "the stream has already started: hello or resume is its first frame only; reconnect to resume");
            return false;
        }
        ctx.attribute(BEGAN, Boolean.TRUE);
        return true;
    }

    private void resume(WsContext ctx, StreamConnection stream, JsonNode chats) {
        if (!began(ctx, stream)) {
            return;
        }
        if (stream.isStarted()) {
            refuse(stream, alreadyStarted());
            return;
        }
        if (chats == null || !chats.isObject()) {
            refuseResume(stream, "resume needs 'chats': {\"<chatId>\": <last seq seen>, ...}");
            return;
        }
        Map<String, StreamConnection.ResumePoint> points = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = chats.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> entry = it.next();
            JsonNode value = entry.getValue();
            JsonNode seq = value.isObject() ? value.get("seq") : value;
            JsonNode rev = value.isObject() ? value.get("rev") : null;
            boolean onlySeqAndRev = !value.isObject() || value.size() == (rev == null ? 1 : 2);
            if (seq == null || !isCount(seq) || (rev != null && !isCount(rev)) || !onlySeqAndRev) {
                refuseResume(stream, "resume: chat " + shorten(entry.getKey())
                        + " needs its last seq seen, a whole number >= 0 (or {\"seq\":N,\"rev\":R})");
                return;
            }
            points.put(entry.getKey(), new StreamConnection.ResumePoint(seq.asLong(), rev == null ? null : rev.asLong()));
        }
        Optional<String> beyond;
        try {
            beyond = beyondNewest(stream.personId(), points);
        } catch (RuntimeException e) {
            log.warn("a stream of {} could not read its chats: {}", stream.personId(), e.toString());
            stream.close(1011, "could not read your chats; reconnect later");
            return;
        }
        if (beyond.isPresent()) {
            refuseResume(stream, "resume: " + beyond.get());
            return;
        }
        if (!stream.start(points)) {
            refuse(stream, alreadyStarted());
        }
    }

    /** Why a resume came too late: the stream started from the URL's resume points, or when the resume window passed. */
    private String alreadyStarted() {
        return "the stream has already started (from the URL's resume, or after " + settings.resumeWindow().toMillis()
                + " ms without a first frame): resume must be the first frame of a stream; reconnect to resume";
    }

    /** A JSON whole number that fits a sequence number or revision: not a string, a fraction, a negative or a huge one. */
    private static boolean isCount(JsonNode number) {
        return number.isIntegralNumber() && number.canConvertToLong() && number.asLong() >= 0;
    }

    /**
     * A resume point past the newest message of its chat, said in words, if any: the client's
     * position came from somewhere else (another node's data, another person, a bug), and resuming
     * from the newest would pass over what it never had (as {@code POST …/read} refuses such a seq).
     * Chats the person is not in are not looked at here: {@code synced} lists them as unknown.
     */
    private Optional<String> beyondNewest(String personId, Map<String, StreamConnection.ResumePoint> points) {
        if (points.isEmpty()) {
            return Optional.empty();
        }
        Map<String, Long> newest = store.lastSeqs(personId);
        for (Map.Entry<String, StreamConnection.ResumePoint> point : points.entrySet()) {
            Long last = newest.get(point.getKey());
            if (last != null && point.getValue().seq() > last) {
                return Optional.of("chat " + shorten(point.getKey()) + " has no message " + point.getValue().seq()
                        + "; its newest is " + last);
            }
        }
        return Optional.empty();
    }

    /**
     * A resume the node cannot follow closes the stream (1008, RFC 6455 §7.4.1: a message that
     * violates the endpoint's policy): going on as if the client had said hello would pass over
     * what it missed and report it synced. The close reason says what was wrong.
     */
    private void refuseResume(StreamConnection stream, String detail) {
        metrics.rejected("bad_frame");
        stream.close(1008, closeReason(detail));
    }

    /** RFC 6455 §5.5: a close frame's reason fits in 123 bytes of UTF-8. */
    static String closeReason(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= 123) {
            return text;
        }
        int end = 120;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--; // not inside a character
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8) + "…";
    }

    private void renew(StreamConnection stream, String token) {
        Optional<Principal> renewed = token == null ? Optional.empty() : auth.principal(token);
        if (renewed.isEmpty() || !renewed.get().personId().equals(stream.personId())) {
            refuse(stream, "token: not a valid access token of the person this stream belongs to");
            return;
        }
        stream.renewToken(renewed.get(), token);
        stream.sendControl(hub.frames().control("token.accepted", Map.of()));
    }

    private void refuse(StreamConnection stream, String detail) {
        metrics.rejected("bad_frame");
        if (stream.badFrame()) {
            stream.sendControl(hub.frames().control("error", Map.of("detail", detail)));
        }
    }

    private void closed(WsContext ctx) {
        StreamConnection stream = ctx.attribute(STREAM);
        if (stream != null) {
            stream.closed();
            hub.unregister(stream);
        }
    }

    private void closeSignIn(String sessionId) {
        try {
            hub.forEach(stream -> {
                String session = auth.tokens().verify(stream.accessToken())
                        .map(io.switchboard.platform.auth.SessionTokens.AccessClaims::sessionId).orElse(null);
                if (sessionId.equals(session)) {
                    stream.close(StreamConnection.TOKEN_EXPIRED, "signed out; sign in again and resume");
                }
            });
        } catch (RuntimeException e) {
            log.warn("closing the streams of an ended sign-in failed: {}", e.toString());
        }
    }

    /**
     * Closes the streams whose client sent nothing, not even a pong, for three heartbeats, with
     * what Jetty's idle timeout would say (1001, RFC 6455 §7.4.1: going away). Jetty's own timeout
     * cannot do it: the node's pings restart it ({@link WebSocketSilence}).
     */
    private void closeSilentStreams() {
        Duration limit = settings.streamHeartbeat().multipliedBy(SILENT_HEARTBEATS);
        try {
            hub.forEach(stream -> {
                if (stream.silentFor().compareTo(limit) >= 0) {
                    stream.close(1001, "Connection Idle Timeout");
                }
            });
        } catch (RuntimeException e) {
            log.warn("closing silent streams failed: {}", e.toString());
        }
    }

    private void checkTokens() {
        try {
            hub.forEach(stream -> {
                if (auth.principal(stream.accessToken()).isEmpty()) {
                    stream.close(StreamConnection.TOKEN_EXPIRED,
                            "access token expired or revoked; reconnect with a fresh token and resume");
                }
            });
        } catch (RuntimeException e) {
            log.warn("checking stream tokens failed: {}", e.toString());
        }
    }
}
