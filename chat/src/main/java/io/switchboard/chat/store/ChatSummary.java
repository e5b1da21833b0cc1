package io.switchboard.chat.store;

/** A chat as one member sees it in their list: with its newest message and how many they have not read. */
public record ChatSummary(ChatInfo chat, Message lastMessage, long lastReadSeq, long unread) {
}
