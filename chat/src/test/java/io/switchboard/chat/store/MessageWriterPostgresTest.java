package io.switchboard.chat.store;

import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.platform.store.Store;

class MessageWriterPostgresTest extends MessageWriterContract {
    private PostgresTestDatabase database;

    @Override
    Store openStore() throws Exception {
        database = PostgresTestDatabase.create();
        return Store.open(database.settings());
    }

    @Override
    void dropStore() throws Exception {
        if (database != null) {
            database.close();
        }
    }
}
