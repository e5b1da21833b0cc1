package io.switchboard.server.chat;

import io.switchboard.platform.store.PostgresTestDatabase;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The chat API on PostgreSQL (the local server; a database made and dropped for this class). */
class ChatApiPostgresTest extends ChatApiContract {
    @TempDir
    static Path dataDir;
    static PostgresTestDatabase database;
    static ChatNode node;

    @BeforeAll
    static void start() throws Exception {
        database = PostgresTestDatabase.create();
        node = new ChatNode(dataDir, Map.of("SWITCHBOARD_CHAT_MAX_MESSAGE_LENGTH", "100",
                "SWITCHBOARD_STORE_URL", database.settings().url(), "SWITCHBOARD_STORE_USER", database.settings().user()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (node != null) {
            node.close();
        }
        if (database != null) {
            database.close();
        }
    }

    @Override
    ChatNode node() {
        return node;
    }
}
