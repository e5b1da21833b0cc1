package io.switchboard.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Chat traffic through the balancer, as clients that survive node failures behave.
 *
 * <p>Senders post messages with an {@code Idempotency-Key}; on any failure (connection reset,
 * timeout, 5xx) they retry with the same key until answered 201 or 200, so a message is stored
 * once however often it is sent. Only answered messages are <em>acknowledged</em> and go into the
 * ledger, with the sequence number the server gave them.
 *
 * <p>Readers hold a WebSocket stream each; when it closes or fails they reconnect through the
 * balancer and resume every chat from the last sequence number they saw. Each keeps, per chat,
 * every message frame in arrival order, so {@link #verify()} can say whether a stream got every
 * acknowledged message exactly once and in order.
 *
 * <p>It also records when things recover: the first acknowledged send and the first resumed
 * stream after a moment the caller marks (the benchmark's "time to first success").
 */
public final class ChatLoad implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    record Person(String id, String accessToken) {
    }

    /** One acknowledged message: which chat, the server's sequence number, its text, and send-to-answer latency. */
    record Acked(String chatId, long seq, String text, long sentNanos, long latencyNanos) {
    }

    private final String baseUrl;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(3)).build();
    private final List<String> chats = new ArrayList<>();
    private final List<Person> senders = new ArrayList<>();
    private final List<Reader> readers = new ArrayList<>();
    // appended to at the full sending rate: a copy-on-write list would copy itself at every message
    private final Queue<Acked> acked = new ConcurrentLinkedQueue<>();
    private final AtomicLong sendFailures = new AtomicLong();
    private final List<Long> failureTimes = new CopyOnWriteArrayList<>();
    private final AtomicLong framesReceived = new AtomicLong();
    private final AtomicBoolean sending = new AtomicBoolean();
    private final List<Thread> senderThreads = new ArrayList<>();
    private volatile long markNanos = Long.MAX_VALUE;
    private final AtomicLong firstAckAfterMark = new AtomicLong(-1);
    private final AtomicLong firstResumeAfterMark = new AtomicLong(-1);

    ChatLoad(String baseUrl) {
        this.baseUrl = baseUrl;
    }

    /** Signs up one sender per chat and {@code readerCount} readers who are in every chat; opens the readers' streams. */
    void setUp(int chatCount, int readerCount) throws Exception {
        String run = UUID.randomUUID().toString().substring(0, 6);
        List<Person> readerPeople = new ArrayList<>();
        for (int r = 0; r < readerCount; r++) {
            readerPeople.add(signUp("reader" + run + r));
        }
        for (int c = 0; c < chatCount; c++) {
            Person sender = signUp("sender" + run + c);
            senders.add(sender);
            StringBuilder members = new StringBuilder();
            for (Person reader : readerPeople) {
                members.append(members.isEmpty() ? "" : ",").append('"').append(reader.id()).append('"');
            }
            HttpResponse<String> created = call("POST", "/api/v1/chats", sender.accessToken(),
                    "{\"members\":[" + members + "],\"title\":\"failover " + c + "\"}", Map.of());
            if (created.statusCode() != 201) {
                throw new AssertionError("creating a chat answered " + created.statusCode() + ": " + created.body());
            }
            chats.add(JSON.readTree(created.body()).get("id").asText());
        }
        for (Person reader : readerPeople) {
            Reader stream = new Reader(reader);
            readers.add(stream);
            stream.connect();
        }
        for (Reader reader : readers) {
            reader.awaitSynced(Duration.ofSeconds(30));
        }
    }

    private Person signUp(String username) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                HttpResponse<String> r = call("POST", "/api/v1/auth/sign-up", null,
                        "{\"username\":\"" + username + "\",\"password\":\"pass-" + username + "-123\"}", Map.of());
                if (r.statusCode() == 201) {
                    JsonNode body = JSON.readTree(r.body());
                    return new Person(body.at("/user/id").asText(), body.get("accessToken").asText());
                }
                if (attempt >= 5) {
                    throw new AssertionError("sign-up of " + username + " answered " + r.statusCode() + ": " + r.body());
                }
            } catch (IOException e) {
                if (attempt >= 5) {
                    throw e;
                }
            }
            Thread.sleep(300);
        }
    }

    /** Starts one sending thread per chat, each sending a message every {@code every}, until {@link #stopSending()}. */
    void startSending(Duration every, int maxPerSender) {
        sending.set(true);
        for (int c = 0; c < chats.size(); c++) {
            String chat = chats.get(c);
            Person sender = senders.get(c);
            senderThreads.add(Thread.ofVirtual().name("chat-sender-" + c).start(() -> sendLoop(chat, sender, every, maxPerSender)));
        }
    }

    private void sendLoop(String chat, Person sender, Duration every, int max) {
        for (int n = 0; n < max && sending.get(); n++) {
            String key = UUID.randomUUID().toString();
            String text = "m" + n + "-" + key.substring(0, 8);
            long started = System.nanoTime();
            // retry with the same key until answered: a retried message must not be stored twice;
            // bounded by stopSending() plus 30 s, so a broken cluster cannot keep the test waiting
            long giveUp = Long.MAX_VALUE;
            while (true) {
                if (!sending.get() && giveUp == Long.MAX_VALUE) {
                    giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                }
                if (System.nanoTime() > giveUp) {
                    return;
                }
                try {
                    HttpResponse<String> r = call("POST", "/api/v1/chats/" + chat + "/messages", sender.accessToken(),
                            JSON.writeValueAsString(Map.of("text", text)), Map.of("Idempotency-Key", key));
                    if (r.statusCode() == 201 || r.statusCode() == 200) {
                        long now = System.nanoTime();
                        acked.add(new Acked(chat, JSON.readTree(r.body()).get("seq").asLong(), text, started, now - started));
                        if (now > markNanos) {
                            firstAckAfterMark.compareAndSet(-1, now - markNanos);
                        }
                        break;
                    }
                    if (r.statusCode() < 500 && r.statusCode() != 429) {
                        throw new AssertionError("sending answered " + r.statusCode() + ": " + r.body());
                    }
                    failed();
                } catch (IOException e) {
                    failed();
                } catch (InterruptedException e) {
                    return;
                }
                sleep(Duration.ofMillis(100));
            }
            sleep(every);
        }
    }

    private void failed() {
        sendFailures.incrementAndGet();
        failureTimes.add(System.nanoTime());
    }

    /** System.nanoTime() of every failed sending attempt (each retry counts). */
    List<Long> failureTimes() {
        return List.copyOf(failureTimes);
    }

    /** Messages acknowledged so far. */
    long acknowledged() {
        return acked.size();
    }

    /** Message frames received on all streams so far (deliveries). */
    long framesReceived() {
        return framesReceived.get();
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the senders; each finishes (or, after 30 s, abandons) the message it is retrying. */
    void stopSending() throws InterruptedException {
        sending.set(false);
        for (Thread t : senderThreads) {
            t.join(Duration.ofSeconds(45));
        }
    }

    /** From now on, the first acknowledged send and the first resumed stream are timed. */
    void mark() {
        firstAckAfterMark.set(-1);
        firstResumeAfterMark.set(-1);
        markNanos = System.nanoTime();
    }

    /** Milliseconds from {@link #mark()} to the first acknowledged send after it, or -1. */
    double msToFirstAck() {
        long n = firstAckAfterMark.get();
        return n < 0 ? -1 : n / 1e6;
    }

    /** Milliseconds from {@link #mark()} to the first stream resumed (synced again) after it, or -1. */
    double msToFirstResume() {
        long n = firstResumeAfterMark.get();
        return n < 0 ? -1 : n / 1e6;
    }

    List<Acked> acked() {
        return List.copyOf(acked);
    }

    long sendFailures() {
        return sendFailures.get();
    }

    int reconnects() {
        return readers.stream().mapToInt(r -> r.connects - 1).sum();
    }

    /** Waits until every reader has seen, in every chat, the highest acknowledged sequence number. */
    void awaitReadersCaughtUp(Duration within) throws InterruptedException {
        Map<String, Long> last = new ConcurrentHashMap<>();
        for (Acked a : acked) {
            last.merge(a.chatId(), a.seq(), Math::max);
        }
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            boolean all = true;
            for (Reader reader : readers) {
                for (Map.Entry<String, Long> chat : last.entrySet()) {
                    if (reader.lastSeq(chat.getKey()) < chat.getValue()) {
                        all = false;
                    }
                }
            }
            if (all) {
                return;
            }
            Thread.sleep(200);
        }
    }

    /**
     * What went wrong, one line per problem (empty: nothing): per stream and chat, an acknowledged
     * message missing, a message received twice, or out of order; and a message acknowledged
     * twice under one sequence number.
     */
    List<String> verify() {
        List<String> problems = new ArrayList<>();
        Map<String, Map<Long, String>> expected = new LinkedHashMap<>();
        for (Acked a : acked) {
            String before = expected.computeIfAbsent(a.chatId(), k -> new ConcurrentSkipListMap<>()).put(a.seq(), a.text());
            if (before != null && !before.equals(a.text())) {
                problems.add("chat " + a.chatId() + " seq " + a.seq() + " acknowledged for two messages: " + before + ", " + a.text());
            }
        }
        for (Reader reader : readers) {
            for (Map.Entry<String, Map<Long, String>> chat : expected.entrySet()) {
                List<long[]> got = reader.received(chat.getKey());
                Map<Long, Integer> times = new LinkedHashMap<>();
                long previous = 0;
                for (long[] frame : got) {
                    times.merge(frame[0], 1, Integer::sum);
                    if (frame[0] <= previous) {
                        problems.add(reader + " chat " + chat.getKey() + ": seq " + frame[0] + " after " + previous);
                    }
                    previous = Math.max(previous, frame[0]);
                }
                times.forEach((seq, count) -> {
                    if (count > 1) {
                        problems.add(reader + " chat " + chat.getKey() + ": seq " + seq + " received " + count + " times");
                    }
                });
                for (Long seq : chat.getValue().keySet()) {
                    if (!times.containsKey(seq)) {
                        problems.add(reader + " chat " + chat.getKey() + ": acknowledged seq " + seq + " never received");
                    }
                }
                String mismatch = reader.textMismatch(chat.getKey(), chat.getValue());
                if (mismatch != null) {
                    problems.add(mismatch);
                }
            }
        }
        return problems;
    }

    /** Acknowledged messages some stream never got, and messages a stream got more than once or under two seqs. */
    record Losses(long lost, long duplicated) {
    }

    Losses losses() {
        java.util.Set<String> lost = new java.util.HashSet<>();
        java.util.Set<String> duplicated = new java.util.HashSet<>();
        for (Reader reader : readers) {
            for (String chat : chats) {
                Map<Long, Integer> times = new java.util.HashMap<>();
                for (long[] frame : reader.received(chat)) {
                    times.merge(frame[0], 1, Integer::sum);
                }
                times.forEach((seq, n) -> {
                    if (n > 1) {
                        duplicated.add(chat + "/" + seq);
                    }
                });
                Map<String, Long> seqOfText = new java.util.HashMap<>();
                reader.texts.getOrDefault(chat, Map.of()).forEach((seq, text) -> {
                    Long other = seqOfText.put(text, seq);
                    if (other != null && !other.equals(seq)) {
                        duplicated.add(chat + "/" + text);
                    }
                });
            }
        }
        for (Acked a : acked) {
            for (Reader reader : readers) {
                if (reader.received(a.chatId()).stream().noneMatch(f -> f[0] == a.seq())) {
                    lost.add(a.chatId() + "/" + a.seq());
                }
            }
        }
        return new Losses(lost.size(), duplicated.size());
    }

    private HttpResponse<String> call(String method, String path, String token, String body, Map<String, String> headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofSeconds(10))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        headers.forEach(request::header);
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        sending.set(false);
        for (Reader reader : readers) {
            reader.close();
        }
    }

    /**
     * A person's stream that reconnects like a real client: on close or error it waits a moment,
     * connects again through the balancer and resumes each chat from the last sequence it saw.
     */
    private final class Reader implements WebSocket.Listener {
        private final Person person;
        /** chat id → frames received: {seq}, in arrival order, and their texts. */
        private final Map<String, Queue<long[]>> frames = new ConcurrentHashMap<>();
        private final Map<String, Map<Long, String>> texts = new ConcurrentHashMap<>();
        private final Map<String, Long> lastSeq = new ConcurrentHashMap<>();
        private final StringBuilder partial = new StringBuilder();
        private final AtomicBoolean open = new AtomicBoolean(true);
        private volatile CompletableFuture<Void> synced = new CompletableFuture<>();
        private volatile WebSocket socket;
        private volatile boolean resuming;
        int connects;

        Reader(Person person) {
            this.person = person;
        }

        void connect() {
            if (!open.get()) {
                return;
            }
            connects++;
            synced = new CompletableFuture<>();
            resuming = connects > 1;
            URI uri = URI.create(baseUrl.replace("http://", "ws://") + "/api/v1/stream?access_token=" + person.accessToken());
            http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5)).buildAsync(uri, this)
                    .whenComplete((ws, error) -> {
                        if (error != null) {
                            reconnectLater();
                            return;
                        }
                        socket = ws;
                        Map<String, Long> points = new LinkedHashMap<>();
                        for (String chat : chats) {
                            points.put(chat, lastSeq.getOrDefault(chat, 0L));
                        }
                        try {
                            ws.sendText(JSON.writeValueAsString(Map.of("type", "resume", "chats", points)), true);
                        } catch (IOException e) {
                            ws.abort();
                            reconnectLater();
                        }
                    });
        }

        private void reconnectLater() {
            if (open.get()) {
                CompletableFuture.delayedExecutor(250, TimeUnit.MILLISECONDS).execute(this::connect);
            }
        }

        void awaitSynced(Duration within) throws Exception {
            synced.get(within.toMillis(), TimeUnit.MILLISECONDS);
        }

        long lastSeq(String chat) {
            return lastSeq.getOrDefault(chat, 0L);
        }

        List<long[]> received(String chat) {
            return List.copyOf(frames.getOrDefault(chat, new ConcurrentLinkedQueue<>()));
        }

        String textMismatch(String chat, Map<Long, String> expected) {
            Map<Long, String> got = texts.getOrDefault(chat, Map.of());
            for (Map.Entry<Long, String> e : expected.entrySet()) {
                String text = got.get(e.getKey());
                if (text != null && !text.equals(e.getValue())) {
                    return this + " chat " + chat + " seq " + e.getKey() + ": got '" + text + "', acknowledged '" + e.getValue() + "'";
                }
            }
            return null;
        }

        @Override
        public void onOpen(WebSocket webSocket) {
            webSocket.request(1);
        }

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                String text = partial.toString();
                partial.setLength(0);
                try {
                    JsonNode frame = JSON.readTree(text);
                    switch (frame.path("type").asText()) {
                        case "message" -> {
                            String chat = frame.path("chatId").asText();
                            long seq = frame.path("seq").asLong();
                            frames.computeIfAbsent(chat, k -> new ConcurrentLinkedQueue<>()).add(new long[] {seq});
                            texts.computeIfAbsent(chat, k -> new ConcurrentHashMap<>()).put(seq, frame.path("text").asText());
                            lastSeq.merge(chat, seq, Math::max);
                            framesReceived.incrementAndGet();
                        }
                        case "synced" -> {
                            long now = System.nanoTime();
                            if (resuming && now > markNanos) {
                                firstResumeAfterMark.compareAndSet(-1, now - markNanos);
                            }
                            synced.complete(null);
                        }
                        case "ping" -> webSocket.sendText("{\"type\":\"pong\"}", true);
                        default -> {
                            // receipts, typing, presence: not what this load checks
                        }
                    }
                } catch (IOException e) {
                    // not JSON: nothing to record
                }
            }
            webSocket.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
            webSocket.request(1);
            return WebSocket.Listener.super.onPing(webSocket, message);
        }

        @Override
        public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
            partial.setLength(0);
            reconnectLater();
            return null;
        }

        @Override
        public void onError(WebSocket webSocket, Throwable error) {
            partial.setLength(0);
            reconnectLater();
        }

        void close() {
            open.set(false);
            WebSocket ws = socket;
            if (ws != null) {
                ws.abort();
            }
        }

        @Override
        public String toString() {
            return "stream of " + person.id();
        }
    }
}
