package io.switchboard.platform.bus;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus of a single node: events go to this process's subscribers only, synchronously on the
 * publisher's thread, in publish order. Nothing is serialized or copied, so publishing costs a
 * method call per subscriber; that is also why handlers must not block. It never misses an event,
 * so it never calls reconnection listeners. Requests go to this process's responders (in turn,
 * when a topic has several), each answered on a virtual thread; the message and the reply are
 * handed over as they are, so they must be of the types the two sides name.
 */
public final class LocalBus implements Bus {
    private static final Logger log = LoggerFactory.getLogger(LocalBus.class);

    private final Map<String, List<Handler<?>>> topics = new ConcurrentHashMap<>();
    private final Map<String, List<Responder<?>>> responders = new ConcurrentHashMap<>();
    private final AtomicInteger turn = new AtomicInteger();
    private final Counter handlerFailures;

    private record Handler<T>(Class<T> type, Consumer<T> consumer) {
        void accept(Object event) {
            consumer.accept(type.cast(event));
        }
    }

    /** A responder of a topic: the type it reads requests as, and what answers them. */
    record Responder<Q>(Class<Q> type, Function<Q, ?> handler) {
        Object answer(Object message) {
            return handler.apply(type.cast(message));
        }
    }

    public LocalBus(MeterRegistry meters) {
        this.handlerFailures = Counter.builder("switchboard.bus.handler.failures")
                .description("Bus events whose handler threw")
                .register(meters);
    }

    @Override
    public void publish(String topic, Object event) {
        List<Handler<?>> handlers = topics.get(topic);
        if (handlers == null) {
            return;
        }
        for (Handler<?> handler : handlers) {
            try {
                if (handler.type().isInstance(event)) {
                    handler.accept(event);
                } else {
                    throw new ClassCastException(event.getClass().getName() + " published to " + topic
                            + " is not the " + handler.type().getName() + " its subscriber expects");
                }
            } catch (RuntimeException e) {
                handlerFailures.increment();
                log.error("a handler of {} failed on {}", topic, event.getClass().getSimpleName(), e);
            }
        }
    }

    @Override
    public <T> Subscription subscribe(String topic, Class<T> type, Consumer<T> consumer) {
        Handler<T> handler = new Handler<>(type, consumer);
        topics.computeIfAbsent(topic, t -> new CopyOnWriteArrayList<>()).add(handler);
        return () -> topics.getOrDefault(topic, List.of()).remove(handler);
    }

    @Override
    public Subscription onReconnected(Runnable listener) {
        return () -> { };
    }

    @Override
    public <R> CompletableFuture<R> request(String topic, Object message, Class<R> replyType, Duration timeout) {
        requirePositive(timeout);
        CompletableFuture<R> reply = new CompletableFuture<R>().orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
        Responder<?> responder = responder(topic);
        if (responder == null) {
            return reply; // nobody answers: it times out, as between nodes
        }
        answer(topic, responder, message).whenComplete((answer, failure) -> {
            if (failure != null) {
                reply.completeExceptionally(failure);
            } else if (answer != null && !replyType.isInstance(answer)) {
                reply.completeExceptionally(new BusRequestException("the responder of " + topic + " answered a "
                        + answer.getClass().getName() + ", not the " + replyType.getName() + " asked for"));
            } else {
                reply.complete(replyType.cast(answer));
            }
        });
        return reply;
    }

    @Override
    public <Q> Subscription respond(String topic, Class<Q> type, Function<Q, ?> handler) {
        Responder<Q> responder = new Responder<>(type, handler);
        responders.computeIfAbsent(topic, t -> new CopyOnWriteArrayList<>()).add(responder);
        return () -> responders.getOrDefault(topic, List.of()).remove(responder);
    }

    /** The topics this process has responders for. */
    List<String> respondedTopics() {
        return responders.entrySet().stream().filter(e -> !e.getValue().isEmpty()).map(Map.Entry::getKey).toList();
    }

    /** One of the topic's responders, in turn; null if it has none. */
    Responder<?> responder(String topic) {
        List<Responder<?>> all = responders.get(topic);
        if (all == null || all.isEmpty()) {
            return null;
        }
        try {
            return all.get(Math.floorMod(turn.getAndIncrement(), all.size()));
        } catch (IndexOutOfBoundsException e) {
            return responder(topic); // one was removed meanwhile
        }
    }

    /** Runs {@code responder} on a virtual thread; its failure becomes a {@link BusRequestException}. */
    CompletableFuture<Object> answer(String topic, Responder<?> responder, Object message) {
        CompletableFuture<Object> answer = new CompletableFuture<>();
        if (!responder.type().isInstance(message)) {
            answer.completeExceptionally(new BusRequestException("a request on " + topic + " must be a "
                    + responder.type().getName() + ", not a " + (message == null ? "null" : message.getClass().getName())));
            return answer;
        }
        Thread.ofVirtual().name("bus-respond-" + topic).start(() -> {
            try {
                answer.complete(responder.answer(message));
            } catch (RuntimeException e) {
                handlerFailures.increment();
                log.warn("the responder of {} failed: {}", topic, e.toString());
                answer.completeExceptionally(new BusRequestException("the responder of " + topic + " failed: "
                        + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e));
            }
        });
        return answer;
    }

    static void requirePositive(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a bus request needs a positive timeout, not " + timeout);
        }
    }
}
