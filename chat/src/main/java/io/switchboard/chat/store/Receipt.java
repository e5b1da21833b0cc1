package io.switchboard.chat.store;

/** How far a member has read a chat: every message up to {@code seq}. */
public record Receipt(String chatId, String personId, long seq, long rev) {
}
