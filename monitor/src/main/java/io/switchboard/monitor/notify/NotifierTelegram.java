package io.switchboard.monitor.notify;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.switchboard.monitor.definition.ChannelDefinition;
import io.switchboard.monitor.definition.ChannelDefinition.ChannelSettings;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * Telegram: the Bot API's {@code sendMessage} ({@code POST {apiUrl}/bot<token>/sendMessage} with
 * {@code chat_id} and {@code text}), plain text, at most 4096 characters. The token is part of the
 * URL, so no error message here ever contains the URL.
 */
public final class NotifierTelegram implements Notifier {
    static final int MAX_TEXT = 4096;
    /** Bytes of the Bot API's answer read at most; its answers to sendMessage are a few hundred. */
    static final int MAX_ANSWER = 64 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http;
    private final Duration timeout;

    public NotifierTelegram(HttpClient http, Duration timeout) {
        this.http = http;
        this.timeout = timeout;
    }

    @Override
    public void send(ChannelDefinition channel, Notification n) throws DeliveryException, InterruptedException {
        ChannelSettings.Telegram settings = (ChannelSettings.Telegram) channel.settings();
        String text = n.subject() + "\n\n" + n.text();
        if (text.length() > MAX_TEXT) {
            text = text.substring(0, MAX_TEXT - 1) + "…";
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("chat_id", settings.chatId());
        body.put("text", text);
        body.put("disable_web_page_preview", true);
        HttpRequest request = HttpRequest.newBuilder(URI.create(settings.apiUrl() + "/bot" + settings.botToken() + "/sendMessage"))
                .timeout(timeout)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                .build();
        HttpResponse<byte[]> response;
        try {
            response = BoundedBody.send(http, request, MAX_ANSWER, timeout);
        } catch (IOException e) {
            // the words name only the API's host and port, never the URL, which holds the token
            URI api = URI.create(settings.apiUrl());
            String why = "reaching the Telegram API at " + settings.apiUrl() + " failed: "
                    + DeliveryFailureText.network(e, NotifierWebhook.host(api), NotifierWebhook.port(api), timeout, false)
                    .replace(settings.botToken(), "***");
            throw DeliveryException.network(why, e);
        }
        int status = response.statusCode();
        String description = "";
        boolean ok = false;
        try {
            JsonNode answer = JSON.readTree(response.body());
            if (answer == null) {
                throw new IOException("empty");
            }
            ok = answer.path("ok").asBoolean(false);
            description = answer.path("description").asText("");
        } catch (IOException e) {
            description = "an answer that is not JSON";
        }
        if (status / 100 != 2 || !ok) {
            String why = switch (status) {
                case 401 -> "the bot token was refused";
                case 400 -> "the request was refused (" + description + "; is the chat id right, and has the bot been"
                        + " added to the chat?)";
                case 403 -> "the bot may not write to this chat (" + description + ")";
                default -> "HTTP " + status + (description.isEmpty() ? "" : " (" + description + ")");
            };
            if (why.length() > 300) {
                why = why.substring(0, 300) + "…";
            }
            throw DeliveryException.refused("Telegram: " + why.replace(settings.botToken(), "***"),
                    DeliveryException.retryableStatus(status) || (status / 100 == 2));
        }
    }
}
