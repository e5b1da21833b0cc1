package io.switchboard.platform.bus;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bus of a cluster: events reach this node's subscribers at once (as with {@link LocalBus})
 * and every other node's through a RabbitMQ topic exchange, the topic as routing key, the event as
 * JSON with its class in the message's {@code type}.
 *
 * <p><b>Topology.</b> One durable topic exchange per cluster ({@code bus.exchange}); each node
 * declares its own exclusive, server-named queue bound to the topics it subscribes to. A node's
 * own events come back through its queue and are dropped by their {@code app-id} (the node's
 * random bus id): local subscribers already had them.
 *
 * <p><b>Outages.</b> RabbitMQ's automatic recovery covers neither the first connection nor
 * publishing while a connection is down, so this class does its own: one thread owns the
 * connection, (re)connects with back-off, declares the queue and its bindings, and publishes from
 * a bounded outbound queue with publisher confirms. A batch that was not confirmed is published
 * again after reconnecting, so an event can arrive twice, never silently not at all unless the
 * outbound queue overflowed during a long outage (counted in {@code switchboard_bus_dropped_total}).
 * Subscribers must therefore tolerate duplicates; events are notifications, the store is the truth.
 * Consumption uses auto-ack: what a node misses while disconnected it recovers from the store.
 *
 * <p><b>Safety.</b> An incoming event is deserialized only into a class that a subscriber of
 * its topic asked for (or a subtype of it), so the broker cannot make this node instantiate
 * arbitrary classes.
 */
public final class RabbitBus implements Bus, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RabbitBus.class);
    private static final int OUTBOUND_CAPACITY = 100_000;
    private static final int PUBLISH_BATCH = 500;
    private static final Duration CONFIRM_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(10);

    private final BusSettings settings;
    private final ObjectMapper json;
    private final LocalBus local;
    private final String busId = UUID.randomUUID().toString();
    private final BlockingQueue<Outgoing> outbound = new ArrayBlockingQueue<>(OUTBOUND_CAPACITY);
    private final Map<String, Set<Class<?>>> topics = new ConcurrentHashMap<>();
    /**
     * Incoming type names already looked up, by "topic\ntype name"; cleared when a subscription adds
     * a type, and when it would hold more than {@link #MAX_TYPE_NAMES} (a broker could send many names).
     */
    private final Map<String, Optional<Class<?>>> acceptedTypes = new ConcurrentHashMap<>();
    private static final int MAX_TYPE_NAMES = 1000;
    private final Thread owner;
    private final Counter published;
    private final Counter received;
    private final Counter droppedOverflow;
    private final Counter droppedUnreadable;
    private volatile boolean running = true;
    private volatile boolean connected;
    private volatile Connection connection;
    private volatile Channel consumerChannel;
    private volatile String queue;

    private record Outgoing(String topic, Object event) {
    }

    public RabbitBus(BusSettings settings, ObjectMapper json, MeterRegistry meters) {
        this.settings = settings;
        this.json = json;
        this.local = new LocalBus(meters);
        this.owner = Thread.ofPlatform().daemon().name("bus-rabbitmq").unstarted(this::run);
        Gauge.builder("switchboard.bus.connected", () -> connected ? 1 : 0)
                .description("1 while the node is connected to the RabbitMQ bus").register(meters);
        published = Counter.builder("switchboard.bus.published").description("Events sent to other nodes (confirmed by RabbitMQ)")
                .register(meters);
        received = Counter.builder("switchboard.bus.received").description("Events received from other nodes").register(meters);
        droppedOverflow = Counter.builder("switchboard.bus.dropped").tag("reason", "overflow")
                .description("Events not sent to, or not taken from, other nodes").register(meters);
        droppedUnreadable = Counter.builder("switchboard.bus.dropped").tag("reason", "unreadable")
                .description("Events not sent to, or not taken from, other nodes").register(meters);
    }

    /** Starts connecting in the background; the node does not wait for the broker. */
    public void start() {
        owner.start();
    }

    public boolean isConnected() {
        return connected;
    }

    /**
     * Delivers locally at once and queues the event for the other nodes; it is written as JSON on
     * the bus's own thread, not the publisher's (which is often a hot one, like the chat writer).
     */
    @Override
    public void publish(String topic, Object event) {
        local.publish(topic, event);
        if (!outbound.offer(new Outgoing(topic, event))) {
            droppedOverflow.increment();
        }
    }

    @Override
    public <T> Subscription subscribe(String topic, Class<T> type, Consumer<T> handler) {
        Subscription subscription = local.subscribe(topic, type, handler);
        acceptedTypes.clear();
        boolean newTopic = topics.computeIfAbsent(topic, t -> new CopyOnWriteArraySet<>()).add(type)
                && topics.get(topic).size() == 1;
        if (newTopic && connected) {
            bind(topic);
        }
        return subscription;
    }

    private void bind(String topic) {
        try {
            Channel channel = consumerChannel;
            if (channel != null && channel.isOpen()) {
                channel.queueBind(queue, settings.exchange(), topic);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("binding {} on the bus failed: {}; it is bound again when the connection is renewed", topic, e.toString());
        }
    }

    private void run() {
        long backoff = 200;
        List<Outgoing> unconfirmed = new ArrayList<>();
        while (running) {
            Channel publisher;
            try {
                publisher = connect();
                backoff = 200;
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                log.warn("RabbitMQ at {} is not reachable ({}); retrying in {} ms; events stay on this node meanwhile",
                        settings.url(), e.getMessage() == null ? e.toString() : e.getMessage(), backoff);
                sleep(backoff);
                backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
                continue;
            }
            try {
                while (running) {
                    if (unconfirmed.isEmpty()) {
                        Outgoing first = outbound.poll(200, TimeUnit.MILLISECONDS);
                        if (first == null) {
                            if (!connection.isOpen()) {
                                throw new IOException("connection closed");
                            }
                            continue;
                        }
                        unconfirmed.add(first);
                        outbound.drainTo(unconfirmed, PUBLISH_BATCH - 1);
                    }
                    for (Outgoing out : unconfirmed) {
                        byte[] body;
                        try {
                            body = json.writeValueAsBytes(out.event());
                        } catch (IOException e) {
                            droppedUnreadable.increment();
                            log.error("an event for {} cannot be written as JSON; other nodes will not see it", out.topic(), e);
                            continue;
                        }
                        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                                .contentType("application/json").type(out.event().getClass().getName()).appId(busId).build();
                        publisher.basicPublish(settings.exchange(), out.topic(), props, body);
                    }
                    publisher.waitForConfirmsOrDie(CONFIRM_TIMEOUT.toMillis());
                    published.increment(unconfirmed.size());
                    unconfirmed.clear();
                }
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } catch (Exception e) {
                if (running) {
                    log.warn("the RabbitMQ bus connection failed ({}); reconnecting, {} events wait to be sent again",
                            e.toString(), unconfirmed.size() + outbound.size());
                }
            } finally {
                disconnect();
            }
        }
        disconnect();
    }

    /** Connects, declares the exchange and this node's queue with its bindings, and starts consuming. */
    private Channel connect() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(settings.url().getHost());
        boolean tls = "amqps".equals(settings.url().getScheme());
        factory.setPort(settings.url().getPort() > 0 ? settings.url().getPort() : tls ? 5671 : 5672);
        factory.setVirtualHost(settings.virtualHost());
        if (tls) {
            factory.useSslProtocol(javax.net.ssl.SSLContext.getDefault());
            factory.enableHostnameVerification();
        }
        factory.setUsername(settings.user());
        factory.setPassword(settings.password());
        factory.setAutomaticRecoveryEnabled(false);
        factory.setConnectionTimeout(5000);
        factory.setRequestedHeartbeat(10);
        Connection opened = factory.newConnection("switchboard-" + busId);
        try {
            Channel consumer = opened.createChannel();
            consumer.exchangeDeclare(settings.exchange(), "topic", true);
            String declared = consumer.queueDeclare("", false, true, true, null).getQueue();
            for (String topic : topics.keySet()) {
                consumer.queueBind(declared, settings.exchange(), topic);
            }
            consumer.basicConsume(declared, true, new Receiver(consumer));
            Channel publisher = opened.createChannel();
            publisher.confirmSelect();
            connection = opened;
            consumerChannel = consumer;
            queue = declared;
            connected = true;
            // A topic subscribed while this connected saw connected == false and did not bind
            // itself; binding again is harmless, so every topic is bound once more now.
            for (String topic : topics.keySet()) {
                consumer.queueBind(declared, settings.exchange(), topic);
            }
            log.info("bus connected to RabbitMQ at {} (exchange {})", settings.url(), settings.exchange());
            return publisher;
        } catch (Exception e) {
            opened.abort();
            throw e;
        }
    }

    private void disconnect() {
        boolean was = connected;
        connected = false;
        Connection open = connection;
        connection = null;
        consumerChannel = null;
        if (open != null) {
            open.abort(1000);
        }
        if (was && running) {
            log.warn("bus disconnected from RabbitMQ");
        }
    }

    /** For tests: drops the connection as a broker restart or a network fault would. */
    void dropConnectionForTest() {
        Connection open = connection;
        if (open != null) {
            open.abort();
        }
    }

    private final class Receiver extends DefaultConsumer {
        Receiver(Channel channel) {
            super(channel);
        }

        @Override
        public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            if (busId.equals(props.getAppId())) {
                return;
            }
            String topic = envelope.getRoutingKey();
            Class<?> type = acceptedType(topic, props.getType());
            if (type == null) {
                droppedUnreadable.increment();
                log.warn("an event on {} of type {} is not one this node reads; dropped", topic, props.getType());
                return;
            }
            Object event;
            try {
                event = json.readValue(body, type);
            } catch (IOException e) {
                droppedUnreadable.increment();
                log.warn("an event on {} could not be read as {}: {}", topic, type.getSimpleName(), e.getMessage());
                return;
            }
            received.increment();
            local.publish(topic, event);
        }
    }

    /** The class named by an incoming event, if a subscriber of the topic takes it (looked up once per topic and name). */
    private Class<?> acceptedType(String topic, String typeName) {
        if (typeName == null) {
            return null;
        }
        if (acceptedTypes.size() >= MAX_TYPE_NAMES) {
            acceptedTypes.clear();
        }
        Optional<Class<?>> known = acceptedTypes.computeIfAbsent(topic + "\n" + typeName,
                k -> Optional.ofNullable(findAcceptedType(topic, typeName)));
        return known.orElse(null);
    }

    private Class<?> findAcceptedType(String topic, String typeName) {
        Set<Class<?>> wanted = topics.get(topic);
        if (wanted == null) {
            return null;
        }
        for (Class<?> type : wanted) {
            if (type.getName().equals(typeName)) {
                return type;
            }
            for (Class<?> permitted : permittedSubclasses(type)) {
                if (permitted.getName().equals(typeName)) {
                    return permitted;
                }
            }
        }
        return null;
    }

    /** The subtypes a sealed type permits, at any depth. */
    private static List<Class<?>> permittedSubclasses(Class<?> type) {
        List<Class<?>> all = new ArrayList<>();
        Class<?>[] direct = type.getPermittedSubclasses();
        if (direct != null) {
            for (Class<?> sub : direct) {
                all.add(sub);
                all.addAll(permittedSubclasses(sub));
            }
        }
        return all;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Sends what is queued (for up to two seconds), then closes the connection. */
    @Override
    public void close() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (connected && !outbound.isEmpty() && System.nanoTime() < deadline) {
            sleep(20);
        }
        running = false;
        owner.interrupt();
        try {
            owner.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        disconnect();
    }
}
