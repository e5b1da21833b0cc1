package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.node.NodeAssembly;
import io.switchboard.sip.transport.ListenPoint;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.Telephony;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A whole node with telephony on ephemeral loopback ports, for tests that talk to it over the wire. */
public final class TelephonyNode implements AutoCloseable {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dataDir;
    final Telephony telephony = new Telephony();
    final Node node;

    TelephonyNode(Path dataDir, Map<String, String> extraFlags) {
        this(dataDir, extraFlags, Map.of());
    }

    TelephonyNode(Path dataDir, Map<String, String> extraFlags, Map<String, String> extraEnv) {
        this.dataDir = dataDir;
        Map<String, String> flags = new HashMap<>(Map.of("dataDir", dataDir.toString(), "http", "127.0.0.1:0",
                "sip", "udp:127.0.0.1:0,tcp:127.0.0.1:0", "domain", "intercom.test"));
        flags.putAll(extraFlags);
        // the default digest config (one MD5 challenge): what a new user runs with
        NodeConfig config = NodeAssembly.configLoader().load(null, extraEnv, flags);
        node = NodeAssembly.create(config, List.of(telephony));
        node.start();
    }

    int sipPort(Transport transport) {
        return telephony.listenPoints().stream().filter(p -> p.transport() == transport).findFirst()
                .map(ListenPoint::port).orElseThrow();
    }

    String adminToken() throws Exception {
        return Files.readString(dataDir.resolve("admin.token")).strip();
    }

    HttpResponse<String> api(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path))
                .header("Authorization", "Bearer " + adminToken())
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(node.http().baseUrl() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    JsonNode json(HttpResponse<String> response) throws Exception {
        return JSON.readTree(response.body());
    }

    /** The value of an unlabelled or labelled sample in /metrics, or NaN when absent. */
    double metric(String sample) throws Exception {
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
