package io.switchboard.platform.bus;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DatabindException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Address;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import com.rabbitmq.client.DefaultConsumer;
import com.rabbitmq.client.Envelope;
import com.rabbitmq.client.ShutdownSignalException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import java.util.function.Function;
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
 * random bus id): local subscribers already had them. Consecutive events of one topic that wait
 * to be sent together go as one message, a pack (see {@link #publishPacked}). Nodes of a version
 * from before packs drop them as unreadable, so during a rolling upgrade from such a version the
 * older nodes' streams catch up from the store and the registrations they learnt from other
 * nodes' announcements go stale until they are upgraded too (docs/operations.md, "Cluster bus").
 *
 * <p><b>Outages.</b> RabbitMQ's automatic recovery covers neither the first connection nor
 * publishing while a connection is down, so this class does its own: one thread owns the
 * connection, (re)connects with back-off, declares the queue and its bindings, and publishes from
 * a bounded outbound queue with publisher confirms. A batch that was not confirmed is published
 * again after reconnecting, so an event can arrive twice, never silently not at all unless the
 * outbound queue overflowed during a long outage (counted in {@code switchboard_bus_dropped_total}).
 * Subscribers must therefore tolerate duplicates; events are notifications, the store is the truth.
 * Consumption uses auto-ack: what a node misses while disconnected it recovers from the store,
 * which is why every (re)connection ends by calling the {@linkplain #onReconnected reconnection
 * listeners}, once the queue is bound and consumed. A consumer the broker cancelled (its queue was
 * deleted) or whose channel closed while the connection stayed up is noticed within
 * {@value #IDLE_POLL_MS} ms and handled as a lost connection: reconnect, then the listeners. The
 * back-off between attempts stays short (at most {@link #MAX_BACKOFF}) so that streams catch up
 * soon after the broker is back.
 *
 * <p><b>Requests.</b> A node that responds to a topic consumes a queue of its own name
 * ({@code <exchange>.requests.<topic>}, shared by every responding node, deleted with its last
 * consumer); a request is published to it through the default exchange with a correlation id,
 * {@code reply-to} RabbitMQ's direct reply-to pseudo-queue ({@code amq.rabbitmq.reply-to}, no
 * queue to declare or delete) and an expiration of the request's timeout, so a request nobody took
 * in time is discarded by the broker rather than answered late. With no queue (no responder) the
 * broker drops it and the request times out. Replies come back on the channel that sent the
 * request; when the connection is lost, waiting requests fail at once (their replies can no longer
 * arrive). A responder on this node answers in-process, without the broker.
 *
 * <p><b>Versions.</b> Events, requests and replies are read by the fields this node knows: a field
 * a newer node added is passed over, not a reason to drop the event, so a record may grow a field
 * between versions as long as a node that ignores it still does the right thing (anything else
 * is a new topic or a new type). Before this, a node dropped such an event as unreadable.
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
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(2);
    private static final long IDLE_POLL_MS = 200;
    /** How often a lingering publisher looks whether a whole batch is waiting. */
    private static final long LINGER_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    private static final Duration CHANNEL_RPC_TIMEOUT = Duration.ofSeconds(10);
    private static final String DIRECT_REPLY_TO = "amq.rabbitmq.reply-to";
    private static final String ERROR_HEADER = "switchboard-error";
    /** The {@code type} of a message that packs several events of one topic (see {@link #publishPacked}). */
    static final String PACKED_TYPE = "switchboard.bus.packed";
    private static final int PACK_EVENTS = 200;
    private static final int PACK_BYTES = 256 * 1024;

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
    private final List<Runnable> reconnectListeners = new CopyOnWriteArrayList<>();
    /** Requests sent to other nodes and not yet answered, by correlation id. */
    private final Map<String, Pending<?>> pending = new ConcurrentHashMap<>();
    /** The consumer tag of each request queue this node consumes, on the current connection. */
    private final Map<String, String> requestConsumers = new ConcurrentHashMap<>();
    private final Object responderLock = new Object();
    private final Thread owner;
    private final Counter published;
    private final Counter messages;
    private final Counter received;
    private final Counter droppedOverflow;
    private final Counter droppedUnreadable;
    private volatile boolean running = true;
    /** Set when {@link #close} begins: a lingering publisher sends at once. */
    private volatile boolean closing;
    /**
     * Events queued for the other nodes and not yet confirmed by the broker, whether still in the
     * queue or in the publisher's hands (a lingering batch included): {@link #close} waits until
     * none is left. Counted when queued, so no moment between the queue and the batch goes unseen.
     */
    private final AtomicInteger unconfirmedEvents = new AtomicInteger();
    private volatile boolean connected;
    private volatile Connection connection;
    private volatile Channel consumerChannel;
    /** Sends requests and replies, and receives replies (direct reply-to needs one channel for both). */
    private volatile Channel requestChannel;
    /** Set when this node's consumer was cancelled or its channel closed: the owner reconnects. */
    private volatile boolean consumerLost;
    private volatile String queue;

    private record Pending<R>(CompletableFuture<R> reply, Class<R> type) {
    }

    private record Outgoing(String topic, Object event) {
    }

    /** An event written as JSON, with its class name. */
    private record Written(String type, byte[] body) {
    }

    public RabbitBus(BusSettings settings, ObjectMapper json, MeterRegistry meters) {
        this.settings = settings;
        // a copy: the HTTP API keeps refusing fields it does not know, the bus passes them over (class comment)
        this.json = json.copy().disable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        this.local = new LocalBus(meters);
        this.owner = Thread.ofPlatform().daemon().name("bus-rabbitmq").unstarted(this::run);
        Gauge.builder("switchboard.bus.connected", () -> connected ? 1 : 0)
                .description("1 while the node is connected to the RabbitMQ bus").register(meters);
        published = Counter.builder("switchboard.bus.published").description("Events sent to other nodes (confirmed by RabbitMQ)")
                .register(meters);
        messages = Counter.builder("switchboard.bus.messages")
                .description("RabbitMQ messages sent to other nodes, a pack of events counting once").register(meters);
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

    @Override
    public boolean spansNodes() {
        return true;
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
        unconfirmedEvents.incrementAndGet();
        if (!outbound.offer(new Outgoing(topic, event))) {
            unconfirmedEvents.decrementAndGet();
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
        ConnectFailures failures = new ConnectFailures();
        long lastSentNanos = System.nanoTime() - settings.linger().toNanos();
        while (running) {
            Channel publisher;
            try {
                publisher = connect();
                backoff = 200;
                failures.connected();
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                // jittered, so that the nodes of a cluster do not all knock at once when it comes back
                long pause = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1);
                failures.failed(e, pause);
                sleep(pause);
                backoff = Math.min(backoff * 2, MAX_BACKOFF.toMillis());
                continue;
            }
            try {
                while (running) {
                    if (unconfirmed.isEmpty()) {
                        Outgoing first = outbound.poll(IDLE_POLL_MS, TimeUnit.MILLISECONDS);
                        if (first == null) {
                            checkConsuming();
                            continue;
                        }
                        unconfirmed.add(first);
                        lingerAfter(lastSentNanos);
                        outbound.drainTo(unconfirmed, PUBLISH_BATCH - 1);
                    }
                    checkConsuming();
                    lastSentNanos = System.nanoTime();
                    publishPacked(publisher, unconfirmed);
                    publisher.waitForConfirmsOrDie(CONFIRM_TIMEOUT.toMillis());
                    published.increment(unconfirmed.size());
                    unconfirmedEvents.addAndGet(-unconfirmed.size());
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

    /**
     * Waits until {@code bus.linger} has passed since the last send, or until a whole batch is
     * waiting: under load the next events then go as one fuller pack, and the broker, whose work
     * follows the number of messages rather than of events, routes fewer (docs/benchmarks/cluster.md).
     * After a quiet spell the last send is long past and nothing waits.
     */
    private void lingerAfter(long lastSentNanos) {
        long until = lastSentNanos + settings.linger().toNanos();
        long left;
        while (running && !closing && (left = until - System.nanoTime()) > 0 && outbound.size() < PUBLISH_BATCH - 1) {
            LockSupport.parkNanos(Math.min(left, LINGER_STEP_NANOS));
        }
    }

    /**
     * Publishes events in their order, consecutive events of one topic packed into one message (up
     * to {@link #PACK_EVENTS} events or {@link #PACK_BYTES} bytes). Events wait here while the
     * previous batch is confirmed, so under load a message carries many: the broker routes, queues
     * and delivers to every node once per message, and each node reads one frame, so packing cuts
     * the broker's and the receivers' work per event. A lone event goes as before, its class in
     * {@code type}; a pack has {@link #PACKED_TYPE} and a JSON array of {@code [class name, event]}
     * pairs.
     */
    private void publishPacked(Channel publisher, List<Outgoing> events) throws IOException {
        String topic = null;
        List<Written> pack = new ArrayList<>();
        int packBytes = 0;
        for (Outgoing out : events) {
            byte[] body;
            try {
                body = json.writeValueAsBytes(out.event());
            } catch (IOException e) {
                droppedUnreadable.increment();
                log.error("an event for {} cannot be written as JSON; other nodes will not see it", out.topic(), e);
                continue;
            }
            if (!pack.isEmpty() && (!out.topic().equals(topic) || pack.size() >= PACK_EVENTS
                    || packBytes + body.length > PACK_BYTES)) {
                sendPack(publisher, topic, pack);
                pack.clear();
                packBytes = 0;
            }
            topic = out.topic();
            pack.add(new Written(out.event().getClass().getName(), body));
            packBytes += body.length;
        }
        if (!pack.isEmpty()) {
            sendPack(publisher, topic, pack);
        }
    }

    private void sendPack(Channel publisher, String topic, List<Written> pack) throws IOException {
        if (pack.size() == 1) {
            AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                    .contentType("application/json").type(pack.get(0).type()).appId(busId).build();
            publisher.basicPublish(settings.exchange(), topic, props, pack.get(0).body());
            messages.increment();
            return;
        }
        java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream(4096);
        body.write('[');
        for (int i = 0; i < pack.size(); i++) {
            if (i > 0) {
                body.write(',');
            }
            body.write('[');
            body.write(json.writeValueAsBytes(pack.get(i).type()));
            body.write(',');
            body.write(pack.get(i).body());
            body.write(']');
        }
        body.write(']');
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder()
                .contentType("application/json").type(PACKED_TYPE).appId(busId).build();
        publisher.basicPublish(settings.exchange(), topic, props, body.toByteArray());
        messages.increment();
    }

    /**
     * The log of a broker that cannot be reached: the first failure, and each new kind of failure,
     * at once; the same failure again only once a minute with how long it has lasted (a node
     * retries every second or two, which was 2,000 lines an hour). A refused login is named as
     * such: it is a setting to fix, not an outage to wait out.
     */
    private final class ConnectFailures {
        private static final long REPEAT_EVERY_NANOS = 60_000_000_000L;
        private String last;
        private long since;
        private long loggedAt;
        private int attempts;

        void failed(Exception e, long pause) {
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            long now = System.nanoTime();
            attempts++;
            if (last == null) {
                since = now;
            }
            boolean login = e instanceof com.rabbitmq.client.AuthenticationFailureException;
            // also what a broker closing the connection during the handshake looks like (a
            // connection limit, amqps on an amqp port): the login may be at fault, or not
            boolean possiblyLogin = !login && e instanceof com.rabbitmq.client.PossibleAuthenticationFailureException;
            if (!why.equals(last) || now - loggedAt >= REPEAT_EVERY_NANOS) {
                String lasting = last == null ? "" : "; failing for " + (now - since) / 1_000_000_000L + " s, " + attempts + " attempts";
                if (login) {
                    log.warn("RabbitMQ at {} refused this node's login ({}): check bus.user and bus.password (and the"
                            + " user's permissions on the virtual host); retrying in {} ms{}", settings.describe(), why, pause, lasting);
                } else if (possiblyLogin) {
                    log.warn("RabbitMQ at {} closed the connection while this node signed in ({}): a refused login (check"
                            + " bus.user and bus.password), a connection limit, or amqps on a plain port; retrying in {} ms{}",
                            settings.describe(), why, pause, lasting);
                } else {
                    log.warn("RabbitMQ at {} is not reachable ({}); retrying in {} ms; events stay on this node meanwhile{}",
                            settings.describe(), why, pause, lasting);
                }
                loggedAt = now;
            }
            last = why;
        }

        void connected() {
            last = null; // "bus connected to RabbitMQ at …" follows from connect()
            attempts = 0;
        }
    }

    /** Connects, declares the exchange and this node's queue with its bindings, and starts consuming. */
    private Channel connect() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        boolean tls = "amqps".equals(settings.url().getScheme());
        // Several brokers (one RabbitMQ cluster): tried in a new random order at every connection,
        // the first that answers is used. Shuffled here, because amqp-client shuffles only with its
        // own automatic recovery, which this bus replaces: in the given order every node crowded
        // onto the first broker. When the connection is lost, the next attempt tries them all again.
        List<Address> brokers = new ArrayList<>(settings.urls().stream()
                .map(url -> new Address(url.getHost(), url.getPort() > 0 ? url.getPort() : tls ? 5671 : 5672)).toList());
        Collections.shuffle(brokers);
        factory.setVirtualHost(settings.virtualHost());
        if (tls) {
            factory.useSslProtocol(javax.net.ssl.SSLContext.getDefault());
            factory.enableHostnameVerification();
        }
        factory.setUsername(settings.user());
        factory.setPassword(settings.password());
        factory.setAutomaticRecoveryEnabled(false);
        factory.setConnectionTimeout(5000);
        // every channel call (declare, bind, consume, cancel) waits at most this long, not amqp-client's 10 minutes
        factory.setChannelRpcTimeout((int) CHANNEL_RPC_TIMEOUT.toMillis());
        factory.setRequestedHeartbeat(10);
        Connection opened = factory.newConnection(brokers, "switchboard-" + busId);
        try {
            Channel consumer = opened.createChannel();
            consumer.exchangeDeclare(settings.exchange(), "topic", true);
            String declared = consumer.queueDeclare("", false, true, true, null).getQueue();
            for (String topic : topics.keySet()) {
                consumer.queueBind(declared, settings.exchange(), topic);
            }
            consumerLost = false;
            consumer.basicConsume(declared, true, new Receiver(consumer));
            Channel publisher = opened.createChannel();
            publisher.confirmSelect();
            Channel requests = opened.createChannel();
            // direct reply-to: consume the pseudo-queue (auto-ack, as RabbitMQ requires) before sending any request
            requests.basicConsume(DIRECT_REPLY_TO, true, new ReplyReceiver(requests));
            connection = opened;
            consumerChannel = consumer;
            requestChannel = requests;
            queue = declared;
            synchronized (responderLock) {
                requestConsumers.clear();
                for (String topic : local.respondedTopics()) {
                    consumeRequests(topic);
                }
                connected = true;
            }
            for (String topic : topics.keySet()) {
                // A topic subscribed while this connected saw connected == false and did not bind
                // itself; binding again is harmless, so every topic is bound once more now.
                consumer.queueBind(declared, settings.exchange(), topic);
            }
            log.info("bus connected to RabbitMQ at {}:{} (exchange {})", opened.getAddress().getHostAddress(), opened.getPort(),
                    settings.exchange());
            notifyReconnected();
            return publisher;
        } catch (Exception e) {
            if (connection == opened) {
                disconnect(); // failed after it was announced as connected: not connected any more
            } else {
                opened.abort();
            }
            throw e;
        }
    }

    /** Throws if this node stopped receiving although the publishing side may look fine. */
    private void checkConsuming() throws IOException {
        Connection open = connection;
        if (open == null || !open.isOpen()) {
            throw new IOException("connection closed");
        }
        Channel consumer = consumerChannel;
        if (consumerLost || consumer == null || !consumer.isOpen()) {
            throw new IOException("this node's consumer was cancelled or its channel closed");
        }
    }

    private void notifyReconnected() {
        reconnectListeners.forEach(RabbitBus::callReconnected);
    }

    private static void callReconnected(Runnable listener) {
        Thread.ofVirtual().name("bus-reconnected").start(() -> {
            try {
                listener.run();
            } catch (RuntimeException e) {
                log.error("a bus reconnection listener failed", e);
            }
        });
    }

    /** A listener registered while connected is also called at once: it may have missed the connection's events so far. */
    @Override
    public Subscription onReconnected(Runnable listener) {
        reconnectListeners.add(listener);
        if (connected) {
            callReconnected(listener);
        }
        return () -> reconnectListeners.remove(listener);
    }

    private void disconnect() {
        boolean was = connected;
        Connection open;
        synchronized (responderLock) {
            connected = false;
            open = connection;
            connection = null;
            consumerChannel = null;
            requestChannel = null;
            requestConsumers.clear();
        }
        if (open != null) {
            open.abort(1000);
        }
        failPending("the connection to the other nodes was lost before the answer came");
        if (was && running) {
            log.warn("bus disconnected from RabbitMQ");
        }
    }

    private void failPending(String why) {
        for (String id : List.copyOf(pending.keySet())) {
            Pending<?> waiting = pending.remove(id);
            if (waiting != null) {
                waiting.reply().completeExceptionally(new BusRequestException(why));
            }
        }
    }

    // ---- requests ----

    private String requestQueue(String topic) {
        return settings.exchange() + ".requests." + topic;
    }

    @Override
    public <R> CompletableFuture<R> request(String topic, Object message, Class<R> replyType, Duration timeout) {
        LocalBus.requirePositive(timeout);
        if (local.responder(topic) != null) {
            return local.request(topic, message, replyType, timeout);
        }
        CompletableFuture<R> reply = new CompletableFuture<R>().orTimeout(timeout.toNanos(), TimeUnit.NANOSECONDS);
        Channel channel = requestChannel;
        if (!connected || channel == null) {
            reply.completeExceptionally(new BusRequestException("not connected to the other nodes (RabbitMQ at " + settings.describe() + ")"));
            return reply;
        }
        byte[] body;
        try {
            body = json.writeValueAsBytes(message);
        } catch (IOException e) {
            reply.completeExceptionally(new BusRequestException("the request for " + topic + " cannot be written as JSON", e));
            return reply;
        }
        String id = UUID.randomUUID().toString();
        pending.put(id, new Pending<>(reply, replyType));
        // however it ends (reply, timeout, failure, the caller cancelling), it is forgotten
        reply.whenComplete((r, e) -> pending.remove(id));
        AMQP.BasicProperties props = new AMQP.BasicProperties.Builder().contentType("application/json")
                .type(message.getClass().getName()).appId(busId).correlationId(id).replyTo(DIRECT_REPLY_TO)
                .expiration(Long.toString(Math.max(1, timeout.toMillis()))).build();
        // Sent from a virtual thread: the caller may be an event loop, and a socket write may block.
        Thread.ofVirtual().name("bus-request").start(() -> {
            try {
                channel.basicPublish("", requestQueue(topic), props, body);
            } catch (IOException | RuntimeException e) {
                reply.completeExceptionally(new BusRequestException("the request for " + topic + " could not be sent: " + e, e));
            }
        });
        return reply;
    }

    @Override
    public <Q> Subscription respond(String topic, Class<Q> type, Function<Q, ?> handler) {
        Subscription subscription = local.respond(topic, type, handler);
        synchronized (responderLock) {
            if (connected) {
                consumeRequests(topic);
            }
        }
        return () -> {
            subscription.close();
            synchronized (responderLock) {
                if (local.responder(topic) == null) {
                    String tag = requestConsumers.remove(topic);
                    Channel channel = consumerChannel;
                    if (tag != null && channel != null && channel.isOpen()) {
                        try {
                            channel.basicCancel(tag);
                        } catch (IOException | RuntimeException e) {
                            log.warn("could not stop answering {} on the bus: {}", topic, e.toString());
                        }
                    }
                }
            }
        };
    }

    /** Declares the topic's request queue and consumes it, once per connection; holds {@link #responderLock}. */
    private void consumeRequests(String topic) {
        Channel channel = consumerChannel;
        if (requestConsumers.containsKey(topic) || channel == null || !channel.isOpen()) {
            return;
        }
        try {
            String name = requestQueue(topic);
            channel.queueDeclare(name, false, false, true, null);
            requestConsumers.put(topic, channel.basicConsume(name, true, new RequestReceiver(channel, topic)));
        } catch (IOException | RuntimeException e) {
            log.warn("could not answer {} on the bus: {}; it is tried again when the connection is renewed", topic, e.toString());
        }
    }

    /** Requests of other nodes for a topic this node answers. */
    private final class RequestReceiver extends DefaultConsumer {
        private final String topic;

        RequestReceiver(Channel channel, String topic) {
            super(channel);
            this.topic = topic;
        }

        @Override
        public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            String replyTo = props.getReplyTo();
            String id = props.getCorrelationId();
            if (replyTo == null || id == null) {
                droppedUnreadable.increment();
                log.warn("a request on {} without reply-to or correlation id; dropped", topic);
                return;
            }
            LocalBus.Responder<?> responder = local.responder(topic);
            if (responder == null) {
                reply(replyTo, id, null, "this node no longer answers " + topic);
                return;
            }
            Object message;
            try {
                message = json.readValue(body, responder.type());
            } catch (IOException e) {
                droppedUnreadable.increment();
                reply(replyTo, id, null, "the request could not be read as " + responder.type().getSimpleName());
                return;
            }
            local.answer(topic, responder, message).whenComplete((answer, failure) ->
                    reply(replyTo, id, answer, failure == null ? null : failure.getMessage()));
        }

        @Override
        public void handleCancel(String consumerTag) {
            // The broker cancelled it (the request queue was deleted); this node's own cancel is
            // handleCancelOk. Renewing the connection declares and consumes the queue again.
            if (consumerChannel == getChannel() && !consumerLost) {
                consumerLost = true;
                log.warn("this node stopped receiving requests on {} (cancelled by RabbitMQ); reconnecting", topic);
            }
        }

        private void reply(String replyTo, String id, Object answer, String error) {
            Channel channel = requestChannel;
            if (channel == null || !channel.isOpen()) {
                return; // the requester's channel is gone with this connection's anyway
            }
            try {
                AMQP.BasicProperties.Builder props = new AMQP.BasicProperties.Builder().contentType("application/json")
                        .correlationId(id).appId(busId);
                byte[] body;
                if (error != null) {
                    props.headers(Map.of(ERROR_HEADER, error));
                    body = new byte[0];
                } else {
                    body = json.writeValueAsBytes(answer);
                }
                channel.basicPublish("", replyTo, props.build(), body);
            } catch (IOException | RuntimeException e) {
                log.warn("the answer to a request on {} could not be sent: {}", topic, e.toString());
            }
        }
    }

    /** Answers to this node's requests, on the direct reply-to pseudo-queue. */
    private final class ReplyReceiver extends DefaultConsumer {
        ReplyReceiver(Channel channel) {
            super(channel);
        }

        @Override
        public void handleDelivery(String consumerTag, Envelope envelope, AMQP.BasicProperties props, byte[] body) {
            Pending<?> waiting = props.getCorrelationId() == null ? null : pending.remove(props.getCorrelationId());
            if (waiting == null) {
                return; // timed out already: the late answer is dropped
            }
            complete(waiting, props, body);
        }

        private <R> void complete(Pending<R> waiting, AMQP.BasicProperties props, byte[] body) {
            Object error = props.getHeaders() == null ? null : props.getHeaders().get(ERROR_HEADER);
            if (error != null) {
                waiting.reply().completeExceptionally(new BusRequestException(error.toString()));
                return;
            }
            try {
                waiting.reply().complete(json.readValue(body, waiting.type()));
            } catch (IOException e) {
                droppedUnreadable.increment();
                waiting.reply().completeExceptionally(new BusRequestException("the answer could not be read as "
                        + waiting.type().getSimpleName() + ": " + e.getMessage(), e));
            }
        }
    }

    /** For tests: the port of the broker this node is connected to, or 0. */
    int connectedPortForTest() {
        Connection open = connection;
        return open == null ? 0 : open.getPort();
    }

    /** For tests: requests waiting for an answer. */
    int pendingRequestsForTest() {
        return pending.size();
    }

    /** For tests: the name of this node's event queue on the current connection. */
    String queueForTest() {
        return queue;
    }

    /**
     * For tests: deletes this node's event queue over its own connection (the queue is exclusive
     * to it), as an operator or a policy could: the broker cancels the consumer, the connection stays up.
     */
    void deleteQueueForTest() throws Exception {
        try (Channel side = connection.createChannel()) {
            side.queueDelete(queue);
        }
    }

    /** For tests: closes this node's consuming channel only, as a channel error would. */
    void closeConsumerChannelForTest() throws Exception {
        consumerChannel.abort();
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
            if (PACKED_TYPE.equals(props.getType())) {
                receivePack(topic, body);
                return;
            }
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
            if (event == null) {
                droppedUnreadable.increment();
                log.warn("an empty event on {} (JSON null); dropped", topic);
                return;
            }
            received.increment();
            local.publish(topic, event);
        }

        /**
         * Delivers the events of a pack in order. Each event is read on its own: one of a type
         * this node does not take, one its class cannot be read from (a newer version's field) or
         * a JSON null is skipped and counted, and the others still arrive. A pack that is not
         * well-formed delivers what came before the fault, and the rest is counted as one
         * unreadable drop (its size is unknown).
         */
        private void receivePack(String topic, byte[] body) {
            try (JsonParser parser = json.getFactory().createParser(body)) {
                if (parser.nextToken() != JsonToken.START_ARRAY) {
                    throw new IOException("a pack is a JSON array");
                }
                for (JsonToken pair = parser.nextToken(); pair != JsonToken.END_ARRAY; pair = parser.nextToken()) {
                    if (pair != JsonToken.START_ARRAY || parser.nextToken() != JsonToken.VALUE_STRING) {
                        throw new IOException("a packed event is a pair [type name, event]");
                    }
                    String typeName = parser.getText();
                    JsonStreamContext pairContext = parser.getParsingContext();
                    parser.nextToken();
                    Object event = readPacked(parser, pairContext, topic, typeName);
                    if (parser.nextToken() != JsonToken.END_ARRAY) {
                        throw new IOException("a packed event is a pair [type name, event]");
                    }
                    if (event != null) {
                        received.increment();
                        local.publish(topic, event);
                    }
                }
            } catch (IOException | RuntimeException e) {
                droppedUnreadable.increment();
                log.warn("a pack of events on {} could not be read to its end: {}", topic, e.getMessage());
            }
        }

        /**
         * Reads the event the parser is at, or skips it (counted) when this node does not take its
         * type or cannot read it; either way the parser ends on the event's last token, back in
         * the pair's context.
         */
        private Object readPacked(JsonParser parser, JsonStreamContext pairContext, String topic, String typeName)
                throws IOException {
            Class<?> type = acceptedType(topic, typeName);
            Object event = null;
            if (type == null) {
                log.warn("an event on {} of type {} is not one this node reads; dropped", topic, typeName);
            } else if (parser.currentToken() != JsonToken.VALUE_NULL) {
                try {
                    event = json.readValue(parser, type);
                } catch (DatabindException e) {
                    log.warn("a packed event on {} could not be read as {}: {}", topic, type.getSimpleName(),
                            e.getOriginalMessage());
                }
            }
            // after a skip or a failed read, on to the end of this event
            while (parser.getParsingContext() != pairContext) {
                if (parser.nextToken() == null) {
                    throw new IOException("the pack ends inside an event");
                }
            }
            if (event == null) {
                droppedUnreadable.increment();
            }
            return event;
        }

        @Override
        public void handleCancel(String consumerTag) {
            // The broker cancelled this consumer (its queue was deleted): the connection may look
            // fine, but nothing more arrives until the owner thread reconnects.
            lost("cancelled by RabbitMQ");
        }

        @Override
        public void handleShutdownSignal(String consumerTag, ShutdownSignalException signal) {
            if (running) {
                lost(signal.getMessage());
            }
        }

        private void lost(String why) {
            if (consumerChannel == getChannel() && !consumerLost) {
                consumerLost = true;
                Connection open = connection;
                if (open != null && open.isOpen()) {
                    log.warn("this node's bus consumer stopped ({}); reconnecting", why);
                }
            }
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
        closing = true;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        // what is queued, and the batch being sent (a lingering one included), goes before the connection closes
        while (connected && unconfirmedEvents.get() > 0 && System.nanoTime() < deadline) {
            sleep(20);
        }
        running = false;
        failPending("the bus is closing");
        owner.interrupt();
        try {
            owner.join(3000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        disconnect();
    }
}
