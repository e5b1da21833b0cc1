package io.switchboard.server.telephony;

import com.fasterxml.jackson.databind.JsonNode;
import com.rabbitmq.client.Channel;
import com.rabbitmq.client.Connection;
import com.rabbitmq.client.ConnectionFactory;
import io.switchboard.platform.store.PostgresTestDatabase;
import io.switchboard.server.clients.Baresip;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.proxy.RouteSigner;
import io.switchboard.telephony.registrar.Binding;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SIP across nodes: nodes on one PostgreSQL store and one RabbitMQ exchange, each with its own UDP
 * and TCP listeners. A device registered through one node is called through another: the request
 * goes caller → B → A → device over the device's own TCP connection, and the dialog's later
 * requests take the same way in both directions; one call record, kept by the node the caller used.
 * When the node holding a device's flow dies, a UDP device is reached directly, a TCP device is
 * skipped until it registers again through a survivor, and is then reachable from every node.
 * Requests claiming to come from another node without the cluster's signature are refused.
 */
class SipClusterTest {
    static final String DOMAIN = "intercom.test";
    static final Duration SOON = Duration.ofSeconds(2);
    @TempDir
    Path dirA;
    @TempDir
    Path dirB;
    @TempDir
    Path dirC;

    private Map<String, String> clusterEnv(PostgresTestDatabase database, String exchange) {
        Map<String, String> env = new HashMap<>();
        env.putAll(Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                "SWITCHBOARD_STORE_USER", database.settings().user(),
                "SWITCHBOARD_BUS_URL", "amqp://127.0.0.1:5672", "SWITCHBOARD_BUS_EXCHANGE", exchange));
        return env;
    }

    /** What runs on two nodes of one store and bus, with accounts bob and carol. */
    interface TwoNodes {
        void run(TelephonyNode a, TelephonyNode b) throws Exception;
    }

    /** Two nodes on a fresh database and exchange (removed afterwards), with {@code extra} settings on both. */
    private void onTwoNodes(Map<String, String> extra, TwoNodes body) throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            env.putAll(extra);
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "bob", "carol");
                body.run(a, b);
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    @Test
    void callsCrossNodesBothWaysAlongTheDevicesFlowAndForgedNodeRequestsAreRefused() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "bob", "carol");
                try (SipPhone bob = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                    assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    // announced: each node knows the other's device, and which node holds its flow
                    await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1 && bindings(a, "carol").size() == 1);
                    assertThat(bindings(b, "bob").get(0).node()).isEqualTo(a.telephony.clusterNode().id());
                    assertThat(bindings(b, "bob").get(0).path()).isEqualTo(a.telephony.clusterNode().path())
                            .endsWith(":" + a.sipPort(Transport.TCP) + ";transport=tcp");

                    // carol (B) calls bob (A, TCP): B → A → bob's own connection
                    SipPhone.Call call = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    SipPhone.Incoming atBob = bob.awaitInvite();
                    assertThat(atBob.invite.vias()).hasSize(3); // carol, B, A
                    assertThat(atBob.invite.headers().values("Record-Route")).hasSize(3); // B twice (UDP/TCP), A once
                    assertThat(atBob.invite.headers().get("Proxy-Authorization")).isNull();
                    atBob.respond(180, "Ringing");
                    assertThat(call.await(180).status()).isEqualTo(180);
                    atBob.answer();
                    SipResponse ok = call.awaitFinal();
                    assertThat(ok.status()).isEqualTo(200);
                    call.ack(ok);
                    bob.awaitRequest("ACK", SOON);

                    // a re-INVITE from the caller, then the callee hangs up: both through A and B
                    int reInvite = call.sendInDialog("INVITE");
                    SipRequest again = bob.awaitRequest("INVITE", SOON);
                    atBob.respondTo(again, 200);
                    assertThat(carol.awaitResponse(r -> r.callId().equals(call.callId) && r.cseq().number() == reInvite && r.status() >= 200,
                            SOON).status()).isEqualTo(200);
                    call.ackInDialog(reInvite);
                    bob.awaitRequest("ACK", SOON);
                    atBob.bye();
                    SipRequest bye = carol.awaitRequest("BYE", SOON);
                    carol.respond(bye, 200, "OK");
                    assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), SOON).status()).isEqualTo(200);
                    JsonNode record = awaitRecord(a, call.callId, "completed");
                    assertThat(record.path("caller").asText()).isEqualTo("carol");
                    assertThat(record.path("answeredBy").asText()).contains("bob@");
                    assertThat(record.path("endedBy").asText()).isEqualTo("callee");
                    assertThat(records(a, call.callId)).hasSize(1); // kept by B alone

                    // a CANCEL from the caller follows the INVITE through both nodes (RFC 3261 §9.1, §16.10)
                    SipPhone.Call cancelled = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    SipPhone.Incoming ringing = bob.awaitInvite();
                    ringing.respond(180, "Ringing");
                    cancelled.await(180);
                    cancelled.cancel();
                    ringing.acceptCancel(bob.awaitRequest("CANCEL", SOON));
                    SipResponse terminated = cancelled.awaitFinal();
                    assertThat(terminated.status()).isEqualTo(487);
                    cancelled.ackFailure(terminated);
                    assertThat(awaitRecord(b, cancelled.callId, "cancelled").path("finalCode").asInt()).isEqualTo(487);

                    // the other way: bob (A, TCP) calls carol (B, UDP); the caller hangs up
                    SipPhone.Call back = AccountChangesTest.authenticatedCall(bob, "sip:carol@" + DOMAIN);
                    SipPhone.Incoming atCarol = carol.awaitInvite();
                    assertThat(atCarol.invite.vias()).hasSize(3);
                    atCarol.answer();
                    SipResponse answered = back.awaitFinal();
                    assertThat(answered.status()).isEqualTo(200);
                    back.ack(answered);
                    carol.awaitRequest("ACK", SOON);
                    back.sendInDialog("BYE");
                    SipRequest byeAtCarol = carol.awaitRequest("BYE", SOON);
                    carol.respond(byeAtCarol, 200, "OK");
                    assertThat(bob.awaitResponse(r -> r.callId().equals(back.callId) && r.cseq().method().equals("BYE"),
                            SOON).status()).isEqualTo(200);
                    JsonNode backRecord = awaitRecord(b, back.callId, "completed");
                    assertThat(backRecord.path("endedBy").asText()).isEqualTo("caller");
                    assertThat(records(b, back.callId)).hasSize(1);

                    // forged node-to-node requests: a made-up signature, and a real one for another call
                    Binding bobAtA = bindings(a, "bob").get(0);
                    String flow = Base64.getUrlEncoder().withoutPadding()
                            .encodeToString(bobAtA.flowId().getBytes(StandardCharsets.UTF_8));
                    long expires = System.currentTimeMillis() / 1000 + 30;
                    String hop = "sip:127.0.0.1:" + a.sipPort(Transport.TCP) + ";transport=tcp;lr;nf=" + flow + ";nx=" + expires;
                    try (SipPhone mallory = SipPhone.udp("mallory", DOMAIN, a.sipPort(Transport.UDP))) {
                        SipPhone.Call forged = mallory.call(bobAtA.contact());
                        forged.invite("Route: <" + hop + ";ns=AAAAAAAAAAAAAAAA>\r\n");
                        SipResponse refused = forged.awaitFinal();
                        assertThat(refused.status()).isEqualTo(403);
                        forged.ackFailure(refused);

                        RouteSigner signer = new RouteSigner(HexFormat.of().parseHex(b.node.store().jdbi().withHandle(h ->
                                h.createQuery("SELECT value FROM sip_settings WHERE name = 'route_secret'")
                                        .mapTo(String.class).one())));
                        SipPhone.Call replayed = mallory.call(bobAtA.contact());
                        replayed.invite("Route: <" + hop + ";ns=" + signer.sign("hop|" + flow + "|another-call|" + expires)
                                + ">\r\n");
                        SipResponse alsoRefused = replayed.awaitFinal();
                        assertThat(alsoRefused.status()).isEqualTo(403);
                        replayed.ackFailure(alsoRefused);
                        assertThat(bob.receivesNo("INVITE", Duration.ofMillis(300))).isTrue();
                        assertThat(a.metric("switchboard_sip_auth_failures_total{reason=\"forged_node_route\"}"))
                                .isEqualTo(2.0);
                    }
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    @Test
    void whenANodeDiesItsUdpDevicesAreCalledDirectlyAndTcpDevicesOnceTheyRegisterThroughASurvivor() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
            try (TelephonyNode b = new TelephonyNode(dirB, Map.of(), env);
                 TelephonyNode c = new TelephonyNode(dirC, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                Files.copy(dirA.resolve("admin.token"), dirC.resolve("admin.token"));
                awaitBus(a, b, c);
                createAccounts(a, b, "uma", "bob", "carol", "alice");
                awaitAccounts(c, "alice");
                String instance = "+sip.instance=\"<urn:uuid:" + UUID.randomUUID() + ">\";reg-id=1";
                try (SipPhone uma = SipPhone.udp("uma", DOMAIN, a.sipPort(Transport.UDP));
                     SipPhone bobAtA = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP));
                     SipPhone alice = SipPhone.udp("alice", DOMAIN, c.sipPort(Transport.UDP))) {
                    bobAtA.claimedContact = "<sip:bob@127.0.0.1:" + bobAtA.localPort() + ";transport=tcp;ob>;" + instance;
                    assertThat(uma.register(600, "secret-uma").status()).isEqualTo(200);
                    assertThat(bobAtA.register(600, "secret-bob").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    assertThat(alice.register(600, "secret-alice").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "uma").size() == 1 && bindings(b, "bob").size() == 1
                            && bindings(c, "bob").size() == 1);
                    String idA = a.telephony.clusterNode().id();

                    a.close(); // A is gone, with bob's TCP connection; its bindings stay valid in the store
                    bobAtA.close();

                    // uma registered over UDP: B cannot reach A and sends to uma's address directly
                    SipPhone.Call toUma = AccountChangesTest.authenticatedCall(carol, "sip:uma@" + DOMAIN);
                    SipPhone.Incoming atUma = uma.awaitInvite();
                    assertThat(atUma.invite.vias()).hasSize(2); // carol, B: not through A
                    uma.sendTo(b.sipPort(Transport.UDP)); // as its floating address would have moved to a survivor
                    atUma.answer();
                    SipResponse ok = toUma.awaitFinal();
                    assertThat(ok.status()).isEqualTo(200);
                    toUma.ack(ok);
                    uma.awaitRequest("ACK", SOON);
                    toUma.sendInDialog("BYE");
                    uma.respond(uma.awaitRequest("BYE", SOON), 200, "OK");
                    assertThat(awaitRecord(b, toUma.callId, "completed").path("answeredBy").asText()).contains("uma@");

                    // bob's binding is still valid but its flow died with A: skipped (480), quickly
                    long before = System.nanoTime();
                    SipPhone.Call toBob = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    SipResponse unavailable = toBob.awaitFinal();
                    assertThat(unavailable.status()).isEqualTo(480);
                    toBob.ackFailure(unavailable);
                    assertThat(Duration.ofNanos(System.nanoTime() - before)).isLessThan(Duration.ofSeconds(3));

                    // bob registers again through B (same instance and reg-id, RFC 5626): it replaces the
                    // binding made through A on every node, and alice on C reaches it at once, through B
                    try (SipPhone bobAtB = SipPhone.tcp("bob", DOMAIN, b.sipPort(Transport.TCP))) {
                        bobAtB.claimedContact = "<sip:bob@127.0.0.1:" + bobAtB.localPort() + ";transport=tcp;ob>;" + instance;
                        assertThat(bobAtB.register(600, "secret-bob").status()).isEqualTo(200);
                        String idB = b.telephony.clusterNode().id();
                        await().atMost(Duration.ofSeconds(1)).pollInterval(Duration.ofMillis(10)).until(() ->
                                bindings(c, "bob").size() == 1 && bindings(c, "bob").get(0).node().equals(idB));
                        assertThat(bindings(b, "bob")).extracting(Binding::node).containsExactly(idB);
                        assertThat(idB).isNotEqualTo(idA);
                        SipPhone.Call fromAlice = AccountChangesTest.authenticatedCall(alice, "sip:bob@" + DOMAIN);
                        SipPhone.Incoming atBob = bobAtB.awaitInvite();
                        assertThat(atBob.invite.vias()).hasSize(3); // alice, C, B
                        atBob.answer();
                        SipResponse answered = fromAlice.awaitFinal();
                        assertThat(answered.status()).isEqualTo(200);
                        fromAlice.ack(answered);
                        bobAtB.awaitRequest("ACK", SOON);
                        atBob.bye();
                        alice.respond(alice.awaitRequest("BYE", SOON), 200, "OK");
                        assertThat(bobAtB.awaitResponse(r -> r.cseq().method().equals("BYE"), SOON).status()).isEqualTo(200);
                        assertThat(awaitRecord(c, fromAlice.callId, "completed").path("endedBy").asText()).isEqualTo("callee");
                        // the store agrees: one binding of bob, B's
                        List<String> stored = b.node.store().jdbi().withHandle(h -> h.createQuery(
                                "SELECT node_id FROM sip_bindings WHERE aor = 'sip:bob@" + DOMAIN + "'")
                                .mapTo(String.class).list());
                        assertThat(stored).containsExactly(idB);
                    }
                }
            } finally {
                a.close();
                deleteExchange(exchange);
            }
        }
    }

    /**
     * A phone without outbound (a +sip.instance but no reg-id, as linphone registers) restarted and
     * registered again from a new port, through another node: RFC 5626 §6 with RFC 5627, the same
     * instance replaces its old binding on every node and in the store, and calls reach it through
     * the node that holds its new connection, not the old one (which is not rung).
     */
    @Test
    void aRestartedPhoneWithTheSameInstanceAndNoRegIdReplacesItsBindingOnEveryNode() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "bob", "carol");
                String instance = "+sip.instance=\"<urn:uuid:" + UUID.randomUUID() + ">\"";
                try (SipPhone before = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone after = SipPhone.tcp("bob", DOMAIN, b.sipPort(Transport.TCP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, a.sipPort(Transport.UDP))) {
                    before.claimedContact = "<sip:bob@127.0.0.1:" + before.localPort() + ";transport=tcp>;" + instance;
                    after.claimedContact = "<sip:bob@127.0.0.1:" + after.localPort() + ";transport=tcp>;" + instance;
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    assertThat(before.register(600, "secret-bob").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1);
                    assertThat(after.register(600, "secret-bob").status()).isEqualTo(200);
                    String idB = b.telephony.clusterNode().id();
                    await().atMost(SOON).untilAsserted(() -> {
                        assertThat(bindings(a, "bob")).extracting(Binding::node).containsExactly(idB);
                        assertThat(bindings(b, "bob")).extracting(Binding::node).containsExactly(idB);
                    });
                    List<String> stored = b.node.store().jdbi().withHandle(h -> h.createQuery(
                            "SELECT node_id FROM sip_bindings WHERE aor = 'sip:bob@" + DOMAIN + "'")
                            .mapTo(String.class).list());
                    assertThat(stored).containsExactly(idB);

                    SipPhone.Call call = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    SipPhone.Incoming atBob = after.awaitInvite();
                    assertThat(atBob.invite.vias()).hasSize(3); // carol, A, B
                    atBob.respond(486, "Busy Here");
                    SipResponse busy = call.awaitFinal();
                    assertThat(busy.status()).isEqualTo(486);
                    call.ackFailure(busy);
                    assertThat(before.receivesNo("INVITE", Duration.ofMillis(300))).isTrue();
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    /**
     * Nodes that share the store but hear nothing from each other (no bus here: each runs its own
     * in-process bus) still reach each other's devices: a call that finds no binding in memory
     * reads the store, the truth, and goes through the node that holds the device's flow.
     */
    @Test
    void aNodeThatMissedTheAnnouncementsFindsTheBindingInTheStore() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user());
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                createAccounts(a, b, "bob", "carol"); // B reads them by polling the store's revision
                try (SipPhone bob = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                    assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    assertThat(bindings(b, "bob")).isEmpty(); // nothing announced to B

                    SipPhone.Call call = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    SipPhone.Incoming atBob = bob.awaitInvite();
                    assertThat(atBob.invite.vias()).hasSize(3); // carol, B, A
                    atBob.answer();
                    SipResponse ok = call.awaitFinal();
                    assertThat(ok.status()).isEqualTo(200);
                    call.ack(ok);
                    bob.awaitRequest("ACK", SOON);
                    atBob.bye();
                    carol.respond(carol.awaitRequest("BYE", SOON), 200, "OK");
                    assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), SOON).status()).isEqualTo(200);
                    assertThat(bindings(b, "bob")).extracting(Binding::node).containsExactly(a.telephony.clusterNode().id());
                }
            }
        }
    }

    /**
     * The same without authentication (telephony.auth: false), where devices register under names
     * no account holds: the node that missed the announcement reads the store all the same. It
     * answered 404 before, which is also what a cluster behind a balancer answered for a call
     * placed a moment after the callee registered, before the announcement arrived.
     */
    @Test
    void withoutAuthenticationANodeThatMissedTheAnnouncementsStillFindsTheBindingInTheStore() throws Exception {
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = Map.of("SWITCHBOARD_STORE_URL", database.settings().url(),
                    "SWITCHBOARD_STORE_USER", database.settings().user(), "SWITCHBOARD_TELEPHONY_AUTH", "false");
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env);
                 SipPhone dora = SipPhone.tcp("dora", DOMAIN, a.sipPort(Transport.TCP));
                 SipPhone emil = SipPhone.udp("emil", DOMAIN, b.sipPort(Transport.UDP))) {
                assertThat(dora.register(600).status()).isEqualTo(200);
                assertThat(bindings(b, "dora")).isEmpty(); // nothing announced to B

                SipPhone.Call call = emil.call("sip:dora@" + DOMAIN);
                call.invite(null);
                SipPhone.Incoming atDora = dora.awaitInvite();
                atDora.respond(486, "Busy Here");
                assertThat(call.awaitFinal().status()).isEqualTo(486);
                // a name nobody registered is still not found
                SipPhone.Call nobody = emil.call("sip:nobody@" + DOMAIN);
                nobody.invite(null);
                assertThat(nobody.awaitFinal().status()).isEqualTo(404);
            }
        }
    }

    /**
     * The connection between the two nodes of a call closes while the call lasts (node B closes
     * idle connections after a second): the dialog's next requests, in either direction, open a
     * new one to the address in the other node's Record-Route entry.
     */
    @Test
    void inDialogRequestsReopenTheConnectionBetweenNodes() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            Map<String, String> envB = new HashMap<>(env);
            envB.put("SWITCHBOARD_TELEPHONY_IDLE_CONNECTION_TIMEOUT", "1s");
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), envB)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "bob", "carol");
                try (SipPhone bob = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                    assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1);
                    Answered answered = answeredCall(carol, bob);
                    SipPhone.Call call = answered.call();
                    SipPhone.Incoming atBob = answered.atCallee();
                    awaitNodesDisconnected(a, b);

                    int reInvite = call.sendInDialog("INVITE"); // caller → B → (new connection) → A → bob
                    atBob.respondTo(bob.awaitRequest("INVITE", Duration.ofSeconds(5)), 200);
                    assertThat(carol.awaitResponse(r -> r.callId().equals(call.callId) && r.cseq().number() == reInvite
                            && r.status() >= 200, SOON).status()).isEqualTo(200);
                    call.ackInDialog(reInvite);
                    bob.awaitRequest("ACK", SOON);
                    awaitNodesDisconnected(a, b);

                    atBob.bye(); // callee → A → (new connection) → B → caller
                    carol.respond(carol.awaitRequest("BYE", Duration.ofSeconds(5)), 200, "OK");
                    assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), SOON).status()).isEqualTo(200);
                    assertThat(awaitRecord(b, call.callId, "completed").path("endedBy").asText()).isEqualTo("callee");
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    /**
     * Issue 13 part 7: a call set up through A (caller alice, TCP) and B (callee bob, TCP) outlives
     * A. A stops; alice reconnects and registers again, same Contact, through C. Her re-INVITE
     * with the route set she learnt (A's entries, then B's) reaches C, which finds A gone, routes
     * in its place to B, and bob answers; bob's BYE reaches B, which finds A gone and alice's
     * Contact registered through C, and sends it there (a node-to-node hop in the dialog).
     */
    @Test
    void anEstablishedCallOutlivesTheNodeItsCallerCameThrough() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
            try (TelephonyNode b = new TelephonyNode(dirB, Map.of(), env);
                 TelephonyNode c = new TelephonyNode(dirC, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                Files.copy(dirA.resolve("admin.token"), dirC.resolve("admin.token"));
                awaitBus(a, b, c);
                createAccounts(a, b, "alice", "bob");
                awaitAccounts(c, "alice", "bob");
                try (SipPhone alice = SipPhone.tcp("alice", DOMAIN, a.sipPort(Transport.TCP));
                     SipPhone bob = SipPhone.tcp("bob", DOMAIN, b.sipPort(Transport.TCP));
                     SipPhone aliceAgain = SipPhone.tcp("alice", DOMAIN, c.sipPort(Transport.TCP))) {
                    assertThat(alice.register(600, "secret-alice").status()).isEqualTo(200);
                    assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(a, "bob").size() == 1);
                    Answered answered = answeredCall(alice, bob);
                    SipPhone.Call call = answered.call();
                    SipPhone.Incoming atBob = answered.atCallee();
                    assertThat(call.routeSet).hasSize(2); // A's entry, B's entry

                    a.close();
                    aliceAgain.claimedContact = alice.contact();
                    assertThat(aliceAgain.register(600, "secret-alice").status()).isEqualTo(200);
                    await().atMost(Duration.ofSeconds(5)).until(() -> bindings(b, "alice").size() == 1
                            && c.telephony.clusterNode().id().equals(bindings(b, "alice").get(0).node()));

                    // caller → C (A is gone: in its place) → B → bob
                    aliceAgain.send(call.inDialogText("INVITE", 10));
                    SipRequest reInvite = bob.awaitRequest("INVITE", Duration.ofSeconds(10));
                    atBob.respondTo(reInvite, 200);
                    assertThat(aliceAgain.awaitResponse(r -> r.callId().equals(call.callId) && r.cseq().number() == 10
                            && r.status() >= 200, Duration.ofSeconds(10)).status()).isEqualTo(200);
                    aliceAgain.send(call.inDialogText("ACK", 10));
                    bob.awaitRequest("ACK", Duration.ofSeconds(5));

                    // callee → B (A is gone: alice's Contact is registered through C) → C → alice's new connection
                    atBob.bye();
                    SipRequest bye = aliceAgain.awaitRequest("BYE", Duration.ofSeconds(10));
                    aliceAgain.respond(bye, 200, "OK");
                    assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(10)).status())
                            .isEqualTo(200);
                }
            } finally {
                a.close();
                deleteExchange(exchange);
            }
        }
    }

    /**
     * A restarts in place (same ports, a new process: the flow ids in its Record-Route entries name
     * connections that no longer exist). The callee, whose connection to A broke, registers again
     * with the same Contact through B. The caller's re-INVITE goes B → A, which finds the callee's
     * Contact registered through B and sends it back there (a node-to-node hop in the dialog); the
     * callee's BYE, with the route set it learnt (A, then B), goes B → A → B (a spiral, not a loop)
     * to the caller.
     */
    @Test
    void inDialogRequestsReachADeviceThatRegisteredAgainAfterItsNodeRestarted() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        Map<String, String> fixedPorts = Map.of("sip", "udp:127.0.0.1:23210,tcp:127.0.0.1:23210");
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            TelephonyNode[] a = {new TelephonyNode(dirA, fixedPorts, env)};
            try (TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a[0], b);
                createAccounts(a[0], b, "bob", "carol");
                try (SipPhone bob = SipPhone.tcp("bob", DOMAIN, 23210);
                     SipPhone carol = SipPhone.tcp("carol", DOMAIN, b.sipPort(Transport.TCP))) {
                    assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1);
                    Answered answered = answeredCall(carol, bob);
                    SipPhone.Call call = answered.call();
                    SipPhone.Incoming atBob = answered.atCallee();

                    a[0].close();
                    a[0] = new TelephonyNode(dirA, fixedPorts, env);
                    awaitBus(a[0]);
                    try (SipPhone bobAgain = SipPhone.tcp("bob", DOMAIN, b.sipPort(Transport.TCP))) {
                        bobAgain.claimedContact = bob.contact();
                        assertThat(bobAgain.register(600, "secret-bob").status()).isEqualTo(200);
                        await().atMost(Duration.ofSeconds(5)).until(() -> bindings(a[0], "bob").size() == 1
                                && b.telephony.clusterNode().id().equals(bindings(a[0], "bob").get(0).node()));

                        // caller → B → A (restarted: its flow tokens are stale) → B → bob's new connection
                        int reInvite = call.sendInDialog("INVITE");
                        SipRequest again = bobAgain.awaitRequest("INVITE", Duration.ofSeconds(10));
                        bobAgain.send(bobAgain.response(again, 200, "OK", null));
                        assertThat(carol.awaitResponse(r -> r.callId().equals(call.callId) && r.cseq().number() == reInvite
                                && r.status() >= 200, Duration.ofSeconds(10)).status()).isEqualTo(200);
                        call.ackInDialog(reInvite);
                        bobAgain.awaitRequest("ACK", Duration.ofSeconds(5));

                        // callee (over its new connection, with the route set it learnt) → B → A → B → caller
                        bobAgain.send(atBob.inDialogText(SipRequest.BYE, 200));
                        SipRequest bye = carol.awaitRequest("BYE", Duration.ofSeconds(10));
                        carol.respond(bye, 200, "OK");
                        assertThat(bobAgain.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(10))
                                .status()).isEqualTo(200);
                    }
                }
            } finally {
                a[0].close();
                deleteExchange(exchange);
            }
        }
    }

    /** B (which has no TCP device) closed its connections to A for being idle; A keeps only bob's. */
    private static void awaitNodesDisconnected(TelephonyNode a, TelephonyNode b) {
        await().atMost(Duration.ofSeconds(10)).until(() -> b.metric("switchboard_sip_connections") == 0
                && a.metric("switchboard_sip_connections") == 1);
    }

    /**
     * The node holding a UDP device's flow stops answering without refusing connections (its host
     * is gone, a firewall drops its packets): the request sent through it times out (Timer B,
     * RFC 3261 §17.1.1.2), and the device is called directly instead; later calls do not wait on
     * that node again. The node advertises a relay the test owns ({@code telephony.clusterAddress}),
     * which swallows what it is sent.
     */
    @Test
    void aUdpDeviceIsCalledDirectlyWhenItsNodeSwallowsRequests() throws Exception {
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create();
             java.net.ServerSocket blackHole = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            List<java.net.Socket> swallowed = java.util.Collections.synchronizedList(new ArrayList<>());
            Thread.ofPlatform().daemon().start(() -> {
                while (!blackHole.isClosed()) {
                    try {
                        java.net.Socket s = blackHole.accept();
                        swallowed.add(s);
                        Thread.ofPlatform().daemon().start(() -> {
                            try {
                                s.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
                            } catch (java.io.IOException e) {
                                // closed
                            }
                        });
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            });
            Map<String, String> env = clusterEnv(database, exchange);
            Map<String, String> envA = new HashMap<>(env);
            envA.put("SWITCHBOARD_TELEPHONY_CLUSTER_ADDRESS", "tcp:127.0.0.1:" + blackHole.getLocalPort());
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), envA);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "uma", "carol");
                try (SipPhone uma = SipPhone.udp("uma", DOMAIN, a.sipPort(Transport.UDP));
                     SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                    assertThat(uma.register(600, "secret-uma").status()).isEqualTo(200);
                    assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "uma").size() == 1);
                    assertThat(bindings(b, "uma").get(0).path()).isEqualTo("sip:127.0.0.1:" + blackHole.getLocalPort()
                            + ";transport=tcp");
                    uma.sendTo(b.sipPort(Transport.UDP));

                    SipPhone.Call first = AccountChangesTest.authenticatedCall(carol, "sip:uma@" + DOMAIN);
                    SipPhone.Incoming atUma = uma.new Incoming(uma.awaitRequest("INVITE", Duration.ofSeconds(45)));
                    assertThat(swallowed).isNotEmpty(); // B tried A's address first
                    assertThat(atUma.invite.vias()).hasSize(2); // carol, B
                    atUma.answer();
                    SipResponse ok = first.awaitFinal();
                    assertThat(ok.status()).isEqualTo(200);
                    first.ack(ok);
                    uma.awaitRequest("ACK", SOON);
                    first.sendInDialog("BYE");
                    uma.respond(uma.awaitRequest("BYE", SOON), 200, "OK");

                    // A counts as dead for a while: the next call goes to uma at once
                    SipPhone.Call second = AccountChangesTest.authenticatedCall(carol, "sip:uma@" + DOMAIN);
                    SipPhone.Incoming again = uma.awaitInvite();
                    assertThat(again.invite.vias()).hasSize(2);
                    again.respond(486, "Busy Here");
                    SipResponse busy = second.awaitFinal();
                    assertThat(busy.status()).isEqualTo(486);
                    second.ackFailure(busy);
                }
            } finally {
                for (java.net.Socket s : swallowed) {
                    s.close();
                }
                deleteExchange(exchange);
            }
        }
    }

    /**
     * Real phones: baresip registered over TCP through node A and baresip registered over UDP
     * through node B call each other, each call answered on both ends and hung up.
     */
    @Test
    void baresipThroughOneNodeAndBaresipThroughAnotherCallEachOther() throws Exception {
        Baresip.BINARY.assumeAvailable();
        String exchange = "sb_test_" + UUID.randomUUID().toString().substring(0, 12);
        try (PostgresTestDatabase database = PostgresTestDatabase.create()) {
            Map<String, String> env = clusterEnv(database, exchange);
            try (TelephonyNode a = new TelephonyNode(dirA, Map.of(), env);
                 TelephonyNode b = new TelephonyNode(dirB, Map.of(), env)) {
                Files.copy(dirA.resolve("admin.token"), dirB.resolve("admin.token"));
                awaitBus(a, b);
                createAccounts(a, b, "bare-tcp", "bare-udp");
                Duration step = Duration.ofSeconds(10);
                try (Baresip atA = Baresip.start(dirC.resolve("bare-tcp"), "bare-tcp", "secret-bare-tcp", DOMAIN,
                        new InetSocketAddress("127.0.0.1", a.sipPort(Transport.TCP)), Baresip.Transport.TCP, true);
                     Baresip atB = Baresip.start(dirC.resolve("bare-udp"), "bare-udp", "secret-bare-udp", DOMAIN,
                             new InetSocketAddress("127.0.0.1", b.sipPort(Transport.UDP)), Baresip.Transport.UDP, true)) {
                    atA.awaitRegistered(step);
                    atB.awaitRegistered(step);
                    await().atMost(SOON).until(() -> bindings(b, "bare-tcp").size() == 1 && bindings(a, "bare-udp").size() == 1);
                    assertThat(bindings(b, "bare-tcp").get(0).transport()).isEqualTo("TCP");

                    atB.dial("sip:bare-tcp@" + DOMAIN); // B → A → baresip's TCP connection
                    atB.awaitEvent("CALL_ESTABLISHED", step);
                    atA.awaitEvent("CALL_ESTABLISHED", step);
                    atB.hangup();
                    atB.awaitEvent("CALL_CLOSED", step);
                    atA.awaitEvent("CALL_CLOSED", step);

                    atA.dial("sip:bare-udp@" + DOMAIN); // A → B → baresip over UDP
                    atA.awaitEvent("CALL_ESTABLISHED", step);
                    atB.awaitEvent("CALL_ESTABLISHED", step);
                    atB.hangup(); // the callee hangs up this time
                    atB.awaitEvent("CALL_CLOSED", step);
                    atA.awaitEvent("CALL_CLOSED", step);
                    await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                        JsonNode recent = a.json(a.api("GET", "/api/v1/call-records?limit=10", null)).path("records");
                        assertThat(recent).hasSize(2);
                        for (JsonNode record : recent) {
                            assertThat(record.path("status").asText()).isEqualTo("completed");
                        }
                    });
                }
            } finally {
                deleteExchange(exchange);
            }
        }
    }

    /**
     * {@code telephony.maxCallDuration} in a cluster: the node that keeps the record (B, the
     * caller's) hangs up both phones; the callee's BYE goes through A, which holds its connection.
     */
    @Test
    void aCallPastTheMaximumDurationIsHungUpAcrossNodes() throws Exception {
        onTwoNodes(Map.of("SWITCHBOARD_TELEPHONY_MAX_CALL_DURATION", "1s"), (a, b) -> {
            try (SipPhone bob = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                 SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1);
                Answered answered = answeredCall(carol, bob);
                SipPhone.Call call = answered.call();
                SipPhone.Incoming atBob = answered.atCallee();

                SipRequest atCallee = bob.awaitRequest("BYE", Duration.ofSeconds(12));
                SipRequest atCaller = carol.awaitRequest("BYE", Duration.ofSeconds(5));
                bob.respond(atCallee, 200, "OK");
                carol.respond(atCaller, 200, "OK");
                assertThat(atCallee.vias()).hasSize(2); // B, then A
                assertThat(atCallee.to().tag()).isEqualTo(atBob.localTag);
                assertThat(atCaller.from().tag()).isEqualTo(atBob.localTag);
                JsonNode record = awaitRecord(b, call.callId, "completed");
                assertThat(record.path("endedBy").asText()).isEqualTo("timeout");
            }
        });
    }

    /**
     * A device whose connection to the node that holds its flow broke (and that has not registered
     * again) is unavailable to a caller on another node: that node answers the node-to-node INVITE
     * 430 Flow Failed (RFC 5626 §5.3), which is for the proxy alone (§11.5), and the caller hears
     * 480, recorded as unavailable. The registration whose flow failed is not tried again (the
     * next call does not go to that node to hear 430 again), until the device registers again.
     */
    @Test
    void aDeviceWhoseConnectionBrokeOnAnotherNodeIsUnavailableNotFlowFailed() throws Exception {
        onTwoNodes(Map.of(), (a, b) -> {
            try (SipPhone carol = SipPhone.udp("carol", DOMAIN, b.sipPort(Transport.UDP))) {
                assertThat(carol.register(600, "secret-carol").status()).isEqualTo(200);
                SipPhone bob = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP));
                assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
                await().atMost(SOON).until(() -> bindings(b, "bob").size() == 1);
                bob.close(); // its TCP connection to A is gone; its binding stays until it expires
                await().atMost(SOON).until(() -> a.metric("switchboard_sip_connections") == 0);

                SipPhone.Call call = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                SipResponse answer = call.awaitFinal();
                call.ackFailure(answer);
                assertThat(answer.status()).as(answer.startLine()).isEqualTo(480);
                JsonNode record = awaitRecord(b, call.callId, "unavailable");
                assertThat(record.path("finalCode").asInt()).isEqualTo(480);

                String flowFailed = "switchboard_sip_messages_total{direction=\"out\",method_or_status=\"430\"}";
                assertThat(a.metric(flowFailed)).isEqualTo(1.0);
                SipPhone.Call again = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                SipResponse second = again.awaitFinal();
                again.ackFailure(second);
                assertThat(second.status()).as(second.startLine()).isEqualTo(480);
                assertThat(a.metric(flowFailed)).as("the failed flow is not tried again").isEqualTo(1.0);

                // registered again over a new connection: a new registration, rung
                try (SipPhone back = SipPhone.tcp("bob", DOMAIN, a.sipPort(Transport.TCP))) {
                    assertThat(back.register(600, "secret-bob").status()).isEqualTo(200);
                    await().atMost(SOON).until(() -> bindings(b, "bob").stream()
                            .anyMatch(binding -> binding.contact().contains(":" + back.localPort() + ";")));
                    SipPhone.Call third = AccountChangesTest.authenticatedCall(carol, "sip:bob@" + DOMAIN);
                    back.awaitInvite().respond(486, "Busy Here");
                    assertThat(third.awaitFinal().status()).isEqualTo(486);
                }
            }
        });
    }

    private static List<Binding> bindings(TelephonyNode node, String user) {
        return node.telephony.location().lookup("sip:" + user + "@" + DOMAIN, System.currentTimeMillis());
    }

    /** An answered call: the caller's side of it, and the INVITE as the callee received it. */
    private record Answered(SipPhone.Call call, SipPhone.Incoming atCallee) {
    }

    /** The caller calls the callee (with digest), who answers at once; the caller ACKs and the callee receives the ACK. */
    private static Answered answeredCall(SipPhone caller, SipPhone callee) throws Exception {
        SipPhone.Call call = AccountChangesTest.authenticatedCall(caller, "sip:" + callee.user + "@" + DOMAIN);
        SipPhone.Incoming atCallee = callee.awaitInvite();
        atCallee.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        callee.awaitRequest("ACK", SOON);
        return new Answered(call, atCallee);
    }

    private static void awaitBus(TelephonyNode... nodes) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            for (TelephonyNode n : nodes) {
                if (n.metric("switchboard_bus_connected") != 1) {
                    return false;
                }
            }
            return true;
        });
    }

    private static void createAccounts(TelephonyNode through, TelephonyNode other, String... users) throws Exception {
        for (String user : users) {
            HttpResponse<String> created = through.api("POST", "/api/v1/accounts",
                    "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}");
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        }
        awaitAccounts(other, users);
    }

    private static void awaitAccounts(TelephonyNode node, String... users) {
        await().atMost(Duration.ofSeconds(5)).until(() -> {
            for (String user : users) {
                if (node.telephony.accounts().lookup(user, DOMAIN).isEmpty()) {
                    return false;
                }
            }
            return true;
        });
    }

    private static List<JsonNode> records(TelephonyNode node, String callId) throws Exception {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode r : node.json(node.api("GET", "/api/v1/call-records?limit=50", null)).path("records")) {
            if (r.path("callId").asText().equals(callId)) {
                found.add(r);
            }
        }
        return found;
    }

    private static JsonNode awaitRecord(TelephonyNode node, String callId, String status) {
        JsonNode[] found = new JsonNode[1];
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            List<JsonNode> records = records(node, callId);
            assertThat(records).hasSize(1);
            assertThat(records.get(0).path("status").asText()).isEqualTo(status);
            found[0] = records.get(0);
        });
        return found[0];
    }

    private static void deleteExchange(String exchange) throws Exception {
        ConnectionFactory factory = new ConnectionFactory();
        factory.setHost("127.0.0.1");
        factory.setPort(5672);
        try (Connection c = factory.newConnection(); Channel ch = c.createChannel()) {
            ch.exchangeDelete(exchange);
        }
    }
}
