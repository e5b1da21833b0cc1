package io.switchboard.telephony.registrar;

import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.proxy.ProxyCore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.DatagramPacket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * telephony.branchResponseTimeout (1 s here): a device that sends nothing at all, not even 100,
 * no longer holds the caller until its Timer B (32 s); one that rings is not cut.
 */
class SilentBranchTest {
    static final String BOB = "sip:bob@" + RegistrarFixture.DOMAIN;

    @TempDir
    Path dir;
    RegistrarFixture node;
    TestPhone alice;
    final List<Device> devices = new ArrayList<>();

    /** A registered UDP phone of bob's that answers an INVITE as told: never, 486 at once, or 180 then 486. */
    final class Device implements AutoCloseable {
        final TestPhone phone;
        final long busyAfterMillis;
        final boolean rings;
        final boolean silent;
        final Thread reader;
        /** Every INVITE received, retransmissions included. */
        final java.util.concurrent.atomic.AtomicInteger invites = new java.util.concurrent.atomic.AtomicInteger();

        Device(boolean silent, boolean rings, long busyAfterMillis) throws Exception {
            this.phone = new TestPhone("bob", "builder1", node.port);
            this.silent = silent;
            this.rings = rings;
            this.busyAfterMillis = busyAfterMillis;
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "MD5").status()).isEqualTo(200);
            phone.socket.setSoTimeout(0);
            reader = Thread.ofVirtual().start(this::answer);
        }

        private void answer() {
            byte[] buffer = new byte[65535];
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    phone.socket.receive(packet);
                    if (!(SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()))
                            instanceof SipRequest request) || !request.isMethod(SipRequest.INVITE)) {
                        continue;
                    }
                    invites.incrementAndGet();
                    if (silent) {
                        continue;
                    }
                    if (rings) {
                        send(response(request, "180 Ringing"), packet);
                    }
                    Thread.sleep(busyAfterMillis);
                    send(response(request, "486 Busy Here"), packet);
                }
            } catch (SocketException closed) {
                // the test is over
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        private String response(SipRequest request, String status) {
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            return r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(request.header("To")).append(";tag=dev\r\n")
                    .append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n")
                    .append("Content-Length: 0\r\n\r\n").toString();
        }

        private void send(String text, DatagramPacket from) throws java.io.IOException {
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            phone.socket.send(new DatagramPacket(data, data.length, from.getSocketAddress()));
        }

        @Override
        public void close() {
            phone.close();
        }
    }

    /**
     * A registered UDP phone of bob's that wakes late: it answers its first INVITE only after
     * {@code afterMillis} (well past the 1 s), with {@code status}, once, and ignores the INVITE's
     * retransmissions; it records every request it gets (ACK, BYE, CANCEL) and answers a BYE 200.
     */
    final class LateDevice implements AutoCloseable {
        final TestPhone phone;
        final java.util.concurrent.BlockingQueue<SipRequest> received = new java.util.concurrent.LinkedBlockingQueue<>();
        final Thread reader;

        LateDevice(String status, long afterMillis) throws Exception {
            this.phone = new TestPhone("bob", "builder1", node.port);
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "MD5").status()).isEqualTo(200);
            phone.socket.setSoTimeout(0);
            reader = Thread.ofVirtual().start(() -> run(status, afterMillis));
        }

        private void run(String status, long afterMillis) {
            byte[] buffer = new byte[65535];
            boolean answered = false;
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    phone.socket.receive(packet);
                    if (!(SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()))
                            instanceof SipRequest request)) {
                        continue;
                    }
                    if (request.isMethod(SipRequest.INVITE)) {
                        if (!answered) {
                            answered = true;
                            DatagramPacket from = new DatagramPacket(new byte[0], 0, packet.getSocketAddress());
                            Thread.ofVirtual().start(() -> {
                                try {
                                    Thread.sleep(afterMillis);
                                    send(respond(request, status), from);
                                } catch (Exception e) {
                                    // the test is over
                                }
                            });
                        }
                        continue;
                    }
                    received.add(request);
                    if (request.isMethod(SipRequest.BYE)) {
                        send(respond(request, "200 OK"), packet);
                    }
                }
            } catch (SocketException closed) {
                // the test is over
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        private String respond(SipRequest request, String status) {
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            for (String rr : request.headers().fields("Record-Route")) {
                r.append("Record-Route: ").append(rr).append("\r\n");
            }
            String to = request.header("To");
            return r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(to).append(to.contains("tag=") ? "" : ";tag=late").append("\r\n")
                    .append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n")
                    .append("Contact: ").append(phone.contact()).append("\r\n")
                    .append("Content-Length: 0\r\n\r\n").toString();
        }

        private void send(String text, DatagramPacket to) throws java.io.IOException {
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            phone.socket.send(new DatagramPacket(data, data.length, to.getSocketAddress()));
        }

        /** The next request of {@code method} this device gets within 10 s, or null. */
        SipRequest await(String method) throws InterruptedException {
            long end = System.nanoTime() + 10_000_000_000L;
            for (long left; (left = end - System.nanoTime()) > 0; ) {
                SipRequest r = received.poll(left, java.util.concurrent.TimeUnit.NANOSECONDS);
                if (r != null && r.isMethod(method)) {
                    return r;
                }
            }
            return null;
        }

        @Override
        public void close() {
            phone.close();
        }
    }

    final List<LateDevice> lateDevices = new ArrayList<>();

    private LateDevice lateDevice(String status, long afterMillis) throws Exception {
        LateDevice device = new LateDevice(status, afterMillis);
        lateDevices.add(device);
        return device;
    }

    @BeforeEach
    void start() throws Exception {
        RegistrarSettings d = RegistrarSettings.defaults();
        node = new RegistrarFixture(io.switchboard.platform.config.StoreSettings.sqliteIn(dir),
                new RegistrarSettings(false, 2, 3600, 3600, 4, d.algorithms(), d.nonceLifetime()), Duration.ofSeconds(1));
        node.accounts.add("alice", RegistrarFixture.DOMAIN, "wonderland");
        node.accounts.add("bob", RegistrarFixture.DOMAIN, "builder1");
        node.directory.refresh();
        alice = new TestPhone("alice", "wonderland", node.port);
    }

    @AfterEach
    void stop() {
        devices.forEach(Device::close);
        lateDevices.forEach(LateDevice::close);
        alice.close();
        node.close();
    }

    private Device device(boolean silent, boolean rings, long busyAfterMillis) throws Exception {
        Device device = new Device(silent, rings, busyAfterMillis);
        devices.add(device);
        return device;
    }

    private double silentBranches() {
        var counter = node.meters.find("switchboard.call.branches.silent").counter();
        return counter == null ? -1 : counter.count();
    }

    @Test
    void aSilentDeviceDoesNotHoldTheCallerOnceTheOtherSaidBusy() throws Exception {
        Device gone = device(true, false, 0);
        device(false, false, 0);
        SipResponse answer;
        long took;
        List<String> logged;
        try (CapturedLog log = CapturedLog.of(ProxyCore.class)) {
            long start = System.nanoTime();
            answer = alice.invite(BOB, null);
            took = (System.nanoTime() - start) / 1_000_000;
            logged = log.messages();
        }
        assertThat(answer.status()).isEqualTo(486);
        assertThat(took).isBetween(900L, 2_900L);
        assertThat(logged).anySatisfy(line -> assertThat(line)
                .startsWith("no response from sip:bob@127.0.0.1:" + gone.phone.socket.getLocalPort() + " (" + BOB + ") over udp")
                .contains("within 1s"));
        assertThat(silentBranches()).isEqualTo(1);
    }

    @Test
    void whenNoDeviceRespondsTheCallerGets408Soon() throws Exception {
        device(true, false, 0);
        device(true, false, 0);
        long start = System.nanoTime();
        SipResponse answer = alice.invite(BOB, null);
        long took = (System.nanoTime() - start) / 1_000_000;
        assertThat(answer.status()).isEqualTo(408);
        assertThat(took).isBetween(900L, 2_900L);
        assertThat(silentBranches()).isEqualTo(2);
    }

    /**
     * Over UDP the INVITE to a device given up as silent is not sent again (Timer A would go on
     * at 1.5 s and 3.5 s, and on to 31.5 s): it only loaded the network and the node. The
     * transaction stays for a late answer (the tests below).
     */
    @Test
    void aDeviceGivenUpAsSilentGetsNoMoreCopiesOfTheInvite() throws Exception {
        Device gone = device(true, false, 0);
        SipResponse answer = alice.invite(BOB, null);
        assertThat(answer.status()).isEqualTo(408);
        int beforeTheAnswer = gone.invites.get();
        assertThat(beforeTheAnswer).as("the INVITE and its retransmission at 0.5 s").isBetween(1, 2);
        Thread.sleep(3_000);
        assertThat(gone.invites.get()).as("INVITEs after the device was given up").isEqualTo(beforeTheAnswer);
    }

    @Test
    void aDeviceThatRingsIsNotCut() throws Exception {
        device(true, false, 0);
        device(false, true, 2_500); // rings, and says busy after 2.5 s, well past the 1 s
        long start = System.nanoTime();
        SipResponse answer = alice.invite(BOB, null);
        long took = (System.nanoTime() - start) / 1_000_000;
        assertThat(answer.status()).isEqualTo(486);
        assertThat(took).isGreaterThanOrEqualTo(2_400L);
        assertThat(silentBranches()).isEqualTo(1);
    }

    /**
     * A phone that wakes after the timeout (a TCP or TLS phone out of doze) and answers while
     * another device still rings: its 200 reaches the caller (RFC 3261 §16.7 step 5: every 2xx is
     * forwarded); before, its transaction had been ended and the 200 was a stray nobody answered.
     */
    @Test
    void aLateAnswerWhileAnotherDeviceRingsReachesTheCaller() throws Exception {
        lateDevice("200 OK", 2_000);
        device(false, true, 20_000); // rings, and would say busy only long after
        SipResponse answer = alice.invite(BOB, null);
        assertThat(answer.status()).isEqualTo(200);
        assertThat(answer.to().tag()).isEqualTo("late");
        assertThat(silentBranches()).isEqualTo(1);
    }

    /**
     * The caller was already told 408 when the device answers: the device gets an ACK and a BYE
     * (as a late answer after a CANCEL does) rather than ringing on with a call nobody hears.
     */
    @Test
    void aLateAnswerAfterTheCallerGot408IsAckedAndHungUp() throws Exception {
        LateDevice late = lateDevice("200 OK", 2_000);
        SipResponse answer = alice.invite(BOB, null);
        assertThat(answer.status()).isEqualTo(408);
        SipRequest ack = late.await("ACK");
        assertThat(ack).as("ACK of the late 200").isNotNull();
        assertThat(ack.to().tag()).isEqualTo("late");
        SipRequest bye = late.await("BYE");
        assertThat(bye).as("BYE of the late 200").isNotNull();
        assertThat(bye.callId()).isEqualTo(ack.callId());
    }

    /**
     * A device that rings only after the timeout is cancelled (RFC 3261 §9.1: the CANCEL it was
     * owed), and its ringing is not passed on: the caller's answer was already decided without it.
     */
    @Test
    void aLateRingingIsCancelled() throws Exception {
        LateDevice late = lateDevice("180 Ringing", 2_000);
        SipResponse answer = alice.invite(BOB, null);
        assertThat(answer.status()).isEqualTo(408);
        assertThat(late.await("CANCEL")).as("CANCEL of the late ringing").isNotNull();
    }
}
