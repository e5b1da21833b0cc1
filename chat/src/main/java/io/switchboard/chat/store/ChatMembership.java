package io.switchboard.chat.store;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who is in each chat, kept in memory: every message asks it twice (may the sender post here? whom
 * does it go to?), and the store should not be read for that each time. Filled on first use and
 * replaced whenever a members-changed event arrives on the bus (from this node or another) with
 * the chat's new members. An unknown chat is cached as having no members; a chat is created with a
 * members-changed event, which replaces that.
 */
public final class ChatMembership {
    private static final int MAX_CHATS = 100_000;

    private final ChatStore store;
    private final Map<String, List<String>> members = new ConcurrentHashMap<>();

    public ChatMembership(ChatStore store) {
        this.store = store;
    }

    /** The members of a chat; empty for a chat that does not exist. */
    public List<String> members(String chatId) {
        List<String> known = members.get(chatId);
        if (known != null) {
            return known;
        }
        List<String> loaded = List.copyOf(store.members(chatId));
        if (members.size() >= MAX_CHATS) {
            members.clear();
        }
        members.put(chatId, loaded);
        return loaded;
    }

    public boolean isMember(String chatId, String personId) {
        return members(chatId).contains(personId);
    }

    public void set(String chatId, List<String> current) {
        members.put(chatId, List.copyOf(current));
    }

}
