package io.switchboard.platform.store;

import io.switchboard.platform.config.StoreSettings;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.UUID;

/**
 * A throw-away database on the local PostgreSQL (127.0.0.1:5432, trust auth, user postgres),
 * named {@code sb_test_<random>} so parallel runs never meet, dropped on close.
 * PostgreSQL not answering is a test failure, not a skip: the suite promises both databases.
 */
public final class PostgresTestDatabase implements AutoCloseable {
    private static final String ADMIN_URL = "jdbc:postgresql://127.0.0.1:5432/postgres";
    private static final String USER = "postgres";

    private final String name;

    private PostgresTestDatabase(String name) {
        this.name = name;
    }

    public static PostgresTestDatabase create() throws SQLException {
        String name = "sb_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
        try (Connection c = DriverManager.getConnection(ADMIN_URL, USER, null)) {
            c.createStatement().execute("create database " + name);
        } catch (SQLException e) {
            throw new SQLException("the test suite needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth): "
                    + e.getMessage(), e);
        }
        return new PostgresTestDatabase(name);
    }

    public String name() {
        return name;
    }

    public StoreSettings settings() {
        return new StoreSettings("jdbc:postgresql://127.0.0.1:5432/" + name, USER, null);
    }

    @Override
    public void close() throws SQLException {
        try (Connection c = DriverManager.getConnection(ADMIN_URL, USER, null)) {
            c.createStatement().execute("drop database if exists " + name + " with (force)");
        }
    }
}
