package io.switchboard.chat.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.chat.ChatOverHttp;
import io.switchboard.chat.stream.StreamEndpoint;
import io.switchboard.platform.http.RawUpgrade;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A query parameter an endpoint does not take is a 400 naming it and those taken (a misspelt
 * {@code limit} used to be passed over); a chat id in upper case is the same chat (RFC 9562 §4).
 */
class ChatQueryAndIdsTest {
    private static final ObjectMapper json = new ObjectMapper();

    @TempDir
    Path dir;
    ChatOverHttp chat;
    ChatOverHttp.SignedIn anna;
    String chatId;

    @BeforeEach
    void open() {
        chat = new ChatOverHttp(dir);
        anna = chat.signedIn("anna");
        ChatOverHttp.SignedIn boris = chat.signedIn("boris");
        chatId = chat.chats.create(anna.id(), List.of(boris.id()), null, null, null).chat().id();
    }

    @AfterEach
    void close() {
        chat.close();
    }

    @Test
    void anUnknownQueryParameterIs400NamingItAndTheOnesTakenAndCounted() throws Exception {
        assertBadParameter(chat.get("/api/v1/chats?limt=2", anna.accessToken()),
                "query parameter 'limt' is not taken here; this endpoint takes cursor, limit");
        assertBadParameter(chat.get("/api/v1/chats/" + chatId + "/messages?limt=2", anna.accessToken()),
                "query parameter 'limt' is not taken here; this endpoint takes after, before, limit");
        assertBadParameter(chat.get("/api/v1/chats/" + chatId + "?access_token=" + anna.accessToken(), anna.accessToken()),
                "query parameter 'access_token' is not taken here; this endpoint takes none");
        assertThat(chat.get("/api/v1/chats/" + chatId + "/messages?limit=2", anna.accessToken()).statusCode()).isEqualTo(200);
        // a stray '&' names no parameter
        assertThat(chat.get("/api/v1/chats/" + chatId + "/messages?limit=2&", anna.accessToken()).statusCode()).isEqualTo(200);
        assertThat(chat.get("/api/v1/chats?&limit=2", anna.accessToken()).statusCode()).isEqualTo(200);
        assertThat(chat.metrics.registry().get("switchboard.chat.rejected").tag("reason", "bad_request").counter().count())
                .isEqualTo(3);

        RawUpgrade stream = RawUpgrade.attempt(chat.server.baseUrl(),
                StreamEndpoint.PATH + "?access_token=" + anna.accessToken() + "&resum=x:1", Map.of());
        assertThat(stream.status()).isEqualTo(400);
        assertThat(stream.body()).contains("query parameter 'resum' is not taken here; this endpoint takes access_token, resume");
    }

    @Test
    void aChatIdInUpperCaseIsTheSameChat() throws Exception {
        String upper = chatId.toUpperCase(Locale.ROOT);
        HttpResponse<String> shown = chat.get("/api/v1/chats/" + upper, anna.accessToken());
        assertThat(shown.statusCode()).as(shown.body()).isEqualTo(200);
        assertThat(json.readTree(shown.body()).get("id").asText()).isEqualTo(chatId);
        assertThat(chat.get("/api/v1/chats/" + upper + "/messages", anna.accessToken()).statusCode()).isEqualTo(200);
    }

    private static void assertBadParameter(HttpResponse<String> answer, String detail) throws Exception {
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(400);
        assertThat(json.readTree(answer.body()).get("detail").asText()).isEqualTo(detail);
    }
}
