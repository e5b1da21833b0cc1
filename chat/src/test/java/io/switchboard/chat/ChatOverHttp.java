package io.switchboard.chat;

import io.switchboard.chat.api.ChatApi;
import io.switchboard.chat.store.ChatMembership;
import io.switchboard.chat.store.ChatStore;
import io.switchboard.chat.store.MessageWriter;
import io.switchboard.chat.stream.StreamEndpoint;
import io.switchboard.platform.auth.PersonAuth;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.ConfigSection;
import io.switchboard.platform.config.HostPort;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.http.HttpServer;
import io.switchboard.platform.lifecycle.Readiness;
import io.switchboard.platform.metrics.Metrics;
import io.switchboard.platform.store.Store;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;

/**
 * The chat API and stream served by a real HTTP server on an ephemeral port, over a SQLite store
 * in {@code dir}, without the rest of a node: for tests of what the chat module answers over HTTP.
 */
public final class ChatOverHttp implements AutoCloseable {
    private static final HttpClient client = HttpClient.newHttpClient();
    public final Store store;
    public final Metrics metrics = new Metrics();
    public final PersonAuth auth;
    public final ChatStore chats;
    public final HttpServer server;
    private final LocalBus bus;
    private final MessageWriter writer;
    private final StreamEndpoint stream;

    public ChatOverHttp(Path dir) {
        Clock clock = Clock.systemUTC();
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("platform");
        store.migrate("chat");
        // a cheap password hash: tests sign in often
        auth = PersonAuth.fromConfig(ConfigSection.of("auth", Map.of("passwordHashMemory", 8, "passwordHashIterations", 1)),
                store.jdbi(), clock, metrics.registry());
        bus = new LocalBus(metrics.registry());
        chats = new ChatStore(store.jdbi(), clock);
        ChatSettings settings = ChatSettings.defaults();
        ChatMetrics chatMetrics = new ChatMetrics(metrics.registry());
        ChatMembership membership = new ChatMembership(chats, clock);
        writer = new MessageWriter(store.jdbi(), clock, 1000, committed -> { });
        server = new HttpServer(new HostPort("127.0.0.1", 0), metrics, new Readiness(), Duration.ofSeconds(1));
        stream = new StreamEndpoint(auth, chats, server.json(), settings, chatMetrics, clock);
        ChatApi api = new ChatApi(auth, chats, membership, writer, bus, settings, chatMetrics, server.json());
        server.addRoutes(routes -> {
            api.register(routes);
            stream.register(routes);
        });
        writer.start();
        stream.start();
        server.start();
    }

    /** A person made and signed in. */
    public record SignedIn(String id, String accessToken) {
    }

    public SignedIn signedIn(String username) {
        String id = auth.create(username, username + "-password-1", null, false).id();
        return new SignedIn(id, auth.signIn(username, username + "-password-1", "127.0.0.1").tokens().accessToken());
    }

    public HttpResponse<String> get(String path, String accessToken) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + path))
                .header("Authorization", "Bearer " + accessToken).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    public String wsUrl(String path) {
        return server.baseUrl().replace("http://", "ws://") + path;
    }

    @Override
    public void close() {
        server.stop();
        stream.stop();
        writer.close();
        store.close();
        metrics.close();
    }
}
