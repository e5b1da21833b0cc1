package io.switchboard.telephony.accounts;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;
import org.junit.jupiter.api.AfterEach;

/** Every account race test again, on PostgreSQL (a throw-away database on the local server). */
class AccountRacesPostgresTest extends AccountRacesTest {
    private PostgresTestDatabase database;

    @Override
    StoreSettings storeSettings() throws Exception {
        database = PostgresTestDatabase.create();
        return database.settings();
    }

    @AfterEach
    void dropDatabase() throws Exception {
        close();
        if (database != null) {
            database.close();
        }
    }
}
