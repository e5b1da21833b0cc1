package io.switchboard.platform.store;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Two PostgreSQL clusters of this machine's own version, made for one test with Debian's
 * postgresql-common tools and dropped on {@link #close()}: a primary and a synchronous streaming
 * standby ({@code pg_basebackup -R}), on loopback ports of this suite's fixed range (22500-22999),
 * trust authentication. The machine's main cluster (5432) is never touched. The standby is
 * synchronous ({@code synchronous_standby_names = '*'} on the primary only), so every commit the
 * primary acknowledged is on the standby: a failover loses nothing acknowledged. The tools run as
 * root (as the suite does in CI); the clusters' own processes run as the postgres user, and so
 * does {@code pg_basebackup}.
 */
public final class PostgresReplicaPair implements AutoCloseable {
    private static final int FIRST_PORT = 22500;
    private static final int LAST_PORT = 22999;
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(120);

    private final String version;
    private final String primaryName;
    private final String standbyName;
    private final int primaryPort;
    private final int standbyPort;
    private final List<String> created = new ArrayList<>();

    private PostgresReplicaPair(String version, String prefix, int primaryPort, int standbyPort) {
        this.version = version;
        this.primaryName = prefix + "_p";
        this.standbyName = prefix + "_s";
        this.primaryPort = primaryPort;
        this.standbyPort = standbyPort;
    }

    /** Creates and starts both clusters and waits until the standby streams synchronously; drops them if that fails. */
    public static PostgresReplicaPair start() throws Exception {
        requireTools();
        String version = machineVersion();
        int[] ports = freePortPair();
        PostgresReplicaPair pair = new PostgresReplicaPair(version, "sbt_" + UUID.randomUUID().toString().substring(0, 8), ports[0], ports[1]);
        try {
            pair.create();
            return pair;
        } catch (Exception | AssertionError e) {
            pair.close();
            throw e;
        }
    }

    private void create() throws Exception {
        String common = """
                listen_addresses = '127.0.0.1'
                fsync = off
                shared_buffers = 16MB
                max_connections = 50
                wal_level = replica
                max_wal_senders = 5
                """;
        created.add(primaryName);
        run(List.of("pg_createcluster", version, primaryName, "-p", Integer.toString(primaryPort), "--", "--auth=trust"));
        // only the primary waits for a standby: the promoted one must not wait for a standby it does not have
        configure(primaryName, common + "synchronous_standby_names = '*'\n");
        run(List.of("pg_ctlcluster", version, primaryName, "start"));
        created.add(standbyName);
        run(List.of("pg_createcluster", version, standbyName, "-p", Integer.toString(standbyPort), "--", "--auth=trust"));
        configure(standbyName, common);
        Path data = Path.of("/var/lib/postgresql", version, standbyName);
        try (Stream<Path> files = Files.walk(data)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).filter(f -> !f.equals(data)).toList()) {
                Files.delete(file);
            }
        }
        List<String> basebackup = List.of("pg_basebackup", "-h", "127.0.0.1", "-p", Integer.toString(primaryPort), "-U", "postgres",
                "-D", data.toString(), "-R", "-X", "stream", "-c", "fast");
        run(asPostgres(basebackup));
        run(List.of("pg_ctlcluster", version, standbyName, "start"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!standbyIsSynchronous()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the standby of " + primaryName + " did not stream synchronously within 60 s");
            }
            Thread.sleep(100);
        }
    }

    /** Settings of one cluster, in its conf.d (which Debian's clusters include). */
    private void configure(String cluster, String settings) throws IOException {
        Path confD = Path.of("/etc/postgresql", version, cluster, "conf.d");
        Files.createDirectories(confD);
        Files.writeString(confD.resolve("switchboard-test.conf"), settings);
    }

    private boolean standbyIsSynchronous() {
        try (Connection c = connect(primaryPort, "postgres");
             ResultSet rs = c.createStatement().executeQuery(
                     "select count(*) from pg_stat_replication where state = 'streaming' and sync_state = 'sync'")) {
            rs.next();
            return rs.getInt(1) == 1;
        } catch (SQLException e) {
            return false;
        }
    }

    public int primaryPort() {
        return primaryPort;
    }

    public int standbyPort() {
        return standbyPort;
    }

    /** Creates a database on the primary (the standby gets it by replication). */
    public void createDatabase(String name) throws SQLException {
        try (Connection c = connect(primaryPort, "postgres")) {
            c.createStatement().execute("create database " + name);
        }
    }

    /**
     * The multi-host URL of a database on both clusters, the standby first: a node that did not
     * insist on the primary would connect to the standby and fail every write.
     */
    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + standbyPort + ",127.0.0.1:" + primaryPort + "/" + database;
    }

    /** Kills the primary as a crash would ({@code pg_ctl stop -m immediate}: no checkpoint, connections cut). */
    public void crashPrimary() throws Exception {
        run(List.of("pg_ctlcluster", version, primaryName, "stop", "-m", "immediate"));
    }

    /** Promotes the standby and waits until it takes writes. */
    public void promoteStandby() throws Exception {
        run(List.of("pg_ctlcluster", version, standbyName, "promote"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (Connection c = connect(standbyPort, "postgres");
                 ResultSet rs = c.createStatement().executeQuery("select pg_is_in_recovery()")) {
                rs.next();
                if (!rs.getBoolean(1)) {
                    return;
                }
            } catch (SQLException e) {
                // still starting its new timeline
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("the standby " + standbyName + " was not promoted within 60 s");
            }
            Thread.sleep(100);
        }
    }

    /** A connection to one cluster's database, as postgres. */
    public static Connection connect(int port, String database) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database
                + "?connectTimeout=5&socketTimeout=30", "postgres", null);
    }

    /** Drops both clusters (stopping them first); safe to call when creating them failed half-way. */
    @Override
    public void close() {
        for (String name : created.reversed()) {
            try {
                run(List.of("pg_dropcluster", "--stop", version, name));
            } catch (Exception | AssertionError e) {
                System.err.println("could not drop the test cluster " + version + "/" + name + ": " + e.getMessage());
            }
        }
        created.clear();
    }

    /**
     * Making clusters needs postgresql-common's tools and root. Without them the test fails under
     * CI (which runs as root with them installed) and is skipped elsewhere, saying why.
     */
    private static void requireTools() {
        String missing = null;
        if (!Files.isExecutable(Path.of("/usr/bin/pg_createcluster")) || !Files.isExecutable(Path.of("/usr/bin/pg_basebackup"))) {
            missing = "pg_createcluster and pg_basebackup (Debian packages postgresql-common, postgresql-client)";
        } else if (!"root".equals(System.getProperty("user.name"))) {
            missing = "root, to create PostgreSQL clusters with pg_createcluster (the suite runs as root in CI)";
        }
        if (missing == null) {
            return;
        }
        String message = "a PostgreSQL primary/standby pair needs " + missing;
        if ("true".equals(System.getenv("CI"))) {
            throw new AssertionError(message);
        }
        org.junit.jupiter.api.Assumptions.abort(message);
    }

    /** The version of the machine's PostgreSQL: the newest server under /usr/lib/postgresql. */
    static String machineVersion() throws IOException {
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            return versions.filter(v -> Files.isExecutable(v.resolve("bin/postgres")))
                    .map(v -> v.getFileName().toString()).max(Comparator.comparingInt(PostgresReplicaPair::major))
                    .orElseThrow(() -> new AssertionError("no PostgreSQL server under /usr/lib/postgresql"));
        }
    }

    private static int major(String version) {
        try {
            return Integer.parseInt(version.split("\\.")[0]);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Two free neighbouring ports of this suite's fixed range, starting at a random place. */
    private static int[] freePortPair() {
        int pairs = (LAST_PORT - FIRST_PORT + 1) / 2;
        int start = ThreadLocalRandom.current().nextInt(pairs);
        for (int i = 0; i < pairs; i++) {
            int port = FIRST_PORT + 2 * ((start + i) % pairs);
            if (free(port) && free(port + 1)) {
                return new int[] {port, port + 1};
            }
        }
        throw new AssertionError("no two free ports in " + FIRST_PORT + "-" + LAST_PORT);
    }

    private static boolean free(int port) {
        try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static List<String> asPostgres(List<String> command) {
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", "postgres", "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    private static void run(List<String> command) throws Exception {
        Path output = Files.createTempFile("sbt_pg_", ".log");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
            if (!process.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + " took over " + COMMAND_TIMEOUT.toSeconds() + " s");
            }
            if (process.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " exited " + process.exitValue() + ": "
                        + Files.readString(output, StandardCharsets.UTF_8).strip());
            }
        } finally {
            Files.deleteIfExists(output);
        }
    }
}
