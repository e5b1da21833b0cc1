package io.switchboard.chat.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.switchboard.chat.ChatOverHttp;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.testing.CapturedLog;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Upgrades to the stream with a token that is not good are logged with the client's address, a flood in one line. */
class StreamUpgradeTokenLogTest {
    @Test
    void aFloodOfBadTokensIsOneLineNamingTheAddressAndNotTheToken(@TempDir Path dir) throws Exception {
        try (ChatOverHttp chat = new ChatOverHttp(dir); CapturedLog log = CapturedLog.of(PersonAuth.class)) {
            HttpClient client = HttpClient.newHttpClient();
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> client.newWebSocketBuilder()
                        .buildAsync(URI.create(chat.wsUrl(StreamEndpoint.PATH + "?access_token=forged-token-123")),
                                new WebSocket.Listener() { })
                        .get(10, TimeUnit.SECONDS)).rootCause().hasMessageContaining("401");
            }
            assertThat(log.messagesAt(Level.INFO)).singleElement().satisfies(line -> assertThat(line)
                    .contains("upgrade to /api/v1/stream from 127.0.0.1 was refused")
                    .doesNotContain("forged-token-123"));
        }
    }
}
