package io.switchboard.platform.bus;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus of a single node: events go to this process's subscribers only, synchronously on the
 * publisher's thread, in publish order. Nothing is serialized or copied, so publishing costs a
 * method call per subscriber; that is also why handlers must not block.
 */
public final class LocalBus implements Bus {
    private static final Logger log = LoggerFactory.getLogger(LocalBus.class);

    private final Map<String, List<Handler<?>>> topics = new ConcurrentHashMap<>();
    private final Counter handlerFailures;

    private record Handler<T>(Class<T> type, Consumer<T> consumer) {
        void accept(Object event) {
            consumer.accept(type.cast(event));
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
}
