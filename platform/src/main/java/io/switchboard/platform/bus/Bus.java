package io.switchboard.platform.bus;

import java.util.function.Consumer;

/**
 * Events between the parts of a node, and between nodes: a module publishes what happened
 * ({@code chat.events}: a message was committed) and whoever cares subscribes, on this node and,
 * with a bus that spans nodes, on every other. Modules meet here instead of importing each other.
 *
 * <p>Contract: every subscriber of a topic receives every event published to it after it
 * subscribed, in the order one publisher published them; between nodes ({@link RabbitBus}) an
 * event may arrive twice and, while a node is cut off, not at all, so subscribers treat events as
 * notifications and the store as the truth. Events are plain records that Jackson can write and
 * read. Handlers run on the bus's delivery thread (the publisher's own for local delivery,
 * RabbitMQ's consumer thread for events from other nodes): they should hand slow work to another
 * thread, and may wait only to apply back-pressure. A handler that throws is logged and counted;
 * the others still receive the event.
 */
public interface Bus {
    /** Delivers {@code event} to the topic's subscribers. */
    void publish(String topic, Object event);

    /**
     * Subscribes to a topic; events are given to {@code handler} as {@code type}.
     *
     * @return call {@link Subscription#close()} to stop receiving
     */
    <T> Subscription subscribe(String topic, Class<T> type, Consumer<T> handler);

    /** An active subscription. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
