package io.switchboard.chat.store;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who is in each chat, kept in memory for the hot path of every message: may the sender post
 * here (a quick early answer; the writer checks again in the transaction that stores the message),
 * and whom does it go to. Filled on first use, replaced whenever a members-changed event arrives on
 * the bus (from this node or another), and in any case read again after {@link #MAX_AGE}, so a
 * change whose event was missed (no bus between nodes, a dropped connection) heals on its own.
 * A "not a member" answer is always checked against the store before it is given.
 */
public final class ChatMembership {
    private static final int MAX_CHATS = 100_000;
    static final Duration MAX_AGE = Duration.ofSeconds(10);

    private final ChatStore store;
    private final Clock clock;
    private final Map<String, Known> members = new ConcurrentHashMap<>();

    private record Known(List<String> members, long loadedAt) {
    }

    public ChatMembership(ChatStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /** The members of a chat; empty for a chat that does not exist. */
    public List<String> members(String chatId) {
        long now = clock.millis();
        Known known = members.get(chatId);
        if (known != null && now - known.loadedAt() < MAX_AGE.toMillis()) {
            return known.members();
        }
        if (members.size() >= MAX_CHATS) {
            members.clear();
        }
        // compute: a set() from an event waits for this load instead of being overwritten by it
        return members.compute(chatId, (id, current) -> current != null && current != known
                ? current : new Known(List.copyOf(store.members(id)), now)).members();
    }

    public boolean isMember(String chatId, String personId) {
        if (members(chatId).contains(personId)) {
            return true;
        }
        if (store.isMember(chatId, personId)) {
            members.remove(chatId);
            return true;
        }
        return false;
    }

    public void set(String chatId, List<String> current) {
        members.put(chatId, new Known(List.copyOf(current), clock.millis()));
    }

    /** Forgets every chat's members, for when members-changed events may have been missed (the bus reconnected). */
    public void forgetAll() {
        members.clear();
    }
}
