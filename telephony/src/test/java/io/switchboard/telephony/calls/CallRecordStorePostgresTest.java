package io.switchboard.telephony.calls;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.PostgresTestDatabase;

/** Every call history store test again, on PostgreSQL (a throw-away database on the local server). */
class CallRecordStorePostgresTest extends CallRecordStoreTest {
    private PostgresTestDatabase database;

    @Override
    StoreSettings storeSettings() throws Exception {
        database = PostgresTestDatabase.create();
        return database.settings();
    }

    @Override
    void dropDatabase() throws Exception {
        if (database != null) {
            database.close();
        }
    }
}
