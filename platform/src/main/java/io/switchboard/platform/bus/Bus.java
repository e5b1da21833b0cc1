package io.switchboard.platform.bus;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Events between the parts of a node, and between nodes: a module publishes what happened
 * ({@code chat.events}: a message was committed) and whoever cares subscribes, on this node and,
 * with a bus that spans nodes, on every other. Modules meet here instead of importing each other.
 *
 * <p><b>Events.</b> Every subscriber of a topic receives every event published to it after it
 * subscribed, in the order one publisher published them; between nodes ({@link RabbitBus}) an
 * event may arrive twice and, while a node is cut off, not at all, so subscribers treat events as
 * notifications and the store as the truth. Events are plain records that Jackson can write and
 * read. Handlers run on the bus's delivery thread (the publisher's own for local delivery,
 * RabbitMQ's consumer thread for events from other nodes): they should hand slow work to another
 * thread, and may wait only to apply back-pressure. A handler that throws is logged and counted;
 * the others still receive the event.
 *
 * <p><b>Catching up.</b> Whenever this node may have missed events of other nodes, the bus calls
 * its {@linkplain #onReconnected reconnection listeners}: after every (re)connection to the other
 * nodes, including the first, and after its consumer was cut while the connection itself looked
 * fine (a cancelled consumer, a closed channel: the bus reconnects then). The call comes once the
 * node receives again: every event published after the call began is delivered as usual, while
 * those published before it may have been lost, so a listener re-reads from the store what it
 * shows (the chat streams read the messages after the last one they delivered). A bus that never
 * misses events ({@link LocalBus}) never calls them.
 *
 * <p><b>Requests.</b> {@link #request} asks one responder of a topic ({@link #respond}), on this
 * node or another, for an answer. It returns a {@link CompletableFuture} rather than blocking:
 * callers include Netty event loops, which must not wait, and a caller that may block simply
 * {@code join()}s. The future always completes within the timeout: with the reply, with a
 * {@link java.util.concurrent.TimeoutException} (no responder, or none answered in time; the
 * request is then forgotten, so a late reply is dropped), or with a {@link BusRequestException}
 * (the responder failed, the bus cannot reach other nodes, or the reply cannot be read). Each
 * request is answered by at most one responder; which one, when several nodes respond to a topic,
 * is not specified (a responder on the requesting node is preferred). Responders run on virtual
 * threads and may block, within the caller's timeout. Messages and replies are Jackson records,
 * like events. A request is not retried by the bus: a responder may see it at most once.
 */
public interface Bus {
    /**
     * Whether events published here reach other nodes ({@link RabbitBus}). A module may skip work
     * that only other nodes need (announcing what this node changed) when it is false.
     */
    default boolean spansNodes() {
        return false;
    }

    /** Delivers {@code event} to the topic's subscribers. */
    void publish(String topic, Object event);

    /**
     * Subscribes to a topic; events are given to {@code handler} as {@code type}.
     *
     * @return call {@link Subscription#close()} to stop receiving
     */
    <T> Subscription subscribe(String topic, Class<T> type, Consumer<T> handler);

    /**
     * Registers {@code listener} to be called each time this node may have missed events from
     * other nodes and receives again (see the class comment); if the bus is connected already, it
     * is also called at once. It is called on a thread of its own and should return soon.
     */
    Subscription onReconnected(Runnable listener);

    /**
     * Asks a responder of {@code topic} and reads its answer as {@code replyType}.
     *
     * @param timeout how long to wait for the answer; positive
     * @return completes with the reply, or exceptionally (see the class comment), always within {@code timeout}
     */
    <R> CompletableFuture<R> request(String topic, Object message, Class<R> replyType, Duration timeout);

    /**
     * Answers requests on {@code topic}, read as {@code type}, with what {@code handler} returns
     * (a record, or null for an empty answer). A handler that throws makes the request fail with
     * a {@link BusRequestException} carrying its message.
     */
    <Q> Subscription respond(String topic, Class<Q> type, Function<Q, ?> handler);

    /** An active subscription. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
