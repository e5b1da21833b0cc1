package io.switchboard.server.cluster;

import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.server.clients.PeerBinary;
import io.switchboard.server.dist.DistFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * N node processes sharing one PostgreSQL database and one RabbitMQ exchange, behind a real
 * HAProxy (Debian's {@code haproxy}), the way issue 13 runs a cluster: HTTP and WebSocket round
 * robin, SIP over TCP round robin, every server checked on {@code /readyz}.
 *
 * <p>Names are unique per run ({@code sb_test_<random>} database and exchange) and removed on
 * {@link #close()}; every process is ended by its PID. Ports are fixed for the cluster's life,
 * taken from {@value #PORTS} ports from a base the caller owns (the test suite and the benchmark
 * use different ranges): the balancer's configuration names each node by address, and a
 * restarted node must come back at the same one (so must the Record-Route of its calls). Ports of
 * the range that are busy when the cluster is made are skipped: the range lies inside Linux's
 * ephemeral range, so any outgoing connection on the machine may hold one for a while.
 *
 * <p>The balancer's configuration comes from {@link #renderHaproxyConfig()}, the single seam for
 * replacing it with the project's {@code dist/haproxy.cfg} once that exists: whatever it returns
 * must bind the two frontend ports and name every node.
 */
public final class ClusterUnderTest implements AutoCloseable {
    static final String DOMAIN = "cluster.test";
    /** Debian's haproxy: missing, the test fails under CI=true and is skipped otherwise, like the other peers. */
    static final PeerBinary HAPROXY = new PeerBinary("haproxy", "HAPROXY_BIN", "haproxy");
    /**
     * The address HAProxy connects to the nodes from (a second loopback address): like a balancer
     * on a machine of its own, it is the only source the nodes expect PROXY headers from.
     */
    static final String BALANCER_SOURCE = "127.0.0.2";

    static final int PORTS = 40;

    private final Path dir;
    private final int httpFrontend;
    private final int sipFrontend;
    private final int statsPort;
    private final PostgresTestDatabase database;
    private final String exchange;
    private final List<NodeProcess> nodes = new ArrayList<>();
    private final Map<String, String> nodeEnvironment;
    private final List<String> nodeJvmOptions;
    private Process haproxy;

    /**
     * Creates the database and names the exchange; starts nothing yet.
     *
     * @param dir        where the nodes' data directories, logs and the balancer's files go
     * @param size       how many nodes
     * @param base       first of {@value #PORTS} ports the caller owns on 127.0.0.1
     * @param extraEnv   settings for every node over the cluster's own ({@code SWITCHBOARD_*})
     * @param jvmOptions options for each node's JVM
     */
    public ClusterUnderTest(Path dir, int size, int base, Map<String, String> extraEnv, List<String> jvmOptions)
            throws Exception {
        this.dir = dir;
        List<Integer> free = freePorts(base, 3 + 2 * size);
        this.database = PostgresTestDatabase.create();
        this.exchange = "sb_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        Map<String, String> env = new HashMap<>();
        env.put("SWITCHBOARD_STORE_URL", database.settings().url());
        env.put("SWITCHBOARD_STORE_USER", database.settings().user());
        env.put("SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672");
        env.put("SWITCHBOARD_BUS_EXCHANGE", exchange);
        // HAProxy takes a draining node out after two failed checks 500 ms apart: 3 s covers that
        // with room for a late check on a loaded machine, and keeps a rolling restart short.
        env.put("SWITCHBOARD_DRAIN_DELAY", "3s");
        // as docs/cluster.md sets up nodes behind HAProxy: its PROXY header (send-proxy-v2) on SIP
        // over TCP and its X-Forwarded-For on HTTP are believed from the balancer's own address,
        // BALANCER_SOURCE; the nodes reach each other from 127.0.0.1 without a header, as they
        // would from their own addresses in a real cluster
        env.put("SWITCHBOARD_TELEPHONY_PROXY_PROTOCOL_FROM", BALANCER_SOURCE);
        env.put("SWITCHBOARD_PROXIES_TRUSTED", BALANCER_SOURCE);
        // test phones register without credentials. The nodes now see each client's own address,
        // but every test client really is on 127.0.0.1: the per-address brakes stay off.
        env.put("SWITCHBOARD_TELEPHONY_AUTH", "false");
        env.put("SWITCHBOARD_TELEPHONY_FLOOD_LIMIT", "0");
        // test people are signed up in bulk from one address: cheap hashes, no per-address brake
        env.put("SWITCHBOARD_AUTH_PASSWORD_HASH_MEMORY", "64");
        env.put("SWITCHBOARD_AUTH_PASSWORD_HASH_ITERATIONS", "1");
        env.put("SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_ADDRESS", "1000000");
        env.putAll(extraEnv);
        httpFrontend = free.get(0);
        sipFrontend = free.get(1);
        statsPort = free.get(2 + 2 * size);
        nodeEnvironment = Map.copyOf(env);
        nodeJvmOptions = jvmOptions;
        for (int i = 0; i < size; i++) {
            nodes.add(new NodeProcess("node" + i, dir, free.get(2 + 2 * i), free.get(3 + 2 * i), nodeEnvironment, jvmOptions));
        }
    }

    private static List<Integer> freePorts(int base, int count) {
        List<Integer> free = new ArrayList<>();
        for (int port = base; port < base + PORTS && free.size() < count; port++) {
            try (ServerSocket probe = new ServerSocket()) {
                probe.setReuseAddress(true);
                probe.bind(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), port), 1);
                free.add(port);
            } catch (IOException busy) {
                // held by someone else now: the next one
            }
        }
        if (free.size() < count) {
            throw new IllegalStateException("only " + free.size() + " of " + count + " ports free in 127.0.0.1:"
                    + base + "-" + (base + PORTS - 1));
        }
        return free;
    }

    /**
     * Before {@link #start}: each node on an address of its own (127.0.0.11, .12, …), its SIP listener
     * at the balancer's SIP port, as nodes on machines of their own would listen at 5060 like
     * the balancer. A phone then cannot tell a node's address from the balancer's by the port: an
     * answer it sends to the address it was connected from and the port in a node's Via goes to
     * the balancer.
     */
    public void giveEachNodeItsOwnAddress() {
        for (int i = 0; i < nodes.size(); i++) {
            NodeProcess node = nodes.get(i);
            nodes.set(i, new NodeProcess(node.name, dir, node.httpPort, "127.0.0." + (11 + i), sipFrontend, nodeEnvironment,
                    nodeJvmOptions));
        }
    }

    /** Starts every node (the first alone: it migrates the store), then HAProxy. */
    public void start(Duration readyWithin) throws Exception {
        nodes.getFirst().start();
        nodes.getFirst().awaitReady(readyWithin);
        for (NodeProcess node : nodes.subList(1, nodes.size())) {
            node.start();
        }
        for (NodeProcess node : nodes) {
            node.awaitReady(readyWithin);
        }
        startHaproxy();
    }

    /**
     * The balancer's configuration: the project's own {@code dist/haproxy.cfg}, so the file users
     * copy is the one the failover tests run, with the test's addresses and ports put in (and
     * nodes beyond the file's three added or its spare ones dropped). One change: checks every
     * 500 ms instead of every second, so a draining node is out well inside the test's short drain
     * delay and a rolling restart of three nodes stays short; and HAProxy connects to the nodes
     * from {@link #BALANCER_SOURCE}.
     */
    public String renderHaproxyConfig() {
        String cfg;
        try {
            cfg = DistFiles.read("haproxy.cfg");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        cfg = DistFiles.replace(cfg, "    bind :80\n", "    bind 127.0.0.1:" + httpFrontendPort() + "\n");
        cfg = DistFiles.replace(cfg, "    bind :5060\n", "    bind 127.0.0.1:" + sipFrontendPort() + "\n");
        cfg = DistFiles.replace(cfg, "bind 127.0.0.1:8404", "bind 127.0.0.1:" + statsPort);
        cfg = DistFiles.replace(cfg, "default-server inter 1s fall 2 rise 2", "default-server inter 500ms fall 2 rise 2");
        cfg = DistFiles.replace(cfg, "    balance roundrobin\n", "    balance roundrobin\n    source " + BALANCER_SOURCE + "\n");
        cfg = DistFiles.replace(cfg, "    balance leastconn\n", "    balance leastconn\n    source " + BALANCER_SOURCE + "\n");
        StringBuilder http = new StringBuilder();
        StringBuilder sip = new StringBuilder();
        for (NodeProcess node : nodes) {
            http.append("    server ").append(node.name).append(" ").append(node.host).append(":").append(node.httpPort).append(" check\n");
            sip.append("    server ").append(node.name).append(" ").append(node.host).append(":").append(node.sipPort)
                    .append(" check port ").append(node.httpPort).append('\n');
        }
        for (int i = 1; i <= 3; i++) {
            cfg = DistFiles.dropLine(cfg, "server node" + i + " 10.0.0.1" + i + ":8080 check");
            cfg = DistFiles.dropLine(cfg, "server node" + i + " 10.0.0.1" + i + ":5060 check");
        }
        // the dist file's backends end with their server lines: put the test's where they were
        cfg = DistFiles.replace(cfg, "    default-server inter 500ms fall 2 rise 2\n",
                "    default-server inter 500ms fall 2 rise 2\n" + http);
        cfg = DistFiles.replace(cfg, "    default-server inter 500ms fall 2 rise 2 port 8080 send-proxy-v2\n",
                "    default-server inter 500ms fall 2 rise 2 send-proxy-v2\n" + sip);
        return cfg;
    }

    private void startHaproxy() throws Exception {
        Path config = dir.resolve("haproxy.cfg");
        Files.writeString(config, renderHaproxyConfig());
        Process check = new ProcessBuilder(HAPROXY.path().toString(), "-c", "-f", config.toString())
                .redirectErrorStream(true).start();
        String checked = new String(check.getInputStream().readAllBytes());
        if (!check.waitFor(30, TimeUnit.SECONDS) || check.exitValue() != 0) {
            throw new AssertionError("haproxy -c refused the configuration:\n" + checked + "\n" + renderHaproxyConfig());
        }
        haproxy = new ProcessBuilder(HAPROXY.path().toString(), "-db", "-f", config.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("haproxy.log").toFile()).start();
        awaitBalancer(Duration.ofSeconds(30));
    }

    /**
     * Waits until the balancer answers {@code /readyz} with 200: HAProxy has bound its frontends
     * and reaches a node. Nodes start in about two seconds on a warm machine, so without this the
     * first request through the balancer may find its port not yet bound.
     */
    private void awaitBalancer(Duration within) throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            try {
                java.net.http.HttpResponse<Void> r = http.send(java.net.http.HttpRequest.newBuilder(
                                java.net.URI.create(baseUrl() + "/readyz")).timeout(Duration.ofSeconds(2)).build(),
                        java.net.http.HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not bound yet
            }
            if (!haproxy.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("the balancer did not answer /readyz within " + within + ":\n" + haproxyLog());
            }
            Thread.sleep(100);
        }
    }

    public int httpFrontendPort() {
        return httpFrontend;
    }

    public int sipFrontendPort() {
        return sipFrontend;
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + httpFrontendPort();
    }

    public List<NodeProcess> nodes() {
        return nodes;
    }

    public NodeProcess node(int i) {
        return nodes.get(i);
    }

    /** The admin token the node that migrated the shared store wrote at its first start. */
    public String adminToken() throws IOException {
        for (NodeProcess node : nodes) {
            Path token = node.dataDir().resolve("admin.token");
            if (Files.exists(token)) {
                return Files.readString(token).strip();
            }
        }
        throw new IllegalStateException("no node wrote admin.token");
    }

    /** The id of the node holding lease {@code name} in the shared store ({@code monitor:<name>} for a monitor), or null. */
    public String leaseHolder(String name) throws java.sql.SQLException {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(database.settings().url(), database.settings().user(),
                database.settings().password());
             java.sql.PreparedStatement q = c.prepareStatement("SELECT holder FROM platform_leases WHERE name = ?")) {
            q.setQueryTimeout(10);
            q.setString(1, name);
            try (java.sql.ResultSet rs = q.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /**
     * Transactions committed in the cluster's database so far, from PostgreSQL's statistics
     * ({@code pg_stat_database.xact_commit}, flushed by the server about once a second), for the
     * bench's commits per operation; NaN when they cannot be read.
     */
    public double databaseCommits() {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(database.settings().url(), database.settings().user(),
                database.settings().password());
             java.sql.PreparedStatement q = c.prepareStatement(
                     "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")) {
            q.setQueryTimeout(10);
            try (java.sql.ResultSet rs = q.executeQuery()) {
                return rs.next() ? rs.getLong(1) : Double.NaN;
            }
        } catch (java.sql.SQLException e) {
            return Double.NaN;
        }
    }

    /** The node process whose data directory holds {@code nodeId}. */
    public NodeProcess nodeWithId(String nodeId) throws IOException {
        for (NodeProcess node : nodes) {
            Path id = node.dataDir().resolve("node-id");
            if (Files.exists(id) && Files.readString(id).strip().equals(nodeId)) {
                return node;
            }
        }
        throw new IllegalStateException("no node has the id " + nodeId);
    }

    public String haproxyLog() {
        try {
            return Files.readString(dir.resolve("haproxy.log"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The last {@code lines} lines of every node's log file (all starts), for failure messages. */
    public String logTails(int lines) {
        StringBuilder out = new StringBuilder();
        for (NodeProcess node : nodes) {
            try {
                List<String> all = Files.readAllLines(node.logFile());
                out.append("--- ").append(node).append('\n')
                        .append(String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()))).append('\n');
            } catch (IOException e) {
                out.append("--- ").append(node).append(": ").append(e).append('\n');
            }
        }
        return out.toString();
    }

    @Override
    public void close() throws Exception {
        if (haproxy != null) {
            haproxy.toHandle().destroyForcibly();
            haproxy.waitFor(10, TimeUnit.SECONDS);
        }
        for (NodeProcess node : nodes) {
            node.destroy();
        }
        try {
            ConnectionFactory factory = new ConnectionFactory();
            factory.setHost("127.0.0.1");
            factory.setPort(5672);
            factory.setConnectionTimeout(5000);
            try (Connection c = factory.newConnection(); Channel ch = c.createChannel()) {
                ch.exchangeDelete(exchange);
            }
        } finally {
            database.close();
        }
    }
}
