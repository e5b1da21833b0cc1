package io.switchboard.platform.lifecycle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.switchboard.platform.config.ConfigException;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.config.NodeConfigLoader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeTest {
    @TempDir
    Path dataDir;

    private final List<String> events = new CopyOnWriteArrayList<>();

    private NodeConfig config() {
        return new NodeConfigLoader(List.of("notes", "tags")).load(null, Map.of(),
                Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", ""));
    }

    /** A module that records what happens to it, using the test migrations of the same name. */
    private NodeModule module(String name, boolean failOnStart) {
        return new NodeModule() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public void assemble(NodeContext context) {
                events.add("assemble " + name + " (store reachable: " + context.store().isReachable() + ")");
                // The module's migrations ran before assembly.
                context.store().jdbi().useHandle(h -> h.createQuery("select count(*) from test_" + name).mapTo(Integer.class).one());
                context.addReadinessCheck("ok", Optional::empty);
                context.addRoutes(routes -> routes.get("/api/v1/" + name, ctx -> ctx.result(name)));
                context.addComponent(recording(name + " worker", false));
                context.addListener(recording(name + " listener", failOnStart));
            }
        };
    }

    /** A module "notes" that {@code assembly} puts together. */
    private static NodeModule notesAssembledBy(java.util.function.Consumer<NodeContext> assembly) {
        return new NodeModule() {
            @Override
            public String name() {
                return "notes";
            }

            @Override
            public void assemble(NodeContext context) {
                assembly.accept(context);
            }
        };
    }

    /** A module "notes" whose only part is {@code component}. */
    private static NodeModule notesWith(Component component) {
        return notesAssembledBy(context -> context.addComponent(component));
    }

    private Component recording(String name, boolean failOnStart) {
        return Component.of(name,
                () -> {
                    if (failOnStart) {
                        throw new IllegalStateException("port in use");
                    }
                    events.add("start " + name);
                },
                () -> events.add("stop " + name));
    }

    @Test
    void startsInOrderServesAndStopsInReverse() throws Exception {
        Node node = new Node(config(), List.of(module("notes", false), module("tags", false)));
        node.start();
        try {
            assertThat(node.isRunning()).isTrue();
            assertThat(node.readiness().problems()).isEmpty();
            HttpClient client = HttpClient.newHttpClient();
            HttpResponse<String> tags = client.send(
                    HttpRequest.newBuilder(URI.create(node.http().baseUrl() + "/api/v1/tags")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(tags.body()).isEqualTo("tags");
            assertThat(Files.exists(dataDir.resolve("admin.token"))).isTrue();
        } finally {
            node.stop();
        }
        assertThat(events).containsExactly(
                "assemble notes (store reachable: true)",
                "assemble tags (store reachable: true)",
                "start notes worker",
                "start tags worker",
                "start notes listener",
                "start tags listener",
                "stop tags listener",
                "stop notes listener",
                "stop tags worker",
                "stop notes worker");
        assertThat(node.readiness().isDraining()).isTrue();
        assertThat(node.readiness().refusesNewWork()).isTrue();
        node.stop(); // a second stop is harmless
    }

    @Test
    void drainingTakesReadinessAwayAtOnceAndServesOnForTheDrainDelay() throws Exception {
        NodeConfig config = new NodeConfigLoader(List.of("notes", "tags")).load(null, Map.of("SWITCHBOARD_DRAIN_DELAY", "800ms"),
                Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", ""));
        Node node = new Node(config, List.of(module("notes", false)));
        node.start();
        HttpClient client = HttpClient.newHttpClient();
        String base = node.http().baseUrl();
        try {
            long begin = System.nanoTime();
            Thread drainer = Thread.ofPlatform().start(node::drain);
            while (node.readiness().problems().isEmpty()) {
                Thread.sleep(5);
            }
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(503);
            assertThat(client.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/notes")).build(),
                    HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("notes");
            assertThat(events).doesNotContain("stop notes listener");
            drainer.join(5000);
            assertThat(Duration.ofNanos(System.nanoTime() - begin)).isGreaterThanOrEqualTo(Duration.ofMillis(800));
            assertThat(node.isRunning()).as("drain() leaves the stop to its caller").isTrue();
        } finally {
            node.stop();
        }
        assertThat(events).contains("stop notes listener");
    }

    /** SIGTERM while a node starts: the start goes no further, and what had started stops. */
    @Test
    void aStopAskedForWhileStartingEndsTheStartAtTheNextStep() throws Exception {
        java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        Node node = new Node(config(), List.of(notesAssembledBy(context -> {
            context.addComponent(Component.of("slow worker", () -> {
                entered.countDown();
                release.await();
                events.add("start slow worker");
            }, () -> events.add("stop slow worker")));
            context.addListener(recording("notes listener", false));
        })));
        Thread starter = Thread.ofPlatform().start(node::start);
        assertThat(entered.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        Thread stopper = Thread.ofPlatform().start(node::stop);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (stopper.getState() != Thread.State.BLOCKED && System.nanoTime() < deadline) {
            Thread.sleep(5); // the stop has asked and waits for the start to give way
        }
        assertThat(stopper.getState()).isEqualTo(Thread.State.BLOCKED);
        release.countDown();
        starter.join(10_000);
        stopper.join(10_000);

        assertThat(starter.isAlive()).isFalse();
        assertThat(stopper.isAlive()).isFalse();
        assertThat(node.isRunning()).isFalse();
        assertThat(events).containsExactly("start slow worker", "stop slow worker");
        assertThat(node.http().isStarted()).isFalse();
        node.awaitStopped();
    }

    @Test
    void failedStartNamesTheStepAndStopsWhatStarted() throws Exception {
        Node node = new Node(config(), List.of(module("notes", true)));

        assertThatThrownBy(node::start)
                .isInstanceOf(NodeStartException.class)
                .hasMessage("notes listener: port in use");
        assertThat(events).containsExactly(
                "assemble notes (store reachable: true)",
                "start notes worker",
                "stop notes worker");
        assertThat(node.readiness().problems()).contains("node: failed to start");
        node.awaitStopped(); // returns: a failed start counts as stopped
    }

    /** A store that failed a component's start is named as the trouble, not only by the driver's words about a statement. */
    @Test
    void aStartFailedByTheStoreSaysSo() {
        Node node = new Node(config(), List.of(notesWith(Component.of("notes", () -> {
            throw new IllegalStateException("INSERT INTO notes failed",
                    new java.sql.SQLException("An I/O error occurred while sending to the backend.", "08006",
                            new java.net.SocketTimeoutException("Read timed out")));
        }, () -> { }))));
        assertThatThrownBy(node::start)
                .isInstanceOf(NodeStartException.class)
                .hasMessageStartingWith("notes: the store at jdbc:sqlite:")
                .hasMessageEndingWith(" did not answer or refused (Read timed out)");
    }

    @Test
    void componentThatHangsOnStopDoesNotHoldTheNode() {
        Node node = new Node(config(), List.of(notesWith(Component.of("stuck", () -> { }, () -> Thread.sleep(60_000)))),
                Duration.ofSeconds(1));
        node.start();
        long begin = System.nanoTime();
        node.stop();
        assertThat(Duration.ofNanos(System.nanoTime() - begin)).isLessThan(Duration.ofSeconds(4));
        assertThat(node.store().isReachable()).isFalse(); // the store behind it was still closed
    }

    @Test
    void moduleConfigProblemStaysAConfigError() {
        Node node = new Node(config(), List.of(notesAssembledBy(context -> {
            throw context.section().problem("limit", "must be positive");
        })));
        assertThatThrownBy(node::start)
                .isInstanceOf(ConfigException.class)
                .hasMessage("notes.limit: must be positive");
    }

    @Test
    void httpPortInUseIsAStartErrorBeforeTheStoreOrAModuleStarts() throws Exception {
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            NodeConfig busy = config().withHttp(new HostPort("127.0.0.1", socket.getLocalPort()));
            Node node = new Node(busy, List.of(module("notes", false)));
            assertThatThrownBy(node::start)
                    .isInstanceOf(NodeStartException.class)
                    .hasMessageStartingWith("http: HTTP cannot listen on 127.0.0.1:" + socket.getLocalPort());
            assertThat(events).as("no module assembled").isEmpty();
            try (var files = Files.list(dataDir)) {
                assertThat(files.map(f -> f.getFileName().toString())).containsExactly(DataDirectoryLock.FILE_NAME);
            }
        }
    }

    @Test
    void httpsPortInUseIsNamedByItsOwnKey() throws Exception {
        var ca = io.switchboard.platform.tls.TestCertificates.authority("Node Test CA");
        var identity = io.switchboard.platform.tls.TestCertificates.server(ca,
                java.time.Instant.now().plus(Duration.ofDays(30)), "localhost");
        Path certs = Files.createDirectories(dataDir.resolveSibling(dataDir.getFileName() + "-certs"));
        identity.writeChain(certs.resolve("node.crt"));
        identity.writeKey(certs.resolve("node.key"), io.switchboard.platform.tls.TestCertificates.KeyFormat.PKCS8);
        try (var socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            NodeConfig busy = new NodeConfigLoader(List.of("notes")).load(null,
                    Map.of("SWITCHBOARD_TLS_CERTIFICATE", certs.resolve("node.crt").toString(),
                            "SWITCHBOARD_TLS_KEY", certs.resolve("node.key").toString()),
                    Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "https", "127.0.0.1:" + socket.getLocalPort(),
                            "sip", ""));
            Node node = new Node(busy, List.of(module("notes", false)));
            assertThatThrownBy(node::start)
                    .isInstanceOf(NodeStartException.class)
                    .hasMessageStartingWith("https: HTTPS cannot listen on 127.0.0.1:" + socket.getLocalPort());
            assertThat(events).as("no module assembled").isEmpty();
        }
    }

    @Test
    void aSecondNodeOnTheSameDataDirectoryIsRefusedUntilTheFirstStops() throws Exception {
        Node first = new Node(config(), List.of());
        first.start();
        try {
            Node second = new Node(config(), List.of(module("notes", false)));
            assertThatThrownBy(second::start)
                    .isInstanceOf(NodeStartException.class)
                    .hasMessageStartingWith("data directory: another node is running on " + dataDir.toAbsolutePath())
                    .hasMessageContaining("(pid " + ProcessHandle.current().pid() + ")");
            assertThat(events).isEmpty();
            assertThat(first.readiness().problems()).isEmpty();
        } finally {
            first.stop();
        }
        Node again = new Node(config(), List.of());
        again.start();
        again.stop();
    }

    @Test
    void aDataDirectoryThatCannotHoldTheLockIsAClearStartError() throws Exception {
        Files.createDirectories(dataDir.resolve(DataDirectoryLock.FILE_NAME)); // a directory where the file goes
        Node node = new Node(config(), List.of(module("notes", false)));
        assertThatThrownBy(node::start)
                .isInstanceOf(NodeStartException.class)
                .hasMessageStartingWith("data directory: cannot create " + dataDir.resolve(DataDirectoryLock.FILE_NAME));
        assertThat(events).isEmpty();
    }
}
