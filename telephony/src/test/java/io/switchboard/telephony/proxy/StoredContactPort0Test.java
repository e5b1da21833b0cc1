package io.switchboard.telephony.proxy;

import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.proxy.ProxyNode.Peer;
import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A binding whose Contact names port 0, stored before the registrar refused such Contacts (or
 * through a node of an earlier version), is not forked to: port 0 reaches nothing (RFC 6335 §6),
 * and the node holding its flow would answer the forwarded INVITE 400 for its Request-URI.
 */
class StoredContactPort0Test {
    @TempDir
    Path dir;
    ProxyNode node;
    final List<Peer> peers = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new ProxyNode(dir, Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        peers.forEach(Peer::close);
        if (node != null) {
            node.close();
        }
    }

    private Peer peer() throws Exception {
        Peer peer = new Peer();
        peers.add(peer);
        return peer;
    }

    @Test
    void aStoredContactWithPort0IsNotRungAndAloneIsUnavailable() throws Exception {
        Peer caller = peer();
        Peer nodeB = peer(); // the node that took the old registration
        long now = node.clock.millis();
        String contact = "sip:bob@127.0.0.1:0;transport=tcp";
        Binding stale = new Binding(ProxyNode.BOB, contact, "<" + contact + ">", "reg-old", 1, 1000, now + 600_000, now,
                "TCP", "127.0.0.1", 40000, null, 0, "tcp:gone", "test", null, 0, "node-b",
                "sip:127.0.0.1:" + nodeB.port(), now);
        node.location.update(ProxyNode.BOB, bindings -> List.of(stale));

        String call = caller.invite(node.port);
        SipResponse answer = caller.awaitFinal(call, 5_000);
        assertThat(answer).isNotNull();
        assertThat(answer.status()).as(answer.startLine()).isEqualTo(480);
        assertThat(nodeB.invitedCalls()).as("INVITEs sent through node b").isEmpty();

        Peer here = peer(); // bob's working phone: rung alone, its answer is the caller's
        node.bind(here, "UDP", null, 0, null, 0);
        String second = caller.invite(node.port);
        here.respond(here.await("INVITE", 5_000), 486, "Busy Here");
        assertThat(caller.awaitFinal(second, 5_000).status()).isEqualTo(486);
        assertThat(nodeB.invitedCalls()).as("INVITEs sent through node b").isEmpty();
    }
}
