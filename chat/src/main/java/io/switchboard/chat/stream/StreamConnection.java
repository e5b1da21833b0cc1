package io.switchboard.chat.stream;

import io.javalin.websocket.WsContext;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.Receipt;
import io.switchboard.platform.auth.Principal;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.websocket.api.Callback;

/**
 * One open stream of one person: what has been delivered on it, per chat, and the frames on
 * their way out.
 *
 * <p><b>Nothing lost, nothing twice, in order.</b> Each chat has a cursor: the sequence number of
 * the last message delivered on this stream. A live message that is the next one is sent; one at
 * or below the cursor was already sent and is dropped; one beyond the next means messages are
 * missing (they were committed while this stream was resuming, or a bus between nodes reordered
 * them), so the chat switches to <i>replaying</i>: a virtual thread reads the missing messages from
 * the store and sends them, while live messages for that chat only raise the mark the replay must
 * reach; once it has, the chat is live again. Deletions and receipts are sent as they come.
 *
 * <p><b>Start.</b> The cursors start at each chat's newest message when the stream opens (taken
 * after the stream is registered, so no commit falls between). Live events are held back until the
 * client sends its first frame or the resume window passes: a client that returns sends
 * {@code resume} with the last sequence (and optionally revision) it saw per chat, and receives
 * what it missed before anything newer. Then {@code synced}.
 *
 * <p><b>Catching up.</b> Between nodes the bus may lose events while a node is cut off from it;
 * a chat with a lost message would only notice the gap at its next message. So when the bus
 * reconnects, the hub reads each person's newest sequence per chat and gives it to
 * {@link #catchUp}: a chat whose newest message is past the cursor replays, exactly as for a gap.
 *
 * <p><b>Slow consumers.</b> Frames go out through Jetty's asynchronous send; at most
 * {@code queueLimit} may be unwritten at once. Past that the stream is closed with code 4008, and
 * the client reconnects and resumes: bounded memory for the node, nothing lost for the client.
 *
 * <p>All state is guarded by this object's monitor; the store is read outside it.
 */
final class StreamConnection {
    static final int SLOW_CONSUMER = 4008;
    static final int TOKEN_EXPIRED = 4001;
    private static final int MAX_REPLAY_PAGE = 200;
    private static final int MAX_BAD_FRAMES = 20;
    /** How long a replay waits for the client to take frames before it counts as a slow consumer. */
    private static final long ROOM_TIMEOUT_NANOS = 10_000_000_000L;

    private final WsContext ctx;
    private final StreamHub hub;
    private final Clock clock;
    private final int queueLimit;
    private final int replayPage;
    private final AtomicInteger unwritten = new AtomicInteger();
    /** Signalled when frames are written, for a replay waiting for room. */
    private final Object room = new Object();
    private final Map<String, Cursor> cursors = new HashMap<>();
    private volatile Principal principal;
    private volatile String accessToken;
    private List<Held> held = new ArrayList<>();
    /** Newest sequences read by a catch-up before the stream started: applied when it starts. */
    private Map<String, Long> catchUpBeforeStart;
    private boolean started;
    private boolean closed;
    private int badFrames;

    private static final class Cursor {
        long delivered;
        long mark;
        boolean replaying;

        Cursor(long delivered) {
            this.delivered = delivered;
            this.mark = delivered;
        }
    }

    private record Held(ChatEvent event, String frame) {
    }

    /** Where a returning client left a chat: the last message it has and, optionally, the last change. */
    record ResumePoint(long seq, Long rev) {
    }

    StreamConnection(WsContext ctx, Principal principal, String accessToken, StreamHub hub, Clock clock, int queueLimit) {
        this.ctx = ctx;
        this.principal = principal;
        this.accessToken = accessToken;
        this.hub = hub;
        this.clock = clock;
        this.queueLimit = queueLimit;
        // A page must fit in the room a replay waits for (half the limit), with room to spare for live frames.
        this.replayPage = Math.max(1, Math.min(MAX_REPLAY_PAGE, queueLimit / 4));
    }

    String personId() {
        return principal.personId();
    }

    String accessToken() {
        return accessToken;
    }

    /** A fresh access token of the same person, sent by the client before the old one expires. */
    void renewToken(Principal renewed, String token) {
        this.principal = renewed;
        this.accessToken = token;
    }

    /** The cursors a new stream starts from: each chat's newest sequence number now. */
    synchronized void startFrom(Map<String, Long> lastSeqs) {
        lastSeqs.forEach((chat, seq) -> cursors.put(chat, new Cursor(seq)));
    }

    synchronized boolean isStarted() {
        return started;
    }

    /** A committed event for this person; {@code frame} is its text. */
    synchronized void onEvent(ChatEvent event, String frame) {
        if (closed) {
            return;
        }
        if (!started) {
            if (held.size() >= queueLimit) {
                closeSlow();
                return;
            }
            held.add(new Held(event, frame));
            return;
        }
        deliver(event, frame);
    }

    private void deliver(ChatEvent event, String frame) {
        switch (event) {
            case ChatEvent.MessagePosted posted -> onMessage(posted.message(), frame);
            case ChatEvent.MembersChanged changed -> {
                if (changed.removed().contains(personId())) {
                    cursors.remove(changed.chatId());
                } else {
                    cursors.putIfAbsent(changed.chatId(), new Cursor(changed.chat().lastSeq()));
                }
                send(frame, Delivery.CONTROL, 0);
            }
            case ChatEvent.MessageDeleted deleted -> {
                if (cursors.containsKey(deleted.chatId())) {
                    send(frame, Delivery.CONTROL, 0);
                }
            }
            case ChatEvent.ReadMoved moved -> {
                if (cursors.containsKey(moved.chatId())) {
                    send(frame, Delivery.CONTROL, 0);
                }
            }
        }
    }

    private void onMessage(Message message, String frame) {
        Cursor cursor = cursors.get(message.chatId());
        if (cursor == null) {
            // A chat this stream had no cursor for (joined a moment ago, the event of joining
            // still on its way): start it just before this message.
            cursor = new Cursor(message.seq() - 1);
            cursors.put(message.chatId(), cursor);
        }
        if (cursor.replaying) {
            cursor.mark = Math.max(cursor.mark, message.seq());
            return;
        }
        if (message.seq() <= cursor.delivered) {
            return;
        }
        if (message.seq() == cursor.delivered + 1) {
            send(frame, Delivery.LIVE, message.sentAt().toEpochMilli());
            cursor.delivered = message.seq();
            return;
        }
        cursor.replaying = true;
        cursor.mark = message.seq();
        String chatId = message.chatId();
        hub.replay(this, () -> {
            replayMessages(chatId);
            return null;
        });
    }

    /**
     * The newest sequence of each of this person's chats, read after the bus may have missed
     * events: each chat whose newest message is past what this stream delivered is replayed from
     * the store, as a gap is. A stream that has not started keeps them until it starts.
     *
     * @return whether a chat was behind (and is now being replayed)
     */
    boolean catchUp(Map<String, Long> lastSeqs) {
        List<String> behind;
        synchronized (this) {
            if (closed) {
                return false;
            }
            if (!started) {
                if (catchUpBeforeStart == null) {
                    catchUpBeforeStart = new HashMap<>();
                }
                lastSeqs.forEach((chat, seq) -> catchUpBeforeStart.merge(chat, seq, Math::max));
                return false;
            }
            behind = markBehind(lastSeqs);
        }
        for (String chatId : behind) {
            hub.replay(this, () -> {
                replayMessages(chatId);
                return null;
            });
        }
        return !behind.isEmpty();
    }

    /** Marks the chats behind {@code lastSeqs} as replaying; returns those that need a replay started. */
    private List<String> markBehind(Map<String, Long> lastSeqs) {
        List<String> behind = new ArrayList<>();
        lastSeqs.forEach((chat, seq) -> {
            Cursor cursor = cursors.get(chat);
            if (cursor == null) {
                // A chat joined while the event of joining was lost: from its newest message on,
                // as the members-changed event would have started it.
                cursors.put(chat, new Cursor(seq));
            } else if (seq > cursor.delivered) {
                cursor.mark = Math.max(cursor.mark, seq);
                if (!cursor.replaying) {
                    cursor.replaying = true;
                    behind.add(chat);
                }
            }
        });
        return behind;
    }

    /**
     * Starts delivering: {@code resume} holds the client's position per chat (empty for a fresh
     * client). Chats to resume are replayed from the store, then the events held since the stream
     * opened are delivered in order, then {@code synced} is sent.
     */
    void start(Map<String, ResumePoint> resume) {
        List<String> unknown = new ArrayList<>();
        Map<String, ResumePoint> toReplay = new LinkedHashMap<>();
        List<String> caughtUp;
        synchronized (this) {
            if (started || closed) {
                return;
            }
            started = true;
            resume.forEach((chat, point) -> {
                Cursor cursor = cursors.get(chat);
                if (cursor == null) {
                    unknown.add(chat);
                    return;
                }
                long from = Math.max(0, Math.min(point.seq(), cursor.delivered));
                if (from < cursor.delivered || point.rev() != null) {
                    cursor.mark = cursor.delivered;
                    cursor.delivered = from;
                    cursor.replaying = true;
                    toReplay.put(chat, new ResumePoint(from, point.rev()));
                }
            });
            for (Held h : held) {
                deliver(h.event(), h.frame());
            }
            held = null;
            caughtUp = catchUpBeforeStart == null ? List.of() : markBehind(catchUpBeforeStart);
            catchUpBeforeStart = null;
        }
        hub.replay(this, () -> {
            for (Map.Entry<String, ResumePoint> entry : toReplay.entrySet()) {
                replayMessages(entry.getKey());
                if (entry.getValue().rev() != null) {
                    replayChanges(entry.getKey(), entry.getValue());
                }
            }
            for (String chatId : caughtUp) {
                replayMessages(chatId);
            }
            Map<String, Long> positions = new LinkedHashMap<>();
            synchronized (this) {
                cursors.forEach((chat, cursor) -> positions.put(chat, cursor.delivered));
                send(hub.frames().control("synced", Map.of("chats", positions, "unknownChats", unknown)), Delivery.CONTROL, 0);
            }
            return null;
        });
    }

    /** Sends the messages of a replaying chat from the store until it has reached its mark. */
    private void replayMessages(String chatId) {
        int idleRounds = 0;
        while (true) {
            if (!awaitRoom()) {
                return;
            }
            long from;
            synchronized (this) {
                Cursor cursor = cursors.get(chatId);
                if (closed || cursor == null) {
                    return;
                }
                from = cursor.delivered;
            }
            List<Message> page = hub.store().messages(chatId, from, null, replayPage);
            synchronized (this) {
                Cursor cursor = cursors.get(chatId);
                if (closed || cursor == null) {
                    return;
                }
                for (Message message : page) {
                    if (message.seq() == cursor.delivered + 1) {
                        send(hub.frames().message(message), Delivery.REPLAY, 0);
                        cursor.delivered = message.seq();
                    }
                }
                if (page.size() < replayPage && cursor.delivered >= cursor.mark) {
                    cursor.replaying = false;
                    return;
                }
                idleRounds = page.isEmpty() ? idleRounds + 1 : 0;
                if (idleRounds > 500) {
                    // The mark names a message the store does not show after five seconds of
                    // asking; the stream cannot be made whole here, so the client is told to
                    // come back and resume rather than silently miss it.
                    close(1011, "missed messages could not be read; reconnect and resume");
                    return;
                }
            }
            if (page.isEmpty()) {
                sleepQuietly(10);
            }
        }
    }

    /** Deletions of messages the client already had, and read positions, changed after its revision. */
    private void replayChanges(String chatId, ResumePoint point) {
        List<Message> deletions = hub.store().deletedSince(chatId, point.rev(), point.seq());
        List<Receipt> receipts = hub.store().receiptsSince(chatId, point.rev());
        if (!awaitRoom()) {
            return;
        }
        synchronized (this) {
            for (Message deleted : deletions) {
                send(hub.frames().deleted(deleted), Delivery.CONTROL, 0);
            }
            for (Receipt receipt : receipts) {
                send(hub.frames().receipt(receipt), Delivery.CONTROL, 0);
            }
        }
    }

    /**
     * Waits until at most half the queue limit is unwritten; false (and the stream closed) if that
     * takes too long. Never holds the room monitor while taking this object's: a write callback may
     * run inside a send, which holds this object's, and then signals the room.
     */
    private boolean awaitRoom() {
        long deadline = System.nanoTime() + ROOM_TIMEOUT_NANOS;
        boolean timedOut = false;
        synchronized (room) {
            while (unwritten.get() > queueLimit / 2) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    timedOut = true;
                    break;
                }
                try {
                    room.wait(Math.max(1, left / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
        synchronized (this) {
            if (timedOut) {
                closeSlow();
            }
            return !closed;
        }
    }

    private void written() {
        if (unwritten.decrementAndGet() == queueLimit / 2) {
            synchronized (room) {
                room.notifyAll();
            }
        }
    }

    private enum Delivery { LIVE, REPLAY, CONTROL }

    /** Sends a control frame (pong, error) from outside: same ordering and limits as events. */
    synchronized void sendControl(String frame) {
        send(frame, Delivery.CONTROL, 0);
    }

    private void send(String frame, Delivery kind, long committedAtMillis) {
        if (closed) {
            return;
        }
        if (unwritten.incrementAndGet() > queueLimit) {
            unwritten.decrementAndGet();
            closeSlow();
            return;
        }
        ctx.session.sendText(frame, Callback.from(() -> {
            written();
            switch (kind) {
                case LIVE -> hub.metrics().delivered(clock.millis() - committedAtMillis);
                case REPLAY -> hub.metrics().replayed();
                case CONTROL -> { }
            }
        }, failure -> written()));
    }

    /** Counts a frame from the client that could not be understood; too many and the stream is closed. */
    synchronized boolean badFrame() {
        badFrames++;
        if (badFrames > MAX_BAD_FRAMES && !closed) {
            close(1008, "too many frames that are not understood");
            return false;
        }
        return true;
    }

    private void closeSlow() {
        if (!closed) {
            hub.metrics().rejected("slow_consumer");
            close(SLOW_CONSUMER, "slow consumer: too many frames waiting; reconnect and resume");
        }
    }

    synchronized void close(int code, String reason) {
        if (closed) {
            return;
        }
        closed = true;
        held = null;
        hub.unregister(this);
        try {
            ctx.closeSession(code, reason);
        } catch (RuntimeException e) {
            // already closing
        }
    }

    /** The socket closed on its own (client left, network gone). */
    synchronized void closed() {
        closed = true;
        held = null;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
