package io.switchboard.chat.store;

import java.time.Instant;
import java.util.List;

/** A chat: a dialogue of two ({@code direct}) or a group with a title. */
public record ChatInfo(String id, String kind, String title, String createdBy, Instant createdAt, long lastSeq,
                       long rev, Instant lastActivityAt, List<String> members) {
    public static final String DIRECT = "direct";
    public static final String GROUP = "group";

    public ChatInfo withMembers(List<String> newMembers) {
        return new ChatInfo(id, kind, title, createdBy, createdAt, lastSeq, rev, lastActivityAt, List.copyOf(newMembers));
    }
}
