package io.switchboard.platform.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each HTTP server watches its own WebSocket clients' frames, wired when it starts: two servers
 * in one process do not share sessions, and no upgrade is needed to put the watch in place.
 */
class WebSocketSilenceTest {
    @Test
    void eachServerWatchesItsOwnStreamsFromTheStart() throws Exception {
        try (Metrics metrics = new Metrics()) {
            HttpServer first = server(metrics);
            HttpServer second = server(metrics);
            try {
                assertThat(first.webSocketsWatched()).as("wired at start, before any upgrade").isTrue();
                assertThat(second.webSocketsWatched()).isTrue();

                CompletableFuture<String> answer = new CompletableFuture<>();
                WebSocket socket = HttpClient.newHttpClient().newWebSocketBuilder()
                        .buildAsync(URI.create(first.baseUrl().replace("http://", "ws://") + "/ws/test/silence"),
                                new WebSocket.Listener() {
                                    @Override
                                    public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                                        answer.complete(data.toString());
                                        return null;
                                    }
                                }).get(10, TimeUnit.SECONDS);
                socket.sendText("how long?", true);
                assertThat(answer.get(10, TimeUnit.SECONDS)).as("the endpoint finds its server's watch").startsWith("silent PT");
                assertThat(first.webSocketSilence().watched()).isEqualTo(1);
                assertThat(second.webSocketSilence().watched()).as("not the other server's session").isZero();
                socket.sendClose(1000, "done").get(10, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(10)).until(() -> first.webSocketSilence().watched() == 0);
            } finally {
                first.stop();
                second.stop();
            }
        }
    }

    private static HttpServer server(Metrics metrics) {
        HttpServer server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        server.addRoutes(routes -> routes.ws("/ws/test/silence",
                ws -> ws.onMessage(msg -> msg.send("silent " + WebSocketSilence.of(msg)))));
        server.start();
        return server;
    }
}
