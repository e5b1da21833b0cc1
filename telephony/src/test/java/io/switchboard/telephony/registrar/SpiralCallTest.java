package io.switchboard.telephony.registrar;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.calls.ActiveCall;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.InetAddress;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A call that spirals (RFC 3261 §16.3 step 4): alice calls desk, whose registered device is a
 * proxy that sends the INVITE back to the node for bob, with the node's Via still in it. The node
 * routes the copy as a request of its own (it is no loop: its Request-URI changed), but it is the
 * same call, which the caller sees once: one call record, the one for what alice dialed. The copy
 * made a second record, and, found by the Call-ID first, it took the BYE that was the first's.
 */
class SpiralCallTest {
    @TempDir
    Path dir;
    RegistrarFixture node;
    TestPhone alice;
    final List<AutoCloseable> devices = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        RegistrarSettings d = RegistrarSettings.defaults();
        node = new RegistrarFixture(io.switchboard.platform.config.StoreSettings.sqliteIn(dir),
                new RegistrarSettings(false, 2, 3600, 3600, 4, d.algorithms(), d.nonceLifetime()), Duration.ofSeconds(5));
        for (String user : List.of("alice", "bob", "desk")) {
            node.accounts.add(user, RegistrarFixture.DOMAIN, "secret-" + user);
        }
        node.directory.refresh();
        alice = new TestPhone("alice", "secret-alice", node.port);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable device : devices) {
            device.close();
        }
        alice.close();
        node.close();
    }

    /** desk's device: a stateless proxy (§16.11) that sends what the node forwards to it back to the node, for bob. */
    private TestPhone forwarderToBob() throws Exception {
        TestPhone desk = new TestPhone("desk", "secret-desk", node.port);
        devices.add(desk);
        assertThat(desk.registerWithAuth("Contact: " + desk.contact(), "600", "MD5").status()).isEqualTo(200);
        desk.socket.setSoTimeout(0);
        Thread.ofVirtual().start(() -> relay(desk));
        return desk;
    }

    private void relay(TestPhone desk) {
        byte[] buffer = new byte[65535];
        try {
            while (true) {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                desk.socket.receive(packet);
                String text = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
                SipMessage message = SipParser.parse(text.getBytes(StandardCharsets.UTF_8));
                List<String> lines = new ArrayList<>(List.of(text.split("\r\n", -1)));
                if (message instanceof SipRequest request) {
                    // the same branch for an INVITE and its ACK or CANCEL, as §16.11 asks of a stateless proxy
                    String branch = "z9hG4bKdesk" + Integer.toHexString(request.topVia().branch().hashCode());
                    lines.set(0, request.method() + " sip:bob@" + RegistrarFixture.DOMAIN + " SIP/2.0");
                    lines.add(1, "Via: SIP/2.0/UDP 127.0.0.1:" + desk.socket.getLocalPort() + ";branch=" + branch);
                    lines.replaceAll(line -> line.startsWith("Max-Forwards:")
                            ? "Max-Forwards: " + (request.maxForwards() - 1) : line);
                } else {
                    lines.remove(lines.stream().filter(line -> line.startsWith("Via:")).findFirst().orElseThrow());
                }
                byte[] out = String.join("\r\n", lines).getBytes(StandardCharsets.UTF_8);
                desk.socket.send(new DatagramPacket(out, out.length, InetAddress.getLoopbackAddress(), node.port));
            }
        } catch (SocketException closed) {
            // the test is over
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** bob's phone: rings, then answers every INVITE with {@code status}. */
    private TestPhone bob(String status) throws Exception {
        TestPhone bob = new TestPhone("bob", "secret-bob", node.port);
        devices.add(bob);
        assertThat(bob.registerWithAuth("Contact: " + bob.contact(), "600", "MD5").status()).isEqualTo(200);
        bob.socket.setSoTimeout(0);
        Thread.ofVirtual().start(() -> {
            byte[] buffer = new byte[65535];
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    bob.socket.receive(packet);
                    if (SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()))
                            instanceof SipRequest request && request.isMethod(SipRequest.INVITE)) {
                        answer(bob, request, "180 Ringing", packet);
                        answer(bob, request, status, packet);
                    }
                }
            } catch (SocketException closed) {
                // the test is over
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        return bob;
    }

    private static void answer(TestPhone phone, SipRequest request, String status, DatagramPacket to) throws Exception {
        StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append("\r\n");
        for (String via : request.headers().fields("Via")) {
            r.append("Via: ").append(via).append("\r\n");
        }
        r.append("From: ").append(request.header("From")).append("\r\n")
                .append("To: ").append(request.header("To")).append(";tag=bob\r\n")
                .append("Call-ID: ").append(request.callId()).append("\r\n")
                .append("CSeq: ").append(request.header("CSeq")).append("\r\n");
        if (status.startsWith("200")) {
            r.append("Contact: ").append(phone.contact()).append("\r\n");
        }
        byte[] data = r.append("Content-Length: 0\r\n\r\n").toString().getBytes(StandardCharsets.UTF_8);
        phone.socket.send(new DatagramPacket(data, data.length, to.getSocketAddress()));
    }

    private double started() {
        var counter = node.meters.find("switchboard.calls.started").counter();
        return counter == null ? 0 : counter.count();
    }

    @Test
    void anAnsweredSpiralIsOneCallRecordedAsDialed() throws Exception {
        TestPhone desk = forwarderToBob();
        TestPhone bob = bob("200 OK");
        SipResponse ok = alice.invite("sip:desk@" + RegistrarFixture.DOMAIN, null);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.header("Contact")).contains(":" + bob.socket.getLocalPort());

        assertThat(started()).isEqualTo(1);
        List<ActiveCall> calls = node.calls.active();
        assertThat(calls).singleElement().satisfies(call -> {
            assertThat(call.callee()).isEqualTo("sip:desk@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            // where the call went from here, and where it rang after coming back
            assertThat(call.devicesRung()).containsExactly(desk.contact().replaceAll("[<>]", ""),
                    bob.contact().replaceAll("[<>]", ""));
        });
    }

    @Test
    void aSpiralThatFailsIsOneCallRecordedAsDialed() throws Exception {
        forwarderToBob();
        bob("486 Busy Here");
        assertThat(alice.invite("sip:desk@" + RegistrarFixture.DOMAIN, null).status()).isEqualTo(486);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(node.calls.active()).isEmpty());
        assertThat(started()).isEqualTo(1);
        assertThat(node.meters.find("switchboard.calls.failed").tag("reason", "busy").counter().count()).isEqualTo(1);
    }

    /** The spiral reaches nobody (bob has no device): the caller's record says so, once. */
    @Test
    void aSpiralToNobodyIsOneCallRecordedAsDialed() throws Exception {
        forwarderToBob();
        assertThat(alice.invite("sip:desk@" + RegistrarFixture.DOMAIN, null).status()).isEqualTo(480);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(node.calls.active()).isEmpty());
        assertThat(started()).isEqualTo(1);
    }
}
