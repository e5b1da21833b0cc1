package io.switchboard.server.chat;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The chat API end to end, over HTTP and WebSocket, the same on every store: subclasses give a
 * node on SQLite or on PostgreSQL (with {@code chat.maxMessageLength: 100}).
 */
abstract class ChatApiContract {
    abstract ChatNode node();

    private ChatNode.Person person(String prefix) throws Exception {
        return node().signUp(ChatNode.uniqueName(prefix));
    }

    private HttpResponse<String> post(String path, ChatNode.Person who, String body) throws Exception {
        return node().call("POST", path, who == null ? null : who.accessToken(), body, Map.of());
    }

    private HttpResponse<String> post(String path, ChatNode.Person who, String body, String idempotencyKey) throws Exception {
        return node().call("POST", path, who.accessToken(), body, Map.of("Idempotency-Key", idempotencyKey));
    }

    private static void assertProblem(HttpResponse<String> response, int status, String detailPart) throws Exception {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("application/problem+json"));
        assertThat(ChatNode.json(response).get("detail").asText()).contains(detailPart);
    }

    @Test
    void everyChatEndpointNeedsAPersonsAccessToken() throws Exception {
        String fakeChat = UUID.randomUUID().toString();
        for (String[] call : new String[][]{{"GET", "/api/v1/chats"}, {"POST", "/api/v1/chats"},
                {"GET", "/api/v1/chats/" + fakeChat}, {"GET", "/api/v1/chats/" + fakeChat + "/messages"},
                {"POST", "/api/v1/chats/" + fakeChat + "/messages"}, {"POST", "/api/v1/chats/" + fakeChat + "/read"}}) {
            HttpResponse<String> anonymous = node().call(call[0], call[1], null, "{}", Map.of());
            assertThat(anonymous.statusCode()).as(call[0] + " " + call[1]).isEqualTo(401);
            assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v -> assertThat(v).startsWith("Bearer"));
            assertThat(node().call(call[0], call[1], "forged.token.here", "{}", Map.of()).statusCode()).isEqualTo(401);
            // the admin token is not a person: chats belong to people
            HttpResponse<String> admin = node().call(call[0], call[1], node().adminToken(), "{}", Map.of());
            assertThat(admin.statusCode()).isEqualTo(401);
            assertThat(ChatNode.json(admin).get("detail").asText()).contains("admin token is not a person");
        }
    }

    @Test
    void aDirectChatIsOnePerPairAndGroupsNeedATitle() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        ChatNode.Person clara = person("clara");
        HttpResponse<String> first = post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\"]}");
        assertThat(first.statusCode()).isEqualTo(201);
        JsonNode chat = ChatNode.json(first);
        assertThat(chat.get("kind").asText()).isEqualTo("direct");
        assertThat(chat.get("members")).extracting(JsonNode::asText).containsExactly(anna.id(), boris.id());
        HttpResponse<String> again = post("/api/v1/chats", boris, "{\"members\":[\"" + anna.id() + "\"]}");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(ChatNode.json(again).get("id").asText()).isEqualTo(chat.get("id").asText());

        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\",\"" + clara.id() + "\"]}"),
                400, "'title'");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\",\"" + clara.id() + "\"],\"title\":\"   \"}"),
                400, "'title' shows nothing");
        HttpResponse<String> group = post("/api/v1/chats", anna,
                "{\"members\":[\"" + boris.id() + "\",\"" + clara.id() + "\"],\"title\":\"Flat 42\"}");
        assertThat(group.statusCode()).isEqualTo(201);
        assertThat(ChatNode.json(group).get("kind").asText()).isEqualTo("group");
        assertThat(ChatNode.json(group).get("title").asText()).isEqualTo("Flat 42");

        assertProblem(post("/api/v1/chats", anna, "{\"members\":[]}"), 400, "'members'");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + anna.id() + "\"]}"), 400, "at least one other");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[42]}"), 400, "'members'");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + UUID.randomUUID() + "\"]}"), 422, "no user");
        assertProblem(post("/api/v1/chats", anna, "[1,2]"), 400, "JSON object");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":"), 400, "JSON");
    }

    @Test
    void creatingAGroupWithAnIdempotencyKeyTwiceMakesOneGroup() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        ChatNode.Person clara = person("clara");
        String body = "{\"members\":[\"" + boris.id() + "\",\"" + clara.id() + "\"],\"title\":\"Board\"}";
        HttpResponse<String> first = post("/api/v1/chats", anna, body, "create-board-1");
        HttpResponse<String> retry = post("/api/v1/chats", anna, body, "create-board-1");
        assertThat(first.statusCode()).isEqualTo(201);
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue("Idempotent-Replayed")).isEmpty();
        assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        assertThat(ChatNode.json(retry).get("id").asText()).isEqualTo(ChatNode.json(first).get("id").asText());
        assertProblem(post("/api/v1/chats", anna, body.replace("Board", "Other"), "create-board-1"), 422, "Idempotency-Key");
        // a dialogue asked for again is the one that stands: 200, but not a replay of a request
        String dialogue = "{\"members\":[\"" + boris.id() + "\"]}";
        assertThat(post("/api/v1/chats", anna, dialogue, "dialogue-1").statusCode()).isEqualTo(201);
        HttpResponse<String> again = post("/api/v1/chats", anna, dialogue, "dialogue-2");
        assertThat(again.statusCode()).isEqualTo(200);
        assertThat(again.headers().firstValue("Idempotent-Replayed")).isEmpty();
        JsonNode list = ChatNode.json(node().get("/api/v1/chats", anna.accessToken()));
        assertThat(list.get("chats")).hasSize(2);
    }

    @Test
    void messagesAreNumberedPerChatAndARetryWithTheSameKeyIsNotASecondMessage() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        String chat = node().chat(anna, null, boris);
        double sentBefore = node().metric("switchboard_chat_messages_sent_total");
        HttpResponse<String> first = post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"Door code is 1234\"}", "k-1");
        assertThat(first.statusCode()).isEqualTo(201);
        assertThat(ChatNode.json(first).get("seq").asLong()).isEqualTo(1);
        assertThat(first.headers().firstValue("Location")).hasValue("/api/v1/chats/" + chat + "/messages/1");
        // where Location points: the message, for members only
        HttpResponse<String> located = node().get("/api/v1/chats/" + chat + "/messages/1", boris.accessToken());
        assertThat(located.statusCode()).isEqualTo(200);
        assertThat(ChatNode.json(located).get("text").asText()).isEqualTo("Door code is 1234");
        assertProblem(node().get("/api/v1/chats/" + chat + "/messages/2", boris.accessToken()), 404, "no message 2");
        assertThat(node().get("/api/v1/chats/" + chat + "/messages/1", person("mallory").accessToken()).statusCode())
                .isEqualTo(404);
        HttpResponse<String> retry = post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"Door code is 1234\"}", "k-1");
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(retry.headers().firstValue("Idempotent-Replayed")).hasValue("true");
        assertThat(ChatNode.json(retry).get("id").asText()).isEqualTo(ChatNode.json(first).get("id").asText());
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"Something else\"}", "k-1"),
                422, "Idempotency-Key");
        // the same key from another person is that person's own key
        assertThat(post("/api/v1/chats/" + chat + "/messages", boris, "{\"text\":\"Door code is 1234\"}", "k-1")
                .statusCode()).isEqualTo(201);
        assertThat(node().send(anna, chat, "no key")).isEqualTo(3);
        assertThat(node().send(anna, chat, "no key")).isEqualTo(4);
        assertThat(node().metric("switchboard_chat_messages_sent_total")).isEqualTo(sentBefore + 4);

        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"\"}"), 400, "'text'");
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":7}"), 400, "'text' must be a string (got number)");
        // nothing a reader would see: no-break and ideographic spaces, zero-width space, byte-order mark, RTL override
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"\\u00a0\\u3000\\u200b\\ufeff\\u202e\\u3164\\u2800\\u0301 \\n\"}"),
                400, "'text' shows nothing");
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"" + "a".repeat(101) + "\"}"), 413, "at most 100");
        // a body past the 1 MB any request may carry is counted as too large too, and is no warning in the log
        double tooLargeBefore = node().metric("switchboard_chat_rejected_total{reason=\"too_large\"}");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> log = new ch.qos.logback.core.read.ListAppender<>();
        log.start();
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(log);
        try {
            assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"" + "a".repeat(1_000_001) + "\"}"),
                    413, "larger than the 1000000 bytes");
        } finally {
            root.detachAppender(log);
        }
        assertThat(node().metric("switchboard_chat_rejected_total{reason=\"too_large\"}"))
                .isEqualTo(tooLargeBefore + 1);
        assertThat(log.list).noneMatch(line -> line.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.WARN));
        // control characters (an escape sequence, a bell, C1's CSI) are refused; line breaks and tabs are text
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"\\u001b[2Jhi\"}"), 400,
                "control character (U+001B at character 0");
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"\\ud83d\\ude00 ring\\u0007\"}"), 400,
                "U+0007 at character 6,");
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"x\\u009b2J\"}"), 400, "U+009B");
        HttpResponse<String> lines = post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"one\\r\\ntwo\\tthree\"}");
        assertThat(lines.statusCode()).as(lines.body()).isEqualTo(201);
        assertThat(ChatNode.json(lines).get("text").asText()).isEqualTo("one\r\ntwo\tthree");
        assertProblem(post("/api/v1/chats/" + chat + "/messages", anna, "{\"text\":\"hi\"}", "has space"), 400, "Idempotency-Key");
        HttpResponse<String> twoKeys = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(node().baseUrl() + "/api/v1/chats/" + chat + "/messages"))
                .header("Authorization", "Bearer " + anna.accessToken()).header("Content-Type", "application/json")
                .header("Idempotency-Key", "key-a").header("Idempotency-Key", "key-b")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"text\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertProblem(twoKeys, 400, "send one key per request");
        HttpResponse<String> form = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(node().baseUrl() + "/api/v1/chats/" + chat + "/messages"))
                .header("Authorization", "Bearer " + anna.accessToken()).header("Content-Type", "application/x-www-form-urlencoded")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"text\":\"hi\"}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertProblem(form, 415, "send it with Content-Type: application/json (got application/x-www-form-urlencoded)");
        assertThat(form.headers().firstValue("Accept")).hasValue("application/json");
        assertThat(node().metric("switchboard_chat_rejected_total{reason=\"too_large\"}")).isGreaterThanOrEqualTo(1);
        assertThat(node().metric("switchboard_chat_rejected_total{reason=\"idempotency_conflict\"}")).isGreaterThanOrEqualTo(1);
    }

    @Test
    void textWithANulOrAnUnpairedSurrogateIsA400NamingTheFieldAndNothingIsStored() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        String chat = node().chat(anna, null, boris);
        String messages = "/api/v1/chats/" + chat + "/messages";
        assertProblem(post(messages, anna, "{\"text\":\"door\\u0000code\"}", "nul-1"), 400, "'text' contains a NUL");
        assertProblem(post(messages, anna, "{\"text\":\"half \\ud83d of a smile\"}"), 400, "'text' contains an unpaired surrogate");
        assertProblem(post(messages, anna, "{\"text\":\"\\ude00 tail\"}"), 400, "unpaired surrogate");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\"],\"title\":\"a\\u0000b\"}"),
                400, "'title' contains a NUL");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\\u0000\"]}"), 400, "'members[0]'");
        assertProblem(node().get(messages + "?after=%00", anna.accessToken()), 400, "query parameter 'after'");
        assertProblem(node().get(messages + "?after=6&before=3", anna.accessToken()), 400, "the window runs backwards");
        assertProblem(node().get(messages + "?limit=5&limit=200", anna.accessToken()), 400,
                "query parameter 'limit' is given 2 times; give it once");
        String badCursor = java.util.Base64.getUrlEncoder().withoutPadding()
                .encodeToString("17:\u0000x".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertProblem(node().get("/api/v1/chats?cursor=" + badCursor, anna.accessToken()), 400, "'cursor'");
        assertProblem(post("/api/v1/auth/sign-up", null, "{\"username\":\"x\\u0000y\",\"password\":\"long-enough-1\"}"),
                400, "'username' contains a NUL");

        // a field the endpoint does not take is named, not passed over, and counted
        double badBefore = node().metric("switchboard_chat_rejected_total{reason=\"bad_request\"}");
        assertProblem(post(messages, anna, "{\"txt\":\"hello\"}"), 400, "'txt' is not a field here; expected text");
        assertProblem(post("/api/v1/chats", anna, "{\"members\":[\"" + boris.id() + "\"],\"titel\":\"x\"}"), 400,
                "'titel' is not a field here; expected members, title");
        assertProblem(post("/api/v1/chats/" + chat + "/read", anna, "{\"seq\":0,\"rev\":1}"), 400, "'rev' is not a field here");
        assertProblem(post("/api/v1/auth/sign-in", null, "{\"user\":\"anna\",\"password\":\"x\"}"), 400,
                "'user' is not a field here; expected password, username");
        assertThat(node().metric("switchboard_chat_rejected_total{reason=\"bad_request\"}")).isGreaterThanOrEqualTo(badBefore + 3);

        // the refused request stored nothing: its key is free, and a whole character (a pair) is fine
        HttpResponse<String> fixed = post(messages, anna, "{\"text\":\"door code \\ud83d\\ude00\"}", "nul-1");
        assertThat(fixed.statusCode()).as(fixed.body()).isEqualTo(201);
        assertThat(ChatNode.json(fixed).get("seq").asLong()).isEqualTo(1);
        JsonNode page = ChatNode.json(node().get(messages, boris.accessToken()));
        assertThat(page.get("messages").get(0).get("text").asText()).isEqualTo("door code \ud83d\ude00");
    }

    @Test
    void peopleOutsideAChatDoNotSeeIt() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        ChatNode.Person mallory = person("mallory");
        String chat = node().chat(anna, null, boris);
        node().send(anna, chat, "private");
        String base = "/api/v1/chats/" + chat;
        assertProblem(node().get(base, mallory.accessToken()), 404, "no chat");
        assertProblem(node().get(base + "/messages", mallory.accessToken()), 404, "no chat");
        assertProblem(post(base + "/messages", mallory, "{\"text\":\"hi\"}"), 404, "no chat");
        assertProblem(post(base + "/read", mallory, "{\"seq\":1}"), 404, "no chat");
        assertProblem(node().call("DELETE", base + "/messages/1", mallory.accessToken(), null, Map.of()), 404, "no chat");
        assertProblem(post(base + "/members", mallory, "{\"members\":[\"" + mallory.id() + "\"]}"), 404, "no chat");
        assertThat(ChatNode.json(node().get("/api/v1/chats", mallory.accessToken())).get("chats")).isEmpty();
        assertProblem(node().get("/api/v1/chats/" + UUID.randomUUID(), anna.accessToken()), 404, "no chat");
        assertThat(node().metric("switchboard_chat_rejected_total{reason=\"not_member\"}")).isGreaterThanOrEqualTo(5);
    }

    @Test
    void historyPagesBothWaysBySequenceNumber() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        String chat = node().chat(anna, null, boris);
        for (int i = 1; i <= 25; i++) {
            node().send(i % 2 == 0 ? boris : anna, chat, "message " + i);
        }
        String messages = "/api/v1/chats/" + chat + "/messages";
        JsonNode newest = ChatNode.json(node().get(messages + "?limit=10", anna.accessToken()));
        assertThat(seqs(newest)).containsExactly(16L, 17L, 18L, 19L, 20L, 21L, 22L, 23L, 24L, 25L);
        assertThat(newest.get("olderCursor").asLong()).isEqualTo(16);
        assertThat(newest.get("newerCursor").isNull()).isTrue();
        assertThat(newest.get("lastSeq").asLong()).isEqualTo(25);

        JsonNode older = ChatNode.json(node().get(messages + "?before=16&limit=10", anna.accessToken()));
        assertThat(seqs(older)).containsExactly(6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L, 14L, 15L);
        // the cursors are the chat's whichever way the page was asked for: newer messages exist too
        assertThat(older.get("newerCursor").asLong()).isEqualTo(15);
        JsonNode oldest = ChatNode.json(node().get(messages + "?before=" + older.get("olderCursor").asLong() + "&limit=10",
                anna.accessToken()));
        assertThat(seqs(oldest)).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(oldest.get("olderCursor").isNull()).isTrue();
        assertThat(oldest.get("messages").get(0).get("text").asText()).isEqualTo("message 1");

        JsonNode forward = ChatNode.json(node().get(messages + "?after=5&limit=10", anna.accessToken()));
        assertThat(seqs(forward)).containsExactly(6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L, 14L, 15L);
        assertThat(forward.get("newerCursor").asLong()).isEqualTo(15);
        assertThat(forward.get("olderCursor").asLong()).isEqualTo(6);
        JsonNode window = ChatNode.json(node().get(messages + "?after=20&before=23", anna.accessToken()));
        assertThat(seqs(window)).containsExactly(21L, 22L);
        assertThat(window.get("olderCursor").asLong()).isEqualTo(21);
        assertThat(window.get("newerCursor").asLong()).isEqualTo(22);
        JsonNode end = ChatNode.json(node().get(messages + "?after=25", anna.accessToken()));
        assertThat(end.get("messages")).isEmpty();
        // an empty page still points at what lies beyond it
        assertThat(end.get("olderCursor").asLong()).as("before=26 is the newest page").isEqualTo(26);
        assertThat(end.get("newerCursor").isNull()).isTrue();
        JsonNode start = ChatNode.json(node().get(messages + "?before=1", anna.accessToken()));
        assertThat(start.get("messages")).isEmpty();
        assertThat(start.get("olderCursor").isNull()).isTrue();
        assertThat(start.get("newerCursor").asLong()).as("after=0 is the oldest page").isZero();

        assertProblem(node().get(messages + "?limit=0", anna.accessToken()), 400, "'limit'");
        assertProblem(node().get(messages + "?limit=abc", anna.accessToken()), 400, "'limit'");
        assertProblem(node().get(messages + "?before=-1", anna.accessToken()), 400, "'before'");
        assertProblem(node().get(messages + "?after=x", anna.accessToken()), 400, "'after'");
    }

    @Test
    void aSenderDeletesTheirOwnMessageAndReadersSeeATombstone() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        String chat = node().chat(anna, null, boris);
        node().send(anna, chat, "oops");
        node().send(boris, chat, "?");
        String message = "/api/v1/chats/" + chat + "/messages/";
        assertProblem(node().call("DELETE", message + "1", boris.accessToken(), null, Map.of()), 403, "sender");
        assertThat(node().call("DELETE", message + "1", anna.accessToken(), null, Map.of()).statusCode()).isEqualTo(204);
        assertThat(node().call("DELETE", message + "1", anna.accessToken(), null, Map.of()).statusCode()).isEqualTo(204);
        assertProblem(node().call("DELETE", message + "9", anna.accessToken(), null, Map.of()), 404, "no message 9");
        assertProblem(node().call("DELETE", message + "zero", anna.accessToken(), null, Map.of()), 400, "sequence number");
        JsonNode history = ChatNode.json(node().get("/api/v1/chats/" + chat + "/messages", boris.accessToken()));
        JsonNode tombstone = history.get("messages").get(0);
        assertThat(tombstone.get("seq").asLong()).isEqualTo(1);
        assertThat(tombstone.get("deleted").asBoolean()).isTrue();
        assertThat(tombstone.get("text").isNull()).isTrue();
        assertThat(tombstone.get("deletedAt").isTextual()).isTrue();
        assertThat(history.get("messages").get(1).get("text").asText()).isEqualTo("?");
    }

    @Test
    void theChatListIsNewestFirstWithLastMessageAndUnreadCounts() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        ChatNode.Person clara = person("clara");
        String withBoris = node().chat(anna, null, boris);
        String withClara = node().chat(anna, null, clara);
        node().send(boris, withBoris, "b1");
        node().send(boris, withBoris, "b2");
        node().send(clara, withClara, "c1");
        node().send(anna, withClara, "a1");

        JsonNode list = ChatNode.json(node().get("/api/v1/chats", anna.accessToken()));
        assertThat(list.get("chats")).extracting(c -> c.get("id").asText()).containsExactly(withClara, withBoris);
        JsonNode claraChat = list.get("chats").get(0);
        assertThat(claraChat.at("/lastMessage/text").asText()).isEqualTo("a1");
        // her own reply moved her read position past Clara's message
        assertThat(claraChat.get("unread").asLong()).isZero();
        JsonNode borisChat = list.get("chats").get(1);
        assertThat(borisChat.get("unread").asLong()).isEqualTo(2);

        HttpResponse<String> read = post("/api/v1/chats/" + withBoris + "/read", anna, "{\"seq\":1}");
        assertThat(ChatNode.json(read).get("unread").asLong()).isEqualTo(1);
        HttpResponse<String> backwards = post("/api/v1/chats/" + withBoris + "/read", anna, "{\"seq\":0}");
        assertThat(ChatNode.json(backwards).get("lastReadSeq").asLong()).isEqualTo(1);
        assertProblem(post("/api/v1/chats/" + withBoris + "/read", anna, "{\"seq\":3}"), 400, "beyond the newest");
        // 2^64 + 3 would read as 3 if wrapped into a long
        assertProblem(post("/api/v1/chats/" + withBoris + "/read", anna, "{\"seq\":18446744073709551619}"), 400,
                "a whole number >= 0");
        assertProblem(post("/api/v1/chats/" + withBoris + "/read", anna, "{\"seq\":\"1\"}"), 400, "'seq'");

        JsonNode page1 = ChatNode.json(node().get("/api/v1/chats?limit=1", anna.accessToken()));
        assertThat(page1.get("chats")).extracting(c -> c.get("id").asText()).containsExactly(withClara);
        JsonNode page2 = ChatNode.json(node().get("/api/v1/chats?limit=1&cursor=" + page1.get("nextCursor").asText(),
                anna.accessToken()));
        assertThat(page2.get("chats")).extracting(c -> c.get("id").asText()).containsExactly(withBoris);
        // the last page, full or not, says so
        assertThat(page2.get("nextCursor").isNull()).as(page2.toString()).isTrue();
        assertThat(ChatNode.json(node().get("/api/v1/chats?limit=2", anna.accessToken())).get("nextCursor").isNull()).isTrue();
        assertProblem(node().get("/api/v1/chats?cursor=garbage!", anna.accessToken()), 400, "'cursor'");
    }

    @Test
    void groupMembersComeAndGo() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        ChatNode.Person clara = person("clara");
        ChatNode.Person dmitri = person("dmitri");
        String group = node().chat(anna, "Stairwell B", boris, clara);
        HttpResponse<String> added = post("/api/v1/chats/" + group + "/members", boris, "{\"members\":[\"" + dmitri.id() + "\"]}");
        assertThat(added.statusCode()).isEqualTo(200);
        assertThat(ChatNode.json(added).get("members")).extracting(JsonNode::asText).contains(dmitri.id());
        node().send(dmitri, group, "hello neighbours");
        assertThat(node().call("DELETE", "/api/v1/chats/" + group + "/members/" + anna.id(), boris.accessToken(), null,
                Map.of()).statusCode()).isEqualTo(403);
        assertThat(node().call("DELETE", "/api/v1/chats/" + group + "/members/me", clara.accessToken(), null, Map.of())
                .statusCode()).isEqualTo(204);
        assertProblem(node().get("/api/v1/chats/" + group, clara.accessToken()), 404, "no chat");
        assertProblem(post("/api/v1/chats/" + group + "/messages", clara, "{\"text\":\"still here?\"}"), 404, "no chat");
        String direct = node().chat(anna, null, boris);
        assertProblem(post("/api/v1/chats/" + direct + "/members", anna, "{\"members\":[\"" + clara.id() + "\"]}"),
                409, "direct chat");
    }

    @Test
    void twoPeopleOnStreamsExchangeAndAReturningOneResumes() throws Exception {
        ChatNode.Person anna = person("anna");
        ChatNode.Person boris = person("boris");
        String chat = node().chat(anna, null, boris);
        try (StreamClient annaStream = StreamClient.connect(node().streamUri(anna.accessToken()));
             StreamClient borisStream = StreamClient.connect(node().streamUri(boris.accessToken()))) {
            annaStream.send("{\"type\":\"hello\"}");
            borisStream.send("{\"type\":\"hello\"}");
            annaStream.next("synced");
            borisStream.next("synced");
            node().send(anna, chat, "ping from anna");
            assertThat(borisStream.next("message").get("text").asText()).isEqualTo("ping from anna");
            node().send(boris, chat, "pong from boris");
            assertThat(annaStream.messagesUntil(chat, 2, 15)).last()
                    .satisfies(f -> assertThat(f.get("text").asText()).isEqualTo("pong from boris"));
        }
        node().send(anna, chat, "while you were away");
        try (StreamClient borisStream = StreamClient.connect(node().streamUri(boris.accessToken()))) {
            borisStream.send("{\"type\":\"resume\",\"chats\":{\"" + chat + "\":2}}");
            List<JsonNode> missed = borisStream.messagesUntil(chat, 3, 15);
            assertThat(missed).extracting(f -> f.get("text").asText()).containsExactly("while you were away");
        }
    }

    private static List<Long> seqs(JsonNode page) {
        return java.util.stream.StreamSupport.stream(page.get("messages").spliterator(), false)
                .map(m -> m.get("seq").asLong()).toList();
    }
}
