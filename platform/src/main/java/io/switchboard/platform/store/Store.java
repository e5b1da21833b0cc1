package io.switchboard.platform.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.platform.RootCause;
import io.switchboard.platform.config.StoreSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.output.MigrateResult;
import org.jdbi.v3.core.Jdbi;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's one database: a pooled {@link DataSource}, a {@link Jdbi} over it, and per-module
 * Flyway migrations.
 *
 * <p><b>SQLite.</b> SQLite allows one writer at a time; a second connection that writes while
 * another holds a write transaction waits {@code busy_timeout} and may still fail with
 * {@code SQLITE_BUSY}, because a deferred transaction that started as a reader cannot be
 * upgraded. Rather than a lock beside the pool, the pool has exactly one connection: every
 * database call in the node is serialized through it, so writes never race and never see
 * {@code SQLITE_BUSY}. The caveat is that a caller must not ask for a second handle while it
 * holds one (it would wait for itself until the pool's connection timeout). The connection runs
 * in WAL mode with {@code synchronous=NORMAL} (durable across process crashes; a power loss may
 * roll back the last transactions), {@code busy_timeout=5000} (for outside readers such as the
 * {@code sqlite3} shell) and foreign keys on. Transactions begin IMMEDIATE: the CLI (or any other
 * process) may write the same file while the node runs, and a deferred transaction that read a
 * snapshot before the other process committed cannot write any more ({@code SQLITE_BUSY_SNAPSHOT},
 * which {@code busy_timeout} does not wait out); an immediate one takes the write lock at its start
 * and so waits its turn instead.
 *
 * <p><b>PostgreSQL.</b> An ordinary pool; concurrency is the database's business. No call waits
 * forever on a database that has gone silent (connections open, nothing answered): pgjdbc gets a
 * connect timeout ({@value #PG_CONNECT_TIMEOUT_S} s), a login timeout ({@value #PG_LOGIN_TIMEOUT_S} s),
 * a socket read timeout ({@value #PG_SOCKET_TIMEOUT_S} s: the longest any statement may wait for
 * an answer; the connection is then closed and replaced) and TCP keepalive; the pool gives a
 * connection within {@value #PG_POOL_TIMEOUT_MS} ms or fails, validates one that sat idle within
 * {@value #PG_VALIDATION_TIMEOUT_MS} ms, and checks idle connections every
 * {@value #PG_KEEPALIVE_MS} ms, so connections the network dropped are replaced before a request
 * meets them. The same parameters in the URL ({@code ?socketTimeout=60}) win over these.
 * Migrations may run longer: their connection may wait {@link #MIGRATION_STATEMENT_TIMEOUT} per statement.
 * Once the database answers again, new connections are made as needed: nothing needs a restart.
 *
 * <p><b>Failover.</b> The URL may name several hosts ({@code jdbc:postgresql://db1:5432,db2:5432/sb}):
 * a primary and its standbys. pgjdbc connects only to a primary ({@code targetServerType=primary}
 * by default, rechecking hosts every {@value #PG_HOST_RECHECK_S} s), so the node writes only there;
 * when the primary dies and a standby is promoted, connections to the old one fail and are evicted,
 * and new ones find the new primary. A connection whose server became read-only (an old primary
 * back as a standby) fails its writes with SQLState 25006 and is evicted too
 * ({@link PrimaryOnlyEviction}). A write that was in flight when the primary died gets an error,
 * never an acknowledgement, so its client retries (chat sends carry idempotency keys). For nothing
 * acknowledged to be lost, the standby must be synchronous ({@code synchronous_standby_names} on
 * the primary): see docs/store-and-bus-failover.md.
 *
 * <p><b>Migrations.</b> {@link #migrate(String)} runs {@code classpath:db/migration/<module>}
 * with the history table {@code flyway_<module>_history}, so each module versions its tables
 * independently of the others. Migrations must be plain SQL that runs on both databases.
 */
public final class Store implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Store.class);
    private static final Pattern MODULE_NAME = Pattern.compile("[a-z][a-z0-9_]*");
    private static final Duration REACHABLE_TIMEOUT = Duration.ofSeconds(2);
    private static final int POSTGRESQL_POOL_SIZE = 10;
    static final int PG_CONNECT_TIMEOUT_S = 5;
    static final int PG_LOGIN_TIMEOUT_S = 10;
    static final int PG_SOCKET_TIMEOUT_S = 15;
    static final long PG_POOL_TIMEOUT_MS = 5_000;
    static final long PG_VALIDATION_TIMEOUT_MS = 2_000;
    static final long PG_KEEPALIVE_MS = 60_000;
    static final int PG_HOST_RECHECK_S = 2;
    /** How long a migration's statement may wait for the database (an index on a big table takes a while). */
    static final Duration MIGRATION_STATEMENT_TIMEOUT = Duration.ofMinutes(10);
    /**
     * How long a migration's statement may wait for a lock on PostgreSQL before it gives up and
     * the migration is tried again. An ALTER TABLE waiting for its lock makes every later
     * statement on that table wait behind it (PostgreSQL queues lock requests), so in a rolling
     * upgrade a migration blocked by one long transaction would stall every node's heartbeat
     * until they all expired. Shorter than a heartbeat's expiry (6 s by default), so a node's
     * writes wait at most this long per attempt; between attempts they go through.
     */
    static final Duration MIGRATION_LOCK_TIMEOUT = Duration.ofSeconds(2);
    /** The pause between two attempts of a migration that could not get its locks. */
    private static final Duration MIGRATION_LOCK_RETRY_PAUSE = Duration.ofSeconds(1);
    /** How long the first connection may take (a database still starting up gets this long). */
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(10);

    private final StoreSettings settings;
    private final HikariDataSource dataSource;
    private final Jdbi jdbi;
    private final AtomicReference<CompletableFuture<Optional<String>>> reachabilityCheck = new AtomicReference<>();
    /** The last reachability check's problem (null: none), to log changes only. */
    private final AtomicReference<String> lastProblem = new AtomicReference<>();
    private final AtomicReference<java.util.concurrent.ScheduledExecutorService> watcher = new AtomicReference<>();
    /** The PostgreSQL server the last good check was answered from ("host:port"; empty for SQLite or a Unix socket). */
    private volatile String answeringServer = "";

    private Store(StoreSettings settings, HikariDataSource dataSource) {
        this.settings = settings;
        this.dataSource = dataSource;
        this.jdbi = Jdbi.create(dataSource);
    }

    /** Opens the store and checks it answers; without metrics. */
    public static Store open(StoreSettings settings) {
        return open(settings, null);
    }

    /**
     * Opens the pool and makes one connection, so that a wrong URL, password or path fails here
     * with a clear message rather than on the first request.
     *
     * @param meters where the pool publishes {@code hikaricp_*} metrics, or null
     * @throws StoreException naming the (masked) URL and the cause
     */
    public static Store open(StoreSettings settings, MeterRegistry meters) {
        return open(settings, meters, STARTUP_TIMEOUT);
    }

    /** As {@link #open(StoreSettings, MeterRegistry)}, giving up on the first connection after {@code startupTimeout}. */
    static Store open(StoreSettings settings, MeterRegistry meters, Duration startupTimeout) {
        HikariConfig hikari = new HikariConfig();
        hikari.setJdbcUrl(settings.url());
        hikari.setPoolName(settings.isSqlite() ? "store-sqlite" : "store-postgresql");
        hikari.setConnectionTimeout(Duration.ofSeconds(10).toMillis());
        hikari.setInitializationFailTimeout(startupTimeout.toMillis());
        if (settings.user() != null) {
            hikari.setUsername(settings.user());
        }
        if (settings.password() != null) {
            hikari.setPassword(settings.password());
        }
        if (settings.isSqlite()) {
            if (settings.user() != null || settings.password() != null) {
                log.warn("store.user and store.password are for PostgreSQL; the SQLite file {} is opened without them",
                        settings.sqliteFile());
            }
            createParentDirectory(settings.sqliteFile());
            createOwnerOnly(settings.sqliteFile());
            hikari.setDriverClassName("org.sqlite.JDBC");
            hikari.setMaximumPoolSize(1);
            hikari.setMinimumIdle(1);
            // sqlite-jdbc applies these pragmas to every connection it opens.
            hikari.addDataSourceProperty("journal_mode", "WAL");
            hikari.addDataSourceProperty("synchronous", "NORMAL");
            hikari.addDataSourceProperty("busy_timeout", "5000");
            hikari.addDataSourceProperty("foreign_keys", "true");
            hikari.addDataSourceProperty("transaction_mode", "IMMEDIATE");
            // The single connection lives as long as the node; recycling it gains nothing.
            hikari.setMaxLifetime(0);
            hikari.setIdleTimeout(0);
        } else {
            hikari.setDriverClassName("org.postgresql.Driver");
            hikari.setMaximumPoolSize(POSTGRESQL_POOL_SIZE);
            // pgjdbc's own properties (seconds); parameters in the URL take precedence over them.
            hikari.addDataSourceProperty("connectTimeout", Integer.toString(PG_CONNECT_TIMEOUT_S));
            hikari.addDataSourceProperty("loginTimeout", Integer.toString(PG_LOGIN_TIMEOUT_S));
            hikari.addDataSourceProperty("socketTimeout", Integer.toString(PG_SOCKET_TIMEOUT_S));
            hikari.addDataSourceProperty("tcpKeepAlive", "true");
            hikari.addDataSourceProperty("targetServerType", "primary");
            hikari.addDataSourceProperty("hostRecheckSeconds", Integer.toString(PG_HOST_RECHECK_S));
            hikari.setExceptionOverrideClassName(PrimaryOnlyEviction.class.getName());
            hikari.setConnectionTimeout(PG_POOL_TIMEOUT_MS);
            hikari.setValidationTimeout(PG_VALIDATION_TIMEOUT_MS);
            hikari.setKeepaliveTime(PG_KEEPALIVE_MS);
        }
        if (meters != null) {
            hikari.setMetricsTrackerFactory(new MicrometerMetricsTrackerFactory(meters));
        }
        if (!settings.isSqlite() && settings.postgresqlHostUrls().size() == 1) {
            refuseAtOnceWhatNoRetryMends(settings);
        }
        HikariDataSource dataSource;
        try {
            dataSource = new HikariDataSource(hikari);
        } catch (RuntimeException e) {
            java.util.List<String> hosts = settings.postgresqlHostUrls();
            if (hosts.size() > 1) {
                // pgjdbc reports only the last host it tried: a missing database on the first,
                // whose standby is down, read as "Connection refused"
                java.util.List<String> refusals = new java.util.ArrayList<>();
                String each = eachHostsAnswer(settings, hosts, refusals);
                // transient (08001) unless a host refused for a reason of its own (a missing
                // database, a wrong password), which a retry will not mend
                SQLException summary = refusals.isEmpty() ? new SQLException(each, "08001", e) : new SQLException(each, refusals.getFirst());
                if (!refusals.isEmpty()) {
                    summary.addSuppressed(e); // not its cause: pgjdbc's last host (refused) would make it read as an outage
                }
                throw new StoreException("cannot open store " + settings.maskedUrl() + ": " + each, summary);
            }
            throw new StoreException("cannot open store " + settings.maskedUrl() + ": " + RootCause.message(e), e);
        }
        if (settings.postgresqlHostUrls().size() > 1 && settings.url().contains("targetServerType=any")) {
            log.warn("store.url names several hosts with targetServerType=any: a node may connect to a standby, whose"
                    + " refused writes then fail requests until its connections are replaced; leave it out (primary)");
        }
        log.info("opened {} ({})", settings.maskedUrl(), settings.isSqlite() ? "SQLite, one connection, WAL" : "PostgreSQL");
        return new Store(settings, dataSource);
    }

    /**
     * One connection before the pool's: a server that answers but refuses this node for good (no
     * such database, 3D000; a login refused, class 28: an unknown role, a wrong password) fails
     * the open at once. The pool tries again and again until its start timeout whatever the error,
     * which made a typo in the database's name a 10 s wait before its one line. Anything else (no
     * answer, a server starting up or shutting down, 57P03/57P01, too many clients, 53300) is left
     * to the pool, which waits for it: it may be starting beside this node.
     */
    private static void refuseAtOnceWhatNoRetryMends(StoreSettings settings) {
        try (Connection probe = new org.postgresql.Driver().connect(settings.url(), probeProperties(settings))) {
            // it answers and takes this node: the pool opens its own connections next
        } catch (SQLException e) {
            if (refusesForGood(e)) {
                throw new StoreException("cannot open store " + settings.maskedUrl() + ": " + RootCause.message(e), e);
            }
        } catch (RuntimeException e) {
            // a URL pgjdbc cannot use fails the pool's way, with the pool's words
        }
    }

    /** A login refused (class 28: an unknown role, a wrong password) or no such database (3D000). */
    private static boolean refusesForGood(SQLException e) {
        String state = e.getSQLState();
        return state != null && (state.startsWith("28") || state.equals("3D000"));
    }

    /** Credentials and short timeouts for a connection that only asks whether a server takes this node. */
    private static java.util.Properties probeProperties(StoreSettings settings) {
        java.util.Properties properties = new java.util.Properties();
        if (settings.user() != null) {
            properties.setProperty("user", settings.user());
        }
        if (settings.password() != null) {
            properties.setProperty("password", settings.password());
        }
        properties.setProperty("connectTimeout", "3");
        properties.setProperty("loginTimeout", "5");
        properties.setProperty("socketTimeout", "5");
        return properties;
    }

    /** What each host of a multi-host URL answers when asked alone, within a few seconds each. */
    private static String eachHostsAnswer(StoreSettings settings, java.util.List<String> hosts, java.util.List<String> refusals) {
        java.util.List<String> answers = new java.util.ArrayList<>();
        for (String single : hosts) {
            java.util.Properties properties = probeProperties(settings);
            String host = new StoreSettings(single, null, null).maskedUrl().replaceFirst("^jdbc:postgresql://", "")
                    .replaceFirst("/.*$", "");
            try (Connection alone = new org.postgresql.Driver().connect(single, properties);
                 var statement = alone.createStatement();
                 ResultSet recovery = statement.executeQuery("select pg_is_in_recovery()")) {
                recovery.next();
                answers.add(host + ": answers, as " + (recovery.getBoolean(1) ? "a standby (read-only)" : "a primary"));
            } catch (SQLException e) {
                answers.add(host + ": " + RootCause.message(e));
                if (refusesForGood(e)) {
                    refusals.add(e.getSQLState()); // 3D000 no such database, 28P01 wrong password, ...
                }
            } catch (RuntimeException e) {
                answers.add(host + ": " + RootCause.message(e));
            }
        }
        return String.join("; ", answers);
    }

    private static void createParentDirectory(Path file) {
        if (file == null || file.toAbsolutePath().getParent() == null) {
            return;
        }
        Path parent = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
        } catch (IOException e) {
            throw new StoreException("cannot create directory " + parent + " for the SQLite file: " + e, e);
        }
    }

    /**
     * The SQLite file holds the SIP digests (as good as the devices' passwords) and the key that
     * signs access tokens: a new one is made readable by its owner only, and SQLite gives its
     * -wal and -shm files the database file's mode. An existing file that others can read is left
     * as it is (something else may read it on purpose), with a warning.
     */
    private static void createOwnerOnly(Path file) {
        if (file == null || !file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return;
        }
        try {
            if (Files.notExists(file)) {
                Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
                return;
            }
            var permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ)) {
                log.warn("{} is readable by every user of this machine (mode {}): it holds the SIP digests and the key that"
                        + " signs access tokens; chmod 600 it (and its -wal and -shm files)", file,
                        java.nio.file.attribute.PosixFilePermissions.toString(permissions));
            }
        } catch (java.nio.file.FileAlreadyExistsException raced) {
            // another process made it meanwhile: SQLite opens it as it is
        } catch (IOException | UnsupportedOperationException e) {
            log.debug("could not check or set the mode of {}: {}", file, e.toString());
        }
    }

    /** Below this much free space on the SQLite file's disk the node is not ready: its writes fail. */
    private static final long MIN_FREE_BYTES = 1024 * 1024;

    /** Why the disk holding the SQLite file cannot take writes, or empty. */
    private Optional<String> sqliteDiskProblem() {
        Path file = settings.sqliteFile();
        if (file == null) {
            return Optional.empty();
        }
        // File's calls are one statfs each; a file system that reports no size at all (some
        // FUSE or 9p mounts answer 0) tells nothing, and is not taken for a full one
        java.io.File directory = file.toAbsolutePath().getParent().toFile();
        long total = directory.getTotalSpace();
        long free = directory.getUsableSpace();
        if (total > 0 && free < MIN_FREE_BYTES) {
            return Optional.of("the disk holding " + file + " is full (" + free / 1024 + " KB free): writes fail until space is freed");
        }
        return Optional.empty();
    }

    public StoreSettings settings() {
        return settings;
    }

    public boolean isSqlite() {
        return settings.isSqlite();
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    /**
     * Brings {@code module}'s tables to the newest version in {@code classpath:db/migration/<module>}.
     * A missing location is an error: a module that calls this has migrations, and a typo in its
     * folder name should not leave it without tables.
     *
     * @return the schema version after migrating
     * @throws StoreException with the failing migration's message
     */
    public String migrate(String module) {
        Flyway flyway = flywayOf(module, settings.isSqlite() ? dataSource : new PatientDataSource(dataSource, MIGRATION_STATEMENT_TIMEOUT))
                // Other modules' tables make the schema non-empty. Baseline at version 0 so a
                // module's first migration (V1) still runs when it joins an existing database.
                .baselineOnMigrate(true)
                .baselineVersion("0")
                .load();
        try (MigrationLock ignored = migrationLock()) {
            MigrateResult result = migrateWaitingForLocks(module, flyway);
            String version = result.targetSchemaVersion != null ? result.targetSchemaVersion
                    : flyway.info().current() == null ? "none" : flyway.info().current().getVersion().getVersion();
            log.info("{} schema at version {} ({} migration{} applied)", module, version,
                    result.migrationsExecuted, result.migrationsExecuted == 1 ? "" : "s");
            return version;
        } catch (FlywayException e) {
            var trouble = StoreFailure.kind(e);
            if (trouble.isPresent()) {
                // Flyway's own text is a multi-line report around the driver's message
                throw new StoreException("the store at " + settings.maskedUrl() + " " + trouble.get().whatTheStoreDid()
                        + " (" + RootCause.message(e) + ")", e);
            }
            throw new StoreException("migrations of " + module + " failed: " + e.getMessage(), e);
        }
    }

    /** How long migrations keep trying for their tables' locks: {@link #MIGRATION_STATEMENT_TIMEOUT}, shorter in tests. */
    private volatile Duration migrationLockPatience = MIGRATION_STATEMENT_TIMEOUT;

    /** For tests: gives up on tables' locks sooner than the migrations' bound. */
    void migrationLockPatienceForTest(Duration patience) {
        migrationLockPatience = patience;
    }

    /**
     * Runs the migrations, again after a pause each time one could not get its locks within
     * {@link #MIGRATION_LOCK_TIMEOUT}, for up to {@link #MIGRATION_STATEMENT_TIMEOUT} from the first
     * such refusal. A failed migration's transaction is rolled back whole on PostgreSQL, history
     * row included, so the next attempt starts it over; that is why every migration of this
     * project runs in a transaction (docs/development.md). The price: a table that other
     * transactions always hold for longer than the lock timeout keeps the migration out, where a
     * waiting one would have got in between them; after the bound the node does not start, and says why.
     */
    private MigrateResult migrateWaitingForLocks(String module, Flyway flyway) {
        long firstRefusal = 0;
        long lastSaid = 0;
        int attempts = 0;
        while (true) {
            try {
                return flyway.migrate();
            } catch (FlywayException e) {
                if (!lockNotAvailable(e)) {
                    throw e;
                }
                attempts++;
                if (firstRefusal == 0) {
                    firstRefusal = System.nanoTime();
                } else if (System.nanoTime() - firstRefusal > migrationLockPatience.toNanos()) {
                    Duration patience = migrationLockPatience;
                    throw new StoreException("migrations of " + module + " could not lock their tables in "
                            + (patience.toMinutes() > 0 ? patience.toMinutes() + " minutes" : patience.toSeconds() + " s")
                            + " (" + attempts + " attempts): other transactions"
                            + " kept holding them longer than " + MIGRATION_LOCK_TIMEOUT.toSeconds() + " s at a time; end those"
                            + " (pg_stat_activity names them) or upgrade at a quieter hour", e);
                }
                if (lastSaid == 0 || System.nanoTime() - lastSaid > Duration.ofSeconds(30).toNanos()) {
                    lastSaid = System.nanoTime();
                    log.warn("a migration of {} waits for a lock on its tables: another transaction holds one (a long query, or"
                            + " a session idle in a transaction); trying again every {} s, {} attempt{} so far",
                            module, MIGRATION_LOCK_RETRY_PAUSE.toSeconds(), attempts, attempts == 1 ? "" : "s");
                }
                try {
                    Thread.sleep(MIGRATION_LOCK_RETRY_PAUSE);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    /** Whether PostgreSQL gave up waiting for a lock (SQLSTATE 55P03 lock_not_available, after lock_timeout). */
    private static boolean lockNotAvailable(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "55P03".equals(sql.getSQLState())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Where {@code module}'s tables stand: the version applied here (empty when the module never
     * migrated here) and the newest this build knows.
     */
    public record SchemaState(Optional<String> current, String newest) {
        /** Whether this build's newest migrations have all been applied here. */
        public boolean upToDate() {
            return current.isPresent() && current.get().equals(newest);
        }
    }

    /**
     * {@link SchemaState} of {@code module}, read without migrating anything: for commands that
     * only read and must not create tables in a store named by mistake. Its statements are bounded
     * by the connection's socket timeout, not the migrations' patience.
     */
    public SchemaState schemaState(String module) {
        Flyway flyway = flywayOf(module, dataSource).load();
        try {
            org.flywaydb.core.api.MigrationInfoService info = flyway.info();
            org.flywaydb.core.api.MigrationInfo current = info.current();
            org.flywaydb.core.api.MigrationInfo[] all = info.all();
            String newest = all.length == 0 || all[all.length - 1].getVersion() == null ? "none"
                    : all[all.length - 1].getVersion().getVersion();
            return new SchemaState(current == null || current.getVersion() == null ? Optional.empty()
                    : Optional.of(current.getVersion().getVersion()), newest);
        } catch (FlywayException e) {
            throw new StoreException("could not read the schema history of " + module + ": " + e.getMessage(), e);
        }
    }

    /**
     * Flyway for {@code module}'s migrations ({@code classpath:db/migration/<module>}, history in
     * {@code flyway_<module>_history}) on {@code source}. A missing location is an error: a module
     * that calls this has migrations, and a typo in its folder name should not leave it without tables.
     */
    private static org.flywaydb.core.api.configuration.FluentConfiguration flywayOf(String module, DataSource source) {
        if (!MODULE_NAME.matcher(module).matches()) {
            throw new IllegalArgumentException("module name \"" + module + "\" must match " + MODULE_NAME);
        }
        return Flyway.configure(Store.class.getClassLoader())
                .dataSource(source)
                .locations("classpath:db/migration/" + module)
                .table("flyway_" + module + "_history")
                .failOnMissingLocations(true);
    }

    /** Held while a module migrates; released by closing. */
    private interface MigrationLock extends AutoCloseable {
        @Override
        void close();
    }

    /** Key of the PostgreSQL advisory lock that nodes migrate under ("SWBD"). */
    static final long MIGRATION_LOCK_KEY = 0x53574244L;

    /**
     * On PostgreSQL, a session advisory lock that makes nodes starting together migrate one at a
     * time. Without it two nodes starting on a fresh database raced in Flyway's baseline: one
     * created a module's history table, and the other, finding it there but still empty, refused
     * to start ("Unable to baseline schema history table ... as it already exists, and is
     * empty"). Waiting for the lock is bounded like the migrations' statements. SQLite has one
     * node and needs none.
     */
    private MigrationLock migrationLock() {
        if (settings.isSqlite()) {
            return () -> { };
        }
        Connection connection = null;
        try {
            connection = dataSource.getConnection();
            // the pool's socket timeout (15 s) would end the wait long before its query timeout:
            // another node's migrations may hold the lock for minutes (waiting for a table lock
            // among them); the pool puts the network timeout back when the connection returns
            connection.setNetworkTimeout(Runnable::run, Math.toIntExact(MIGRATION_STATEMENT_TIMEOUT.plusSeconds(30).toMillis()));
            try (java.sql.Statement lock = connection.createStatement()) {
                lock.setQueryTimeout((int) MIGRATION_STATEMENT_TIMEOUT.toSeconds());
                lock.execute("select pg_advisory_lock(" + MIGRATION_LOCK_KEY + ")");
            }
        } catch (SQLException e) {
            closeQuietly(connection);
            throw new StoreException("could not take the migration lock: " + RootCause.message(e), e);
        }
        Connection held = connection;
        return () -> {
            try (java.sql.Statement unlock = held.createStatement()) {
                unlock.execute("select pg_advisory_unlock(" + MIGRATION_LOCK_KEY + ")");
            } catch (SQLException e) {
                // the lock belongs to the session: a pooled connection keeps it, so this one goes
                log.warn("could not release the migration lock ({}); dropping its connection releases it", RootCause.message(e));
                dataSource.evictConnection(held);
            } finally {
                closeQuietly(held);
            }
        };
    }

    private static void closeQuietly(Connection connection) {
        if (connection == null) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            // the connection is broken: the server ends its session and with it the lock
        }
    }

    /**
     * Whether the database answers within two seconds and, on PostgreSQL, takes writes, for
     * readiness. Returns the problem, or empty when reachable. Concurrent callers share one check
     * in flight, so a hanging database does not pile up waiting threads.
     */
    public Optional<String> reachabilityProblem() {
        CompletableFuture<Optional<String>> check = reachabilityCheck.get();
        if (check == null) {
            CompletableFuture<Optional<String>> mine = new CompletableFuture<>();
            if (reachabilityCheck.compareAndSet(null, mine)) {
                Thread.ofVirtual().name("store-reachability").start(() -> {
                    try {
                        mine.complete(noted(selectOne()));
                    } finally {
                        reachabilityCheck.compareAndSet(mine, null);
                    }
                });
                check = mine;
            } else {
                check = reachabilityCheck.get();
                if (check == null) {
                    return reachabilityProblem();
                }
            }
        }
        try {
            return check.get(REACHABLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return Optional.of("no answer within " + REACHABLE_TIMEOUT.toSeconds() + "s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of("interrupted");
        } catch (ExecutionException e) {
            return Optional.of(RootCause.message(e));
        }
    }

    /** Shorthand for {@code reachabilityProblem().isEmpty()}. */
    public boolean isReachable() {
        return reachabilityProblem().isEmpty();
    }

    /**
     * Logs when the store stops answering and when it answers again (with the server it answers
     * from, which after a failover is the promoted one): a failover otherwise ends with the last
     * failure in the log and no word that it is over.
     */
    private Optional<String> noted(Optional<String> problem) {
        if (dataSource.isClosed()) {
            return problem; // the node is stopping: a probe still in flight is no news
        }
        String before = lastProblem.getAndSet(problem.orElse(null));
        if (problem.isPresent() && before == null) {
            log.warn("the store is not usable: {}", problem.get());
        } else if (problem.isEmpty() && before != null) {
            log.info("the store answers again{} (it did not: {})", answeringServer.isEmpty() ? "" : " from " + answeringServer, before);
        }
        return problem;
    }

    private Optional<String> selectOne() {
        if (dataSource.isClosed()) {
            return Optional.of("closed");
        }
        try (Connection connection = dataSource.getConnection();
             var statement = connection.createStatement()) {
            statement.setQueryTimeout((int) REACHABLE_TIMEOUT.toSeconds());
            if (settings.isSqlite()) {
                statement.execute("select 1");
                return sqliteDiskProblem();
            }
            // A server that answers but refuses writes (a primary fenced read-only, or brought back
            // as a standby while this connection lived) is no store for this node: not ready, and
            // this connection goes at once and the pool's others as they come back (they were
            // most likely opened to the same server), so new ones are opened to whichever host is
            // primary now.
            try (ResultSet server = statement.executeQuery(
                    "select current_setting('transaction_read_only'), inet_server_addr()::text, inet_server_port()")) {
                server.next();
                if ("on".equals(server.getString(1))) {
                    dataSource.evictConnection(connection);
                    dataSource.getHikariPoolMXBean().softEvictConnections();
                    return Optional.of("read-only (a standby, or a primary refusing writes); its connections are replaced");
                }
                String address = server.getString(2); // "127.0.0.1/32"; null over a Unix socket
                if (address != null) {
                    address = address.replaceFirst("/\\d+$", "");
                    answeringServer = (address.contains(":") ? "[" + address + "]" : address) + ":" + server.getInt(3);
                }
            }
            return Optional.empty();
        } catch (SQLException | RuntimeException e) {
            String message = RootCause.message(e);
            if (message != null && message.contains("targetServerType")) {
                // pgjdbc's words when every host it tried answered as a standby or read-only
                return Optional.of("read-only: no host in store.url takes writes (those that answered are standbys or"
                        + " have default_transaction_read_only on; pgjdbc: " + message + ")");
            }
            return Optional.of(message);
        }
    }

    /**
     * Asks {@link #reachabilityProblem()} every {@code every} from now until {@link #close()}, so
     * the log says when the store stops answering and when it answers again (with the server)
     * although nothing polls {@code /readyz}: a node without a balancer, or whose balancer checks
     * another path, used to write neither line. One {@code select} per period; a probe already in
     * flight (a readiness poll) is shared.
     */
    public void watchReachability(Duration every) {
        var watch = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
                Thread.ofPlatform().daemon().name("store-watch").factory());
        if (!watcher.compareAndSet(null, watch)) {
            watch.shutdown();
            throw new IllegalStateException("the store is watched already");
        }
        watch.scheduleWithFixedDelay(() -> {
            try {
                reachabilityProblem();
            } catch (RuntimeException e) {
                // a thrown task would never run again; the next period asks anew
                log.debug("store reachability probe failed", e);
            }
        }, every.toMillis(), every.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        var watch = watcher.getAndSet(null);
        if (watch != null) {
            watch.shutdownNow();
        }
        dataSource.close();
    }

    /**
     * The pool, with a longer socket timeout on the connections it hands out (for migrations) and
     * PostgreSQL's {@code lock_timeout} set to {@link #MIGRATION_LOCK_TIMEOUT}. Hikari puts a
     * connection's network timeout back when it returns to the pool, but not a session setting:
     * the lock timeout is put back to the server's default before the connection goes back.
     */
    private static final class PatientDataSource implements DataSource {
        private final HikariDataSource pool;
        private final int timeoutMillis;

        PatientDataSource(HikariDataSource pool, Duration timeout) {
            this.pool = pool;
            this.timeoutMillis = Math.toIntExact(timeout.toMillis());
        }

        @Override
        public Connection getConnection() throws SQLException {
            return patient(pool.getConnection());
        }

        @Override
        public Connection getConnection(String username, String password) throws SQLException {
            return patient(pool.getConnection(username, password));
        }

        private Connection patient(Connection connection) throws SQLException {
            try {
                connection.setNetworkTimeout(Runnable::run, timeoutMillis);
                try (java.sql.Statement set = connection.createStatement()) {
                    set.execute("SET lock_timeout = '" + MIGRATION_LOCK_TIMEOUT.toMillis() + "ms'");
                }
            } catch (SQLException | RuntimeException e) {
                connection.close();
                throw e;
            }
            return (Connection) java.lang.reflect.Proxy.newProxyInstance(Connection.class.getClassLoader(),
                    new Class<?>[] {Connection.class}, (proxy, method, args) -> {
                        if (method.getName().equals("equals") && method.getParameterCount() == 1) {
                            return proxy == args[0];
                        }
                        if (method.getName().equals("hashCode") && method.getParameterCount() == 0) {
                            return System.identityHashCode(proxy);
                        }
                        if (method.getName().equals("close") && method.getParameterCount() == 0 && !connection.isClosed()) {
                            boolean putBack = false;
                            try (java.sql.Statement reset = connection.createStatement()) {
                                // a RESET in a transaction that is then rolled back (as the pool does with
                                // one left open) is undone with it: end any first, and commit the RESET
                                boolean inTransactions = !connection.getAutoCommit();
                                if (inTransactions) {
                                    connection.rollback();
                                }
                                reset.execute("RESET lock_timeout");
                                if (inTransactions) {
                                    connection.commit();
                                }
                                putBack = true;
                            } catch (SQLException e) {
                                log.debug("could not put lock_timeout back on a migration's connection, dropping it: {}",
                                        RootCause.message(e));
                            }
                            if (!putBack) {
                                // it must not serve the node with the migrations' lock timeout: dropped, not returned
                                pool.evictConnection(connection);
                                return null;
                            }
                        }
                        try {
                            return method.invoke(connection, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        }

        @Override
        public java.io.PrintWriter getLogWriter() throws SQLException {
            return pool.getLogWriter();
        }

        @Override
        public void setLogWriter(java.io.PrintWriter out) throws SQLException {
            pool.setLogWriter(out);
        }

        @Override
        public void setLoginTimeout(int seconds) throws SQLException {
            pool.setLoginTimeout(seconds);
        }

        @Override
        public int getLoginTimeout() throws SQLException {
            return pool.getLoginTimeout();
        }

        @Override
        public java.util.logging.Logger getParentLogger() throws java.sql.SQLFeatureNotSupportedException {
            return pool.getParentLogger();
        }

        @Override
        public <T> T unwrap(Class<T> type) throws SQLException {
            return pool.unwrap(type);
        }

        @Override
        public boolean isWrapperFor(Class<?> type) throws SQLException {
            return pool.isWrapperFor(type);
        }
    }
}
