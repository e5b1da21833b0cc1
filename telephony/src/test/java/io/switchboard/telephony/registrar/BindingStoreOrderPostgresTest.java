package io.switchboard.telephony.registrar;

import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;
import org.junit.jupiter.api.AfterEach;

/** The same on PostgreSQL, where nodes of a cluster share the store. */
class BindingStoreOrderPostgresTest extends BindingStoreOrderTest {
    private PostgresTestDatabase database;

    @Override
    Store open() throws Exception {
        database = PostgresTestDatabase.create();
        return Store.open(database.settings());
    }

    @AfterEach
    void dropDatabase() throws Exception {
        if (database != null) {
            database.close();
        }
    }
}
