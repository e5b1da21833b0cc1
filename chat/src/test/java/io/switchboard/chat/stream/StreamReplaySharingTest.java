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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Streams of one node that replay the same gap share one store read: a message that reaches the
 * node late costs one query per node, not one per stream that follows the chat.
 */
class StreamReplaySharingTest {
    private static final List<String> MEMBERS = List.of("anna", "boris", "clara");

    @TempDir
    Path dir;

    private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);
    private final StreamFrames frames = new StreamFrames(json);
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final ChatMetrics metrics = new ChatMetrics(registry);
    private final AtomicInteger reads = new AtomicInteger();
    /** While set, a store read waits for it (so that other streams ask while it is under way). */
    private final AtomicReference<CountDownLatch> readGate = new AtomicReference<>();
    private final AtomicReference<RuntimeException> readFailure = new AtomicReference<>();
    private Store store;
    private ChatStore chats;
    private MessageWriter writer;
    private StreamHub hub;
    private String chat;

    @BeforeEach
    void open() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("chat");
        chats = new ChatStore(store.jdbi(), Clock.systemUTC());
        writer = new MessageWriter(store.jdbi(), Clock.systemUTC(), 1000, batch -> { });
        writer.start();
        chat = chats.create("anna", List.of("boris", "clara"), null, null, null).chat().id();
        // the reorder wait is off: a gap replays at once
        hub = new StreamHub(chats, frames, metrics, Duration.ZERO,
                Executors.newSingleThreadScheduledExecutor(), System::nanoTime, (chatId, after, limit) -> {
                    reads.incrementAndGet();
                    CountDownLatch gate = readGate.get();
                    if (gate != null) {
                        try {
                            gate.await(20, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    RuntimeException failure = readFailure.get();
                    if (failure != null) {
                        throw failure;
                    }
                    return chats.messages(chatId, after, null, limit);
                });
    }

    @AfterEach
    void close() {
        hub.shutdown();
        writer.close();
        store.close();
    }

    private final Map<RecordingSocket, StreamConnection> streams = new java.util.HashMap<>();

    private RecordingSocket stream(String person) {
        RecordingSocket socket = new RecordingSocket();
        StreamConnection stream = new StreamConnection(socket, new Principal(person, person, false), "token", hub,
                Clock.systemUTC(), 1000);
        streams.put(socket, stream);
        hub.register(stream);
        stream.startFrom(Map.of(chat, 0L));
        stream.start(Map.of());
        await().atMost(Duration.ofSeconds(20)).until(() -> socket.types().contains("synced"));
        return socket;
    }

    private List<Message> post(int count) throws Exception {
        List<Message> posted = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            posted.add(writer.submit(chat, "anna", "m" + i, null, "h").get(20, TimeUnit.SECONDS).message());
        }
        return posted;
    }

    private void arrives(RecordingSocket socket, Message message, StreamFrames frames) {
        streams.get(socket).onEvent(new ChatEvent.MessagePosted(message, MEMBERS), frames.message(message));
    }

    private double replayReads(String outcome) {
        return registry.get("switchboard.chat.stream.replay.reads").tag("outcome", outcome).counter().count();
    }

    @Test
    void streamsWithTheSameGapShareOneRead() throws Exception {
        RecordingSocket boris = stream("boris");
        RecordingSocket clara = stream("clara");
        List<Message> posted = post(3);
        CountDownLatch gate = new CountDownLatch(1);
        readGate.set(gate);

        // message 2 is late on this node: both streams see 1, then 3
        for (RecordingSocket socket : List.of(boris, clara)) {
            arrives(socket, posted.get(0), frames);
            arrives(socket, posted.get(2), frames);
        }
        // the first replay's read is under way; the second stream asks for the same page and waits for it
        await().atMost(Duration.ofSeconds(10)).until(() -> replayReads("shared") == 1);
        assertThat(reads).hasValue(1);
        gate.countDown();

        await().atMost(Duration.ofSeconds(20)).until(() -> boris.seqs().size() == 3 && clara.seqs().size() == 3);
        assertThat(boris.seqs()).containsExactly(1L, 2L, 3L);
        assertThat(clara.seqs()).containsExactly(1L, 2L, 3L);
        assertThat(reads).as("one store read for both streams").hasValue(1);
        assertThat(replayReads("read")).isEqualTo(1);
    }

    @Test
    void aFailedSharedReadClosesEveryStreamThatWaitedForIt() throws Exception {
        RecordingSocket boris = stream("boris");
        RecordingSocket clara = stream("clara");
        List<Message> posted = post(3);
        CountDownLatch gate = new CountDownLatch(1);
        readGate.set(gate);
        readFailure.set(new IllegalStateException("the store is unreachable"));

        for (RecordingSocket socket : List.of(boris, clara)) {
            arrives(socket, posted.get(0), frames);
            arrives(socket, posted.get(2), frames);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> replayReads("shared") == 1);
        gate.countDown();

        // neither can know what it missed: both are told to come back and resume
        await().atMost(Duration.ofSeconds(20)).until(() -> boris.closes().contains(1011) && clara.closes().contains(1011));
        assertThat(reads).hasValue(1);
    }

    @Test
    void aLaterGapReadsAfresh() throws Exception {
        RecordingSocket boris = stream("boris");
        List<Message> posted = new ArrayList<>(post(3));
        arrives(boris, posted.get(0), frames);
        arrives(boris, posted.get(2), frames);
        await().atMost(Duration.ofSeconds(20)).until(() -> boris.seqs().size() == 3);
        posted.addAll(post(2));
        arrives(boris, posted.get(4), frames);
        await().atMost(Duration.ofSeconds(20)).until(() -> boris.seqs().size() == 5);
        assertThat(boris.seqs()).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(replayReads("shared")).isZero();
        assertThat(reads).hasValue(2);
    }
}
