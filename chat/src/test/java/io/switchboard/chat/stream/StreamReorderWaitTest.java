package io.switchboard.chat.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.chat.ChatMetrics;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.MessageWriter;
import io.switchboard.platform.auth.Principal;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reorder wait of a stream: a chat's messages that come out of order (N+2 before N+1, as
 * between nodes) are held for {@code chat.streamReorderWait} and sent in order when the missing one
 * comes; a gap still open after the wait, or too many held, is replayed from a real store. The
 * hub's timers and time are driven by hand, so nothing here depends on how fast the machine is;
 * only replays (a virtual thread reading the store) are awaited.
 */
class StreamReorderWaitTest {
    private static final Duration WAIT = Duration.ofMillis(100);
    private static final List<String> MEMBERS = List.of("anna", "boris");

    @TempDir
    Path dir;

    private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    private final StreamFrames frames = new StreamFrames(json);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ChatMetrics metrics = new ChatMetrics(registry);
    private final ManualTimers timers = new ManualTimers();
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final RecordingSocket socket = new RecordingSocket();
    private final List<Message> committed = new ArrayList<>();
    private Store store;
    private ChatStore chats;
    private MessageWriter writer;
    private StreamHub hub;
    private StreamConnection stream;
    private String chat;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("chat");
        chats = new ChatStore(store.jdbi(), Clock.systemUTC());
        writer = new MessageWriter(store.jdbi(), Clock.systemUTC(), 1000, batch -> {
            synchronized (committed) {
                committed.addAll(batch);
            }
        });
        writer.start();
        chat = chats.create("anna", List.of("boris"), null, null, null).chat().id();
    }

    @AfterEach
    void close() {
        if (hub != null) {
            hub.shutdown();
        }
        writer.close();
        store.close();
    }

    /** A started stream of anna's with the given reorder wait, at the start of the chat. */
    private void streamWith(Duration reorderWait) {
        hub = new StreamHub(chats, frames, metrics, reorderWait, timers, nanos::get);
        stream = new StreamConnection(socket, new Principal("anna", "anna", false), "token", hub, Clock.systemUTC(), 1000);
        hub.register(stream);
        stream.startFrom(Map.of(chat, 0L));
        stream.start(Map.of());
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.types().contains("synced"));
    }

    /** Stores {@code count} messages of boris's and returns them, oldest first. */
    private List<Message> post(int count) throws Exception {
        List<Message> posted = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            posted.add(writer.submit(chat, "boris", "m" + i, null, "h").get(20, TimeUnit.SECONDS).message());
        }
        return posted;
    }

    /** The live event of message {@code seq} reaching the stream, as a delivery lane hands it over. */
    private void arrives(List<Message> posted, long seq) {
        Message message = posted.get((int) seq - 1);
        stream.onEvent(new ChatEvent.MessagePosted(message, MEMBERS), frames.message(message));
    }

    private void passes(Duration time) {
        nanos.addAndGet(time.toNanos());
    }

    private double gaps(String outcome) {
        return registry.get("switchboard.chat.stream.gaps").tag("outcome", outcome).counter().count();
    }

    private double replayedMessages() {
        return registry.get("switchboard.chat.messages.replayed").counter().count();
    }

    private static List<Long> upTo(long last) {
        return LongStream.rangeClosed(1, last).boxed().toList();
    }

    @Test
    void aMessageThatComesBeforeTheOneMissingIsHeldAndSentAfterIt() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(4);
        arrives(posted, 1);
        arrives(posted, 3);
        arrives(posted, 4);
        assertThat(socket.seqs()).containsExactly(1L);

        passes(Duration.ofMillis(5));
        arrives(posted, 2);

        assertThat(socket.seqs()).containsExactly(1L, 2L, 3L, 4L);
        assertThat(gaps("reordered")).isEqualTo(1);
        assertThat(gaps("replayed")).isZero();
        assertThat(replayedMessages()).isZero();
        assertThat(registry.get("switchboard.chat.messages.delivered").counter().count()).isEqualTo(4);
        assertThat(timers.pending()).as("one timer for the gap, however many were held").isEqualTo(1);
    }

    @Test
    void aGapNeverFilledIsReplayedFromTheStoreAfterTheWaitOnceAndInOrder() throws Exception {
        streamWith(WAIT);
        List<Message> posted = new ArrayList<>(post(5));
        arrives(posted, 1);
        arrives(posted, 3);
        arrives(posted, 5);

        passes(WAIT.minusMillis(1));
        timers.fire();
        assertThat(gaps("replayed")).as("not before the wait is over").isZero();
        assertThat(timers.pending()).as("waits out the remainder").isEqualTo(1);
        assertThat(socket.seqs()).containsExactly(1L);

        passes(Duration.ofMillis(1));
        timers.fire();
        assertThat(gaps("replayed")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.seqs().size() >= 5);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(5));
        assertThat(replayedMessages()).isEqualTo(4);

        // the lost events turn up late, then the chat goes on live
        arrives(posted, 2);
        arrives(posted, 4);
        posted.addAll(post(1));
        arrives(posted, 6);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(6));
        assertThat(gaps("reordered")).isZero();
        assertThat(timers.pending()).isZero();
    }

    @Test
    void aFullHoldingIsReplayedAtOnce() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(67);
        arrives(posted, 1);
        for (long seq = 3; seq <= 66; seq++) {
            arrives(posted, seq); // 64 held: as many as a chat may hold
        }
        assertThat(gaps("replayed")).isZero();
        assertThat(socket.seqs()).containsExactly(1L);

        arrives(posted, 67);

        assertThat(gaps("replayed")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.seqs().size() >= 67);
        arrives(posted, 2);
        passes(WAIT);
        timers.fire();
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(67));
        assertThat(replayedMessages()).isEqualTo(66);
        assertThat(gaps("reordered")).isZero();
    }

    @Test
    void duplicatesAndOlderMessagesDuringTheWaitAreDropped() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(5);
        arrives(posted, 1);
        arrives(posted, 2);
        arrives(posted, 4);
        arrives(posted, 4);
        arrives(posted, 1);
        arrives(posted, 2);
        arrives(posted, 5);
        arrives(posted, 4);
        assertThat(socket.seqs()).containsExactly(1L, 2L);

        arrives(posted, 3);
        arrives(posted, 3);

        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(5));
        assertThat(gaps("reordered")).isEqualTo(1);
        assertThat(replayedMessages()).isZero();
    }

    @Test
    void aFurtherGapBehindTheHeldOnesWaitsAfresh() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(5);
        arrives(posted, 1);
        arrives(posted, 3);
        arrives(posted, 5);

        passes(Duration.ofMillis(80));
        arrives(posted, 2); // 2 and 3 go; 4 is still missing, waited for from now
        assertThat(socket.seqs()).containsExactly(1L, 2L, 3L);

        passes(Duration.ofMillis(50));
        timers.fire();
        assertThat(gaps("replayed")).as("130 ms after the first gap, but 50 ms into this one").isZero();

        arrives(posted, 4);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(5));
        assertThat(gaps("reordered")).isEqualTo(2);
        assertThat(replayedMessages()).isZero();
    }

    @Test
    void aStreamClosedDuringTheWaitSendsNothingMore() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(3);
        arrives(posted, 1);
        arrives(posted, 3);
        int framesBefore = socket.frames().size();

        stream.closed();
        passes(WAIT);
        timers.fire();
        arrives(posted, 2);

        assertThat(socket.frames()).hasSize(framesBefore);
        assertThat(socket.seqs()).containsExactly(1L);
        assertThat(gaps("replayed")).isZero();
        assertThat(gaps("reordered")).isZero();
        assertThat(timers.pending()).isZero();
        assertThat(socket.closes()).isEmpty();
    }

    @Test
    void withoutAWaitAGapIsReplayedAtOnceAsBefore() throws Exception {
        streamWith(Duration.ZERO);
        List<Message> posted = post(3);
        arrives(posted, 1);
        arrives(posted, 3);

        assertThat(gaps("replayed")).isEqualTo(1);
        assertThat(timers.pending()).isZero();
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.seqs().size() >= 3);
        arrives(posted, 2);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(3));
        assertThat(replayedMessages()).isEqualTo(2);
        assertThat(gaps("reordered")).isZero();
    }

    @Test
    void theTimerOfAGapThatClosedDoesNothingAndALaterGapGetsItsFullWait() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(5);
        arrives(posted, 1);
        arrives(posted, 3);
        arrives(posted, 2); // the gap closes; its timer is still scheduled

        passes(WAIT);
        timers.fire();
        assertThat(timers.pending()).isZero();
        assertThat(gaps("replayed")).isZero();
        assertThat(socket.seqs()).containsExactly(1L, 2L, 3L);

        arrives(posted, 5);
        arrives(posted, 4); // this gap closes too, its timer still scheduled
        passes(Duration.ofMillis(10));
        arrives(posted, 5);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(5));

        // a new gap while the timer of the old one is pending: that timer finds the later deadline
        List<Message> more = post(3);
        List<Message> all = new ArrayList<>(posted);
        all.addAll(more);
        arrives(all, 7);
        assertThat(timers.pending()).isEqualTo(1);
        passes(Duration.ofMillis(60));
        timers.fire(); // 160 ms after the gap at 4 opened, 60 ms into this one
        assertThat(gaps("replayed")).isZero();
        assertThat(timers.pending()).isEqualTo(1);
        assertThat(timers.lastDelay()).isEqualTo(Duration.ofMillis(40));

        passes(Duration.ofMillis(40));
        timers.fire();
        assertThat(gaps("replayed")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.seqs().size() >= 7);
        arrives(all, 8);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(8));
        assertThat(gaps("reordered")).isEqualTo(2);
    }

    @Test
    void aCatchUpReplaysAChatThatIsWaitingAndDropsWhatItHeld() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(4);
        arrives(posted, 1);
        arrives(posted, 3);

        assertThat(stream.catchUp(Map.of(chat, 4L))).isTrue();

        assertThat(gaps("replayed")).isEqualTo(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.seqs().size() >= 4);
        passes(WAIT);
        timers.fire();
        arrives(posted, 2);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(4));
        assertThat(replayedMessages()).isEqualTo(3);
    }

    /**
     * The periodic check for messages whose event never came: messages whose events arrive within
     * its grace (on their way over the bus when the store was read) are not replayed; a message
     * whose event never comes is.
     */
    @Test
    void thePeriodicCheckLeavesMessagesOnTheirWayToTheBusAndReplaysOnlyWhatNeverCame() throws Exception {
        streamWith(WAIT);
        List<Message> posted = post(3);
        arrives(posted, 1);

        java.util.concurrent.CompletableFuture<Void> check = hub.catchUpUnannounced(); // reads the store: 3 is the newest
        Thread.sleep(StreamHub.UNANNOUNCED_GRACE.toMillis() / 4);
        arrives(posted, 2);
        arrives(posted, 3);
        check.get(StreamHub.UNANNOUNCED_GRACE.toSeconds() + 10, TimeUnit.SECONDS);
        assertThat(replayedMessages()).isZero();
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(3));

        List<Message> all = new ArrayList<>(posted);
        all.addAll(post(1)); // its event never comes
        hub.catchUpUnannounced().get(StreamHub.UNANNOUNCED_GRACE.toSeconds() + 10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> socket.seqs().size() >= 4);
        assertThat(replayedMessages()).isEqualTo(1);
        assertThat(socket.seqs()).containsExactlyElementsOf(upTo(4));
    }

    /** Timers that run only when the test fires them: the stream decides from the hub's (hand-driven) time. */
    private static final class ManualTimers extends ScheduledThreadPoolExecutor {
        private final List<Runnable> scheduled = new ArrayList<>();
        private Duration lastDelay;

        ManualTimers() {
            super(1);
        }

        @Override
        public synchronized ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
            if (isShutdown()) {
                throw new java.util.concurrent.RejectedExecutionException("shut down");
            }
            scheduled.add(task);
            lastDelay = Duration.ofNanos(unit.toNanos(delay));
            return null;
        }

        /** Runs every timer scheduled so far (those they schedule wait for the next call). */
        void fire() {
            List<Runnable> due;
            synchronized (this) {
                due = List.copyOf(scheduled);
                scheduled.clear();
            }
            due.forEach(Runnable::run);
        }

        synchronized int pending() {
            return scheduled.size();
        }

        synchronized Duration lastDelay() {
            return lastDelay;
        }
    }
}
