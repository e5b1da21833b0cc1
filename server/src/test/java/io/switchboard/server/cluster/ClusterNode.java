package io.switchboard.server.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.lifecycle.NodeModule;
import io.switchboard.server.node.NodeAssembly;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A whole node in-process on an ephemeral HTTP port and no SIP, for cluster tests. */
final class ClusterNode implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dataDir;
    final Node node;

    ClusterNode(Path dataDir, Map<String, String> env, List<NodeModule> modules) {
        this.dataDir = dataDir;
        Map<String, String> flags = Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0", "sip", "");
        NodeConfig config = NodeAssembly.configLoader().load(null, new HashMap<>(env), flags);
        node = NodeAssembly.create(config, modules);
        node.start();
    }

    String id() {
        return node.cluster().nodeId();
    }

    HttpResponse<String> get(String path, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path))
                .timeout(Duration.ofSeconds(10));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    JsonNode cluster(String token) throws Exception {
        HttpResponse<String> response = get("/api/v1/cluster", token);
        if (response.statusCode() != 200) {
            throw new AssertionError("/api/v1/cluster answered " + response.statusCode() + ": " + response.body());
        }
        return JSON.readTree(response.body());
    }

    /** The state of node {@code id} in this node's /api/v1/cluster, or null when absent. */
    String stateOf(String token, String id) throws Exception {
        for (JsonNode n : cluster(token).get("nodes")) {
            if (n.get("id").asText().equals(id)) {
                return n.get("state").asText();
            }
        }
        return null;
    }

    /** A labelled or unlabelled sample from /metrics, NaN when absent. */
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
