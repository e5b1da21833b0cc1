package io.switchboard.chat.store;

import java.time.Instant;

/**
 * A message as stored: numbered {@code seq} within its chat (1, 2, 3... without gaps). A deleted
 * message is a tombstone: it keeps its place, sender and times, and loses its text.
 */
public record Message(String id, String chatId, long seq, String senderId, String text, Instant sentAt, long rev,
                      Instant deletedAt) {
    public boolean deleted() {
        return deletedAt != null;
    }
}
