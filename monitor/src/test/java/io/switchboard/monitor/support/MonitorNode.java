package io.switchboard.monitor.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.monitor.Monitor;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.config.NodeConfigLoader;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.lifecycle.Node;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A node with only the monitor module, on an ephemeral loopback HTTP port and a temp data dir. */
public final class MonitorNode implements AutoCloseable {
    public static final HttpClient HTTP = HttpClient.newHttpClient();
    public static final ObjectMapper JSON = new ObjectMapper();

    public final Path dataDir;
    public final Monitor monitor;
    public final Node node;

    public MonitorNode(Path dataDir, Monitor monitor, Map<String, String> env) {
        this(dataDir, monitor, env, null);
    }

    /** @param store null for SQLite in the data dir */
    public MonitorNode(Path dataDir, Monitor monitor, Map<String, String> env, StoreSettings store) {
        this.dataDir = dataDir;
        this.monitor = monitor;
        Map<String, String> flags = new HashMap<>(Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", ""));
        Map<String, String> environment = new HashMap<>(env);
        if (store != null) {
            environment.put("SWITCHBOARD_STORE_URL", store.url());
            environment.put("SWITCHBOARD_STORE_USER", store.user());
        }
        NodeConfig config = new NodeConfigLoader(List.of("monitor")).load(null, environment, flags);
        node = new Node(config, List.of(monitor));
        node.start();
    }

    public String token() throws Exception {
        return Files.readString(dataDir.resolve("admin.token")).strip();
    }

    public HttpResponse<String> api(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path))
                .header("Authorization", "Bearer " + token())
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    public JsonNode json(String method, String path, String body) throws Exception {
        return JSON.readTree(api(method, path, body).body());
    }

    public HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** A sample's value in /metrics, or NaN when absent. */
    public double metric(String sample) throws Exception {
        for (String line : get("/metrics").body().split("\n")) {
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
