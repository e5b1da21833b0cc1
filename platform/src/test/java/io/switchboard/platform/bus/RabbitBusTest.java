package io.switchboard.platform.bus;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.rabbitmq.client.AMQP;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bus between nodes on the local RabbitMQ (127.0.0.1:5672, guest/guest), each test on an
 * exchange of its own that is deleted afterwards. RabbitMQ not answering fails the test: the
 * suite promises the cluster bus works.
 */
class RabbitBusTest {
    private static final URI BROKER = URI.create("amqp://127.0.0.1:5672/");

    sealed interface Shape permits Circle, Square {
    }

    record Circle(int radius) implements Shape {
    }

    record Square(int side) implements Shape {
    }

    record Said(String text, int n) {
    }

    private final String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
    private final List<RabbitBus> opened = new CopyOnWriteArrayList<>();

    /** A started node on the test broker whose subscriber of "talk" adds each {@link Said} to {@code got}. */
    private RabbitBus connectedListeningToTalk(List<Object> got) {
        RabbitBus b = node(BROKER);
        b.subscribe("talk", Said.class, got::add);
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(b::isConnected);
        return b;
    }

    private RabbitBus node(URI url) {
        RabbitBus bus = new RabbitBus(new BusSettings(url, "guest", "guest", exchange), new ObjectMapper(),
                new SimpleMeterRegistry());
        opened.add(bus);
        return bus;
    }

    private RabbitBus connectedNode() {
        RabbitBus bus = node(BROKER);
        bus.start();
        await().atMost(Duration.ofSeconds(20)).until(bus::isConnected);
        return bus;
    }

    @AfterEach
    void cleanUp() throws Exception {
        opened.forEach(RabbitBus::close);
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
        }
    }

    private static ConnectionFactory factory() throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost(BROKER.getHost());
        factory.setPort(BROKER.getPort());
        return factory;
    }

    /** The bus contract between two nodes on one exchange. */
    @org.junit.jupiter.api.Nested
    class BetweenTwoNodes extends BusContract {
        private final RabbitBus a = node(BROKER);
        private final RabbitBus b = node(BROKER);

        @Override
        Bus publisher() {
            return a;
        }

        @Override
        Bus receiver() {
            return b;
        }

        @Override
        void ready() {
            a.start();
            b.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> a.isConnected() && b.isConnected());
        }
    }

    @Test
    void aBrokerThatComesUpLateGetsWhatWasPublishedBefore() throws Exception {
        RabbitBus b = node(BROKER);
        List<Integer> atB = new CopyOnWriteArrayList<>();
        b.subscribe("talk", Said.class, said -> atB.add(said.n()));
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(b::isConnected);
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        // nothing listens on that port yet: the first connection fails, and keeps failing
        RabbitBus a = node(URI.create("amqp://127.0.0.1:" + port + "/"));
        a.start();
        for (int i = 0; i < 10; i++) {
            a.publish("talk", new Said("before the broker", i));
        }
        Thread.sleep(500);
        assertThat(a.isConnected()).isFalse();
        try (LoopbackForwarder forwarder = new LoopbackForwarder(port, BROKER.getPort())) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(atB).containsAll(IntStream.range(0, 10).boxed().toList()));
            assertThat(a.isConnected()).isTrue();
        }
    }

    /** A TCP forwarder on loopback: the broker "comes up" on a port when it starts. */
    private static final class LoopbackForwarder implements AutoCloseable {
        private final java.net.ServerSocket server;
        private final List<java.net.Socket> sockets = new CopyOnWriteArrayList<>();

        LoopbackForwarder(int port, int target) throws java.io.IOException {
            server = new java.net.ServerSocket(port, 50, java.net.InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        java.net.Socket in = server.accept();
                        java.net.Socket out = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), target);
                        sockets.add(in);
                        sockets.add(out);
                        Thread.ofVirtual().start(() -> pump(in, out));
                        Thread.ofVirtual().start(() -> pump(out, in));
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
        }

        private static void pump(java.net.Socket from, java.net.Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (java.io.IOException e) {
                // one side closed
            }
        }

        @Override
        public void close() throws java.io.IOException {
            server.close();
            for (java.net.Socket socket : sockets) {
                socket.close();
            }
        }
    }

    @Test
    void eventsReachOtherNodesInOrderAndTheirOwnSubscribersOnce() {
        RabbitBus a = node(BROKER);
        RabbitBus b = node(BROKER);
        List<Integer> atA = new CopyOnWriteArrayList<>();
        List<Integer> atB = new CopyOnWriteArrayList<>();
        a.subscribe("talk", Said.class, said -> atA.add(said.n()));
        b.subscribe("talk", Said.class, said -> atB.add(said.n()));
        a.start();
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> a.isConnected() && b.isConnected());
        for (int i = 0; i < 200; i++) {
            a.publish("talk", new Said("hello", i));
        }
        List<Integer> expected = IntStream.range(0, 200).boxed().toList();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(atB).containsExactlyElementsOf(expected));
        assertThat(atA).containsExactlyElementsOf(expected);
    }

    /**
     * Events that wait to be sent together go packed, several to a message, yet every node gets
     * every event once and in the order it was published, across topics too. A raw consumer on the
     * exchange sees fewer messages than events, and packs among them.
     */
    @Test
    void eventsWaitingTogetherArePackedAndStillArriveOnceInOrderAcrossTopics() throws Exception {
        RabbitBus a = node(BROKER);
        RabbitBus b = node(BROKER);
        List<String> atB = new CopyOnWriteArrayList<>();
        b.subscribe("talk", Said.class, said -> atB.add("talk " + said.n()));
        b.subscribe("shapes", Shape.class, shape -> atB.add("shapes " + shape));
        a.start();
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> a.isConnected() && b.isConnected());
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            String wire = ch.queueDeclare("", false, true, true, null).getQueue();
            ch.queueBind(wire, exchange, "talk");
            ch.queueBind(wire, exchange, "shapes");
            List<String> expected = new java.util.ArrayList<>();
            for (int i = 0; i < 3000; i++) {
                if (i % 500 == 499) {
                    a.publish("shapes", new Circle(i));
                    expected.add("shapes " + new Circle(i));
                } else {
                    a.publish("talk", new Said("hello", i));
                    expected.add("talk " + i);
                }
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(atB).hasSameSizeAs(expected));
            assertThat(atB).containsExactlyElementsOf(expected);
            int messages = 0;
            int packs = 0;
            com.rabbitmq.client.GetResponse got;
            while ((got = ch.basicGet(wire, true)) != null) {
                messages++;
                if (RabbitBus.PACKED_TYPE.equals(got.getProps().getType())) {
                    packs++;
                }
            }
            assertThat(packs).isPositive();
            assertThat(messages).isLessThan(expected.size());
        }
    }

    /** A started node on the test broker whose publisher lingers this long. */
    private RabbitBus lingeringNode(Duration linger) {
        RabbitBus bus = new RabbitBus(new BusSettings(List.of(BROKER), "guest", "guest", exchange, linger),
                new ObjectMapper(), new SimpleMeterRegistry());
        opened.add(bus);
        bus.start();
        await().atMost(Duration.ofSeconds(20)).until(bus::isConnected);
        return bus;
    }

    /** A queue of the test's own on the exchange, bound to "talk": what a node publishes, as the broker got it. */
    private static String wireTap(Channel ch, String exchange) throws java.io.IOException {
        String wire = ch.queueDeclare("", false, true, true, null).getQueue();
        ch.queueBind(wire, exchange, "talk");
        return wire;
    }

    /**
     * With {@code bus.linger}, events published in a stream go at most one message per linger, so
     * a steady trickle reaches the exchange as a few packs rather than one message per event;
     * an event after a quiet spell still goes at once, not a linger later.
     */
    @Test
    void aLingeringNodeSendsATrickleAsFewPacksAndAnEventAfterAQuietSpellAtOnce() throws Exception {
        RabbitBus a = lingeringNode(Duration.ofMillis(200));
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            String wire = wireTap(ch, exchange);
            // 20 events 10 ms apart: one message per event without the linger (a confirm takes about a millisecond)
            for (int i = 0; i < 20; i++) {
                a.publish("talk", new Said("trickle", i));
                Thread.sleep(10);
            }
            List<com.rabbitmq.client.GetResponse> trickle = new java.util.ArrayList<>();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
                com.rabbitmq.client.GetResponse got;
                while ((got = ch.basicGet(wire, true)) != null) {
                    trickle.add(got);
                }
                assertThat(trickle.stream().mapToInt(RabbitBusTest::eventsIn).sum()).isEqualTo(20);
            });
            assertThat(trickle).hasSizeLessThanOrEqualTo(6);

            long fastest = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                Thread.sleep(500);
                long sent = System.nanoTime();
                a.publish("talk", new Said("after a quiet spell", i));
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(2)).until(() -> ch.basicGet(wire, true) != null);
                fastest = Math.min(fastest, System.nanoTime() - sent);
            }
            // the linger is 200 ms: a quiet spell's event that waited it could not arrive this soon
            assertThat(Duration.ofNanos(fastest)).isLessThan(Duration.ofMillis(150));
        }
    }

    /**
     * A node that closes while it holds events back for the linger sends them before it goes:
     * whether they are still queued or already taken as the next batch, they are counted until the
     * broker confirms them. (That a closing node stops lingering is not told apart here: the
     * longest linger, 200 ms, is within what a close may take.)
     */
    @Test
    void aLingeringNodeThatClosesSendsWhatItHoldsFirst() throws Exception {
        RabbitBus a = lingeringNode(BusSettings.MAX_LINGER);
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            String wire = wireTap(ch, exchange);
            a.publish("talk", new Said("first", 0));
            Thread.sleep(30); // sent and confirmed: the next events wait out the linger after it
            for (int i = 1; i <= 5; i++) {
                a.publish("talk", new Said("held", i));
            }
            long closing = System.nanoTime();
            a.close();
            assertThat(Duration.ofNanos(System.nanoTime() - closing)).isLessThan(Duration.ofSeconds(1));
            List<Integer> arrived = new java.util.ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                com.rabbitmq.client.GetResponse got;
                while ((got = ch.basicGet(wire, true)) != null) {
                    com.fasterxml.jackson.databind.JsonNode body = json.readTree(got.getBody());
                    if (RabbitBus.PACKED_TYPE.equals(got.getProps().getType())) {
                        body.forEach(pair -> arrived.add(pair.get(1).get("n").asInt()));
                    } else {
                        arrived.add(body.get("n").asInt());
                    }
                }
                assertThat(arrived).containsExactly(0, 1, 2, 3, 4, 5);
            });
        }
    }

    /** How many events a message on the exchange carries: a pack's array, else one. */
    private static int eventsIn(com.rabbitmq.client.GetResponse message) {
        if (!RabbitBus.PACKED_TYPE.equals(message.getProps().getType())) {
            return 1;
        }
        try {
            return new ObjectMapper().readTree(message.getBody()).size();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * A pack from the broker is read as carefully as a lone event: only asked-for classes; an
     * event its class cannot be read from (an unknown field, null, a string) is skipped and the
     * rest of the pack still arrives; a pack cut short delivers what came before the cut.
     */
    @Test
    void aPackIsReadAsCarefullyAsALoneEvent() throws Exception {
        List<Object> got = new CopyOnWriteArrayList<>();
        RabbitBus b = connectedListeningToTalk(got);
        AMQP.BasicProperties packed = new AMQP.BasicProperties.Builder().type(RabbitBus.PACKED_TYPE).build();
        String said = Said.class.getName();
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            ch.basicPublish(exchange, "talk", packed, ("[[\"java.lang.ProcessBuilder\",{\"command\":[\"touch\",\"/tmp/pwned\"]}],"
                    + "[\"" + said + "\",{\"text\":\"kept\",\"n\":1}]]").getBytes(StandardCharsets.UTF_8));
            ch.basicPublish(exchange, "talk", packed, ("[[\"" + said + "\",{\"text\":\"newer\",\"n\":9,\"extra\":{\"a\":[1]}}],"
                    + "[\"" + said + "\",null],[\"" + said + "\",\"not an object\"],"
                    + "[\"" + said + "\",{\"text\":\"after the unreadable ones\",\"n\":4}]]").getBytes(StandardCharsets.UTF_8));
            ch.basicPublish(exchange, "talk", packed, ("[[\"" + said + "\",{\"text\":\"before the fault\",\"n\":2}],"
                    + "[\"" + said + "\",{\"text\":").getBytes(StandardCharsets.UTF_8));
            ch.basicPublish(exchange, "talk", packed, "{\"not\":\"an array\"}".getBytes(StandardCharsets.UTF_8));
            ch.basicPublish(exchange, "talk", new AMQP.BasicProperties.Builder().type(said).build(),
                    "{\"text\":\"ok\",\"n\":3}".getBytes(StandardCharsets.UTF_8));
        }
        // a field this node does not know (a newer node's) is passed over; null and a string are unreadable
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(got).containsExactly(
                new Said("kept", 1), new Said("newer", 9), new Said("after the unreadable ones", 4),
                new Said("before the fault", 2), new Said("ok", 3)));
    }

    @Test
    void aSealedTypeReceivesItsSubtypes() {
        RabbitBus a = connectedNode();
        RabbitBus b = node(BROKER);
        List<Shape> shapes = new CopyOnWriteArrayList<>();
        b.subscribe("shapes", Shape.class, shapes::add);
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(b::isConnected);
        a.publish("shapes", new Circle(3));
        a.publish("shapes", new Square(4));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(shapes).containsExactly(new Circle(3), new Square(4)));
    }

    @Test
    void eventsPublishedWhileTheConnectionIsDownArriveAfterItComesBack() {
        RabbitBus a = connectedNode();
        RabbitBus b = node(BROKER);
        List<Integer> atB = new CopyOnWriteArrayList<>();
        b.subscribe("talk", Said.class, said -> atB.add(said.n()));
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(b::isConnected);
        a.dropConnectionForTest();
        for (int i = 0; i < 20; i++) {
            a.publish("talk", new Said("during the outage", i));
        }
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(atB).containsAll(IntStream.range(0, 20).boxed().toList()));
    }

    @Test
    void withoutABrokerTheNodeStillDeliversToItself() {
        RabbitBus lonely = node(URI.create("amqp://127.0.0.1:1/"));
        List<String> got = new CopyOnWriteArrayList<>();
        lonely.subscribe("talk", Said.class, said -> got.add(said.text()));
        lonely.start();
        lonely.publish("talk", new Said("still here", 1));
        assertThat(got).containsExactly("still here");
        assertThat(lonely.isConnected()).isFalse();
    }

    @Test
    void anEventOfAClassNoSubscriberAskedForIsNotInstantiated() throws Exception {
        List<Object> got = new CopyOnWriteArrayList<>();
        RabbitBus b = connectedListeningToTalk(got);
        try (Connection c = factory().newConnection(); Channel ch = c.createChannel()) {
            AMQP.BasicProperties hostile = new AMQP.BasicProperties.Builder().type("java.lang.ProcessBuilder").build();
            ch.basicPublish(exchange, "talk", hostile, "{\"command\":[\"touch\",\"/tmp/pwned\"]}".getBytes(StandardCharsets.UTF_8));
            AMQP.BasicProperties garbled = new AMQP.BasicProperties.Builder().type(Said.class.getName()).build();
            ch.basicPublish(exchange, "talk", garbled, "not json".getBytes(StandardCharsets.UTF_8));
            AMQP.BasicProperties fine = new AMQP.BasicProperties.Builder().type(Said.class.getName()).build();
            ch.basicPublish(exchange, "talk", fine, "{\"text\":\"ok\",\"n\":7}".getBytes(StandardCharsets.UTF_8));
        }
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(got).containsExactly(new Said("ok", 7)));
    }

    @Test
    void listenersHearOfEveryReconnectionAlsoWhenOnlyTheConsumerWasCancelled() throws Exception {
        RabbitBus a = connectedNode();
        RabbitBus b = node(BROKER);
        java.util.concurrent.atomic.AtomicInteger reconnections = new java.util.concurrent.atomic.AtomicInteger();
        List<Integer> atB = new CopyOnWriteArrayList<>();
        b.subscribe("talk", Said.class, said -> atB.add(said.n()));
        b.onReconnected(reconnections::incrementAndGet);
        b.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> reconnections.get() == 1);

        b.dropConnectionForTest();
        await().atMost(Duration.ofSeconds(20)).until(() -> reconnections.get() == 2);

        // B's queue is deleted: its connection stays up, the broker cancels its consumer.
        String queue = b.queueForTest();
        b.deleteQueueForTest();
        await().atMost(Duration.ofSeconds(20)).until(() -> reconnections.get() == 3);
        assertThat(b.queueForTest()).isNotEqualTo(queue);
        a.publish("talk", new Said("after the cancellation", 1));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(atB).containsExactly(1));

        // B's consuming channel closes on its own (a channel error); the connection stays up.
        b.closeConsumerChannelForTest();
        await().atMost(Duration.ofSeconds(20)).until(() -> reconnections.get() == 4);
        a.publish("talk", new Said("after the channel closed", 2));
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(atB).containsExactly(1, 2));
    }

    @Test
    void aWaitingRequestFailsAtOnceWhenTheConnectionIsLostAndNothingIsLeftWaiting() {
        RabbitBus b = node(BROKER);
        b.respond("slow", Said.class, said -> {
            try {
                Thread.sleep(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return said;
        });
        b.start();
        RabbitBus a = connectedNode();
        await().atMost(Duration.ofSeconds(20)).until(b::isConnected);
        java.util.concurrent.CompletableFuture<Said> reply = a.request("slow", new Said("q", 1), Said.class, Duration.ofSeconds(60));
        await().atMost(Duration.ofSeconds(20)).until(() -> a.pendingRequestsForTest() == 1);
        long start = System.nanoTime();
        a.dropConnectionForTest();
        await().atMost(Duration.ofSeconds(10)).until(reply::isDone);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(4));
        assertThat(reply).isCompletedExceptionally();
        org.assertj.core.api.Assertions.assertThatThrownBy(reply::join).hasCauseInstanceOf(BusRequestException.class);
        assertThat(a.pendingRequestsForTest()).isZero();

        // and timed-out requests are forgotten too
        for (int i = 0; i < 20; i++) {
            a.request("nobody", new Said("q", i), Said.class, Duration.ofMillis(100));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> a.pendingRequestsForTest() == 0);
    }

    @Test
    void aResponderOnTheRequestingNodeAnswersEvenWithoutABroker() throws Exception {
        RabbitBus lonely = node(URI.create("amqp://127.0.0.1:1/"));
        lonely.respond("echo", Said.class, said -> new Said(said.text() + "!", said.n()));
        lonely.start();
        assertThat(lonely.request("echo", new Said("here", 1), Said.class, Duration.ofSeconds(5)).get(10, java.util.concurrent.TimeUnit.SECONDS))
                .isEqualTo(new Said("here!", 1));
        org.assertj.core.api.Assertions.assertThatThrownBy(() ->
                        lonely.request("elsewhere", new Said("x", 1), Said.class, Duration.ofSeconds(5)).join())
                .hasCauseInstanceOf(BusRequestException.class).hasMessageContaining("not connected");
    }

    /**
     * Nodes given the same two brokers spread over both: each connection tries them in a new
     * random order. In the given order (amqp-client shuffles only with its own recovery, which
     * this bus does not use) all sixteen took the first; by chance alone that is 1 in 32,768.
     */
    @Test
    void aRefusedLoginIsSaidToBeOneAndNotRepeatedAtEveryRetry() throws Exception {
        try (var busLog = io.switchboard.platform.testing.CapturedLog.of(RabbitBus.class)) {
            RabbitBus wrong = new RabbitBus(new BusSettings(BROKER, "guest", "not-the-password", exchange), new ObjectMapper(),
                    new SimpleMeterRegistry());
            opened.add(wrong);
            wrong.start();
            Thread.sleep(6000); // several attempts: 0.2 s doubling to 2 s apart
            List<String> warnings = busLog.messagesAt(ch.qos.logback.classic.Level.WARN);
            assertThat(warnings).as("one line, not one per attempt").hasSize(1);
            assertThat(warnings.getFirst()).contains("refused this node's login", "check bus.user and bus.password");
            assertThat(wrong.isConnected()).isFalse();
        }
    }

    @Test
    void nodesGivenTheSameBrokersSpreadOverThem() throws Exception {
        try (io.switchboard.platform.store.TcpRelay first = new io.switchboard.platform.store.TcpRelay("127.0.0.1", BROKER.getPort());
             io.switchboard.platform.store.TcpRelay second = new io.switchboard.platform.store.TcpRelay("127.0.0.1", BROKER.getPort())) {
            List<URI> brokers = List.of(URI.create("amqp://127.0.0.1:" + first.port() + "/"), URI.create("amqp://127.0.0.1:" + second.port() + "/"));
            List<RabbitBus> nodes = new java.util.ArrayList<>();
            for (int i = 0; i < 16; i++) {
                RabbitBus bus = new RabbitBus(new BusSettings(brokers, "guest", "guest", exchange), new ObjectMapper(), new SimpleMeterRegistry());
                opened.add(bus);
                nodes.add(bus);
                bus.start();
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> nodes.stream().allMatch(RabbitBus::isConnected));
            java.util.Map<Integer, Long> byPort = nodes.stream().collect(java.util.stream.Collectors.groupingBy(
                    RabbitBus::connectedPortForTest, java.util.stream.Collectors.counting()));
            assertThat(byPort).as("nodes per broker port").containsOnlyKeys(first.port(), second.port());
        }
    }

    @Test
    void whenOneOfTwoBrokersGoesAwayTheNodeCarriesOnThroughTheOtherLosingNothing() throws Exception {
        try (io.switchboard.platform.store.TcpRelay first = new io.switchboard.platform.store.TcpRelay("127.0.0.1", BROKER.getPort());
             io.switchboard.platform.store.TcpRelay second = new io.switchboard.platform.store.TcpRelay("127.0.0.1", BROKER.getPort())) {
            RabbitBus a = node(URI.create("amqp://127.0.0.1:" + first.port() + "/"));
            RabbitBus twoBrokers = new RabbitBus(new BusSettings(List.of(URI.create("amqp://127.0.0.1:" + first.port() + "/"),
                    URI.create("amqp://127.0.0.1:" + second.port() + "/")), "guest", "guest", exchange), new ObjectMapper(),
                    new SimpleMeterRegistry());
            opened.remove(a);
            a.close();
            opened.add(twoBrokers);
            RabbitBus b = node(BROKER);
            java.util.Set<Integer> atB = java.util.concurrent.ConcurrentHashMap.newKeySet();
            List<Integer> backAtA = new CopyOnWriteArrayList<>();
            java.util.concurrent.atomic.AtomicInteger reconnections = new java.util.concurrent.atomic.AtomicInteger();
            b.subscribe("talk", Said.class, said -> atB.add(said.n()));
            twoBrokers.subscribe("back", Said.class, said -> backAtA.add(said.n()));
            twoBrokers.onReconnected(reconnections::incrementAndGet);
            b.start();
            twoBrokers.start();
            await().atMost(Duration.ofSeconds(20)).until(() -> b.isConnected() && twoBrokers.isConnected());
            // the brokers are tried in random order; the one in use goes away
            int used = twoBrokers.connectedPortForTest();
            assertThat(used).isIn(first.port(), second.port());
            io.switchboard.platform.store.TcpRelay lost = used == first.port() ? first : second;
            io.switchboard.platform.store.TcpRelay kept = lost == first ? second : first;

            int events = 3000;
            for (int i = 0; i < events; i++) {
                twoBrokers.publish("talk", new Said("through whichever broker", i));
                if (i == events / 3) {
                    lost.close(); // the broker in use is gone: its connections and its port
                }
                if (i % 100 == 0) {
                    Thread.sleep(5);
                }
            }
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(atB).hasSize(events));
            assertThat(atB).containsAll(IntStream.range(0, events).boxed().toList());
            // the events may all be through before the node has settled on its new connection
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(twoBrokers.connectedPortForTest()).isEqualTo(kept.port()));
            assertThat(reconnections.get()).isEqualTo(2);
            b.publish("back", new Said("and back", 1));
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(backAtA).containsExactly(1));
        }
    }
}
