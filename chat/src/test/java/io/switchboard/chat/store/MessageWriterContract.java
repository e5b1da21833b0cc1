package io.switchboard.chat.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.store.Store;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.LongStream;
import javax.sql.DataSource;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Group-committed messages on a real store: numbering, idempotency, delivery order, back-pressure. */
abstract class MessageWriterContract {
    Store store;
    ChatStore chats;
    MessageWriter writer;
    final List<Message> committed = Collections.synchronizedList(new ArrayList<>());
    /** Each committed transaction's messages, as handed over for delivery. */
    final List<List<Message>> deliveries = Collections.synchronizedList(new ArrayList<>());

    abstract Store openStore() throws Exception;

    /** After the store is closed: drop what {@link #openStore()} made. */
    void dropStore() throws Exception {
    }

    @BeforeEach
    void open() throws Exception {
        store = openStore();
        store.migrate("chat");
        chats = new ChatStore(store.jdbi(), Clock.systemUTC());
        writer = new MessageWriter(store.jdbi(), Clock.systemUTC(), 10_000, messages -> {
            deliveries.add(List.copyOf(messages));
            committed.addAll(messages);
        });
        writer.start();
    }

    @AfterEach
    void close() throws Exception {
        writer.close();
        store.close();
        dropStore();
    }

    private String chat(String creator, String... others) {
        return chats.create(creator, List.of(others), others.length > 1 ? "group" : null, null, null).chat().id();
    }

    private static MessageWriter.Sent sent(CompletableFuture<MessageWriter.Sent> future) throws Exception {
        return future.get(20, TimeUnit.SECONDS);
    }

    @Test
    void concurrentSendersGetEveryNumberOnceWithoutGaps() throws Exception {
        String chat = chat("anna", "boris", "clara");
        int senders = 4;
        int each = 150;
        ExecutorService pool = Executors.newFixedThreadPool(senders);
        try {
            List<Future<List<Long>>> results = new ArrayList<>();
            for (int s = 0; s < senders; s++) {
                String sender = List.of("anna", "boris", "clara", "anna").get(s);
                results.add(pool.submit(() -> {
                    List<CompletableFuture<MessageWriter.Sent>> pending = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        pending.add(writer.submit(chat, sender, "m" + i, null, "h"));
                    }
                    List<Long> seqs = new ArrayList<>();
                    for (CompletableFuture<MessageWriter.Sent> p : pending) {
                        seqs.add(sent(p).message().seq());
                    }
                    return seqs;
                }));
            }
            List<Long> all = new ArrayList<>();
            for (Future<List<Long>> r : results) {
                List<Long> mine = r.get();
                assertThat(mine).isSorted();
                all.addAll(mine);
            }
            long total = (long) senders * each;
            assertThat(all).containsExactlyInAnyOrderElementsOf(LongStream.rangeClosed(1, total).boxed().toList());
            assertThat(chats.lastSeq(chat)).contains(total);
            assertThat(committed).extracting(Message::seq).containsExactlyElementsOf(LongStream.rangeClosed(1, total).boxed().toList());
            assertThat(chats.messages(chat, 0L, null, 1000)).hasSize((int) total);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aKeyIsStoredOnceWhetherTheRetryCameLaterOrInTheSameBatch() throws Exception {
        String chat = chat("anna", "boris");
        MessageWriter.Sent first = sent(writer.submit(chat, "anna", "hello", "key-1", "hash-a"));
        MessageWriter.Sent later = sent(writer.submit(chat, "anna", "hello", "key-1", "hash-a"));
        assertThat(first.replayed()).isFalse();
        assertThat(later.replayed()).isTrue();
        assertThat(later.message().id()).isEqualTo(first.message().id());
        assertThat(later.message().seq()).isEqualTo(first.message().seq());

        // many retries queued at once usually share a batch
        List<CompletableFuture<MessageWriter.Sent>> burst = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            burst.add(writer.submit(chat, "boris", "same", "key-2", "hash-b"));
        }
        List<String> ids = new ArrayList<>();
        for (CompletableFuture<MessageWriter.Sent> f : burst) {
            ids.add(sent(f).message().id());
        }
        assertThat(ids).containsOnly(ids.getFirst());
        assertThat(burst.stream().filter(f -> !f.join().replayed()).count()).isEqualTo(1);

        assertThatThrownBy(() -> sent(writer.submit(chat, "anna", "changed", "key-1", "hash-other")))
                .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(ChatStore.IdempotencyConflict.class);
        assertThat(chats.lastSeq(chat)).contains(2L);
        // replays are delivered again (streams drop what they have), but only two messages exist
        assertThat(committed.stream().map(Message::id).distinct()).hasSize(2);
    }

    /** One key used for two chats in one batch: the request that came first is stored, whatever the chat ids' order. */
    @Test
    void theFirstUseOfAKeyInABatchWinsEvenForALaterChatId() throws Exception {
        String one = chat("anna", "boris");
        String two = chat("anna", "clara");
        String later = one.compareTo(two) > 0 ? one : two;
        String earlier = later.equals(one) ? two : one;
        CompletableFuture<MessageWriter.Sent> first = new CompletableFuture<>();
        CompletableFuture<MessageWriter.Sent> second = new CompletableFuture<>();
        writer.store(List.of(new MessageWriter.Send(later, "anna", "first", "key-x", "hash-first", first),
                new MessageWriter.Send(earlier, "anna", "second", "key-x", "hash-second", second)));
        assertThat(sent(first).message().chatId()).isEqualTo(later);
        assertThat(sent(first).replayed()).isFalse();
        assertThatThrownBy(() -> sent(second)).hasCauseInstanceOf(ChatStore.IdempotencyConflict.class);
        assertThat(chats.lastSeq(earlier)).contains(0L);
    }

    /**
     * The connection breaks while COMMIT is on its way (here: the commit goes through, then the
     * driver reports a broken connection, SQLSTATE 08006). The sender must hear "may have been
     * stored", never "not stored"; its retry with the same key gets the stored message, and that
     * message is then delivered, since its first delivery never happened.
     */
    @Test
    void aCommitWhoseAnswerIsLostIsReportedUnknownAndTheRetryDeliversTheMessage() throws Exception {
        // Only a database across a network can lose the answer to a COMMIT; SQLite's commit is a
        // call into the same process (and the writer commits it with a statement, not commit()).
        org.junit.jupiter.api.Assumptions.assumeFalse(store.isSqlite(), "SQLite's COMMIT has no answer to lose");
        String chat = chat("anna", "boris");
        AtomicBoolean breakCommit = new AtomicBoolean(true);
        List<Message> published = Collections.synchronizedList(new ArrayList<>());
        MessageWriter flaky = new MessageWriter(Jdbi.create(commitLosingAnswer(store.dataSource(), breakCommit)),
                Clock.systemUTC(), 100, published::addAll);
        flaky.start();
        try {
            CompletableFuture<MessageWriter.Sent> lost = flaky.submit(chat, "anna", "hello", "key-9", "hash-9");
            assertThatThrownBy(() -> sent(lost)).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(MessageWriter.OutcomeUnknown.class);
            assertThat(chats.lastSeq(chat)).as("the commit went through").contains(1L);
            assertThat(published).isEmpty();

            breakCommit.set(false);
            MessageWriter.Sent retry = sent(flaky.submit(chat, "anna", "hello", "key-9", "hash-9"));
            assertThat(retry.replayed()).isTrue();
            assertThat(retry.message().seq()).isEqualTo(1);
            assertThat(published).extracting(Message::id).containsExactly(retry.message().id());
        } finally {
            flaky.close();
        }
    }

    /** {@code source} whose connections commit, then throw as if the answer to COMMIT was lost. */
    private static DataSource commitLosingAnswer(DataSource source, AtomicBoolean breakCommit) {
        return (DataSource) Proxy.newProxyInstance(DataSource.class.getClassLoader(), new Class<?>[] {DataSource.class},
                (proxy, method, args) -> {
                    Object result = invoke(source, method, args);
                    if (!(result instanceof Connection connection)) {
                        return result;
                    }
                    return Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                            (p, m, a) -> {
                                Object r = invoke(connection, m, a);
                                if (m.getName().equals("commit") && breakCommit.get()) {
                                    throw new SQLException("An I/O error occurred while sending to the backend.", "08006");
                                }
                                return r;
                            });
                });
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /**
     * Keys are not looked up before a batch is written: a retry in a batch of new messages makes
     * the insert meet the unique index, and the batch is written again with its keys looked up.
     * The retry gets the stored message, the new ones are stored once, and no number is skipped.
     */
    @Test
    void aRetryInABatchOfNewMessagesGetsTheStoredOneAndTheOthersAreStoredOnce() throws Exception {
        String chat = chat("anna", "boris");
        MessageWriter.Sent first = sent(writer.submit(chat, "anna", "hello", "key-1", "hash-a"));
        List<CompletableFuture<MessageWriter.Sent>> futures = new ArrayList<>();
        List<MessageWriter.Send> batch = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            CompletableFuture<MessageWriter.Sent> done = new CompletableFuture<>();
            futures.add(done);
            batch.add(i == 2 ? new MessageWriter.Send(chat, "anna", "hello", "key-1", "hash-a", done)
                    : new MessageWriter.Send(chat, "boris", "new " + i, i % 2 == 0 ? "key-new-" + i : null, "h" + i, done));
        }
        deliveries.clear();
        long rewrittenBefore = writer.rewrittenBatches();
        writer.store(batch);
        // written again as one batch (one transaction), not one by one, and counted
        assertThat(writer.rewrittenBatches()).isEqualTo(rewrittenBefore + 1);
        assertThat(deliveries).hasSize(1);
        assertThat(deliveries.getFirst()).hasSize(5);
        MessageWriter.Sent retried = sent(futures.get(2));
        assertThat(retried.replayed()).isTrue();
        assertThat(retried.message().id()).isEqualTo(first.message().id());
        List<Long> numbers = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            if (i != 2) {
                MessageWriter.Sent stored = sent(futures.get(i));
                assertThat(stored.replayed()).isFalse();
                numbers.add(stored.message().seq());
            }
        }
        assertThat(numbers).containsExactly(2L, 3L, 4L, 5L);
        assertThat(chats.lastSeq(chat)).contains(5L);
        assertThat(committed.stream().map(Message::id).distinct()).hasSize(5);
    }

    @Test
    void aMessageToAChatThatDoesNotExistFailsAloneAndOthersInItsBatchAreStored() throws Exception {
        String chat = chat("anna", "boris");
        List<CompletableFuture<MessageWriter.Sent>> batch = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            batch.add(writer.submit(i == 5 ? "no-such-chat" : chat, "anna", "m" + i, null, "h"));
        }
        for (int i = 0; i < 10; i++) {
            if (i == 5) {
                assertThatThrownBy(batch.get(i)::join).hasMessageContaining("no-such-chat");
            } else {
                assertThat(batch.get(i).join().message().chatId()).isEqualTo(chat);
            }
        }
        assertThat(chats.lastSeq(chat)).contains(9L);
    }

    @Test
    void theSendersReadPositionFollowsTheirOwnMessages() throws Exception {
        String chat = chat("anna", "boris");
        sent(writer.submit(chat, "anna", "one", null, "h"));
        sent(writer.submit(chat, "anna", "two", null, "h"));
        assertThat(chats.readPosition(chat, "anna").seq()).isEqualTo(2);
        assertThat(chats.readPosition(chat, "boris").seq()).isZero();
        assertThat(chats.unread(chat, "boris", 0)).isEqualTo(2);
        assertThat(chats.unread(chat, "anna", 0)).isZero();
    }

    @Test
    void aFullQueueRefusesAtOnce() {
        MessageWriter tiny = new MessageWriter(store.jdbi(), Clock.systemUTC(), 100, messages -> { });
        // not started: nothing drains the queue
        for (int i = 0; i < 100; i++) {
            tiny.submit("c", "anna", "m", null, "h");
        }
        assertThatThrownBy(tiny.submit("c", "anna", "one too many", null, "h")::join)
                .hasCauseInstanceOf(MessageWriter.Overloaded.class);
        tiny.close();
    }
}
