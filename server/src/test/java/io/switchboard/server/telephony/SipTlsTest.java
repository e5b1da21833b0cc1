package io.switchboard.server.telephony;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.switchboard.platform.tls.TestCertificates;
import io.switchboard.platform.tls.TestCertificates.Identity;
import io.switchboard.platform.tls.TestCertificates.KeyFormat;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.Transport;
import java.math.BigInteger;
import io.switchboard.server.clients.Baresip;
import io.switchboard.server.clients.MediaProfile;
import io.switchboard.server.sipp.Sipp;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIP over TLS (RFC 3261 §26.2) on a whole node with {@code tls:127.0.0.1:0} beside UDP and TCP,
 * its certificate from a test CA: digest registration over TLS with a {@code sips:} Contact
 * (RFC 5630), calls between a TLS phone and a UDP phone in both directions (the TLS phone reached
 * over its own connection; Via and Record-Route with the TLS port), bad clients at the TLS port,
 * and a certificate renewed while a phone stays registered.
 */
class SipTlsTest {
    private static final String DOMAIN = "intercom.test";
    private static final Identity CA = TestCertificates.authority("Switchboard SIP Test CA");

    @TempDir
    static Path dir;
    @TempDir
    static Path certs;
    static TelephonyNode node;
    static SSLContext trust;
    private final List<SipPhone> phones = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Identity first = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(90)), "localhost", "127.0.0.1");
        first.writeChain(certs.resolve("fullchain.pem"));
        first.writeKey(certs.resolve("privkey.pem"), KeyFormat.PKCS8);
        node = new TelephonyNode(dir.resolve("node"), Map.of("sip", "udp:127.0.0.1:0,tcp:127.0.0.1:0,tls:127.0.0.1:0"),
                Map.of("SWITCHBOARD_TLS_CERTIFICATE", certs.resolve("fullchain.pem").toString(),
                        "SWITCHBOARD_TLS_KEY", certs.resolve("privkey.pem").toString(),
                        "SWITCHBOARD_TLS_HANDSHAKE_TIMEOUT", "1s"));
        trust = CA.trustingContext();
        for (String user : List.of("alice", "bob", "carol", "bare-tls", "sipp-udp")) {
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
    void closePhones() {
        phones.forEach(SipPhone::close);
    }

    private SipPhone tlsPhone(String user) throws Exception {
        SipPhone phone = SipPhone.tls(user, DOMAIN, node.sipPort(Transport.TLS), trust);
        phones.add(phone);
        SipResponse registered = phone.register(600, "secret-" + user);
        assertThat(registered.status()).as("digest REGISTER over TLS").isEqualTo(200);
        return phone;
    }

    private SipPhone udpPhone(String user) throws Exception {
        SipPhone phone = SipPhone.udp(user, DOMAIN, node.sipPort(Transport.UDP));
        phones.add(phone);
        assertThat(phone.register(600, "secret-" + user).status()).isEqualTo(200);
        return phone;
    }

    /** Sends an INVITE, answers the 407 with credentials, returns the authenticated call. */
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

    @Test
    void aTlsPhoneRegistersWithASipsContactAndIsCalledOverItsOwnConnection() throws Exception {
        SipPhone bob = tlsPhone("bob");
        SipPhone alice = udpPhone("alice");
        int tlsPort = node.sipPort(Transport.TLS);
        int udpPort = node.sipPort(Transport.UDP);

        SipPhone.Call call = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipPhone.Incoming atBob = bob.awaitInvite();
        // the Request-URI is bob's registered sips: Contact, reached over his TLS connection
        assertThat(atBob.invite.requestUri().toString()).startsWith("sips:bob@127.0.0.1:");
        assertThat(atBob.invite.topVia().transport()).isEqualTo("TLS");
        assertThat(atBob.invite.topVia().port()).isEqualTo(tlsPort);
        // RFC 3261 §16.6 step 4 with RFC 5658: one entry for each side when the transports differ
        List<String> recordRoute = atBob.invite.headers().values("Record-Route");
        assertThat(recordRoute).hasSize(2);
        assertThat(recordRoute.get(0)).contains("127.0.0.1:" + tlsPort).containsAnyOf("sips:", "transport=tls");
        assertThat(recordRoute.get(1)).contains("127.0.0.1:" + udpPort).doesNotContain("transport=");

        atBob.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        bob.awaitRequest("ACK", Duration.ofSeconds(5));
        // the callee over TLS hangs up along its route set: its BYE crosses back to UDP
        atBob.bye();
        SipRequest bye = alice.awaitRequest("BYE", Duration.ofSeconds(5));
        assertThat(bye.topVia().transport()).isEqualTo("UDP");
        alice.respond(bye, 200, "OK");
        assertThat(bob.awaitResponse(r -> r.cseq().method().equals("BYE"), Duration.ofSeconds(5)).status()).isEqualTo(200);
    }

    @Test
    void aTlsPhoneCallsAUdpPhone() throws Exception {
        SipPhone carol = tlsPhone("carol");
        SipPhone alice = udpPhone("alice");
        SipPhone.Call call = authenticatedCall(carol, "sip:alice@" + DOMAIN);
        SipPhone.Incoming atAlice = alice.awaitInvite();
        assertThat(atAlice.invite.topVia().transport()).isEqualTo("UDP");
        assertThat(atAlice.invite.headers().values("Via")).hasSize(2);
        assertThat(atAlice.invite.headers().values("Via").get(1)).startsWith("SIP/2.0/TLS");
        atAlice.answer();
        SipResponse ok = call.awaitFinal();
        assertThat(ok.status()).isEqualTo(200);
        call.ack(ok);
        alice.awaitRequest("ACK", Duration.ofSeconds(5));
        Thread answerer = CallTest.answerByeInBackground(alice, atAlice);
        assertThat(call.bye().status()).isEqualTo(200);
        answerer.join();
    }

    @Test
    void garbageAndHalfFinishedHandshakesAreCountedAndHurtNobody() throws Exception {
        SipPhone bob = tlsPhone("bob");
        int port = node.sipPort(Transport.TLS);
        double notTls = metric("not_tls");
        double incomplete = metric("incomplete");
        double succeeded = node.metric("switchboard_tls_handshakes_total{listener=\"sip-tls\"}");

        // plain SIP sent to the TLS port
        try (Socket plain = new Socket(InetAddress.getLoopbackAddress(), port)) {
            plain.setSoTimeout(5000);
            plain.getOutputStream().write("OPTIONS sip:intercom.test SIP/2.0\r\n\r\n".getBytes());
            assertThat(plain.getInputStream().read()).as("closed without an answer").isEqualTo(-1);
        }
        // a client that connects and never starts its handshake: closed at tls.handshakeTimeout (1 s here)
        long started = System.nanoTime();
        try (Socket silent = new Socket(InetAddress.getLoopbackAddress(), port)) {
            silent.setSoTimeout(10_000);
            assertThat(silent.getInputStream().read()).isEqualTo(-1);
        }
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isLessThan(Duration.ofSeconds(5));
        // half a ClientHello, then silence
        try (Socket half = new Socket(InetAddress.getLoopbackAddress(), port)) {
            half.setSoTimeout(10_000);
            half.getOutputStream().write(new byte[] {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01});
            assertThat(half.getInputStream().read()).isEqualTo(-1);
        }
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(metric("not_tls")).isEqualTo(notTls + 1);
            assertThat(metric("incomplete")).isEqualTo(incomplete + 2);
        });
        // the phone registered before is still served over its connection
        assertThat(bob.register(600, "secret-bob").status()).isEqualTo(200);
        assertThat(node.metric("switchboard_tls_handshakes_total{listener=\"sip-tls\"}")).isEqualTo(succeeded);
    }

    @Test
    void aRenewedCertificateServesNewConnectionsWhileARegisteredPhoneStays() throws Exception {
        SipPhone bob = tlsPhone("bob");
        BigInteger before = serialOfNewConnection();
        Identity renewed = TestCertificates.server(CA, Instant.now().plus(Duration.ofDays(180)), "localhost", "127.0.0.1");
        Path stagedKey = renewed.writeKey(certs.resolve("privkey.pem.tmp"), KeyFormat.PKCS8);
        Path stagedChain = renewed.writeChain(certs.resolve("fullchain.pem.tmp"));
        Files.move(stagedChain, certs.resolve("fullchain.pem"), StandardCopyOption.ATOMIC_MOVE);
        Files.move(stagedKey, certs.resolve("privkey.pem"), StandardCopyOption.ATOMIC_MOVE);
        // the watcher would apply it after the directory settles; asking now keeps the test short
        node.node.certificate().orElseThrow().reloadIfChanged();

        assertThat(serialOfNewConnection()).isEqualTo(renewed.serial()).isNotEqualTo(before);
        // bob's connection was not dropped: he is still called over it
        SipPhone alice = udpPhone("alice");
        SipPhone.Call call = authenticatedCall(alice, "sip:bob@" + DOMAIN);
        SipPhone.Incoming atBob = bob.awaitInvite();
        atBob.respond(486, "Busy Here");
        assertThat(call.awaitFinal().status()).isEqualTo(486);
    }

    /**
     * baresip (its Debian build has OpenSSL) registers over TLS, verifying the node's certificate
     * against the test CA, and SIPp over UDP calls it through the node: TLS ↔ UDP with real peers.
     */
    @Test
    void baresipRegistersOverTlsAndIsCalledFromUdp(@TempDir Path peerDir) throws Exception {
        Baresip.BINARY.assumeAvailable();
        Sipp.assumeAvailable();
        Path ca = Files.writeString(peerDir.resolve("ca.pem"), TestCertificates.pem(CA.certificate()));
        InetSocketAddress tls = new InetSocketAddress("127.0.0.1", node.sipPort(Transport.TLS));
        InetSocketAddress udp = new InetSocketAddress("127.0.0.1", node.sipPort(Transport.UDP));
        try (Baresip bare = Baresip.start(peerDir.resolve("bare"), "bare-tls", "secret-bare-tls", DOMAIN, tls,
                Baresip.Transport.TLS, true, MediaProfile.RTP, ca)) {
            bare.awaitRegistered(Duration.ofSeconds(10));
            var registrations = node.json(node.api("GET", "/api/v1/registrations", null));
            assertThat(registrations.toString()).contains("bare-tls").containsIgnoringCase("\"transport\":\"tls\"");

            Sipp.Result call = Sipp.scenario("uac_auth.xml").remote(udp).service("bare-tls").key("caller", "sipp-udp")
                    .auth("sipp-udp", "secret-sipp-udp").calls(1).timeout(Duration.ofSeconds(20)).run();
            assertThat(call.succeeded()).as(call.describe() + bare.describe()).isTrue();
            bare.awaitEvent("CALL_ESTABLISHED", Duration.ofSeconds(10));
            bare.awaitEvent("CALL_CLOSED", Duration.ofSeconds(10));
        }
    }

    private static BigInteger serialOfNewConnection() throws Exception {
        try (SSLSocket socket = (SSLSocket) trust.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                node.sipPort(Transport.TLS))) {
            socket.setSoTimeout(5000);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    private static double metric(String reason) throws Exception {
        return node.metric("switchboard_tls_handshake_failures_total{listener=\"sip-tls\",reason=\"" + reason + "\"}");
    }
}
