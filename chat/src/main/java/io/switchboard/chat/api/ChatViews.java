package io.switchboard.chat.api;

import io.switchboard.chat.store.ChatInfo;
import io.switchboard.chat.store.ChatSummary;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.Receipt;
import java.util.LinkedHashMap;
import java.util.Map;

/** The JSON shapes of chats, messages and receipts: the same in API answers and in stream frames. */
public final class ChatViews {
    private ChatViews() {
    }

    public static Map<String, Object> message(Message m) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", m.id());
        view.put("chatId", m.chatId());
        view.put("seq", m.seq());
        view.put("senderId", m.senderId());
        view.put("text", m.text());
        view.put("sentAt", m.sentAt());
        view.put("rev", m.rev());
        view.put("deleted", m.deleted());
        if (m.deleted()) {
            view.put("deletedAt", m.deletedAt());
        }
        return view;
    }

    public static Map<String, Object> chat(ChatInfo c) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", c.id());
        view.put("kind", c.kind());
        view.put("title", c.title());
        view.put("members", c.members());
        view.put("createdBy", c.createdBy());
        view.put("createdAt", c.createdAt());
        view.put("lastSeq", c.lastSeq());
        view.put("rev", c.rev());
        view.put("lastActivityAt", c.lastActivityAt());
        return view;
    }

    public static Map<String, Object> summary(ChatSummary s) {
        Map<String, Object> view = chat(s.chat());
        view.put("lastMessage", s.lastMessage() == null ? null : message(s.lastMessage()));
        view.put("lastReadSeq", s.lastReadSeq());
        view.put("unread", s.unread());
        return view;
    }

    public static Map<String, Object> receipt(Receipt r) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("chatId", r.chatId());
        view.put("personId", r.personId());
        view.put("seq", r.seq());
        view.put("rev", r.rev());
        return view;
    }
}
