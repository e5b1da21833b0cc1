package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import io.switchboard.chat.store.MessageWriter;
import io.switchboard.platform.http.RawUpgrade;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** People on WebSockets: live delivery, resume after a disconnect, heartbeats, limits. */
class ChatStreamTest {
    @TempDir
    static Path dataDir;
    static ChatNode node;

    @BeforeAll
    static void start() {
        node = new ChatNode(dataDir, Map.of("SWITCHBOARD_CHAT_STREAM_HEARTBEAT", "1s",
                "SWITCHBOARD_CHAT_STREAM_QUEUE_LIMIT", "50"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    @Test
    void twoPeopleExchangeMessagesLive() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        double deliveredBefore = node.metric("switchboard_chat_messages_delivered_total");
        try (StreamClient annaStream = StreamClient.connect(node.streamUri(anna.accessToken()));
             StreamClient borisStream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            assertThat(annaStream.next("ready").get("personId").asText()).isEqualTo(anna.id());
            annaStream.send("{\"type\":\"hello\"}");
            borisStream.send("{\"type\":\"hello\"}");
            annaStream.next("synced");
            borisStream.next("synced");

            node.send(anna, chat, "Hello Boris");
            JsonNode atBoris = borisStream.next("message");
            assertThat(atBoris.get("chatId").asText()).isEqualTo(chat);
            assertThat(atBoris.get("seq").asLong()).isEqualTo(1);
            assertThat(atBoris.get("text").asText()).isEqualTo("Hello Boris");
            assertThat(atBoris.get("senderId").asText()).isEqualTo(anna.id());
            // every open stream of the chat's members, the sender's own too (her other devices)
            assertThat(annaStream.next("message").get("seq").asLong()).isEqualTo(1);

            node.send(boris, chat, "Hello Anna");
            JsonNode atAnna = annaStream.next("message");
            assertThat(atAnna.get("seq").asLong()).isEqualTo(2);
            assertThat(atAnna.get("text").asText()).isEqualTo("Hello Anna");

            HttpResponse<String> read = node.call("POST", "/api/v1/chats/" + chat + "/read", anna.accessToken(),
                    "{\"seq\":2}", Map.of());
            assertThat(read.statusCode()).isEqualTo(200);
            JsonNode receipt = borisStream.next("receipt");
            assertThat(receipt.get("personId").asText()).isEqualTo(anna.id());
            assertThat(receipt.get("seq").asLong()).isEqualTo(2);
        }
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                assertThat(node.metric("switchboard_chat_messages_delivered_total")).isGreaterThanOrEqualTo(deliveredBefore + 4));
        assertThat(node.metric("switchboard_chat_delivery_latency_seconds_count")).isGreaterThan(0);
    }

    @Test
    void aReturningClientGetsWhatItMissedInOrderThenLiveMessages() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        long seen;
        try (StreamClient borisStream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            borisStream.send("{\"type\":\"hello\"}");
            borisStream.next("synced");
            node.send(anna, chat, "one");
            seen = borisStream.next("message").get("seq").asLong();
        }
        assertThat(seen).isEqualTo(1);
        for (int i = 2; i <= 6; i++) {
            node.send(anna, chat, "offline " + i);
        }
        HttpResponse<String> deleted = node.call("DELETE", "/api/v1/chats/" + chat + "/messages/4", anna.accessToken(), null, Map.of());
        assertThat(deleted.statusCode()).isEqualTo(204);

        try (StreamClient borisStream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            borisStream.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":" + seen + "}}");
            List<JsonNode> replayed = borisStream.messagesUntil(chat, 6, 15);
            assertThat(replayed).extracting(f -> f.get("seq").asLong()).containsExactly(2L, 3L, 4L, 5L, 6L);
            assertThat(replayed.get(2).get("deleted").asBoolean()).isTrue();
            assertThat(replayed.get(2).get("text").isNull()).isTrue();
            assertThat(replayed.get(4).get("text").asText()).isEqualTo("offline 6");
            JsonNode synced = borisStream.next("synced");
            assertThat(synced.at("/chats/" + chat).asLong()).isEqualTo(6);

            node.send(anna, chat, "back online");
            JsonNode live = borisStream.next("message");
            assertThat(live.get("seq").asLong()).isEqualTo(7);
            assertThat(borisStream.drain()).noneMatch(f -> f.path("type").asText().equals("message"));
        }
    }

    @Test
    void theResumePointMayComeInTheUrl() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        for (int i = 1; i <= 3; i++) {
            node.send(anna, chat, "m" + i);
        }
        try (StreamClient stream = StreamClient.connect(
                java.net.URI.create(node.streamUri(boris.accessToken()) + "&resume=" + chat + ":1"))) {
            assertThat(stream.messagesUntil(chat, 3, 15)).extracting(f -> f.get("seq").asLong()).containsExactly(2L, 3L);
            stream.next("synced");
        }
        assertThatThrownBy(() -> StreamClient.connect(
                java.net.URI.create(node.streamUri(boris.accessToken()) + "&resume=" + chat + ":x")))
                .satisfies(e -> assertThat(handshakeFailure(e).getResponse().statusCode()).isEqualTo(400));

        // the parameter repeated, one chat each: every one of them counts
        String group = node.chat(anna, "stairwell", boris);
        node.send(anna, group, "g1");
        node.send(anna, group, "g2");
        try (StreamClient stream = StreamClient.connect(java.net.URI.create(node.streamUri(boris.accessToken())
                + "&resume=" + chat + ":1&resume=" + group + ":0"))) {
            List<JsonNode> before = new ArrayList<>();
            stream.next("synced", 15, before);
            assertThat(before).filteredOn(f -> f.path("type").asText().equals("message"))
                    .extracting(f -> f.get("chatId").asText() + ":" + f.get("seq").asLong())
                    .containsExactlyInAnyOrder(chat + ":2", chat + ":3", group + ":1", group + ":2");
        }
        RawUpgrade twice = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=" + boris.accessToken()
                + "&resume=" + chat + ":1&resume=" + chat + ":2", Map.of());
        assertThat(twice.status()).isEqualTo(400);
        assertThat(ChatNode.JSON.readTree(twice.body()).get("detail").asText()).contains("named twice");
    }

    @Test
    void resumingWithARevisionAlsoBringsDeletionsAndReceiptsOfOlderMessages() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        node.send(anna, chat, "first");
        node.send(anna, chat, "second");
        JsonNode before = ChatNode.json(node.get("/api/v1/chats/" + chat, boris.accessToken()));
        long rev = before.get("rev").asLong();
        // while Boris is away: Anna deletes a message he already had, and Boris reads on another device
        assertThat(node.call("DELETE", "/api/v1/chats/" + chat + "/messages/1", anna.accessToken(), null, Map.of())
                .statusCode()).isEqualTo(204);
        assertThat(node.call("POST", "/api/v1/chats/" + chat + "/read", boris.accessToken(), "{\"seq\":2}", Map.of())
                .statusCode()).isEqualTo(200);

        try (StreamClient borisStream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            borisStream.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":{\"seq\":2,\"rev\":" + rev + "}}}");
            List<JsonNode> frames = new ArrayList<>();
            borisStream.next("synced", 15, frames);
            assertThat(frames).anySatisfy(f -> {
                assertThat(f.get("type").asText()).isEqualTo("message.deleted");
                assertThat(f.get("seq").asLong()).isEqualTo(1);
            });
            assertThat(frames).anySatisfy(f -> {
                assertThat(f.get("type").asText()).isEqualTo("receipt");
                assertThat(f.get("personId").asText()).isEqualTo(boris.id());
                assertThat(f.get("seq").asLong()).isEqualTo(2);
            });
            assertThat(frames).noneMatch(f -> f.get("type").asText().equals("message"));
        }
    }

    @Test
    void concurrentSendersWhileAClientResumesLoseAndRepeatNothing() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        ChatNode.Person clara = node.signUp(ChatNode.uniqueName("clara"));
        String chat = node.chat(anna, "Flat 42", boris, clara);
        for (int i = 0; i < 30; i++) {
            node.send(anna, chat, "before " + i);
        }
        int perSender = 40;
        ExecutorService senders = Executors.newFixedThreadPool(2);
        try (StreamClient claraStream = StreamClient.connect(node.streamUri(clara.accessToken()))) {
            List<Future<?>> running = new ArrayList<>();
            for (ChatNode.Person sender : List.of(anna, boris)) {
                running.add(senders.submit(() -> {
                    for (int i = 0; i < perSender; i++) {
                        node.send(sender, chat, sender.username() + " " + i);
                    }
                    return null;
                }));
            }
            claraStream.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":5}}");
            for (Future<?> f : running) {
                f.get();
            }
            long last = 30 + 2L * perSender;
            List<JsonNode> got = claraStream.messagesUntil(chat, last, 30);
            assertThat(got).extracting(f -> f.get("seq").asLong())
                    .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(6, last).boxed().toList());
        } finally {
            senders.shutdownNow();
        }
    }

    @Test
    void aLiveMessageAfterAGapBringsTheMissingOnesFirst() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        try (StreamClient stream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            stream.send("{\"type\":\"hello\"}");
            stream.next("synced");
            // Messages committed without an event reaching this node (as when a bus between
            // nodes lost or reordered them): the stream learns of them from the next one.
            MessageWriter silent = new MessageWriter(node.node.store().jdbi(), java.time.Clock.systemUTC(), 100, m -> { });
            silent.start();
            try {
                for (int i = 1; i <= 3; i++) {
                    silent.submit(chat, anna.id(), "unannounced " + i, null, "h").get(10, java.util.concurrent.TimeUnit.SECONDS);
                }
            } finally {
                silent.close();
            }
            node.send(anna, chat, "announced");
            List<JsonNode> got = stream.messagesUntil(chat, 4, 15);
            assertThat(got).extracting(f -> f.get("seq").asLong()).containsExactly(1L, 2L, 3L, 4L);
            assertThat(got.get(0).get("text").asText()).isEqualTo("unannounced 1");
        }
        assertThat(node.metric("switchboard_chat_messages_replayed_total")).isGreaterThanOrEqualTo(3);
    }

    @Test
    void aLongAbsenceIsReplayedPageByPage() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        int missed = 230;
        for (int i = 1; i <= missed; i++) {
            node.send(anna, chat, "m" + i);
        }
        // the queue limit here is 50, so the replay goes out in pages of 12 as the client takes them
        try (StreamClient stream = StreamClient.connect(
                java.net.URI.create(node.streamUri(boris.accessToken()) + "&resume=" + chat + ":0"))) {
            List<JsonNode> got = stream.messagesUntil(chat, missed, 30);
            assertThat(got).extracting(f -> f.get("seq").asLong())
                    .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, missed).boxed().toList());
            stream.next("synced");
            assertThat(stream.isClosed()).isFalse();
        }
    }

    @Test
    void pingsAndHeartbeats() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            stream.send("{\"type\":\"ping\"}");
            stream.next("pong");
            // past three heartbeats (1 s here): the client's pongs keep its stream open
            await().atMost(Duration.ofSeconds(15)).until(() -> stream.pings >= 5);
            assertThat(stream.isClosed()).isFalse();
        }
    }

    @Test
    void aClientThatAnswersNoPingIsClosedAfterThreeHeartbeats() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (SilentStreamClient silent = new SilentStreamClient(node.baseUrl(),
                "/api/v1/stream?access_token=" + anna.accessToken())) {
            silent.send("{\"type\":\"hello\"}");
            long opened = System.nanoTime();
            // the node's pings go out all the while; they must not count as the client being there
            assertThat(silent.awaitClose(15)).isEqualTo("1001 Connection Idle Timeout");
            long took = (System.nanoTime() - opened) / 1_000_000;
            assertThat(took).isBetween(2_500L, 6_000L);
            assertThat(silent.pings.get()).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void framesTheServerDoesNotUnderstandGetAnErrorAndTheStreamStaysOpen() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            stream.send("not json");
            assertThat(stream.next("error").get("detail").asText()).contains("JSON");
            // read as strictly as a request body
            stream.send("{\"type\":\"ping\"} {\"type\":\"ping\"}");
            assertThat(stream.next("error").get("detail").asText()).contains("nothing after it");
            stream.send("{\"type\":\"ping\",\"type\":\"hello\"}");
            assertThat(stream.next("error").get("detail").asText()).contains("Duplicate field 'type'");
            stream.send("{\"type\":null}");
            assertThat(stream.next("error").get("detail").asText()).contains("needs 'type'");
            stream.send("{\"type\":\"shout\"}");
            assertThat(stream.next("error").get("detail").asText()).contains("unknown frame type");
            stream.send("{\"type\":\"hello\"}");
            stream.next("synced");
            stream.send("{\"type\":\"resume\",\"chats\":{}}");
            assertThat(stream.next("error").get("detail").asText()).contains("first frame");
            stream.send("{\"type\":\"ping\"}");
            stream.next("pong");
        }
        assertThat(node.metric("switchboard_chat_rejected_total{reason=\"bad_frame\"}")).isGreaterThanOrEqualTo(6);
    }

    @Test
    void aResumeTheNodeCannotFollowClosesTheStreamRatherThanStartingAsHello() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        for (int i = 1; i <= 3; i++) {
            node.send(anna, chat, "m" + i);
        }
        Map<String, String> resumes = new java.util.LinkedHashMap<>();
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":\"1\"}}", "needs its last seq seen");
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":1.5}}", "needs its last seq seen");
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":-1}}", "needs its last seq seen");
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":99999999999999999999999}}", "needs its last seq seen");
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":{\"seq\":1,\"revision\":2}}}", "needs its last seq seen");
        resumes.put("{\"type\":\"resume\"}", "needs 'chats'");
        resumes.put("{\"type\":\"resume\",\"chats\":[1]}", "needs 'chats'");
        // misspelt: the error frame names 'chat', and without 'chats' the resume cannot be followed
        resumes.put("{\"type\":\"resume\",\"chat\":{\"" + chat + "\":1}}", "needs 'chats'");
        resumes.put("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":9999}}", "has no message 9999; its newest is 3");
        for (Map.Entry<String, String> resume : resumes.entrySet()) {
            try (StreamClient stream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
                stream.send(resume.getKey());
                assertThat(stream.awaitClose(10)).as(resume.getKey()).isEqualTo(1008);
                assertThat(stream.closeReason).as(resume.getKey()).startsWith("resume").contains(resume.getValue());
                // never synced, so the client cannot take the chats' newest seqs for its position
                assertThat(stream.drain()).as(resume.getKey()).noneMatch(f -> f.path("type").asText().equals("synced"));
            }
        }
        // in the URL as in POST …/read: a seq past the newest message is 400
        RawUpgrade beyond = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=" + boris.accessToken()
                + "&resume=" + chat + ":9999", Map.of());
        assertThat(beyond.status()).isEqualTo(400);
        assertThat(ChatNode.JSON.readTree(beyond.body()).get("detail").asText()).contains("has no message 9999; its newest is 3");
        // at the newest is fine
        try (StreamClient stream = StreamClient.connect(node.streamUri(boris.accessToken()))) {
            stream.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":3}}");
            assertThat(stream.next("synced").at("/chats/" + chat).asLong()).isEqualTo(3);
        }
    }

    @Test
    void framesAreReadAsStrictlyAsRequestBodies() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            // a field of the client's own is said, and the frame is still acted on: the ping is answered
            stream.send("{\"type\":\"ping\",\"foo\":1}");
            assertThat(stream.next("error").get("detail").asText()).contains("'foo' is not a field here");
            stream.next("pong");
            stream.send("{\"type\":\"hello\",\"client\":\"door-app 2.1\"}");
            assertThat(stream.next("error").get("detail").asText()).contains("hello: 'client' is not a field here");
            stream.next("synced");
            stream.send("{\"type\":\"hello\"}");
            assertThat(stream.next("error").get("detail").asText()).contains("already started");
            stream.send("{\"type\":\"token\",\"accessToken\":\"" + anna.accessToken() + "\",\"foo\":1}");
            assertThat(stream.next("error").get("detail").asText()).contains("'foo' is not a field here");
            stream.send("{\"type\":\"ping\"}");
            stream.next("pong");
            // said, not counted toward the twenty frames not understood: a client pinging with a
            // field of its own every heartbeat keeps its stream
            for (int i = 0; i < 25; i++) {
                stream.send("{\"type\":\"ping\",\"ts\":" + i + "}");
                stream.next("error");
                stream.next("pong");
            }
        }
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            stream.send("{\"type\":\"resume\",\"chats\":{},\"v\":2}");
            assertThat(stream.next("error").get("detail").asText()).contains("resume: 'v' is not a field here");
            stream.next("synced");
            stream.send("{\"type\":\"resume\",\"chats\":{}}");
            assertThat(stream.next("error").get("detail").asText()).contains("already started");
        }
    }

    /**
     * A binary message is a bad frame whatever its size: counted as {@code bad_frame} at its first
     * frame, and closed with 1003 and the node's reason once the node has read the rest. One over
     * the 64 KiB a client message may have was closed by Jetty instead, before the stream heard of
     * it: 1009 "Binary message too large: 100,000 > 65,536" (the node's locale), and counted
     * nowhere. Closed at the first frame, with the rest of a large one unread, the connection could
     * be reset before the client read the 1003.
     */
    @Test
    void aBinaryMessageOfAnySizeClosesTheStreamWith1003() throws Exception {
        String badFrames = "switchboard_chat_rejected_total{reason=\"bad_frame\"}";
        double before = orZero(node.metric(badFrames)); // absent until the first
        double tooBigBefore = orZero(node.metric("switchboard_websocket_too_big_total"));
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        record Sent(String what, byte[] bytes, int frame) { }
        for (Sent sent : List.of(new Sent("3 bytes", new byte[] {1, 2, 3}, 3),
                new Sent("100,000 bytes in one frame", new byte[100_000], 100_000),
                new Sent("100,000 bytes in frames of 40,000", new byte[100_000], 40_000))) {
            try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
                stream.next("ready");
                stream.sendBinary(sent.bytes(), sent.frame());
                assertThat(stream.awaitClose(10)).as(sent.what()).isEqualTo(1003);
                assertThat(stream.closeReason).as(sent.what()).isEqualTo("frames are JSON text");
            }
        }
        assertThat(node.metric(badFrames) - before).isEqualTo(3);
        assertThat(orZero(node.metric("switchboard_websocket_too_big_total"))).as("not a message over the size limit")
                .isEqualTo(tooBigBefore);
    }

    private static double orZero(double sample) {
        return Double.isNaN(sample) ? 0 : sample;
    }

    @Test
    void theTwentiethFrameNotUnderstoodClosesTheStream() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            for (int i = 1; i < 20; i++) {
                stream.send("{\"type\":\"shout\"}");
                stream.next("error");
            }
            stream.send("{\"type\":\"ping\"}");
            stream.next("pong");
            stream.send("{\"type\":\"shout\"}");
            assertThat(stream.awaitClose(10)).isEqualTo(1008);
        }
    }

    @Test
    void withoutAValidTokenTheUpgradeIsRefused() throws Exception {
        assertThatThrownBy(() -> StreamClient.connect(node.streamUri("not-a-token")))
                .satisfies(e -> assertThat(handshakeFailure(e).getResponse().statusCode()).isEqualTo(401));

        // the refusal is problem details like the rest of the API, and leaves no session behind
        RawUpgrade refused = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=garbage", Map.of());
        assertThat(refused.status()).isEqualTo(401);
        assertThat(refused.header("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(refused.header("WWW-Authenticate")).hasValue("Bearer realm=\"switchboard\"");
        JsonNode problem = ChatNode.JSON.readTree(refused.body());
        assertThat(problem.get("status").asInt()).isEqualTo(401);
        assertThat(problem.get("title").asText()).isEqualTo("Unauthorized");
        assertThat(problem.get("detail").asText()).contains("not valid or has expired", "refresh");
        assertThat(problem.get("instance").asText()).isEqualTo("/api/v1/stream");
        assertThat(refused.header("Set-Cookie")).isEmpty();
        // each refusal says what to do: no token at all, and an admin token where a person's belongs
        RawUpgrade none = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream", Map.of());
        assertThat(none.status()).isEqualTo(401);
        assertThat(ChatNode.JSON.readTree(none.body()).get("detail").asText()).contains("valid access token", "?access_token=");
        RawUpgrade admin = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=" + node.adminToken(), Map.of());
        assertThat(admin.status()).isEqualTo(401);
        assertThat(ChatNode.JSON.readTree(admin.body()).get("detail").asText()).startsWith("An admin token is not a person");

        RawUpgrade badResume = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?resume=x", Map.of());
        assertThat(badResume.status()).isEqualTo(400);
        assertThat(ChatNode.JSON.readTree(badResume.body()).get("detail").asText()).contains("'resume'");
        assertThat(badResume.header("Set-Cookie")).isEmpty();
    }

    @Test
    void anUpgradeWithTwoTokensIsRefused() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        RawUpgrade repeated = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=" + anna.accessToken()
                + "&access_token=" + anna.accessToken(), Map.of());
        assertThat(repeated.status()).isEqualTo(400);
        assertThat(ChatNode.JSON.readTree(repeated.body()).get("detail").asText())
                .isEqualTo("query parameter 'access_token' is given 2 times; give it once");
        // a header and a parameter that disagree: neither wins silently
        RawUpgrade disagreeing = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=xxx",
                Map.of("Authorization", "Bearer " + anna.accessToken()));
        assertThat(disagreeing.status()).isEqualTo(400);
        assertThat(ChatNode.JSON.readTree(disagreeing.body()).get("detail").asText()).contains("Two different access tokens");
        RawUpgrade same = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream?access_token=" + anna.accessToken(),
                Map.of("Authorization", "Bearer " + anna.accessToken()));
        assertThat(same.status()).isEqualTo(101);
    }

    @Test
    void anAcceptedUpgradeSetsNoSessionCookie() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        RawUpgrade accepted = RawUpgrade.attempt(node.baseUrl(), "/api/v1/stream",
                Map.of("Authorization", "Bearer " + anna.accessToken()));
        assertThat(accepted.status()).isEqualTo(101);
        assertThat(accepted.header("Set-Cookie")).isEmpty();
    }

    @Test
    void aPlainGetOfTheStreamSaysToUpgrade() throws Exception {
        HttpResponse<String> plain = node.get("/api/v1/stream", null);
        assertThat(plain.statusCode()).isEqualTo(426);
        assertThat(plain.headers().firstValue("Upgrade")).hasValue("websocket");
    }

    @Test
    void aStreamWhosePersonSignedOutEverywhereIsClosed() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        try (StreamClient stream = StreamClient.connect(node.streamUri(anna.accessToken()))) {
            stream.next("ready");
            assertThat(node.call("POST", "/api/v1/me/sign-out-everywhere", anna.accessToken(), null, Map.of())
                    .statusCode()).isEqualTo(204);
            assertThat(stream.awaitClose(15)).isEqualTo(4001);
        }
    }

    @Test
    void aConsumerThatReadsNothingIsClosedWithAReasonInsteadOfFillingMemory() throws Exception {
        ChatNode.Person anna = node.signUp(ChatNode.uniqueName("anna"));
        ChatNode.Person boris = node.signUp(ChatNode.uniqueName("boris"));
        String chat = node.chat(anna, null, boris);
        double slowBefore = node.metric("switchboard_chat_rejected_total{reason=\"slow_consumer\"}");
        try (StreamClient stalled = StreamClient.connectWithoutReading(node.streamUri(boris.accessToken()))) {
            String big = "x".repeat(3900);
            // Enough that the socket buffers fill and frames queue up on the server beyond the limit (50).
            await().atMost(Duration.ofSeconds(60)).until(() -> {
                for (int i = 0; i < 50; i++) {
                    node.send(anna, chat, big);
                }
                return node.metric("switchboard_chat_rejected_total{reason=\"slow_consumer\"}") > slowBefore;
            });
        }
    }

    @Test
    void aStoppingNodeClosesItsStreamsSayingToReconnectAndResume(@TempDir Path otherDir) throws Exception {
        ChatNode stopping = new ChatNode(otherDir, Map.of());
        StreamClient stream;
        try {
            ChatNode.Person anna = stopping.signUp(ChatNode.uniqueName("anna"));
            stream = StreamClient.connect(stopping.streamUri(anna.accessToken()));
            stream.send("{\"type\":\"hello\"}");
            stream.next("synced");
        } finally {
            stopping.close();
        }
        // what the node says, not what Jetty says when its container stops ("Container being shut down")
        assertThat(stream.awaitClose(10)).isEqualTo(1001);
        assertThat(stream.closeReason).isEqualTo("node stopping; reconnect and resume");
    }

    private static WebSocketHandshakeException handshakeFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof WebSocketHandshakeException handshake) {
                return handshake;
            }
        }
        throw new AssertionError("not a refused handshake", e);
    }
}
