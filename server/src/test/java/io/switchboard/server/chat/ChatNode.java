package io.switchboard.server.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.chat.Chat;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.node.NodeAssembly;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A whole node with the chat module on an ephemeral loopback port, for tests that talk to it over
 * HTTP and WebSocket. Password hashing is made cheap (tests sign many people up); everything else
 * is as configured.
 */
final class ChatNode implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dataDir;
    final Chat chat = new Chat();
    final Node node;

    /** A signed-up person: id, user name, tokens. */
    record Person(String id, String username, String accessToken, String refreshToken) {
    }

    ChatNode(Path dataDir, Map<String, String> env) {
        this.dataDir = dataDir;
        Map<String, String> flags = Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", "");
        // Tests sign many people up from one address: cheap hashes, and no per-address brake
        // unless a test sets one.
        Map<String, String> allEnv = new HashMap<>(Map.of("SWITCHBOARD_AUTH_PASSWORD_HASH_MEMORY", "64",
                "SWITCHBOARD_AUTH_PASSWORD_HASH_ITERATIONS", "1", "SWITCHBOARD_AUTH_SIGN_IN_FAILURES_PER_ADDRESS", "1000000"));
        allEnv.putAll(env);
        NodeConfig config = NodeAssembly.configLoader().load(null, allEnv, flags);
        node = NodeAssembly.create(config, List.of(chat));
        node.start();
    }

    String baseUrl() {
        return node.http().baseUrl();
    }

    URI streamUri(String accessToken) {
        return URI.create(baseUrl().replace("http://", "ws://") + "/api/v1/stream?access_token=" + accessToken);
    }

    Person signUp(String username) throws Exception {
        HttpResponse<String> response = call("POST", "/api/v1/auth/sign-up", null,
                "{\"username\":\"" + username + "\",\"password\":\"pass-" + username + "-123\"}", Map.of());
        if (response.statusCode() != 201) {
            throw new AssertionError("sign-up of " + username + " answered " + response.statusCode() + ": " + response.body());
        }
        JsonNode body = JSON.readTree(response.body());
        return new Person(body.at("/user/id").asText(), username, body.get("accessToken").asText(),
                body.get("refreshToken").asText());
    }

    static String uniqueName(String prefix) {
        return prefix + UUID.randomUUID().toString().substring(0, 8);
    }

    /** Creates a chat of {@code creator} with {@code others}; returns its id. */
    String chat(Person creator, String title, Person... others) throws Exception {
        StringBuilder members = new StringBuilder();
        for (Person other : others) {
            members.append(members.isEmpty() ? "" : ",").append('"').append(other.id()).append('"');
        }
        String body = "{\"members\":[" + members + "]" + (title == null ? "" : ",\"title\":\"" + title + "\"") + "}";
        HttpResponse<String> response = call("POST", "/api/v1/chats", creator.accessToken(), body, Map.of());
        if (response.statusCode() != 201 && response.statusCode() != 200) {
            throw new AssertionError("creating a chat answered " + response.statusCode() + ": " + response.body());
        }
        return JSON.readTree(response.body()).get("id").asText();
    }

    /** Sends a message and returns its sequence number. */
    long send(Person sender, String chatId, String text) throws Exception {
        HttpResponse<String> response = call("POST", "/api/v1/chats/" + chatId + "/messages", sender.accessToken(),
                JSON.writeValueAsString(Map.of("text", text)), Map.of());
        if (response.statusCode() != 201) {
            throw new AssertionError("sending answered " + response.statusCode() + ": " + response.body());
        }
        return JSON.readTree(response.body()).get("seq").asLong();
    }

    HttpResponse<String> call(String method, String path, String accessToken, String body, Map<String, String> headers)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (accessToken != null) {
            request.header("Authorization", "Bearer " + accessToken);
        }
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        headers.forEach(request::header);
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String accessToken) throws Exception {
        return call("GET", path, accessToken, null, Map.of());
    }

    static JsonNode json(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body());
    }

    String adminToken() throws Exception {
        return Files.readString(dataDir.resolve("admin.token")).strip();
    }

    /** The value of an unlabelled or labelled sample in /metrics, or NaN when absent. */
    double metric(String sample) throws Exception {
        for (String line : get("/metrics", null).body().split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    @Override
    public void close() {
        node.stop();
    }
}
