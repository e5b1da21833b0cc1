package io.switchboard.chat.events;

import io.switchboard.chat.store.ChatInfo;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.Receipt;
import java.util.List;

/**
 * What happened in a chat, as published on the bus ({@link #TOPIC}) once it is committed. Each
 * event names the people who should hear of it, as the chat's members were at that moment, so a
 * node that delivers it needs no lookup of its own.
 */
public sealed interface ChatEvent {
    String TOPIC = "chat.events";

    String chatId();

    List<String> recipients();

    /** A new message. */
    record MessagePosted(Message message, List<String> recipients) implements ChatEvent {
        @Override
        public String chatId() {
            return message.chatId();
        }
    }

    /** A message became a tombstone. */
    record MessageDeleted(Message message, List<String> recipients) implements ChatEvent {
        @Override
        public String chatId() {
            return message.chatId();
        }
    }

    /** A member's read position moved. */
    record ReadMoved(Receipt receipt, List<String> recipients) implements ChatEvent {
        @Override
        public String chatId() {
            return receipt.chatId();
        }
    }

    /**
     * A chat was created or its members changed. {@code recipients} are the members now plus
     * those who left; {@code removed} tells a node to stop delivering the chat to them.
     */
    record MembersChanged(ChatInfo chat, List<String> added, List<String> removed, List<String> recipients)
            implements ChatEvent {
        @Override
        public String chatId() {
            return chat.id();
        }
    }
}
