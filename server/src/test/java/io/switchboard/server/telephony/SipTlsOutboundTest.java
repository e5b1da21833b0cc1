package io.switchboard.server.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node as a TLS <em>client</em> and the {@code sips:} rules, on a whole node with UDP and TLS
 * listeners and {@code tls.trust} naming a test CA:
 * <ul>
 *   <li>a phone registered over TLS whose connection is gone is reached over a new TLS connection
 *       the node opens to its {@code sips:} Contact (RFC 3261 §18.1.1, §26.2), the phone's
 *       certificate checked for the Contact's host; the call crosses TLS ↔ UDP with one Record-Route
 *       entry per side and in-dialog requests follow both ways over that connection;</li>
 *   <li>a phone whose listener presents a certificate the node does not trust, or never finishes
 *       the handshake, fails its branch (a lone 503 becomes 500, RFC 3261 §16.7 step 6; a timeout
 *       408, §16.8), counted by reason;</li>
 *   <li>RFC 5630: a sips: request over UDP, towards a phone reachable only over UDP, and a sips:
 *       Contact registered over UDP are refused; a sips: call between TLS phones is Record-Routed
 *       with a sips: URI (§16.6 step 4).</li>
 * </ul>
 */
class SipTlsOutboundTest {
    private static final String DOMAIN = "intercom.test";
    private static final Identity CA = TestCertificates.authority("Switchboard Outbound Test CA");

    @TempDir
    static Path dir;
    @TempDir
    static Path certs;
    static TelephonyNode node;
    private final List<AutoCloseable> closing = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Identity own = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        own.writeChain(certs.resolve("fullchain.pem"));
        own.writeKey(certs.resolve("privkey.pem"), KeyFormat.PKCS8);
        Path trust = Files.writeString(certs.resolve("trust.pem"), TestCertificates.pem(CA.certificate()));
        node = new TelephonyNode(dir.resolve("node"), Map.of("sip", "udp:127.0.0.1:0,tls:127.0.0.1:0"),
                Map.of("SWITCHBOARD_TLS_CERTIFICATE", certs.resolve("fullchain.pem").toString(),
                        "SWITCHBOARD_TLS_KEY", certs.resolve("privkey.pem").toString(),
                        "SWITCHBOARD_TLS_TRUST", trust.toString(),
                        "SWITCHBOARD_TLS_HANDSHAKE_TIMEOUT", "3s"));
        for (String user : List.of("alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan")) {
            var created = node.api("POST", "/api/v1/accounts", "{\"username\":\"" + user + "\",\"password\":\"secret-" + user + "\"}");
            assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
            await().atMost(Duration.ofSeconds(2)).until(() -> node.telephony.accounts().lookup(user, DOMAIN).isPresent());
        }
    }

    @AfterAll
    static void stop() {
        if (node != null) {
            node.close();
        }
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T closed(T thing) {
        closing.add(thing);
        return thing;
    }

    private SipPhone tlsPhone(String user) throws Exception {
        SipPhone phone = closed(SipPhone.tls(user, DOMAIN, node.sipPort(Transport.TLS), CA.trustingContext()));
        assertThat(phone.register(600, "secret-" + user).status()).isEqualTo(200);
        return phone;
    }

    private SipPhone udpPhone(String user) throws Exception {
        SipPhone phone = closed(SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP)));
        assertThat(phone.register(600, "secret-" + user).status()).isEqualTo(200);
        return phone;
    }

    /** Registers over TLS with a Contact naming {@code listenPort}, then drops that connection. */
    private void registerThenDisconnect(String user, int listenPort) throws Exception {
        SipPhone registering = SipPhone.tls(user, DOMAIN, node.sipPort(Transport.TLS), CA.trustingContext());
        registering.claimedContact = "<sips:" + user + "@127.0.0.1:" + listenPort + ">";
        try (registering) {
            assertThat(registering.register(600, "secret-" + user).status()).isEqualTo(200);
        }
        // the node must have seen the close: until then it would still send over the dead connection
        await().atMost(Duration.ofSeconds(5)).until(() -> openConnections() == 0);
    }

    private static double openConnections() throws Exception {
        return node.metric("switchboard_sip_connections");
    }

    private static double outcome(String outcome) throws Exception {
        double value = node.metric("switchboard_sip_tls_connects_total{outcome=\"" + outcome + "\"}");
        return Double.isNaN(value) ? 0 : value;
    }

    private static SipPhone.Call authenticatedCall(SipPhone caller, String target) throws Exception {
        SipPhone.Call first = caller.call(target);
        first.invite(null);
        SipResponse challenge = first.awaitFinal();
        assertThat(challenge.status()).isEqualTo(407);
        first.ackFailure(challenge);
        SipPhone.Call call = caller.call(target);
        call.invite(call.proxyAuthorization(challenge, "secret-" + caller.user));
        return call;
    }

    /** A phone's own TLS listener: hands each accepted, handshaken connection to the test. */
    private final class PhoneListener implements AutoCloseable {
        final SSLServerSocket server;
        final LinkedBlockingQueue<SSLSocket> accepted = new LinkedBlockingQueue<>();
        /** Holds each accepted connection this long before its handshake: requests pile up meanwhile. */
        volatile long handshakeDelayMillis;

        PhoneListener(Identity identity) throws IOException {
            server = (SSLServerSocket) identity.presentingContext(null).getServerSocketFactory()
                    .createServerSocket(0, 10, InetAddress.getLoopbackAddress());
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try {
                        SSLSocket socket = (SSLSocket) server.accept();
                        socket.setSoTimeout(10_000);
                        try {
                            if (handshakeDelayMillis > 0) {
                                Thread.sleep(handshakeDelayMillis);
                            }
                            socket.startHandshake();
                            socket.setSoTimeout(0);
                            accepted.add(socket);
                        } catch (IOException | InterruptedException refused) {
                            socket.close();
                        }
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            closing.add(this);
        }

        int port() {
            return server.getLocalPort();
        }

        SipPhone awaitPhone(String user) throws InterruptedException {
            SSLSocket socket = accepted.poll(20, TimeUnit.SECONDS);
            assertThat(socket).as("the node opens a TLS connection to " + user + "'s Contact").isNotNull();
            return closed(SipPhone.overConnection(user, DOMAIN, socket));
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (SSLSocket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void aTlsPhoneWhoseConnectionIsGoneIsReachedOverANewTlsConnection() throws Exception {
        PhoneListener listener = new PhoneListener(
                TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1"));
        registerThenDisconnect("bob", listener.port());
        SipPhone alice = udpPhone("alice");
        double connected = outcome("ok");
        int tlsPort = node.sipPort(Transport.TLS);
        int udpPort = node.sipPort(Transport.UDP);

        SipPhone.Call call = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipPhone bob = listener.awaitPhone("bob");
        SipPhone.Incoming atBob = bob.awaitInvite();
        assertThat(atBob.invite.requestUri().toString()).isEqualTo("sips:bob@127.0.0.1:" + listener.port());
        assertThat(atBob.invite.topVia().transport()).isEqualTo("TLS");
        assertThat(atBob.invite.topVia().port()).isEqualTo(tlsPort);
        // §16.6 step 4 with RFC 5658: one entry per side; bob's side sips: (his Request-URI is sips:)
        List<String> recordRoute = atBob.invite.headers().values("Record-Route");
        assertThat(recordRoute).hasSize(2);
        assertThat(recordRoute.get(0)).startsWith("<sips:127.0.0.1:" + tlsPort + ";").doesNotContain("transport=");
        assertThat(recordRoute.get(1)).startsWith("<sip:127.0.0.1:" + udpPort + ";").doesNotContain("transport=");
        await().atMost(Duration.ofSeconds(5)).until(() -> outcome("ok") == connected + 1);

        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        // a re-INVITE from alice goes to bob over the connection the node opened (no second one)
        int reInvite = call.sendInDialog("INVITE");
        SipRequest atBobAgain = bob.awaitRequest("INVITE", Duration.ofSeconds(5));
        bob.respond(atBobAgain, 200, "OK");
        assertThat(alice.awaitResponse(r -> r.cseq().number() == reInvite && r.status() == 200, Duration.ofSeconds(5)))
                .isNotNull();
        call.ackInDialog(reInvite);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        // bob hangs up along his route set: over the same connection, then UDP to alice
        atBob.bye();
        SipRequest bye = alice.awaitRequest("BYE", Duration.ofSeconds(5));
        assertThat(bye.topVia().transport()).isEqualTo("UDP");
        alice.respond(bye, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(5)).status()).isEqualTo(200);
        assertThat(listener.accepted).as("one connection carried the whole call").isEmpty();
        assertThat(outcome("ok")).isEqualTo(connected + 1);
    }

    @Test
    void inDialogRequestsWaitingForOneNewConnectionLeaveInTheOrderTheyArrived() throws Exception {
        PhoneListener listener = new PhoneListener(
                TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1"));
        registerThenDisconnect("bob", listener.port());
        SipPhone alice = udpPhone("alice");
        SipPhone.Call call = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipPhone bob = listener.awaitPhone("bob");
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));

        // bob's connection drops mid-call; alice sends three requests while the node connects again
        listener.handshakeDelayMillis = 1_500;
        bob.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> openConnections() == 0);
        List<Integer> sent = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            sent.add(call.sendInDialog("INFO"));
        }
        SipPhone bobAgain = listener.awaitPhone("bob");
        List<Long> arrived = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            SipRequest info = bobAgain.awaitRequest("INFO", Duration.ofSeconds(10));
            arrived.add(info.cseq().number());
            bobAgain.respond(info, 200, "OK");
        }
        assertThat(arrived).as("one call's requests keep their order over the new connection")
                .containsExactly(sent.stream().map(Integer::longValue).toArray(Long[]::new));
    }

    @Test
    void aPhoneWithAnUntrustedCertificateFailsItsBranchAndIsCounted() throws Exception {
        Identity stranger = TestCertificates.authority("Not Trusted CA");
        PhoneListener listener = new PhoneListener(
                TestCertificates.server(stranger, Instant.now().plus(Duration.ofDays(30)), "127.0.0.1"));
        registerThenDisconnect("carol", listener.port());
        SipPhone alice = udpPhone("alice");
        double untrusted = outcome("untrusted");

        SipPhone.Call call = authenticatedCall(alice, "sip:carol@" + DOMAIN);
        SipResponse answer = call.awaitFinal();
        // a device the node cannot connect to again is unreachable, as one with no flow: 480 (§16.9's
        // 503 would go up as 500, recorded as the node's error); the certificate's fault is counted
        assertThat(answer.status()).as(answer.reason()).isEqualTo(480);
        call.ackFailure(answer);
        assertThat(outcome("untrusted")).isEqualTo(untrusted + 1);
    }

    @Test
    void aPhoneThatNeverFinishesTheHandshakeIsUnavailableWithinTheHandshakeTimeout() throws Exception {
        ServerSocket silent = closed(new ServerSocket(0, 10, InetAddress.getLoopbackAddress()));
        List<Socket> held = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread.ofVirtual().start(() -> {
            try {
                while (!silent.isClosed()) {
                    held.add(silent.accept());
                }
            } catch (IOException e) {
                // closed
            }
        });
        registerThenDisconnect("dave", silent.getLocalPort());
        SipPhone alice = udpPhone("alice");
        double timeouts = outcome("handshake_timeout");
        long started = System.nanoTime();

        SipPhone.Call call = authenticatedCall(alice, "sip:dave@" + DOMAIN);
        SipResponse answer = call.awaitFinal();
        assertThat(answer.status()).as(answer.reason()).isEqualTo(480); // unreachable, as a refused connect
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("bounded by tls.handshakeTimeout (3 s here)")
                .isLessThan(Duration.ofSeconds(15));
        call.ackFailure(answer);
        assertThat(outcome("handshake_timeout")).isEqualTo(timeouts + 1);
        for (Socket s : held) {
            s.close();
        }
    }

    @Test
    void aSipsRequestOverUdpIsRefused() throws Exception {
        SipPhone alice = udpPhone("alice");
        SipPhone.Call call = alice.call("sips:bob@" + DOMAIN);
        call.invite(null);
        SipResponse answer = call.awaitFinal();
        assertThat(answer.status()).isEqualTo(480);
        assertThat(answer.reason()).contains("TLS").contains("RFC 5630");
        call.ackFailure(answer);
    }

    @Test
    void aSipsRequestIsNotForwardedToAPhoneReachableOnlyOverUdp() throws Exception {
        udpPhone("gina");
        SipPhone erin = tlsPhone("erin");
        SipPhone.Call call = authenticatedCall(erin, "sips:gina@" + DOMAIN);
        SipResponse answer = call.awaitFinal();
        assertThat(answer.status()).isEqualTo(480);
        assertThat(answer.reason()).contains("no device of the callee registered a sips: Contact");
        call.ackFailure(answer);
    }

    @Test
    void aSipsRequestIsNotForwardedToASipContactEvenOverTls() throws Exception {
        // ivan is connected over TLS, but his Contact is a sip: URI: forwarding a sips: request to it
        // would rewrite the Request-URI from sips: to sip:, a downgrade RFC 5630 forbids
        SipPhone ivan = closed(SipPhone.tls("ivan", DOMAIN, node.sipPort(Transport.TLS), CA.trustingContext()));
        ivan.claimedContact = "<sip:ivan@" + ivan.sentBy() + ";transport=tls>";
        assertThat(ivan.register(600, "secret-ivan").status()).isEqualTo(200);
        SipPhone erin = tlsPhone("erin");
        SipPhone.Call call = authenticatedCall(erin, "sips:ivan@" + DOMAIN);
        SipResponse answer = call.awaitFinal();
        assertThat(answer.status()).isEqualTo(480);
        assertThat(answer.reason()).contains("RFC 5630");
        call.ackFailure(answer);
        // a sip: call still reaches him over his TLS connection
        SipPhone.Call plain = authenticatedCall(erin, "sip:ivan@" + DOMAIN);
        SipPhone.Incoming atIvan = ivan.awaitInvite();
        assertThat(atIvan.invite.requestUri().scheme()).isEqualTo("sip");
        atIvan.respond(486, "Busy Here");
        SipResponse busy = plain.awaitFinal();
        assertThat(busy.status()).isEqualTo(486);
        plain.ackFailure(busy);
    }

    @Test
    void aSipsCallBetweenTlsPhonesIsRecordRoutedWithASipsUri() throws Exception {
        SipPhone frank = tlsPhone("frank");
        SipPhone hank = tlsPhone("hank");
        SipPhone.Call call = authenticatedCall(hank, "sips:frank@" + DOMAIN);
        SipPhone.Incoming atFrank = frank.awaitInvite();
        List<String> recordRoute = atFrank.invite.headers().values("Record-Route");
        // §16.6 step 4: a SIPS Request-URI gets a SIPS Record-Route; both sides alike: one entry
        assertThat(recordRoute).hasSize(1);
        assertThat(recordRoute.getFirst()).startsWith("<sips:127.0.0.1:" + node.sipPort(Transport.TLS) + ";");
        atFrank.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        frank.awaitRequest("ACK", Duration.ofSeconds(5));
        Thread answerer = CallTest.answerByeInBackground(frank, atFrank);
        assertThat(call.bye().status()).isEqualTo(200);
        answerer.join();
    }

    @Test
    void aSipsContactRegisteredOverUdpIsRefused() throws Exception {
        SipPhone alice = closed(SipPhone.udp("alice", DOMAIN, node.sipPort(Transport.UDP)));
        alice.claimedContact = "<sips:alice@127.0.0.1:5061>";
        SipResponse answer = alice.register(600, "secret-alice");
        assertThat(answer.status()).isEqualTo(400);
        assertThat(answer.reason()).contains("sips: Contact must be registered over TLS").contains("UDP");
    }
}
