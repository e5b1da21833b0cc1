package io.switchboard.chat.stream;

import io.switchboard.chat.ChatMetrics;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.ChatStore;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The open streams of this node, by person, and the delivery of committed chat events to them.
 * An event's frame is written once and shared by every stream it goes to. Replays (reading missed
 * messages from the store) run on virtual threads, never on the thread that delivers events.
 */
public final class StreamHub {
    private static final Logger log = LoggerFactory.getLogger(StreamHub.class);

    private final Map<String, Set<StreamConnection>> byPerson = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final ChatStore store;
    private final StreamFrames frames;
    private final ChatMetrics metrics;
    private final ExecutorService replays = Executors.newVirtualThreadPerTaskExecutor();

    StreamHub(ChatStore store, StreamFrames frames, ChatMetrics metrics) {
        this.store = store;
        this.frames = frames;
        this.metrics = metrics;
    }

    /** Gives a committed event to every open stream of its recipients. Does not block. */
    public void deliver(ChatEvent event) {
        String shared = event instanceof ChatEvent.MembersChanged ? null : frames.of(event, null);
        for (String recipient : event.recipients()) {
            Set<StreamConnection> streams = byPerson.get(recipient);
            if (streams == null) {
                continue;
            }
            String frame = shared != null ? shared : frames.of(event, recipient);
            for (StreamConnection stream : streams) {
                stream.onEvent(event, frame);
            }
        }
    }

    void register(StreamConnection stream) {
        byPerson.computeIfAbsent(stream.personId(), p -> ConcurrentHashMap.newKeySet()).add(stream);
        open.incrementAndGet();
    }

    void unregister(StreamConnection stream) {
        byPerson.computeIfPresent(stream.personId(), (person, streams) -> {
            if (streams.remove(stream)) {
                open.decrementAndGet();
            }
            return streams.isEmpty() ? null : streams;
        });
    }

    /** Open streams on this node. */
    public int streams() {
        return open.get();
    }

    void forEach(java.util.function.Consumer<StreamConnection> action) {
        byPerson.values().forEach(streams -> streams.forEach(action));
    }

    /**
     * Runs a replay for a stream on a virtual thread. If it fails (the store is unreachable), the
     * stream cannot know what it missed, so it is closed with 1011 and the client resumes later.
     */
    void replay(StreamConnection stream, Callable<Void> work) {
        replays.submit(() -> {
            try {
                work.call();
            } catch (Exception e) {
                log.warn("replaying missed chat events to a stream of {} failed: {}", stream.personId(), e.toString());
                stream.close(1011, "could not read missed messages; reconnect and resume");
            }
            return null;
        });
    }

    ChatStore store() {
        return store;
    }

    StreamFrames frames() {
        return frames;
    }

    ChatMetrics metrics() {
        return metrics;
    }

    void shutdown() {
        replays.shutdownNow();
    }
}
