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
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A call that spirals (RFC 3261 §16.3 step 4): alice calls desk, whose registered device is a
 * stateless proxy (§16.11) that sends the INVITE back to the node for bob, with the node's Via
 * still in it. The node routes the second pass as a request of its own (its Request-URI changed:
 * no loop), but it is the call alice placed: one record, the one for what she dialed. The node
 * knows the second pass by the branch of the Via it put on the first, never by a Via that merely
 * names it, which anyone can write. Both passes Record-Route, so the dialog's requests carry two
 * entries of the node, each with its own flow tokens.
 */
class SpiralCallTest {
    @TempDir
    Path dir;
    RegistrarFixture node;
    final List<AutoCloseable> devices = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        RegistrarSettings d = RegistrarSettings.defaults();
        node = new RegistrarFixture(io.switchboard.platform.config.StoreSettings.sqliteIn(dir),
                new RegistrarSettings(false, 2, 3600, 3600, 4, d.algorithms(), d.nonceLifetime()), Duration.ofSeconds(5));
        for (String user : List.of("alice", "bob", "carol", "desk", "eve")) {
            node.accounts.add(user, RegistrarFixture.DOMAIN, "secret-" + user);
        }
        node.directory.refresh();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable device : devices) {
            device.close();
        }
        node.close();
    }

    // ---- the devices ------------------------------------------------------------------------

    /** A registered device that keeps what it receives and answers as a phone would. */
    final class Phone implements AutoCloseable {
        final TestPhone phone;
        final LinkedBlockingQueue<SipMessage> received = new LinkedBlockingQueue<>();
        /** Every new INVITE it received (no To tag), in order. */
        final List<SipRequest> invites = new java.util.concurrent.CopyOnWriteArrayList<>();
        /** The final answer to a new INVITE after its 180; null: it only rings. */
        final String answer;

        Phone(String user, String answer) throws Exception {
            this.phone = new TestPhone(user, "secret-" + user, node.port);
            this.answer = answer;
            devices.add(this);
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "MD5").status()).isEqualTo(200);
            phone.socket.setSoTimeout(0);
            Thread.ofVirtual().start(this::listen);
        }

        String contactUri() {
            return phone.contact().replaceAll("[<>]", "");
        }

        private void listen() {
            byte[] buffer = new byte[65535];
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    phone.socket.receive(packet);
                    SipMessage message = SipParser.parse(Arrays.copyOf(packet.getData(), packet.getLength()));
                    received.add(message);
                    if (!(message instanceof SipRequest request)) {
                        continue;
                    }
                    boolean inDialog = request.to().tag() != null;
                    if (request.isMethod(SipRequest.INVITE) && !inDialog) {
                        invites.add(request);
                        respond(request, "180 Ringing", packet);
                        if (answer != null) {
                            respond(request, answer, packet);
                        }
                    } else if (request.isMethod(SipRequest.INVITE) || request.isMethod(SipRequest.BYE)) {
                        respond(request, "200 OK", packet);
                    }
                }
            } catch (SocketException closed) {
                // the test is over
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        /** A response as a UAS makes it: Vias, From, Call-ID and CSeq copied, a To tag, and for a 2xx to an INVITE the Record-Route (§12.1.1) and a Contact. */
        private void respond(SipRequest request, String status, DatagramPacket to) throws Exception {
            StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append("\r\n");
            for (String via : request.headers().fields("Via")) {
                r.append("Via: ").append(via).append("\r\n");
            }
            String toHeader = request.header("To");
            r.append("From: ").append(request.header("From")).append("\r\n")
                    .append("To: ").append(toHeader).append(request.to().tag() == null ? ";tag=" + phone.user : "")
                    .append("\r\n").append("Call-ID: ").append(request.callId()).append("\r\n")
                    .append("CSeq: ").append(request.header("CSeq")).append("\r\n");
            if (status.startsWith("2") && request.isMethod(SipRequest.INVITE)) {
                for (String entry : request.headers().values("Record-Route")) {
                    r.append("Record-Route: ").append(entry).append("\r\n");
                }
                r.append("Contact: ").append(phone.contact()).append("\r\n");
            }
            byte[] data = r.append("Content-Length: 0\r\n\r\n").toString().getBytes(StandardCharsets.UTF_8);
            phone.socket.send(new DatagramPacket(data, data.length, to.getSocketAddress()));
        }

        void send(String message) throws Exception {
            byte[] data = message.getBytes(StandardCharsets.UTF_8);
            phone.socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), node.port));
        }

        <T extends SipMessage> T await(Class<T> type, Predicate<T> matching) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (true) {
                SipMessage message = received.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (message == null) {
                    throw new AssertionError(phone.user + " received no such " + type.getSimpleName());
                }
                if (type.isInstance(message) && matching.test(type.cast(message))) {
                    return type.cast(message);
                }
            }
        }

        @Override
        public void close() {
            phone.close();
        }
    }

    /**
     * desk's device: a stateless proxy (§16.11) that sends the INVITEs the node forwards to it (and
     * their CANCEL and non-2xx ACK) back to the node for {@code sendOnTo}, without Record-Routing,
     * once {@code release} is open. Any other request reaching it was misrouted: it is not in the
     * dialog's route set, and is only kept in {@link #misrouted}.
     */
    final class Forwarder implements AutoCloseable {
        final TestPhone phone;
        final String sendOnTo;
        final CountDownLatch release;
        final LinkedBlockingQueue<SipRequest> misrouted = new LinkedBlockingQueue<>();
        /** The top Via branches of the INVITEs sent back (their CANCEL and ACK carry the same, §17.1.1.3). */
        final Set<String> relayed = ConcurrentHashMap.newKeySet();

        Forwarder(String sendOnTo, CountDownLatch release) throws Exception {
            this.phone = new TestPhone("desk", "secret-desk", node.port);
            this.sendOnTo = sendOnTo;
            this.release = release;
            devices.add(this);
            assertThat(phone.registerWithAuth("Contact: " + phone.contact(), "600", "MD5").status()).isEqualTo(200);
            phone.socket.setSoTimeout(0);
            Thread.ofVirtual().start(this::relay);
        }

        String contactUri() {
            return phone.contact().replaceAll("[<>]", "");
        }

        private void relay() {
            byte[] buffer = new byte[65535];
            try {
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    phone.socket.receive(packet);
                    String text = new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
                    SipMessage message = SipParser.parse(text.getBytes(StandardCharsets.UTF_8));
                    List<String> lines = new ArrayList<>(List.of(text.split("\r\n", -1)));
                    if (message instanceof SipRequest request) {
                        String incoming = request.topVia().branch();
                        boolean initial = request.isMethod(SipRequest.INVITE) && request.to().tag() == null;
                        if (!initial && !relayed.contains(incoming)) {
                            misrouted.add(request);
                            continue;
                        }
                        if (initial) {
                            relayed.add(incoming);
                            release.await();
                        }
                        // the same branch for an INVITE and its ACK or CANCEL, as §16.11 asks of a stateless proxy
                        String branch = "z9hG4bKdesk" + Integer.toHexString(incoming.hashCode());
                        lines.set(0, request.method() + " sip:" + sendOnTo + "@" + RegistrarFixture.DOMAIN + " SIP/2.0");
                        lines.add(1, "Via: SIP/2.0/UDP 127.0.0.1:" + phone.socket.getLocalPort() + ";branch=" + branch);
                        lines.replaceAll(line -> line.startsWith("Max-Forwards:")
                                ? "Max-Forwards: " + (request.maxForwards() - 1) : line);
                    } else {
                        lines.remove(lines.stream().filter(line -> line.startsWith("Via:")).findFirst().orElseThrow());
                    }
                    byte[] out = String.join("\r\n", lines).getBytes(StandardCharsets.UTF_8);
                    phone.socket.send(new DatagramPacket(out, out.length, InetAddress.getLoopbackAddress(), node.port));
                }
            } catch (SocketException closed) {
                // the test is over
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            phone.close();
        }
    }

    private Forwarder deskToBob() throws Exception {
        return new Forwarder("bob", new CountDownLatch(0));
    }

    // ---- alice's side of a dialog ------------------------------------------------------------

    /** One INVITE of alice's and the dialog its 2xx made. */
    record Dialog(String callId, String fromTag, String target, SipResponse answer, List<String> routeSet) {
    }

    private static String newBranch() {
        return "z9hG4bK" + UUID.randomUUID().toString().substring(0, 12);
    }

    private String invite(Phone alice, String user, String callId, String fromTag, long cseq, String branch,
                          String extraVias) {
        String target = "sip:" + user + "@" + RegistrarFixture.DOMAIN;
        return "INVITE " + target + " SIP/2.0\r\n"
                + "Via: SIP/2.0/UDP 127.0.0.1:" + alice.phone.socket.getLocalPort() + ";rport;branch=" + branch + "\r\n"
                + extraVias
                + "Max-Forwards: 70\r\n"
                + "From: <sip:" + alice.phone.user + "@" + RegistrarFixture.DOMAIN + ">;tag=" + fromTag + "\r\n"
                + "To: <" + target + ">\r\n"
                + "Call-ID: " + callId + "\r\n"
                + "CSeq: " + cseq + " INVITE\r\n"
                + "Contact: " + alice.phone.contact() + "\r\n"
                + "Content-Length: 0\r\n\r\n";
    }

    /** alice calls {@code user}, who answers 200; returns the dialog once the 2xx is acknowledged. */
    private Dialog call(Phone alice, String user, String callId, String fromTag, long cseq) throws Exception {
        alice.send(invite(alice, user, callId, fromTag, cseq, newBranch(), ""));
        SipResponse answer = alice.await(SipResponse.class, r -> r.callId().equals(callId) && r.cseq().number() == cseq
                && r.status() >= 200);
        assertThat(answer.status()).isEqualTo(200);
        // the caller's route set is the Record-Route reversed (§12.1.2)
        List<String> routeSet = new ArrayList<>(answer.headers().values("Record-Route"));
        Collections.reverse(routeSet);
        Dialog dialog = new Dialog(callId, fromTag, answer.contacts().get(0).uri().toString(), answer, routeSet);
        alice.send(inDialog(alice, dialog, "ACK", cseq));
        return dialog;
    }

    private String inDialog(Phone alice, Dialog dialog, String method, long cseq) {
        StringBuilder r = new StringBuilder(method).append(' ').append(dialog.target()).append(" SIP/2.0\r\n")
                .append("Via: SIP/2.0/UDP 127.0.0.1:").append(alice.phone.socket.getLocalPort())
                .append(";rport;branch=").append(newBranch()).append("\r\n")
                .append("Max-Forwards: 70\r\n");
        for (String route : dialog.routeSet()) {
            r.append("Route: ").append(route).append("\r\n");
        }
        r.append("From: <sip:alice@").append(RegistrarFixture.DOMAIN).append(">;tag=").append(dialog.fromTag()).append("\r\n")
                .append("To: ").append(dialog.answer().header("To")).append("\r\n")
                .append("Call-ID: ").append(dialog.callId()).append("\r\n")
                .append("CSeq: ").append(cseq).append(' ').append(method).append("\r\n");
        if (method.equals("INVITE")) {
            r.append("Contact: ").append(alice.phone.contact()).append("\r\n");
        }
        return r.append("Content-Length: 0\r\n\r\n").toString();
    }

    private double counter(String name) {
        var counter = node.meters.find(name).counter();
        return counter == null ? 0 : counter.count();
    }

    private List<ActiveCall> calls(String callId) {
        return node.calls.active().stream().filter(call -> call.callId().equals(callId)).toList();
    }

    // ---- the tests ----------------------------------------------------------------------------

    @Test
    void anAnsweredSpiralIsOneCallRecordedAsDialedAndEndedByItsBye() throws Exception {
        Forwarder desk = deskToBob();
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        Dialog dialog = call(alice, "desk", UUID.randomUUID() + "@spiral", "a1", 1);
        assertThat(dialog.target()).isEqualTo(bob.contactUri());

        assertThat(counter("switchboard.calls.started")).isEqualTo(1);
        assertThat(node.calls.active()).singleElement().satisfies(call -> {
            assertThat(call.callee()).isEqualTo("sip:desk@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            // where the call went from here, and where it rang after coming back
            assertThat(call.devicesRung()).containsExactly(desk.contactUri(), bob.contactUri());
            // the answer as it reached the first pass's branch
            assertThat(call.answeredBy()).isEqualTo(desk.contactUri());
        });

        ActiveCall call = node.calls.active().get(0);
        alice.send(inDialog(alice, dialog, "BYE", 2));
        bob.await(SipRequest.class, r -> r.isMethod(SipRequest.BYE));
        assertThat(alice.await(SipResponse.class, r -> r.cseq().method().equals("BYE")).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(node.calls.active()).isEmpty());
        assertThat(call.status()).isEqualTo("completed");
        assertThat(node.meters.find("switchboard.call.duration").timer().count()).isEqualTo(1);
        assertThat(desk.misrouted).isEmpty();
    }

    /**
     * Both passes Record-Routed: alice's requests carry Route <pass 1>, <pass 2> and bob's the
     * reverse. Each goes on by the tokens of the entry that describes the next hop, straight to the
     * other phone; the first entry's would send it to desk, which is not in the route set.
     */
    @Test
    void inDialogRequestsOfASpiralReachTheOtherPhoneBothWays() throws Exception {
        Forwarder desk = deskToBob();
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        Dialog dialog = call(alice, "desk", UUID.randomUUID() + "@spiral", "a1", 1);
        assertThat(dialog.routeSet()).hasSize(2);

        // alice's re-INVITE (hold, say) and its ACK reach bob
        alice.send(inDialog(alice, dialog, "INVITE", 2));
        bob.await(SipRequest.class, r -> r.isMethod(SipRequest.INVITE) && r.cseq().number() == 2);
        assertThat(alice.await(SipResponse.class, r -> r.cseq().number() == 2 && r.status() >= 200).status())
                .isEqualTo(200);
        alice.send(inDialog(alice, dialog, "ACK", 2));
        bob.await(SipRequest.class, r -> r.isMethod(SipRequest.ACK) && r.cseq().number() == 2);

        // bob hangs up: his route set is the Record-Route as his INVITE carried it (§12.1.1)
        ActiveCall call = node.calls.active().get(0);
        SipRequest answered = bob.invites.get(0);
        StringBuilder bye = new StringBuilder("BYE ").append(answered.contacts().get(0).uri()).append(" SIP/2.0\r\n")
                .append("Via: SIP/2.0/UDP 127.0.0.1:").append(bob.phone.socket.getLocalPort())
                .append(";rport;branch=").append(newBranch()).append("\r\n")
                .append("Max-Forwards: 70\r\n");
        for (String route : answered.headers().values("Record-Route")) {
            bye.append("Route: ").append(route).append("\r\n");
        }
        bye.append("From: ").append(answered.header("To")).append(";tag=bob\r\n")
                .append("To: ").append(answered.header("From")).append("\r\n")
                .append("Call-ID: ").append(dialog.callId()).append("\r\n")
                .append("CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n");
        bob.send(bye.toString());
        alice.await(SipRequest.class, r -> r.isMethod(SipRequest.BYE));
        assertThat(bob.await(SipResponse.class, r -> r.cseq().method().equals("BYE")).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ENDED));
        assertThat(call.status()).isEqualTo("completed");
        assertThat(desk.misrouted).isEmpty();
    }

    @Test
    void aSpiralThatFailsIsOneCallRecordedAsDialed() throws Exception {
        deskToBob();
        new Phone("bob", "486 Busy Here");
        TestPhone alice = new TestPhone("alice", "secret-alice", node.port);
        devices.add(alice);
        assertThat(alice.invite("sip:desk@" + RegistrarFixture.DOMAIN, null).status()).isEqualTo(486);
        await().atMost(Duration.ofSeconds(2)).untilAsserted(() -> assertThat(node.calls.active()).isEmpty());
        assertThat(counter("switchboard.calls.started")).isEqualTo(1);
        assertThat(node.meters.find("switchboard.calls.failed").tag("reason", "busy").counter().count()).isEqualTo(1);
    }

    /**
     * A caller writes a Via naming the node below its own, on an INVITE with the Call-ID and From
     * tag of a call of its own that rings: one branch made up, one worked out from a branch of the
     * node it saw (its own device was called through the node) as the transaction layer's counter
     * and the loop hash would make the next. Neither is the branch the node remembers, so this is a
     * call of its own, recorded (else bob's answer would be a call with no record and no limit).
     */
    @Test
    void aViaNamingTheNodeIsNoSpiral() throws Exception {
        Phone eve = new Phone("eve", null);
        Phone carol = new Phone("carol", null);
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        alice.send(invite(alice, "eve", UUID.randomUUID() + "@seen", "e1", 1, newBranch(), ""));
        String seen = eve.await(SipRequest.class, r -> r.isMethod(SipRequest.INVITE)).topVia().branch();

        String callId = UUID.randomUUID() + "@forged";
        String toCarol = invite(alice, "carol", callId, "a1", 1, newBranch(), "");
        alice.send(toCarol);
        String real = carol.await(SipRequest.class, r -> r.isMethod(SipRequest.INVITE)).topVia().branch();
        String guessed = followingBranch(seen, (SipRequest) SipParser.parse(toCarol.getBytes(StandardCharsets.UTF_8)));
        // the guess has all the node's branch but its random part: counter and loop hash are right
        assertThat(real).startsWith(guessed.substring(0, guessed.lastIndexOf('-')) + ".")
                .endsWith(guessed.substring(guessed.lastIndexOf('-')));
        await().atMost(Duration.ofSeconds(2)).until(() -> calls(callId).size() == 1);

        String forged = "Via: SIP/2.0/UDP 127.0.0.1:" + node.port + ";branch=z9hG4bKmadeup1\r\n"
                + "Via: SIP/2.0/UDP 127.0.0.1:" + node.port + ";branch=" + guessed + "\r\n";
        alice.send(invite(alice, "bob", callId, "a1", 1, newBranch(), forged));
        SipResponse ok = alice.await(SipResponse.class, r -> r.callId().equals(callId) && r.status() >= 200);
        assertThat(ok.status()).isEqualTo(200);

        assertThat(calls(callId)).hasSize(2).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:bob@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            assertThat(call.devicesRung()).containsExactly(bob.contactUri());
        }).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:carol@" + RegistrarFixture.DOMAIN);
            assertThat(call.devicesRung()).containsExactly(carol.contactUri());
        });
    }

    /**
     * With authentication on, the device a call went to cannot make a call of its own pass for
     * that call's spiral: it reads the node's branch in its top Via (and the Call-ID and From tag),
     * but a spiral is taken only from a trusted peer, so eve's INVITE to bob that carries them,
     * authenticated as eve, is recorded as a call of its own.
     */
    @Test
    void aCalleeReplayingWhatItReceivedIsACallOfItsOwn() throws Exception {
        node.close();
        RegistrarSettings d = RegistrarSettings.defaults();
        node = new RegistrarFixture(io.switchboard.platform.config.StoreSettings.sqliteIn(dir.resolve("with-auth")),
                new RegistrarSettings(true, 2, 3600, 3600, 4, d.algorithms(), d.nonceLifetime()), Duration.ofSeconds(5));
        for (String user : List.of("alice", "bob", "eve")) {
            node.accounts.add(user, RegistrarFixture.DOMAIN, "secret-" + user);
        }
        node.directory.refresh();
        Phone eve = new Phone("eve", null);
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        String callId = UUID.randomUUID() + "@replayed";
        assertThat(authenticatedInvite(alice, "eve", callId, "a1", "", false)).isNull();
        SipRequest received = eve.await(SipRequest.class, r -> r.isMethod(SipRequest.INVITE));
        await().atMost(Duration.ofSeconds(5)).until(() -> calls(callId).size() == 1);

        String replayed = "Via: SIP/2.0/UDP 127.0.0.1:" + node.port + ";branch=" + received.topVia().branch() + "\r\n";
        SipResponse ok = authenticatedInvite(eve, "bob", callId, "a1", replayed, true);
        assertThat(ok.status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(5)).until(() -> calls(callId).size() == 2);
        assertThat(calls(callId)).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:bob@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            assertThat(call.devicesRung()).containsExactly(bob.contactUri());
        }).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:eve@" + RegistrarFixture.DOMAIN);
            assertThat(call.devicesRung()).containsExactly(eve.contactUri());
        });
    }

    /**
     * An INVITE from {@code phone}'s user answered with the node's 407 (acknowledged, RFC 3261
     * §17.1.1.3), then again with its credentials; the final answer to that when
     * {@code awaitFinal}, else null once it is sent.
     */
    private SipResponse authenticatedInvite(Phone phone, String user, String callId, String fromTag, String extra,
                                            boolean awaitFinal) throws Exception {
        String branch = newBranch();
        phone.send(invite(phone, user, callId, fromTag, 1, branch, extra));
        SipResponse challenge = phone.await(SipResponse.class, r -> r.callId().equals(callId) && r.cseq().number() == 1
                && r.status() >= 200);
        assertThat(challenge.status()).isEqualTo(407);
        String target = "sip:" + user + "@" + RegistrarFixture.DOMAIN;
        phone.send("ACK " + target + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + phone.phone.socket.getLocalPort()
                + ";rport;branch=" + branch + "\r\nMax-Forwards: 70\r\nFrom: <sip:" + phone.phone.user + "@"
                + RegistrarFixture.DOMAIN + ">;tag=" + fromTag + "\r\nTo: " + challenge.header("To") + "\r\nCall-ID: "
                + callId + "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
        String md5 = challenge.headers().fields("Proxy-Authenticate").stream().filter(c -> c.contains("algorithm=MD5"))
                .findFirst().orElseThrow();
        String credentials = io.switchboard.telephony.auth.DigestClient.authorization(md5, phone.phone.user,
                "secret-" + phone.phone.user, "INVITE", target, 1, "c" + callId.hashCode());
        phone.send(invite(phone, user, callId, fromTag, 2, newBranch(), extra + "Proxy-Authorization: " + credentials + "\r\n"));
        if (!awaitFinal) {
            return null;
        }
        return phone.await(SipResponse.class, r -> r.callId().equals(callId) && r.cseq().number() == 2 && r.status() >= 200);
    }

    /**
     * The branch the node's transaction layer makes after {@code seen} for {@code request}: its
     * per-process prefix, its counter plus one, and the loop hash of §16.6 step 8, which is made of
     * what the caller sent (ProxyCore#loopHash, a node outside a cluster).
     */
    private static String followingBranch(String seen, SipRequest request) {
        String beforeHash = seen.substring(0, seen.lastIndexOf('-'));
        int dot = beforeHash.indexOf('.');
        String counter = beforeHash.substring(dot + 1).split("\\.")[0];
        String text = request.requestUri() + "|" + request.from().tag() + "|" + request.to().tag() + "|"
                + request.callId() + "|" + request.cseq().number() + "||";
        CRC32 crc = new CRC32();
        crc.update(text.getBytes(StandardCharsets.UTF_8));
        return beforeHash.substring(0, dot + 1) + Long.toString(Long.parseLong(counter, 36) + 1, 36)
                + "-" + Long.toHexString(crc.getValue());
    }

    /**
     * One INVITE forked upstream in two legs (same Call-ID, From tag and CSeq; a branch each), to
     * desk and to carol: two calls, two records. desk sends its leg back only once carol's is
     * recorded, the newer for the Call-ID; the spiral still belongs to desk's record.
     */
    @Test
    void aForkedCallersSpiralJoinsTheRecordOfItsOwnLeg() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Forwarder desk = new Forwarder("bob", release);
        Phone carol = new Phone("carol", null);
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        String callId = UUID.randomUUID() + "@forked";
        alice.send(invite(alice, "desk", callId, "a1", 1, newBranch(), ""));
        await().atMost(Duration.ofSeconds(2)).until(() -> calls(callId).size() == 1);
        alice.send(invite(alice, "carol", callId, "a1", 1, newBranch(), ""));
        carol.await(SipRequest.class, r -> r.isMethod(SipRequest.INVITE));
        await().atMost(Duration.ofSeconds(2)).until(() -> calls(callId).size() == 2);
        release.countDown();

        SipResponse ok = alice.await(SipResponse.class, r -> r.callId().equals(callId) && r.status() >= 200);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.header("To")).contains("sip:desk@");
        assertThat(calls(callId)).hasSize(2).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:desk@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            assertThat(call.devicesRung()).containsExactly(desk.contactUri(), bob.contactUri());
        }).anySatisfy(call -> {
            assertThat(call.callee()).isEqualTo("sip:carol@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.RINGING);
            assertThat(call.devicesRung()).containsExactly(carol.contactUri());
        });
    }

    /** The first call ended: an INVITE with its Call-ID is a call of its own, and its spiral belongs to it. */
    @Test
    void afterTheCallEndedItsCallIdStartsANewRecord() throws Exception {
        Forwarder desk = deskToBob();
        Phone bob = new Phone("bob", "200 OK");
        Phone alice = new Phone("alice", null);
        String callId = UUID.randomUUID() + "@again";
        Dialog first = call(alice, "desk", callId, "a1", 1);
        ActiveCall firstCall = calls(callId).get(0);
        alice.send(inDialog(alice, first, "BYE", 2));
        assertThat(alice.await(SipResponse.class, r -> r.cseq().method().equals("BYE")).status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(2)).until(() -> firstCall.phase() == ActiveCall.Phase.ENDED);

        call(alice, "desk", callId, "a1", 3);
        assertThat(counter("switchboard.calls.started")).isEqualTo(2);
        assertThat(calls(callId)).singleElement().satisfies(call -> {
            assertThat(call).isNotSameAs(firstCall);
            assertThat(call.callee()).isEqualTo("sip:desk@" + RegistrarFixture.DOMAIN);
            assertThat(call.phase()).isEqualTo(ActiveCall.Phase.ANSWERED);
            assertThat(call.devicesRung()).containsExactly(desk.contactUri(), bob.contactUri());
        });
        assertThat(firstCall.status()).isEqualTo("completed");
    }
}
