package io.switchboard.chat.stream;

import io.javalin.websocket.WsContext;
import io.switchboard.chat.events.ChatEvent;
import io.switchboard.chat.store.Message;
import io.switchboard.chat.store.Receipt;
import io.switchboard.platform.auth.Principal;
import io.switchboard.platform.http.WebSocketSilence;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
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
 * <p><b>Reorder wait.</b> Most gaps are not losses. In a cluster, consecutive messages of a chat
 * are often posted through different nodes; a node hands its own commits to its streams at once,
 * while another node's arrive over the bus milliseconds later, so a stream routinely sees N+2
 * before N+1. Replaying each such gap costs a store query per stream per gap (measured: one
 * delivery in seven on three nodes). So a gap first waits up to {@code chat.streamReorderWait}:
 * the messages that came ahead of it are held by sequence (at most {@code maxAhead} per chat); when
 * the missing one comes, it is sent and then the held ones in order, up to the next gap, which
 * waits afresh. If the wait runs out or the holding is full, the gap is replayed as before: the
 * newest held sequence is folded into the mark and the held frames dropped, since the replay reads
 * them from the store. A catch-up or a resume that replays a chat folds them the same way. One
 * timer per chat at most, on the hub's timer thread; it acts only if its chat still has held
 * messages past their deadline (a gap that closed, a newer gap with a later deadline, a chat left
 * or a stream closed make it do nothing or wait for the remainder). A held message keeps its
 * commit time, so the latency meter shows the wait.
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

    /** Most messages held ahead of a gap per chat (fewer with a small queue limit, as they are sent at once). */
    private static final int MAX_AHEAD = 64;

    private final Socket socket;
    private final StreamHub hub;
    private final Clock clock;
    private final int queueLimit;
    private final int replayPage;
    private final int maxAhead;
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
        /** Messages that came ahead of the gap after {@code delivered}, by sequence; null when there is no gap. */
        TreeMap<Long, Ahead> ahead;
        /** When the gap after {@code delivered} stops being waited for ({@link StreamHub#nanoTime()}). */
        long reorderDeadline;
        /** A reorder timer is scheduled for this chat: never more than one. */
        boolean reorderTimerPending;

        Cursor(long delivered) {
            this.delivered = delivered;
            this.mark = delivered;
        }
    }

    private record Held(ChatEvent event, String frame) {
    }

    private record Ahead(String frame, long committedAtMillis) {
    }

    /** Where a stream's frames go: its WebSocket session (tests give a recorder). */
    interface Socket {
        /** Sends asynchronously; {@code written} is completed when the frame is written or failed. */
        void send(String frame, Callback written);

        /** Sends a close frame; {@code written} completes when it is written or cannot be. */
        void close(int code, String reason, Callback written);

        default void close(int code, String reason) {
            close(code, reason, Callback.NOOP);
        }

        /** How long the client has sent no frame at all, pongs included. */
        default Duration silentFor() {
            return Duration.ZERO;
        }

        static Socket of(WsContext ctx) {
            return new Socket() {
                @Override
                public void send(String frame, Callback written) {
                    ctx.session.sendText(frame, written);
                }

                @Override
                public void close(int code, String reason, Callback written) {
                    ctx.session.close(code, reason, written);
                }

                @Override
                public Duration silentFor() {
                    return WebSocketSilence.of(ctx);
                }
            };
        }
    }

    /** Where a returning client left a chat: the last message it has and, optionally, the last change. */
    record ResumePoint(long seq, Long rev) {
    }

    StreamConnection(WsContext ctx, Principal principal, String accessToken, StreamHub hub, Clock clock, int queueLimit) {
        this(Socket.of(ctx), principal, accessToken, hub, clock, queueLimit);
    }

    StreamConnection(Socket socket, Principal principal, String accessToken, StreamHub hub, Clock clock, int queueLimit) {
        this.socket = socket;
        this.principal = principal;
        this.accessToken = accessToken;
        this.hub = hub;
        this.clock = clock;
        this.queueLimit = queueLimit;
        // A page must fit in the room a replay waits for (half the limit), with room to spare for live frames.
        this.replayPage = Math.max(1, Math.min(MAX_REPLAY_PAGE, queueLimit / 4));
        // Held messages go out at once when their gap closes: the same room as a replay page.
        this.maxAhead = Math.max(1, Math.min(MAX_AHEAD, queueLimit / 4));
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
        long seq = message.seq();
        long committedAt = message.sentAt().toEpochMilli();
        if (seq <= cursor.delivered) {
            return;
        }
        if (seq == cursor.delivered + 1) {
            send(frame, Delivery.LIVE, committedAt);
            cursor.delivered = seq;
            if (cursor.ahead != null) {
                sendAhead(cursor);
            }
            return;
        }
        if (hub.reorderWaitNanos() > 0 && holdAhead(message.chatId(), cursor, seq, frame, committedAt)) {
            return;
        }
        replayGap(message.chatId(), cursor, seq);
    }

    /**
     * Holds a message that came ahead of a gap, starting the wait if this is the gap's first; false
     * when it cannot be held (the holding is full, or the hub's timers have stopped) and the gap
     * must be replayed. A message already held is dropped.
     */
    private boolean holdAhead(String chatId, Cursor cursor, long seq, String frame, long committedAt) {
        if (cursor.ahead == null) {
            if (!cursor.reorderTimerPending) {
                if (!hub.scheduleReorderCheck(this, () -> reorderWaitOver(chatId, cursor), hub.reorderWaitNanos())) {
                    return false;
                }
                cursor.reorderTimerPending = true;
            }
            // With a timer already pending (set for an earlier gap), it finds this later deadline and waits on.
            cursor.ahead = new TreeMap<>();
            cursor.reorderDeadline = hub.nanoTime() + hub.reorderWaitNanos();
        }
        if (cursor.ahead.containsKey(seq)) {
            return true;
        }
        if (cursor.ahead.size() >= maxAhead) {
            return false;
        }
        cursor.ahead.put(seq, new Ahead(frame, committedAt));
        return true;
    }

    /** The gap closed: sends the held messages that now follow, in order, up to the next gap (which waits afresh). */
    private void sendAhead(Cursor cursor) {
        hub.metrics().gapReordered();
        cursor.ahead.headMap(cursor.delivered, true).clear();
        Map.Entry<Long, Ahead> next;
        while ((next = cursor.ahead.firstEntry()) != null && next.getKey() == cursor.delivered + 1) {
            cursor.ahead.pollFirstEntry();
            send(next.getValue().frame(), Delivery.LIVE, next.getValue().committedAtMillis());
            cursor.delivered = next.getKey();
        }
        if (cursor.ahead.isEmpty()) {
            cursor.ahead = null;
        } else {
            cursor.reorderDeadline = hub.nanoTime() + hub.reorderWaitNanos();
        }
    }

    /**
     * The reorder timer of {@code cursor}: replays its gap if it is still open past its deadline.
     * Does nothing for a gap that closed, a chat left (a new cursor), or a closed stream; waits the
     * remainder for a gap that opened after the one it was set for.
     */
    private synchronized void reorderWaitOver(String chatId, Cursor cursor) {
        cursor.reorderTimerPending = false;
        if (closed || cursors.get(chatId) != cursor || cursor.ahead == null) {
            return;
        }
        long left = cursor.reorderDeadline - hub.nanoTime();
        if (left > 0 && hub.scheduleReorderCheck(this, () -> reorderWaitOver(chatId, cursor), left)) {
            cursor.reorderTimerPending = true;
            return;
        }
        replayGap(chatId, cursor, cursor.ahead.lastKey());
    }

    /** A gap that was not filled live: the chat replays from the store up to at least {@code seq}. */
    private void replayGap(String chatId, Cursor cursor, long seq) {
        hub.metrics().gapReplayed();
        foldAhead(cursor);
        cursor.replaying = true;
        cursor.mark = Math.max(cursor.mark, seq);
        hub.replay(this, () -> {
            replayMessages(chatId);
            return null;
        });
    }

    /** Drops the messages held ahead of a gap, raising the mark to the newest: a replay reads them from the store. */
    private static void foldAhead(Cursor cursor) {
        if (cursor.ahead != null) {
            if (!cursor.ahead.isEmpty()) {
                cursor.mark = Math.max(cursor.mark, cursor.ahead.lastKey());
            }
            cursor.ahead = null;
        }
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
                if (cursor.ahead != null) {
                    hub.metrics().gapReplayed(); // the gap it was waiting on goes to the store with the rest
                    foldAhead(cursor);
                }
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
     *
     * @return false when the stream had started already (these points are not followed); true
     *     when it starts now or is closed
     */
    boolean start(Map<String, ResumePoint> resume) {
        List<String> unknown = new ArrayList<>();
        Map<String, ResumePoint> toReplay = new LinkedHashMap<>();
        List<String> caughtUp;
        synchronized (this) {
            if (started || closed) {
                return closed;
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
                    foldAhead(cursor);
                    cursor.mark = Math.max(cursor.mark, cursor.delivered);
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
        return true;
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
            List<Message> page = hub.missedMessages(chatId, from, replayPage);
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
        socket.send(frame, Callback.from(() -> {
            written();
            switch (kind) {
                case LIVE -> hub.metrics().delivered(clock.millis() - committedAtMillis);
                case REPLAY -> hub.metrics().replayed();
                case CONTROL -> { }
            }
        }, failure -> written()));
    }

    /** How long the client has sent nothing, not even a pong. */
    Duration silentFor() {
        return socket.silentFor();
    }

    /** Counts a frame from the client that could not be understood; too many and the stream is closed. */
    synchronized boolean badFrame() {
        badFrames++;
        if (badFrames >= MAX_BAD_FRAMES && !closed) {
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

    /** Closes the stream; the answer completes once the close frame is written (at once if it was closed already). */
    synchronized CompletableFuture<Void> close(int code, String reason) {
        CompletableFuture<Void> written = new CompletableFuture<>();
        if (closed) {
            written.complete(null);
            return written;
        }
        closed = true;
        held = null;
        hub.unregister(this);
        try {
            socket.close(code, reason, Callback.from(() -> written.complete(null), failure -> written.complete(null)));
        } catch (RuntimeException e) {
            // already closing
            written.complete(null);
        }
        return written;
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
