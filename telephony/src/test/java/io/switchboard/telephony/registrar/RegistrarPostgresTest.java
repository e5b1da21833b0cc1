package io.switchboard.telephony.registrar;

import io.switchboard.platform.store.PostgresTestDatabase;
import org.junit.jupiter.api.AfterEach;

/** Every registrar test again, on PostgreSQL (a throw-away database on the local server). */
class RegistrarPostgresTest extends RegistrarTest {
    private PostgresTestDatabase database;

    @Override
    RegistrarFixture newFixture(RegistrarSettings settings) throws Exception {
        database = PostgresTestDatabase.create();
        return new RegistrarFixture(database.settings(), settings);
    }

    @AfterEach
    void dropDatabase() throws Exception {
        node.close();
        node = null;
        if (database != null) {
            database.close();
        }
    }
}
