package io.switchboard.monitor.store;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import org.junit.jupiter.api.AfterEach;

/** Every store test again on PostgreSQL (a throw-away database on the local server). */
class MonitorStorePostgresTest extends MonitorStoreTest {
    private PostgresTestDatabase database;

    @Override
    StoreSettings settings() throws Exception {
        database = PostgresTestDatabase.create();
        return database.settings();
    }

    @AfterEach
    void dropDatabase() throws Exception {
        store.close();
        if (database != null) {
            database.close();
        }
    }
}
