package io.switchboard.server.chat;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** The chat API on the embedded store (SQLite). */
class ChatApiSqliteTest extends ChatApiContract {
    @TempDir
    static Path dataDir;
    static ChatNode node;

    @BeforeAll
    static void start() {
        node = new ChatNode(dataDir, Map.of("SWITCHBOARD_CHAT_MAX_MESSAGE_LENGTH", "100"));
    }

    @AfterAll
    static void stop() {
        node.close();
    }

    @Override
    ChatNode node() {
        return node;
    }
}
