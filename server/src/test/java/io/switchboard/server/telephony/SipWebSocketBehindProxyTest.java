package io.switchboard.server.telephony;

import static org.assertj.core.api.Assertions.assertThat;

import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.server.node.NodeAssembly;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIP over WebSocket behind a reverse proxy: the Via {@code received} the node stamps (RFC 3261
 * §18.2.1; RFC 7118 §5) is the client from X-Forwarded-For when the peer is in
 * {@code proxies.trusted}, and the peer itself otherwise, whatever header it sends.
 */
class SipWebSocketBehindProxyTest {
    @TempDir
    Path dir;
    private Node node;

    @AfterEach
    void stop() throws Exception {
        if (node != null) {
            node.stop();
        }
    }

    private String optionsReply(Map<String, String> env, String forwardedFor) throws Exception {
        NodeConfig config = NodeAssembly.configLoader().load(null, env, Map.of("dataDir", dir.resolve("node").toString(),
                "http", "127.0.0.1:0", "sip", "", "domain", "intercom.test"));
        node = NodeAssembly.create(config);
        node.start();
        String answer;
        try (SipWebSocketProbe probe = SipWebSocketProbe.open(HttpClient.newHttpClient(),
                URI.create(node.http().baseUrl().replace("http://", "ws://") + "/sip"), Map.of("X-Forwarded-For", forwardedFor))) {
            answer = probe.options("intercom.test", "WS");
        }
        assertThat(answer).startsWith("SIP/2.0 200");
        return answer;
    }

    @Test
    void fromATrustedProxyTheForwardedClientIsReceived() throws Exception {
        String answer = optionsReply(Map.of("SWITCHBOARD_PROXIES_TRUSTED", "127.0.0.1,::1"), "203.0.113.4, 198.51.100.7");
        assertThat(answer).contains("received=198.51.100.7").doesNotContain("203.0.113.4");
    }

    @Test
    void fromAnUntrustedPeerTheHeaderIsIgnored() throws Exception {
        String answer = optionsReply(Map.of(), "198.51.100.7");
        assertThat(answer).contains("received=127.0.0.1").doesNotContain("198.51.100.7");
    }
}
