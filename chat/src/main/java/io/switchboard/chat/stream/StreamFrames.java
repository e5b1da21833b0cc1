package io.switchboard.chat.stream;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.chat.api.ChatViews;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.Receipt;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The text frames a stream sends, one JSON object each with a {@code type}:
 * {@code message} (a message view), {@code message.deleted}, {@code receipt}, {@code chat}
 * (created, or its members changed), {@code chat.left}, and the control frames {@code ready},
 * {@code synced}, {@code pong} and {@code error}.
 */
final class StreamFrames {
    private final ObjectMapper json;

    StreamFrames(ObjectMapper json) {
        this.json = json;
    }

    String of(ChatEvent event, String recipient) {
        return switch (event) {
            case ChatEvent.MessagePosted posted -> message(posted.message());
            case ChatEvent.MessageDeleted deleted -> deleted(deleted.message());
            case ChatEvent.ReadMoved moved -> receipt(moved.receipt());
            case ChatEvent.MembersChanged changed -> changed.removed().contains(recipient)
                    ? write(Map.of("type", "chat.left", "chatId", changed.chatId()))
                    : chat(changed);
        };
    }

    String message(Message message) {
        Map<String, Object> frame = new LinkedHashMap<>();
        frame.put("type", "message");
        frame.putAll(ChatViews.message(message));
        return write(frame);
    }

    String deleted(Message message) {
        Map<String, Object> frame = new LinkedHashMap<>();
        frame.put("type", "message.deleted");
        frame.put("chatId", message.chatId());
        frame.put("seq", message.seq());
        frame.put("rev", message.rev());
        frame.put("deletedAt", message.deletedAt());
        return write(frame);
    }

    String receipt(Receipt receipt) {
        Map<String, Object> frame = new LinkedHashMap<>();
        frame.put("type", "receipt");
        frame.putAll(ChatViews.receipt(receipt));
        return write(frame);
    }

    private String chat(ChatEvent.MembersChanged changed) {
        Map<String, Object> frame = new LinkedHashMap<>();
        frame.put("type", "chat");
        frame.put("chat", ChatViews.chat(changed.chat()));
        return write(frame);
    }

    String control(String type, Map<String, ?> fields) {
        Map<String, Object> frame = new LinkedHashMap<>();
        frame.put("type", type);
        frame.putAll(fields);
        return write(frame);
    }

    private String write(Map<String, ?> frame) {
        try {
            return json.writeValueAsString(frame);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a stream frame could not be written as JSON", e);
        }
    }
}
