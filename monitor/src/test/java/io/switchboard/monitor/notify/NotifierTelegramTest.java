package io.switchboard.monitor.notify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.support.Defs;
import io.switchboard.monitor.support.LoopbackHttp;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Against a loopback HTTP server standing in for the Bot API (apiUrl). */
class NotifierTelegramTest {
    static final String TOKEN = "123456:ABC-test-token";
    static LoopbackHttp api;
    static final NotifierTelegram notifier = new NotifierTelegram(HttpClient.newHttpClient(), Duration.ofSeconds(2));
    static final Notification RECOVERED = new Notification(Notification.Event.RECOVERED, "shop", "http",
            "http://127.0.0.1:8000/health", 7L, "up", Instant.parse("2025-06-01T10:00:00Z"), 3, "shop is UP again after 2 min",
            "shop is UP again.", Instant.parse("2025-06-01T10:02:00Z"));

    @BeforeAll
    static void start() throws Exception {
        api = new LoopbackHttp()
                .answer("/bot" + TOKEN + "/sendMessage", 200, "{\"ok\":true,\"result\":{\"message_id\":1}}")
                .answer("/botrevoked:TOKEN/sendMessage", 401, "{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized\"}")
                .answer("/bot999:wrongchat/sendMessage", 400,
                        "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}")
                .answer("/bot999:busy/sendMessage", 429,
                        "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 3\"}");
    }

    @AfterAll
    static void stop() {
        api.close();
    }

    private static String channel(String token, String chat) {
        return "name: tg\ntype: telegram\nbotToken: '" + token + "'\nchatId: '" + chat + "'\napiUrl: " + api.url("") + "\n";
    }

    @Test
    void sendsTheMessageToTheChat() throws Exception {
        notifier.send(Defs.channel(channel(TOKEN, "-1001234567890")), RECOVERED);
        LoopbackHttp.Received r = api.received("/bot" + TOKEN + "/sendMessage").getLast();
        JsonNode body = new ObjectMapper().readTree(r.body());
        assertThat(body.path("chat_id").asText()).isEqualTo("-1001234567890");
        assertThat(body.path("text").asText()).isEqualTo("shop is UP again after 2 min\n\nshop is UP again.");
    }

    @Test
    void aRefusedTokenIsNotRetriedAndNeverShown() {
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel("revoked:TOKEN", "42")), RECOVERED))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isFalse();
                    assertThat(e.getMessage()).isEqualTo("Telegram: the bot token was refused").doesNotContain("revoked");
                });
    }

    @Test
    void anUnknownChatSaysWhatToCheck() {
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel("999:wrongchat", "42")), RECOVERED))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.getMessage())
                        .contains("chat not found").contains("is the chat id right").doesNotContain("wrongchat"));
    }

    @Test
    void rateLimitsAreRetryable() {
        assertThatThrownBy(() -> notifier.send(Defs.channel(channel("999:busy", "42")), RECOVERED))
                .isInstanceOfSatisfying(DeliveryException.class, e -> assertThat(e.retryable()).isTrue());
    }

    @Test
    void anUnreachableApiIsSaidPlainlyWithoutTheToken() throws Exception {
        int port;
        try (java.net.ServerSocket closed = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = closed.getLocalPort();
        }
        String unreachable = "name: tg\ntype: telegram\nbotToken: '" + TOKEN + "'\nchatId: '42'\napiUrl: http://127.0.0.1:" + port + "\n";
        assertThatThrownBy(() -> notifier.send(Defs.channel(unreachable), RECOVERED))
                .isInstanceOfSatisfying(DeliveryException.class, e -> {
                    assertThat(e.retryable()).isTrue();
                    assertThat(e.getMessage()).isEqualTo("reaching the Telegram API at http://127.0.0.1:" + port
                            + " failed: connection refused: nothing listens at 127.0.0.1 port " + port).doesNotContain(TOKEN);
                });
    }
}
