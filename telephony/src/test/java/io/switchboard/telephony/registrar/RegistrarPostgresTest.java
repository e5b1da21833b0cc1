package io.switchboard.telephony.registrar;

import io.switchboard.platform.store.PostgresTestDatabase;
import org.junit.jupiter.api.AfterEach;

/** Every registrar test again, on PostgreSQL (a throw-away database on the local server). */
class RegistrarPostgresTest extends RegistrarTest {
    /** One per fixture: a test may replace the fixture with one configured differently. */
    private final java.util.List<PostgresTestDatabase> databases = new java.util.ArrayList<>();

    @Override
    RegistrarFixture newFixture(RegistrarSettings settings) throws Exception {
        PostgresTestDatabase database = PostgresTestDatabase.create();
        databases.add(database);
        return new RegistrarFixture(database.settings(), settings);
    }

    @AfterEach
    void dropDatabase() throws Exception {
        node.close();
        node = null;
        for (PostgresTestDatabase database : databases) {
            database.close();
        }
    }
}
