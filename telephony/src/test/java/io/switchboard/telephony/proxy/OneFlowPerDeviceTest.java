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
 * RFC 5626 §7: a device registered over two flows (one +sip.instance, reg-id 1 and 2) gets a call
 * over one of them, the one registered last; the other is tried only when that flow fails (no
 * response within telephony.branchResponseTimeout, 1 s here, or 430 from the node holding it),
 * never after the device itself answered.
 */
class OneFlowPerDeviceTest {
    static final String PHONE = "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>";

    @TempDir
    Path dir;
    ProxyNode node;
    final List<Peer> peers = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        node = new ProxyNode(dir, Duration.ofSeconds(1));
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

    @Test
    void aDeviceWithTwoFlowsIsCalledOverOneAndAPlainBindingAsBefore() throws Exception {
        Peer caller = peer();
        Peer olderFlow = peer();
        Peer newerFlow = peer();
        Peer desk = peer(); // a phone registered without +sip.instance
        node.bind(olderFlow, "UDP", null, 0, PHONE, 1);
        node.bind(desk, "UDP", null, 0, null, 0);
        node.bind(newerFlow, "UDP", null, 0, PHONE, 2);

        String call = caller.invite(node.port);
        var atPhone = newerFlow.await("INVITE", 5_000);
        assertThat(atPhone).as("the INVITE over the flow registered last").isNotNull();
        desk.respond(desk.await("INVITE", 5_000), 486, "Busy Here");
        newerFlow.respond(atPhone, 486, "Busy Here");
        SipResponse answer = caller.awaitFinal(call, 5_000);
        assertThat(answer.status()).isEqualTo(486);
        Thread.sleep(1_500); // past branchResponseTimeout: a device that answered is not tried again
        assertThat(olderFlow.log).as("requests over the device's other flow").isEmpty();
    }

    /**
     * Without reg-id there are no flows (RFC 5626 §6: RFC 3261 bindings of their Contacts): a
     * dual-stack phone's two Contacts, with one +sip.instance, registered in one REGISTER without
     * outbound, are both rung at once, so neither waits for the other to fail.
     */
    @Test
    void oneInstanceWithoutRegIdIsRungAtEveryContact() throws Exception {
        Peer caller = peer();
        Peer ipv4 = peer();
        Peer ipv6 = peer();
        node.bind(ipv4, "UDP", null, 0, PHONE, 0);
        node.bind(ipv6, "UDP", null, 0, PHONE, 0);

        String call = caller.invite(node.port);
        var atFirst = ipv4.await("INVITE", 500);
        var atSecond = ipv6.await("INVITE", 500);
        assertThat(atFirst).as("the INVITE at one Contact, well before branchResponseTimeout (1 s)").isNotNull();
        assertThat(atSecond).as("the INVITE at the other, at once too").isNotNull();
        ipv4.respond(atFirst, 486, "Busy Here");
        ipv6.respond(atSecond, 486, "Busy Here");
        assertThat(caller.awaitFinal(call, 5_000).status()).isEqualTo(486);
    }

    @Test
    void theNextFlowIsTriedWhenTheFirstSendsNothing() throws Exception {
        Peer caller = peer();
        Peer olderFlow = peer();
        Peer deadFlow = peer(); // an interface that went down: nothing comes back over it
        node.bind(olderFlow, "UDP", null, 0, PHONE, 1);
        node.bind(deadFlow, "UDP", null, 0, PHONE, 2);

        long start = System.nanoTime();
        String call = caller.invite(node.port);
        assertThat(deadFlow.await("INVITE", 5_000)).isNotNull();
        var overOlder = olderFlow.await("INVITE", 5_000);
        assertThat(overOlder).as("the INVITE over the device's other flow").isNotNull();
        assertThat((System.nanoTime() - start) / 1_000_000).as("after branchResponseTimeout").isGreaterThanOrEqualTo(900L);
        olderFlow.respond(overOlder, 180, "Ringing");
        olderFlow.respond(overOlder, 200, "OK");
        SipResponse answer = caller.awaitFinal(call, 5_000);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(deadFlow.invitedCalls()).containsExactly(call);
    }

    /**
     * One Contact registered over two flows (RFC 5626 §4.2, as in its §11 example): the flows are
     * two targets, not one Contact seen twice, so the second is there to try when the first fails.
     */
    @Test
    void oneContactOverTwoFlowsIsTwoFlowsToTry() throws Exception {
        Peer caller = peer();
        Peer olderFlow = peer();
        Peer deadFlow = peer();
        node.bind(olderFlow, "UDP", null, 0, PHONE, 1, 5090);
        node.bind(deadFlow, "UDP", null, 0, PHONE, 2, 5090);

        String call = caller.invite(node.port);
        assertThat(deadFlow.await("INVITE", 5_000)).isNotNull();
        var overOlder = olderFlow.await("INVITE", 5_000);
        assertThat(overOlder).as("the INVITE over the device's other flow").isNotNull();
        olderFlow.respond(overOlder, 486, "Busy Here");
        assertThat(caller.awaitFinal(call, 5_000).status()).isEqualTo(486);
    }

    /** Node b holds the newer flow's connection no more (430, RFC 5626 §5.3): the flow through this node is tried. */
    @Test
    void theNextFlowIsTriedWhenTheNodeHoldingTheFirstAnswers430() throws Exception {
        Peer caller = peer();
        Peer here = peer();
        Peer nodeB = peer();
        Peer behindB = peer();
        node.bind(here, "UDP", null, 0, PHONE, 1);
        node.bind(behindB, "TCP", "node-b", nodeB.port(), PHONE, 2);

        String call = caller.invite(node.port);
        var atB = nodeB.await("INVITE", 5_000);
        assertThat(atB).as("the INVITE through node b, over the flow registered last").isNotNull();
        assertThat(here.await("INVITE", 300)).as("no INVITE over the other flow yet").isNull();
        nodeB.respond(atB, 430, "Flow Failed");
        var overHere = here.await("INVITE", 5_000);
        assertThat(overHere).as("the INVITE over the device's other flow").isNotNull();
        here.respond(overHere, 486, "Busy Here");
        SipResponse answer = caller.awaitFinal(call, 5_000);
        assertThat(answer.status()).isEqualTo(486);
    }
}
