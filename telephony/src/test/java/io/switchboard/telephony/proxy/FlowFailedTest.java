package io.switchboard.telephony.proxy;

import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.proxy.ProxyNode.Peer;
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
 * A 430 Flow Failed from the node that holds a device's flow (RFC 5626 §5.3, {@link ProxyCore#flowFailed}):
 * which registrations it sets aside, so later calls skip them until the device registers again.
 * Node b is a socket here that answers every INVITE 430.
 */
class FlowFailedTest {
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
        node.close();
    }

    private Peer peer() throws Exception {
        Peer peer = new Peer();
        peers.add(peer);
        return peer;
    }

    /**
     * Node b answers 430 only after another device of bob's took the call: the caller has its 200
     * already, yet the registration behind the 430 is set aside (the next call does not go through
     * node b for it), until bob's device there registers again.
     */
    @Test
    void a430AfterTheCallerGotA200StillSetsTheRegistrationAside() throws Exception {
        Peer caller = peer();
        Peer here = peer();
        Peer nodeB = peer();
        Peer behindB = peer(); // bob's TCP device whose connection to node b is gone
        node.bind(here, "UDP", null, 0, null, 0);
        node.bind(behindB, "TCP", "node-b", nodeB.port(), null, 0);

        String first = caller.invite(node.port);
        var atB = nodeB.await("INVITE", 5_000);
        assertThat(atB).as("the INVITE through node b").isNotNull();
        here.respond(here.await("INVITE", 5_000), 200, "OK");
        assertThat(caller.awaitFinal(first, 5_000).status()).isEqualTo(200);
        nodeB.respond(atB, 430, "Flow Failed");
        assertThat(nodeB.await("ACK", 5_000)).as("the ACK of the 430").isNotNull();
        Thread.sleep(200); // the 430 reaches the proxy core just after its ACK leaves

        String second = caller.invite(node.port);
        here.respond(here.await("INVITE", 5_000), 486, "Busy Here");
        // were it sent through node b, that branch would hold the answer for branchResponseTimeout (5 s)
        SipResponse busy = caller.awaitFinal(second, 8_000);
        assertThat(nodeB.invitedCalls()).as("calls sent through node b").containsExactly(first);
        assertThat(busy).isNotNull();
        assertThat(busy.status()).isEqualTo(486);

        // registered again (a new connection to node b): a new registration, tried as usual
        node.bind(behindB, "TCP", "node-b", nodeB.port(), null, 0);
        String third = caller.invite(node.port);
        var again = nodeB.await("INVITE", 5_000);
        assertThat(again).as("the new registration is tried").isNotNull();
        assertThat(again.request().callId()).isEqualTo(third);
    }

    /**
     * A UDP registration is never set aside: node b answers 430 for it only while it has no UDP
     * listener a moment (stopping, starting), and the device may be reached through it again.
     */
    @Test
    void aUdpRegistrationIsNotSetAsideBy430() throws Exception {
        Peer caller = peer();
        Peer nodeB = peer();
        Peer behindB = peer(); // bob's UDP phone, registered through node b
        node.bind(behindB, "UDP", "node-b", nodeB.port(), null, 0);

        String first = caller.invite(node.port);
        nodeB.respond(nodeB.await("INVITE", 5_000), 430, "Flow Failed");
        SipResponse answer = caller.awaitFinal(first, 5_000);
        assertThat(answer.status()).as(answer.startLine()).isEqualTo(480);

        String second = caller.invite(node.port);
        var again = nodeB.await("INVITE", 5_000);
        assertThat(again).as("the UDP registration is tried again through node b").isNotNull();
        assertThat(again.request().callId()).isEqualTo(second);
        assertThat(behindB.log).as("nothing sent to the phone past node b").isEmpty();
    }
}
