package io.switchboard.chat.store;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.UUID;
import io.switchboard.platform.store.StoreFailure;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;
import org.jdbi.v3.core.statement.StatementContext;

/**
 * Chats, members, receipts and deletions in the store, and the reads of messages. New messages are
 * written by {@link MessageWriter}, which batches them.
 *
 * <p>Every change to a chat takes the next value of the chat's {@code rev} in the same transaction,
 * by an {@code UPDATE ... RETURNING} on the chat's row: on PostgreSQL the row lock orders
 * concurrent changes of one chat, on SQLite the single connection does.
 */
public final class ChatStore {
    /** Members in the order they joined, the creator first among those who joined together. */
    private static final String MEMBER_ORDER =
            " order by m.joined_at, case when m.person_id = c.created_by then 0 else 1 end, m.person_id";

    private final Jdbi jdbi;
    private final Clock clock;

    /**
     * A chat made by {@link #create}, or the one that already stood for the same request:
     * {@code replayed} when it was found by the request's idempotency key, else (a dialogue of
     * the same two people) only {@code existed}.
     */
    public record Created(ChatInfo chat, boolean existed, boolean replayed) {
    }

    /** The same idempotency key came with a different request. */
    public static final class IdempotencyConflict extends RuntimeException {
        public IdempotencyConflict() {
            super("idempotency key reused with a different request", null, false, false);
        }
    }

    /** What {@link #delete} did. */
    public enum DeleteOutcome { DELETED, ALREADY_DELETED, NOT_FOUND, NOT_SENDER }

    public record Deletion(DeleteOutcome outcome, Message message) {
    }

    /** A position to continue a person's chat list from: the last chat of the previous page. */
    public record ListCursor(long lastActivityAt, String chatId) {
    }

    public ChatStore(Jdbi jdbi, Clock clock) {
        this.jdbi = jdbi;
        this.clock = clock;
    }

    /**
     * Creates a chat of {@code creator} and {@code others}. A direct chat (one other person, no
     * title) is unique per pair: asking again returns the existing one. With an idempotency key,
     * a retry returns the chat the first request made.
     *
     * @throws IdempotencyConflict when the key was used for a different request
     */
    public Created create(String creator, List<String> others, String title, String idempotencyKey, String requestHash) {
        boolean direct = others.size() == 1 && title == null;
        String directKey = direct ? directKey(creator, others.getFirst()) : null;
        try {
            return jdbi.inTransaction(h -> createIn(h, creator, others, title, directKey, idempotencyKey, requestHash));
        } catch (RuntimeException e) {
            // Another node created the same direct chat or used the same key at the same moment: the
            // unique index refused ours, and a second look finds theirs.
            // Only a refusal the database answered is worth the second look: when it cannot be
            // reached, a second transaction would only wait out the same timeouts again.
            if (e instanceof IdempotencyConflict
                    || StoreFailure.kind(e).orElse(null) == StoreFailure.Kind.UNREACHABLE) {
                throw e;
            }
            Optional<Created> theirs = jdbi.inTransaction(h -> existing(h, creator, directKey, idempotencyKey, requestHash));
            return theirs.orElseThrow(() -> e);
        }
    }

    private Created createIn(Handle h, String creator, List<String> others, String title, String directKey,
                             String idempotencyKey, String requestHash) {
        Optional<Created> existing = existing(h, creator, directKey, idempotencyKey, requestHash);
        if (existing.isPresent()) {
            return existing.get();
        }
        long now = clock.millis();
        String id = UUID.randomUUID().toString();
        h.createUpdate("insert into chat_chats (id, kind, title, direct_key, created_by, created_at, last_seq, rev,"
                        + " last_activity_at, idempotency_key, request_hash)"
                        + " values (:id, :kind, :title, :dk, :by, :now, 0, 0, :now, :key, :hash)")
                .bind("id", id)
                .bind("kind", directKey != null ? ChatInfo.DIRECT : ChatInfo.GROUP)
                .bind("title", title)
                .bind("dk", directKey)
                .bind("by", creator)
                .bind("now", now)
                .bind("key", idempotencyKey)
                .bind("hash", idempotencyKey == null ? null : requestHash)
                .execute();
        List<String> members = new ArrayList<>(new TreeSet<>(others));
        members.remove(creator);
        members.addFirst(creator);
        insertMembers(h, id, members, now);
        return new Created(chatIn(h, id).orElseThrow(), false, false);
    }

    private Optional<Created> existing(Handle h, String creator, String directKey, String idempotencyKey, String requestHash) {
        if (idempotencyKey != null) {
            Optional<Map.Entry<String, String>> byKey = h.createQuery(
                            "select id, request_hash from chat_chats where created_by = :by and idempotency_key = :key")
                    .bind("by", creator).bind("key", idempotencyKey)
                    .map((rs, ctx) -> Map.entry(rs.getString(1), String.valueOf(rs.getString(2))))
                    .findOne();
            if (byKey.isPresent()) {
                if (!byKey.get().getValue().equals(requestHash)) {
                    throw new IdempotencyConflict();
                }
                return chatIn(h, byKey.get().getKey()).map(c -> new Created(c, true, true));
            }
        }
        if (directKey != null) {
            return h.createQuery("select id from chat_chats where direct_key = :dk").bind("dk", directKey)
                    .mapTo(String.class).findOne()
                    .flatMap(id -> chatIn(h, id)).map(c -> new Created(c, true, false));
        }
        return Optional.empty();
    }

    private static String directKey(String a, String b) {
        return a.compareTo(b) < 0 ? a + "|" + b : b + "|" + a;
    }

    private static void insertMembers(Handle h, String chatId, Collection<String> members, long now) {
        var batch = h.prepareBatch("insert into chat_members (chat_id, person_id, joined_at, last_read_seq, read_rev)"
                + " values (:chat, :person, :now, 0, 0)");
        for (String member : members) {
            batch.bind("chat", chatId).bind("person", member).bind("now", now).add();
        }
        batch.execute();
    }

    public Optional<ChatInfo> chat(String chatId) {
        return jdbi.withHandle(h -> chatIn(h, chatId));
    }

    private static Optional<ChatInfo> chatIn(Handle h, String chatId) {
        Optional<ChatInfo> chat = h.createQuery("select * from chat_chats where id = :id").bind("id", chatId)
                .map(ChatStore::chatRow).findOne();
        return chat.map(c -> c.withMembers(membersIn(h, chatId)));
    }

    /** The sequence number of a chat's newest message; empty for a chat that does not exist. */
    public Optional<Long> lastSeq(String chatId) {
        return jdbi.withHandle(h -> h.createQuery("select last_seq from chat_chats where id = :id").bind("id", chatId)
                .mapTo(Long.class).findOne());
    }

    public boolean isMember(String chatId, String personId) {
        return jdbi.withHandle(h -> h.createQuery("select count(*) from chat_members where chat_id = :c and person_id = :p")
                .bind("c", chatId).bind("p", personId).mapTo(Integer.class).one()) > 0;
    }

    /** Members in the order they joined (the creator first). */
    public List<String> members(String chatId) {
        return jdbi.withHandle(h -> membersIn(h, chatId));
    }

    private static List<String> membersIn(Handle h, String chatId) {
        return h.createQuery("select m.person_id from chat_members m join chat_chats c on c.id = m.chat_id"
                        + " where m.chat_id = :id" + MEMBER_ORDER)
                .bind("id", chatId).mapTo(String.class).list();
    }

    /** Adds people to a group; those already in it are left as they are. Returns who was added. */
    public List<String> addMembers(String chatId, Collection<String> people) {
        return jdbi.inTransaction(h -> {
            List<String> present = membersIn(h, chatId);
            List<String> added = people.stream().distinct().filter(p -> !present.contains(p)).toList();
            if (!added.isEmpty()) {
                insertMembers(h, chatId, added, clock.millis());
            }
            return added;
        });
    }

    public boolean removeMember(String chatId, String personId) {
        return jdbi.withHandle(h -> h.createUpdate("delete from chat_members where chat_id = :c and person_id = :p")
                .bind("c", chatId).bind("p", personId).execute()) > 0;
    }

    /** Each chat of a person with its newest sequence number: where a new stream starts. */
    public Map<String, Long> lastSeqs(String personId) {
        return jdbi.withHandle(h -> h.createQuery("select c.id, c.last_seq from chat_members m"
                        + " join chat_chats c on c.id = m.chat_id where m.person_id = :p")
                .bind("p", personId)
                .reduceRows(new HashMap<String, Long>(), (map, row) -> {
                    map.put(row.getColumn(1, String.class), row.getColumn(2, Long.class));
                    return map;
                }));
    }

    /**
     * {@link #lastSeqs(String)} of many people at once (a few hundred per query), for streams that
     * catch up after the bus may have missed events. Someone in no chat is absent from the result.
     */
    public Map<String, Map<String, Long>> lastSeqsOf(Collection<String> personIds) {
        Map<String, Map<String, Long>> all = new HashMap<>();
        List<String> people = List.copyOf(personIds);
        for (int from = 0; from < people.size(); from += LAST_SEQS_BATCH) {
            List<String> batch = people.subList(from, Math.min(people.size(), from + LAST_SEQS_BATCH));
            jdbi.useHandle(h -> h.createQuery("select m.person_id, c.id, c.last_seq from chat_members m"
                            + " join chat_chats c on c.id = m.chat_id where m.person_id in (<people>)")
                    .bindList("people", batch)
                    .reduceRows(all, (map, row) -> {
                        map.computeIfAbsent(row.getColumn(1, String.class), p -> new HashMap<>())
                                .put(row.getColumn(2, String.class), row.getColumn(3, Long.class));
                        return map;
                    }));
        }
        return all;
    }

    private static final int LAST_SEQS_BATCH = 500;

    /** A person's chats, newest activity first, after {@code cursor} (null: from the top). */
    public List<ChatSummary> list(String personId, ListCursor cursor, int limit) {
        return jdbi.withHandle(h -> {
            String after = cursor == null ? ""
                    : " and (c.last_activity_at < :t or (c.last_activity_at = :t and c.id < :cid))";
            var query = h.createQuery("select c.*, m.last_read_seq as my_last_read,"
                            + " (select count(*) from chat_messages x where x.chat_id = c.id and x.seq > m.last_read_seq"
                            + "   and x.sender_id <> :p and x.deleted_at is null) as unread,"
                            + " lm.id as lm_id, lm.sender_id as lm_sender, lm.body as lm_body, lm.created_at as lm_created,"
                            + " lm.rev as lm_rev, lm.deleted_at as lm_deleted"
                            + " from chat_members m join chat_chats c on c.id = m.chat_id"
                            + " left join chat_messages lm on lm.chat_id = c.id and lm.seq = c.last_seq"
                            + " where m.person_id = :p" + after
                            + " order by c.last_activity_at desc, c.id desc limit :limit")
                    .bind("p", personId)
                    .bind("limit", limit);
            if (cursor != null) {
                query.bind("t", cursor.lastActivityAt()).bind("cid", cursor.chatId());
            }
            List<ChatSummary> page = query.map((rs, ctx) -> {
                ChatInfo chat = chatRow(rs, ctx);
                Message last = rs.getString("lm_id") == null ? null : new Message(rs.getString("lm_id"), chat.id(),
                        chat.lastSeq(), rs.getString("lm_sender"), rs.getString("lm_body"),
                        Instant.ofEpochMilli(rs.getLong("lm_created")), rs.getLong("lm_rev"), instant(rs, "lm_deleted"));
                return new ChatSummary(chat, last, rs.getLong("my_last_read"), rs.getLong("unread"));
            }).list();
            if (page.isEmpty()) {
                return page;
            }
            Map<String, List<String>> members = new LinkedHashMap<>();
            h.createQuery("select m.chat_id, m.person_id from chat_members m join chat_chats c on c.id = m.chat_id"
                            + " where m.chat_id in (<ids>)" + MEMBER_ORDER)
                    .bindList("ids", page.stream().map(s -> s.chat().id()).toList())
                    .map((rs, ctx) -> Map.entry(rs.getString(1), rs.getString(2)))
                    .forEach(e -> members.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue()));
            return page.stream().map(s -> new ChatSummary(s.chat().withMembers(members.getOrDefault(s.chat().id(), List.of())),
                    s.lastMessage(), s.lastReadSeq(), s.unread())).toList();
        });
    }

    /**
     * Messages of a chat in ascending order: with {@code after}, those that follow it; with
     * {@code before}, the newest {@code limit} that precede it; with both, the window between;
     * with neither, the newest {@code limit}. Tombstones are included.
     */
    public List<Message> messages(String chatId, Long after, Long before, int limit) {
        return jdbi.withHandle(h -> {
            StringBuilder sql = new StringBuilder("select * from chat_messages where chat_id = :c");
            if (after != null) {
                sql.append(" and seq > :after");
            }
            if (before != null) {
                sql.append(" and seq < :before");
            }
            boolean newestFirst = after == null;
            sql.append(newestFirst ? " order by seq desc" : " order by seq asc").append(" limit :limit");
            var query = h.createQuery(sql.toString()).bind("c", chatId).bind("limit", limit);
            if (after != null) {
                query.bind("after", after);
            }
            if (before != null) {
                query.bind("before", before);
            }
            List<Message> page = new ArrayList<>(query.map(ChatStore::messageRow).list());
            if (newestFirst) {
                Collections.reverse(page);
            }
            return page;
        });
    }

    /**
     * Messages up to {@code maxSeq} deleted after change {@code rev}: what a returning client
     * missed of deletions. Each tombstone carries the revision of its deletion.
     */
    public List<Message> deletedSince(String chatId, long rev, long maxSeq) {
        return jdbi.withHandle(h -> h.createQuery("select * from chat_messages where chat_id = :c and deleted_rev > :rev"
                        + " and seq <= :max order by deleted_rev")
                .bind("c", chatId).bind("rev", rev).bind("max", maxSeq)
                .map((rs, ctx) -> {
                    Message m = messageRow(rs, ctx);
                    return new Message(m.id(), m.chatId(), m.seq(), m.senderId(), null, m.sentAt(),
                            rs.getLong("deleted_rev"), m.deletedAt());
                }).list());
    }

    /** Read positions that moved after change {@code rev}. */
    public List<Receipt> receiptsSince(String chatId, long rev) {
        return jdbi.withHandle(h -> h.createQuery("select person_id, last_read_seq, read_rev from chat_members"
                        + " where chat_id = :c and read_rev > :rev order by read_rev")
                .bind("c", chatId).bind("rev", rev)
                .map((rs, ctx) -> new Receipt(chatId, rs.getString(1), rs.getLong(2), rs.getLong(3))).list());
    }

    /** Turns a message into a tombstone, if {@code personId} sent it. */
    public Deletion delete(String chatId, long seq, String personId) {
        return jdbi.inTransaction(h -> {
            Optional<Message> found = h.createQuery("select * from chat_messages where chat_id = :c and seq = :s")
                    .bind("c", chatId).bind("s", seq).map(ChatStore::messageRow).findOne();
            if (found.isEmpty()) {
                return new Deletion(DeleteOutcome.NOT_FOUND, null);
            }
            Message message = found.get();
            if (!message.senderId().equals(personId)) {
                return new Deletion(DeleteOutcome.NOT_SENDER, message);
            }
            if (message.deleted()) {
                return new Deletion(DeleteOutcome.ALREADY_DELETED, message);
            }
            long now = clock.millis();
            long rev = nextRev(h, chatId);
            // Conditional, so two deletions racing on PostgreSQL tombstone the message once.
            int changed = h.createUpdate("update chat_messages set body = null, deleted_at = :now, deleted_rev = :rev"
                            + " where chat_id = :c and seq = :s and deleted_at is null")
                    .bind("now", now).bind("rev", rev).bind("c", chatId).bind("s", seq).execute();
            if (changed == 0) {
                h.rollback();
                return new Deletion(DeleteOutcome.ALREADY_DELETED, message);
            }
            return new Deletion(DeleteOutcome.DELETED, new Message(message.id(), chatId, seq, message.senderId(), null,
                    message.sentAt(), rev, Instant.ofEpochMilli(now)));
        });
    }

    /**
     * Moves a member's read position forward to {@code seq} (never back). Returns the new
     * receipt, or empty when the position did not move.
     */
    public Optional<Receipt> markRead(String chatId, String personId, long seq) {
        return jdbi.inTransaction(h -> {
            long current = h.createQuery("select last_read_seq from chat_members where chat_id = :c and person_id = :p")
                    .bind("c", chatId).bind("p", personId).mapTo(Long.class).findOne().orElse(Long.MAX_VALUE);
            if (seq <= current) {
                return Optional.empty();
            }
            long rev = nextRev(h, chatId);
            // Conditional: two receipts racing on PostgreSQL never move the position back.
            int moved = h.createUpdate("update chat_members set last_read_seq = :s, read_rev = :rev"
                            + " where chat_id = :c and person_id = :p and last_read_seq < :s")
                    .bind("s", seq).bind("rev", rev).bind("c", chatId).bind("p", personId).execute();
            if (moved == 0) {
                h.rollback();
                return Optional.empty();
            }
            return Optional.of(new Receipt(chatId, personId, seq, rev));
        });
    }

    /** A member's read position and the number of others' messages after it that are not deleted. */
    public Receipt readPosition(String chatId, String personId) {
        return jdbi.withHandle(h -> h.createQuery("select last_read_seq, read_rev from chat_members"
                        + " where chat_id = :c and person_id = :p")
                .bind("c", chatId).bind("p", personId)
                .map((rs, ctx) -> new Receipt(chatId, personId, rs.getLong(1), rs.getLong(2)))
                .findOne().orElse(new Receipt(chatId, personId, 0, 0)));
    }

    public long unread(String chatId, String personId, long afterSeq) {
        return jdbi.withHandle(h -> h.createQuery("select count(*) from chat_messages where chat_id = :c and seq > :s"
                        + " and sender_id <> :p and deleted_at is null")
                .bind("c", chatId).bind("s", afterSeq).bind("p", personId).mapTo(Long.class).one());
    }

    private static long nextRev(Handle h, String chatId) {
        return h.createQuery("update chat_chats set rev = rev + 1 where id = :c returning rev")
                .bind("c", chatId).mapTo(Long.class).one();
    }

    static ChatInfo chatRow(ResultSet rs, StatementContext ctx) throws SQLException {
        return new ChatInfo(rs.getString("id"), rs.getString("kind"), rs.getString("title"), rs.getString("created_by"),
                Instant.ofEpochMilli(rs.getLong("created_at")), rs.getLong("last_seq"), rs.getLong("rev"),
                Instant.ofEpochMilli(rs.getLong("last_activity_at")), List.of());
    }

    static Message messageRow(ResultSet rs, StatementContext ctx) throws SQLException {
        return new Message(rs.getString("id"), rs.getString("chat_id"), rs.getLong("seq"), rs.getString("sender_id"),
                rs.getString("body"), Instant.ofEpochMilli(rs.getLong("created_at")), rs.getLong("rev"),
                instant(rs, "deleted_at"));
    }

    private static Instant instant(ResultSet rs, String column) throws SQLException {
        long millis = rs.getLong(column);
        return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
    }
}
