package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import io.switchboard.platform.config.NodeConfig;
import io.switchboard.platform.lifecycle.Component;
import io.switchboard.platform.lifecycle.Node;
import io.switchboard.platform.lifecycle.NodeContext;
import io.switchboard.platform.lifecycle.NodeModule;
import io.switchboard.server.node.NodeAssembly;
import io.switchboard.telephony.Telephony;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * /readyz and the SIP listeners: while they are not bound the node is not ready and says why.
 * The node starts HTTP before its listeners; a module listed before telephony holds the listener
 * phase at a gate (a listener of its own that waits), so the moment between "HTTP is up" and
 * "SIP is bound" lasts as long as the test needs.
 */
class SipReadinessTest {
    @TempDir
    Path dir;

    /** A module whose only part is a listener that starts when the test opens the gate. */
    static final class ListenerGate implements NodeModule {
        final CountDownLatch open = new CountDownLatch(1);
        final CountDownLatch reached = new CountDownLatch(1);

        @Override
        public String name() {
            return "gate";
        }

        @Override
        public boolean hasMigrations() {
            return false;
        }

        @Override
        public void assemble(NodeContext context) {
            context.addListener(Component.of("gate", () -> {
                reached.countDown();
                if (!open.await(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("the test never opened the gate");
                }
            }, () -> { }));
        }
    }

    @Test
    void readyzIs503NamingTheSipListenersUntilTheyAreBound() throws Exception {
        ListenerGate gate = new ListenerGate();
        Telephony telephony = new Telephony();
        NodeConfig config = NodeAssembly.configLoader().load(null, Map.of(), Map.of("dataDir", dir.toString(),
                "http", "127.0.0.1:0", "sip", "udp:127.0.0.1:0", "domain", "intercom.test"));
        Node node = NodeAssembly.create(config, new ArrayList<>(List.of(gate, telephony)));
        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread starting = Thread.ofPlatform().name("node-start").start(() -> {
            try {
                node.start();
            } catch (Throwable e) {
                failed.set(e);
            }
        });
        try {
            assertThat(gate.reached.await(60, TimeUnit.SECONDS)).as("the node reached its listeners").isTrue();
            assertThat(telephony.listenPoints()).as("SIP not bound yet").isEmpty();

            HttpResponse<String> notReady = readyz(node);
            assertThat(notReady.statusCode()).isEqualTo(503);
            JsonNode reasons = TelephonyNode.JSON.readTree(notReady.body()).path("reasons");
            assertThat(reasons.toString()).contains("sip: SIP listeners are not bound");

            gate.open.countDown();
            starting.join(Duration.ofSeconds(60));
            assertThat(failed.get()).isNull();
            assertThat(telephony.listenPoints()).isNotEmpty();
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                HttpResponse<String> ready = readyz(node);
                assertThat(ready.statusCode()).as(ready.body()).isEqualTo(200);
            });
        } finally {
            gate.open.countDown();
            starting.join(Duration.ofSeconds(60));
            node.stop();
        }
    }

    private static HttpResponse<String> readyz(Node node) throws Exception {
        return TelephonyNode.HTTP.send(HttpRequest.newBuilder(URI.create(node.http().baseUrl() + "/readyz")).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
