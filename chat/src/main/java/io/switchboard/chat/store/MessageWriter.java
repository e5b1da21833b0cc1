package io.switchboard.chat.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.store.GroupCommit;
import io.switchboard.platform.store.StatementCache;
import io.switchboard.platform.store.StoreFailure;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stores new messages with group commit. Senders queue their message; one writer thread takes
 * whatever has queued up and stores it in a single transaction: for each message it takes the
 * chat's next sequence number ({@code UPDATE ... RETURNING} on the chat's row, so numbers have no
 * gaps and no duplicates, on PostgreSQL across nodes too), inserts the message and moves the
 * sender's own read position. The numbering update only matches while the sender is a member, so
 * a sender who left a moment ago (on any node) cannot post. After the commit the new messages are
 * handed to {@code committed} for delivery (replayed ones too, see {@link OutcomeUnknown}), and only then is each sender's future completed — the
 * API's acknowledgement — so whatever the sender does next comes after the message's event.
 *
 * <p>Idempotency: a message sent with a key that the same sender used before is not stored
 * again; the first message is returned instead (or {@link ChatStore.IdempotencyConflict} when the
 * request differs). Within one batch a repeated key is found in the batch itself. Keys stored
 * earlier are not looked up before a batch is written (a round trip per message on the writer's
 * one thread, for keys that are nearly always new): the unique index
 * {@code chat_messages_idempotency} refuses a key used before, the batch rolls back, and it is
 * written again with each key looked up first. (PostgreSQL logs that refusal as an error.)
 *
 * <p>The batching is {@link GroupCommit}'s. If a batch fails otherwise, its messages are retried one
 * transaction each, so one bad message (or a key that another node stored a moment earlier)
 * fails alone; but when the store is unreachable the whole batch fails at once (retrying each
 * would only wait out the same timeouts). A send whose sender has given up (its future
 * cancelled, see the API's send timeout) is skipped if the writer has not begun on it. The queue is bounded: when the store is down or cannot keep up, a send is refused
 * at once ({@link Overloaded}).
 */
public final class MessageWriter implements AutoCloseable {
    /** Batches written a second time because a retried send's key met the unique index (see {@link #store(List, boolean)}). */
    private final LongAdder rewritten = new LongAdder();
    private static final Logger log = LoggerFactory.getLogger(MessageWriter.class);
    private static final int MAX_BATCH = 500;

    private final Jdbi jdbi;
    private final Clock clock;
    private final Consumer<List<Message>> committed;
    private final GroupCommit<Send> writer;
    /** The writer thread's statements, prepared once (see {@link StatementCache}). */
    private final StatementCache statements = new StatementCache();

    /** A message to store. {@code requestHash} identifies the request for idempotency. */
    public record Send(String chatId, String senderId, String text, String idempotencyKey, String requestHash,
                       CompletableFuture<Sent> done) {
    }

    /** A stored message; {@code replayed} when it was stored by an earlier request with the same key. */
    public record Sent(Message message, boolean replayed) {
    }

    /** The sender is not (or no longer) a member of the chat; the message names the chat. */
    public static final class NotMember extends RuntimeException {
        NotMember(String chatId) {
            super(chatId, null, false, false);
        }
    }

    /**
     * The connection failed while the batch was being committed: the database may have committed
     * it or not, and there is no asking (the answer to COMMIT was lost). A retry with the same
     * Idempotency-Key finds out without storing the message twice.
     */
    public static final class OutcomeUnknown extends RuntimeException {
        public OutcomeUnknown(Throwable cause) {
            super("the store did not confirm the commit: " + RootCause.message(cause), cause, false, false);
        }
    }

    /** The writer's queue is full or it is stopping. */
    public static final class Overloaded extends RuntimeException {
        Overloaded(String why) {
            super(why, null, false, false);
        }
    }

    public MessageWriter(Jdbi jdbi, Clock clock, int queueCapacity, Consumer<List<Message>> committed) {
        this(jdbi, clock, queueCapacity, Duration.ZERO, committed);
    }

    /** As above; under load the writer waits {@code commitDelay} for a fuller batch ({@link GroupCommit}). */
    public MessageWriter(Jdbi jdbi, Clock clock, int queueCapacity, Duration commitDelay,
                         Consumer<List<Message>> committed) {
        this.jdbi = jdbi;
        this.clock = clock;
        this.committed = committed;
        this.writer = new GroupCommit<>("chat-message-writer", queueCapacity, MAX_BATCH, commitDelay, this::store, (batch, e) -> {
            log.error("storing {} messages failed", batch.size(), e);
            batch.forEach(send -> send.done().completeExceptionally(e));
        });
    }

    public void start() {
        writer.start();
    }

    /** Queues a message; the future completes once it is committed, or fails. */
    public CompletableFuture<Sent> submit(String chatId, String senderId, String text, String idempotencyKey,
                                          String requestHash) {
        CompletableFuture<Sent> done = new CompletableFuture<>();
        if (!writer.offer(new Send(chatId, senderId, text, idempotencyKey, requestHash, done))) {
            done.completeExceptionally(new Overloaded("too many messages are waiting to be stored, or the node is stopping"));
        }
        return done;
    }

    public int backlog() {
        return writer.backlog();
    }

    /**
     * How many batches were written a second time, with their keys looked up, because a retried
     * send's key met the unique index: many of them (a storm of client retries after an outage)
     * each cost a rolled-back transaction.
     */
    public long rewrittenBatches() {
        return rewritten.sum();
    }

    /** Stores one batch and completes its sends; the writer thread's work (package-private for tests that cross two writers' batches). */
    void store(List<Send> queued) {
        store(queued, false);
    }

    /**
     * Stores a batch. Without {@code lookUpKeys} the idempotency keys are not looked up first:
     * nearly every key is new, and a lookup is a database round trip per message on the writer's
     * one thread. A key that was used before then makes its insert fail on the unique index
     * ({@code chat_messages_idempotency}), the whole transaction rolls back, and the batch is
     * written again with the keys looked up, so a retry still gets the message stored first.
     */
    private void store(List<Send> queued, boolean lookUpKeys) {
        // A sender whose request already timed out (its future cancelled) was told "not stored,
        // retry": keep it that way where the writer has not started on it yet.
        List<Send> batch = queued.stream().filter(send -> !send.done().isDone()).toList();
        if (batch.isEmpty()) {
            return;
        }
        List<Outcome> results;
        try {
            results = writeInTransaction(batch, lookUpKeys);
        } catch (RuntimeException e) {
            if (!lookUpKeys && !(e instanceof OutcomeUnknown) && StoreFailure.isUniqueViolation(e)) {
                // rolled back: a retry's key met the unique index; again, with the keys looked up
                log.debug("a batch of {} messages is written again with its keys looked up: {}", batch.size(),
                        RootCause.message(e));
                rewritten.increment();
                store(batch, true);
                return;
            }
            if (batch.size() == 1) {
                fail(batch.getFirst(), e);
                return;
            }
            if (e instanceof OutcomeUnknown) {
                // Storing them again one by one could store each twice: only a retry with the
                // sender's key can tell.
                log.warn("a batch of {} messages may or may not have been stored: {}", batch.size(), e.getMessage());
                batch.forEach(send -> send.done().completeExceptionally(e));
                return;
            }
            if (StoreFailure.kind(e).orElse(null) == StoreFailure.Kind.UNREACHABLE) {
                // The database is away: one by one, each message would wait the same timeouts
                // again while senders wait. They get 503 and retry (with their keys) instead.
                log.warn("a batch of {} messages was not stored: the store is unavailable ({})", batch.size(),
                        RootCause.message(e));
                batch.forEach(send -> send.done().completeExceptionally(e));
                return;
            }
            log.warn("a batch of {} messages failed ({}); storing them one by one", batch.size(), RootCause.message(e));
            for (Send send : batch) {
                store(List.of(send), true);
            }
            return;
        }
        // Replayed messages are delivered again too: the first request may have been committed
        // without its event ever being published (the answer to COMMIT was lost, OutcomeUnknown).
        // Streams drop a message they have already delivered (seq <= their position).
        Map<String, Message> delivered = new LinkedHashMap<>();
        for (Outcome outcome : results) {
            if (outcome.sent() != null) {
                delivered.putIfAbsent(outcome.sent().message().id(), outcome.sent().message());
            }
        }
        if (!delivered.isEmpty()) {
            try {
                committed.accept(List.copyOf(delivered.values()));
            } catch (RuntimeException e) {
                log.error("delivering {} committed messages failed", delivered.size(), e);
            }
        }
        for (int i = 0; i < batch.size(); i++) {
            Outcome outcome = results.get(i);
            if (outcome.sent() != null) {
                batch.get(i).done().complete(outcome.sent());
            } else {
                batch.get(i).done().completeExceptionally(outcome.refusal());
            }
        }
    }

    /** What became of one send in a batch: stored (or found stored), or refused. */
    private record Outcome(Sent sent, RuntimeException refusal) {
        static Outcome stored(Sent sent) {
            return new Outcome(sent, null);
        }

        static Outcome refused(RuntimeException why) {
            return new Outcome(null, why);
        }
    }

    private List<Outcome> writeInTransaction(List<Send> batch, boolean lookUpKeys) {
        AtomicBoolean written = new AtomicBoolean();
        try {
            return jdbi.withHandle(h -> statements.inTransaction(h, connection -> {
                List<Outcome> results = write(connection, batch, lookUpKeys);
                written.set(true);
                return results;
            }));
        } catch (SQLException e) {
            statements.clear();
            throw new IllegalStateException("storing messages failed: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            statements.clear();
            // Every statement went through, so this is the COMMIT failing (it follows the callback;
            // on PostgreSQL, since SQLite's arrives above as an SQLException and was rolled back).
            // An error the database answered means it rolled back; a connection that
            // broke or fell silent (socketTimeout) leaves the outcome unknown.
            if (written.get() && StoreFailure.kind(e).orElse(null) == StoreFailure.Kind.UNREACHABLE) {
                throw new OutcomeUnknown(e);
            }
            throw e;
        }
    }

    private static void fail(Send send, RuntimeException e) {
        log.warn("storing a message in chat {} failed: {}", send.chatId(), RootCause.message(e));
        send.done().completeExceptionally(e);
    }

    private static final String FIND_KEY = "select * from chat_messages where sender_id = ? and idempotency_key = ?";
    private static final String NEXT_SEQ = "update chat_chats set last_seq = last_seq + 1, rev = rev + 1,"
            + " last_activity_at = ? where id = ? and exists (select 1 from chat_members where chat_id = ? and person_id = ?)"
            + " returning last_seq, rev";
    private static final String INSERT = "insert into chat_messages (chat_id, seq, id, sender_id, body, created_at, rev,"
            + " idempotency_key, request_hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    private static final String READ_OWN = "update chat_members set last_read_seq = ?, read_rev = ?"
            + " where chat_id = ? and person_id = ? and last_read_seq < ?";

    /**
     * Writes a batch inside the caller's transaction. Returns one outcome per send, in the
     * batch's order. Plain JDBC: this is the hot path of every message.
     *
     * <p>The sends are written in the order of their chat ids (a stable sort: one chat's messages
     * keep their order, and a repeated key stays after its first use). Each numbering update locks its chat's row until the commit, so two
     * nodes whose batches hold the same chats in different orders would each wait for a row the
     * other holds: on PostgreSQL a deadlock, broken only after {@code deadlock_timeout} by
     * aborting one batch. Taking the rows in one fixed order makes that impossible; the
     * members' rows are updated afterwards, in the same order, and single-chat transactions
     * ({@link ChatStore}) also lock the chat's row before its members'.
     */
    private List<Outcome> write(Connection connection, List<Send> batch, boolean lookUpKeys) throws SQLException {
        long now = clock.millis();
        Outcome[] results = new Outcome[batch.size()];
        Integer[] order = new Integer[batch.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // A send that repeats an earlier send's sender and key (a retry, or the key reused for
        // another chat) sorts under the first one's chat, right after it: the first-come request
        // is the one stored, whatever the chat ids. (Should the first be refused, the later one
        // locks its chat out of order; PostgreSQL breaks that rare deadlock and the batch is
        // retried one by one.)
        Map<String, String> firstChatOfKey = new HashMap<>();
        String[] sortChat = new String[batch.size()];
        for (int i = 0; i < sortChat.length; i++) {
            Send send = batch.get(i);
            sortChat[i] = send.idempotencyKey() == null ? send.chatId()
                    : firstChatOfKey.computeIfAbsent(send.senderId() + "\n" + send.idempotencyKey(), k -> send.chatId());
        }
        java.util.Arrays.sort(order, java.util.Comparator.comparing(i -> sortChat[i]));
        Map<String, Earlier> keysInBatch = new HashMap<>();
        PreparedStatement findKey = statements.prepare(connection, FIND_KEY);
        PreparedStatement nextSeq = statements.prepare(connection, NEXT_SEQ);
        PreparedStatement insert = statements.prepare(connection, INSERT);
        PreparedStatement readOwn = statements.prepare(connection, READ_OWN);
        for (int index : order) {
            Send send = batch.get(index);
            String batchKey = send.idempotencyKey() == null ? null : send.senderId() + "\n" + send.idempotencyKey();
            if (batchKey != null) {
                Earlier earlier = keysInBatch.get(batchKey);
                if (earlier == null && lookUpKeys) {
                    earlier = stored(findKey, send);
                }
                if (earlier != null) {
                    results[index] = earlier.requestHash().equals(send.requestHash())
                            ? Outcome.stored(new Sent(earlier.message(), true))
                            : Outcome.refused(new ChatStore.IdempotencyConflict());
                    continue;
                }
            }
            long seq;
            long rev;
            nextSeq.setLong(1, now);
            nextSeq.setString(2, send.chatId());
            nextSeq.setString(3, send.chatId());
            nextSeq.setString(4, send.senderId());
            try (ResultSet rs = nextSeq.executeQuery()) {
                if (!rs.next()) {
                    // no such chat, or the sender is not in it
                    results[index] = Outcome.refused(new NotMember(send.chatId()));
                    continue;
                }
                seq = rs.getLong(1);
                rev = rs.getLong(2);
            }
            Message message = new Message(UUID.randomUUID().toString(), send.chatId(), seq, send.senderId(),
                    send.text(), Instant.ofEpochMilli(now), rev, null);
            insert.setString(1, send.chatId());
            insert.setLong(2, seq);
            insert.setString(3, message.id());
            insert.setString(4, send.senderId());
            insert.setString(5, send.text());
            insert.setLong(6, now);
            insert.setLong(7, rev);
            insert.setString(8, send.idempotencyKey());
            insert.setString(9, send.idempotencyKey() == null ? null : send.requestHash());
            insert.addBatch();
            readOwn.setLong(1, seq);
            readOwn.setLong(2, rev);
            readOwn.setString(3, send.chatId());
            readOwn.setString(4, send.senderId());
            readOwn.setLong(5, seq);
            readOwn.addBatch();
            if (batchKey != null) {
                keysInBatch.put(batchKey, new Earlier(message, send.requestHash()));
            }
            results[index] = Outcome.stored(new Sent(message, false));
        }
        insert.executeBatch();
        readOwn.executeBatch();
        return java.util.Arrays.asList(results);
    }

    /** A message stored before under the same sender's key, and the request that stored it. */
    private record Earlier(Message message, String requestHash) {
    }

    /** The message stored earlier under the send's key, or null when the key is new. */
    private static Earlier stored(PreparedStatement findKey, Send send) throws SQLException {
        findKey.setString(1, send.senderId());
        findKey.setString(2, send.idempotencyKey());
        try (ResultSet rs = findKey.executeQuery()) {
            if (!rs.next()) {
                return null;
            }
            long deletedAt = rs.getLong("deleted_at");
            Instant deleted = rs.wasNull() ? null : Instant.ofEpochMilli(deletedAt);
            Message message = new Message(rs.getString("id"), rs.getString("chat_id"), rs.getLong("seq"),
                    rs.getString("sender_id"), rs.getString("body"), Instant.ofEpochMilli(rs.getLong("created_at")),
                    rs.getLong("rev"), deleted);
            return new Earlier(message, String.valueOf(rs.getString("request_hash")));
        }
    }

    /** Stops taking messages and stores what is queued (waiting up to five seconds). */
    @Override
    public void close() {
        writer.close(new Overloaded("the node is stopping"));
    }
}
