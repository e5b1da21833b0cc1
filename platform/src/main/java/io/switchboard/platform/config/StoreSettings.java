package io.switchboard.platform.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Where the node keeps durable state: a JDBC URL ({@code jdbc:sqlite:FILE} or
 * {@code jdbc:postgresql://HOST/DB}), optional credentials, and how long a busy writer waits to
 * gather a fuller batch before it commits ({@code commitDelay}; null takes the default for the
 * database: {@link #DEFAULT_POSTGRESQL_COMMIT_DELAY} for PostgreSQL, none for SQLite).
 */
public record StoreSettings(String url, String user, String password, Duration commitDelay) {
    /**
     * A PostgreSQL commit is a network round trip and a WAL flush, and in a cluster one bus
     * announcement, whatever the batch holds; at a few thousand writes per second per node,
     * gathering for 2 ms doubles a batch at a cost of 2 ms per write (docs/benchmarks/cluster.md).
     * An SQLite commit is a local file write: there is little to share.
     */
    public static final Duration DEFAULT_POSTGRESQL_COMMIT_DELAY = Duration.ofMillis(2);
    /** Longer would be felt: every acknowledged write under load waits this much more. */
    public static final Duration MAX_COMMIT_DELAY = Duration.ofMillis(100);
    private static final Pattern PASSWORD_PARAM = Pattern.compile("(?i)(password=)[^&;]*");

    public StoreSettings(String url, String user, String password) {
        this(url, user, password, null);
    }

    public StoreSettings {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("empty; expected jdbc:sqlite:FILE or jdbc:postgresql://HOST:PORT/DB");
        }
        url = url.strip();
        if (!isSqlite(url) && !isPostgresql(url)) {
            throw new IllegalArgumentException("\"" + maskUrl(url)
                    + "\" is not supported; expected jdbc:sqlite:FILE or jdbc:postgresql://HOST:PORT/DB");
        }
        if (isSqlite(url) && sqliteTarget(url).isEmpty()) {
            throw new IllegalArgumentException("\"" + url + "\" names no file; expected jdbc:sqlite:FILE");
        }
        if (isPostgresql(url)) {
            String serverType = parameter(url, "targetServerType");
            if (serverType != null && !SERVER_TYPES.contains(serverType)) {
                // pgjdbc refuses it only when connecting, which read as an outage (exit 1)
                throw new IllegalArgumentException("targetServerType=" + serverType + " is not one of " + SERVER_TYPES);
            }
        }
        user = user == null || user.isEmpty() ? null : user;
        password = password == null || password.isEmpty() ? null : password;
        if (commitDelay == null) {
            commitDelay = isPostgresql(url) ? DEFAULT_POSTGRESQL_COMMIT_DELAY : Duration.ZERO;
        }
        if (commitDelay.isNegative() || commitDelay.compareTo(MAX_COMMIT_DELAY) > 0) {
            throw new IllegalArgumentException("commit delay " + commitDelay.toMillis() + "ms is outside 0ms.."
                    + MAX_COMMIT_DELAY.toMillis() + "ms");
        }
    }

    /** pgjdbc's values for {@code targetServerType} (its HostRequirement; slave is read as secondary). */
    private static final java.util.List<String> SERVER_TYPES = java.util.List.of("any", "primary", "master", "secondary",
            "slave", "preferSecondary", "preferSlave", "preferPrimary");

    /** A URL parameter's value (the last, as pgjdbc reads it), or null. */
    private static String parameter(String url, String name) {
        int query = url.indexOf('?');
        String found = null;
        if (query >= 0) {
            for (String pair : url.substring(query + 1).split("&")) {
                int equals = pair.indexOf('=');
                if (equals > 0 && pair.substring(0, equals).equals(name)) {
                    found = pair.substring(equals + 1);
                }
            }
        }
        return found;
    }

    /**
     * The hosts of a PostgreSQL URL ({@code jdbc:postgresql://h1:5432,h2:5433/db}), each as the
     * URL would name it alone; one entry for a single host, none for SQLite.
     */
    public java.util.List<String> postgresqlHostUrls() {
        if (!isPostgresql() || !url.regionMatches(true, 0, "jdbc:postgresql://", 0, "jdbc:postgresql://".length())) {
            return java.util.List.of();
        }
        String rest = url.substring("jdbc:postgresql://".length());
        int slash = rest.indexOf('/');
        if (slash < 0) {
            return java.util.List.of(url);
        }
        java.util.List<String> single = new java.util.ArrayList<>();
        for (String host : rest.substring(0, slash).split(",")) {
            single.add("jdbc:postgresql://" + host + rest.substring(slash));
        }
        return single;
    }

    /** The embedded default: an SQLite file in the data directory. */
    public static StoreSettings sqliteIn(Path dataDir) {
        return new StoreSettings("jdbc:sqlite:" + dataDir.resolve("switchboard.db"), null, null);
    }

    public boolean isSqlite() {
        return isSqlite(url);
    }

    public boolean isPostgresql() {
        return isPostgresql(url);
    }

    private static boolean isSqlite(String url) {
        return url.toLowerCase(Locale.ROOT).startsWith("jdbc:sqlite:");
    }

    private static boolean isPostgresql(String url) {
        return url.toLowerCase(Locale.ROOT).startsWith("jdbc:postgresql:");
    }

    private static String sqliteTarget(String url) {
        String rest = url.substring("jdbc:sqlite:".length());
        int query = rest.indexOf('?');
        return query >= 0 ? rest.substring(0, query) : rest;
    }

    /**
     * The SQLite database file, or null for PostgreSQL and for in-memory SQLite
     * ({@code jdbc:sqlite::memory:}).
     */
    public Path sqliteFile() {
        if (!isSqlite()) {
            return null;
        }
        String target = sqliteTarget(url);
        if (target.startsWith(":memory:") || target.startsWith("file::memory:")) {
            return null;
        }
        return Path.of(target.startsWith("file:") ? target.substring("file:".length()) : target);
    }

    /** The URL with any {@code password=} parameter replaced, for logs. */
    public String maskedUrl() {
        return maskUrl(url);
    }

    static String maskUrl(String url) {
        return PASSWORD_PARAM.matcher(url).replaceAll("$1***");
    }

    @Override
    public String toString() {
        return "StoreSettings[url=" + maskedUrl() + ", user=" + (user == null ? "" : user)
                + ", password=" + (password == null ? "" : "***") + ", commitDelay=" + commitDelay.toMillis() + "ms]";
    }
}
