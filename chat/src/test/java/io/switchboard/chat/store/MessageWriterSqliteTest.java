package io.switchboard.chat.store;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class MessageWriterSqliteTest extends MessageWriterContract {
    @TempDir
    Path dir;

    @Override
    Store openStore() {
        return Store.open(StoreSettings.sqliteIn(dir));
    }
}
