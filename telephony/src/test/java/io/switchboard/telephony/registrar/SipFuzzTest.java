package io.switchboard.telephony.registrar;

import ch.qos.logback.classic.Level;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.testing.CapturedLog;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.auth.DigestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mutated real-world SIP thrown at a running registrar + proxy + call tracker over UDP and TCP: the
 * shapes baresip, linphonec and JsSIP send (REGISTER with and without digest, +sip.instance/reg-id,
 * several Contacts, {@code *}; INVITE with SDP, ACK, BYE, CANCEL, OPTIONS, MESSAGE; 1xx-4xx
 * responses), each mutated by structure (header lines dropped, duplicated, swapped, emptied or
 * made huge; odd numbers, URIs, name-addrs, digest params, Content-Lengths, line ends, UTF-8) and
 * now and then by bytes. The node must log no ERROR, throw nothing uncaught, answer no request
 * with 500 or a reasonless 4xx-6xx, and still register and route a call afterwards.
 *
 * <p>Bounded for the suite ({@value #DEFAULT_ITERATIONS} mutations, a fixed seed). A long run by hand:
 * <pre>
 * nice mvn -B -o -q -pl telephony -am test -Dtest='io/switchboard/telephony/registrar/SipFuzzTest' \
 *     -Dsurefire.failIfNoSpecifiedTests=false -Dfuzz.iterations=200000 -Dfuzz.seed=7
 * </pre>
 * A failure prints the seed, the iteration and the messages sent just before.
 */
class SipFuzzTest {
    static final int DEFAULT_ITERATIONS = 3000;
    static final String DOMAIN = RegistrarFixture.DOMAIN;

    @TempDir
    Path dir;
    /** The registrar, proxy and call tracker the way the node assembles them, on loopback UDP and TCP. */
    RegistrarFixture node;
    CapturedLog log;
    final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler previousHandler;
    Callee bob;

    @BeforeEach
    void start() throws Exception {
        previousHandler = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(e));
        // the registrar challenges; the proxy does not, so mutated INVITEs and MESSAGEs reach routing
        node = new RegistrarFixture(StoreSettings.sqliteIn(dir), RegistrarSettings.defaults(), Duration.ofSeconds(2), false, true);
        node.accounts.add("alice", DOMAIN, "wonderland");
        node.accounts.add("bob", DOMAIN, "builder1");
        node.directory.refresh();
        // the root logger: an ERROR from a library the node uses (Netty, Jetty) counts as the node's
        log = CapturedLog.of(org.slf4j.Logger.ROOT_LOGGER_NAME);
        // only ERROR is asserted on: keep the run's INFO lines off the console
        ((ch.qos.logback.classic.Logger) log.logger()).setLevel(Level.WARN);
        bob = new Callee(node.port);
        assertThat(bob.register()).isEqualTo(200);
    }

    @AfterEach
    void stop() {
        if (bob != null) {
            bob.close();
        }
        if (log != null) {
            log.close();
        }
        if (node != null) {
            node.close();
        }
        Thread.setDefaultUncaughtExceptionHandler(previousHandler);
    }

    @Test
    void mutatedRealWorldSipNeitherBreaksNorWedgesTheNode() throws Exception {
        long seed = Long.getLong("fuzz.seed", 20261207L);
        int iterations = Integer.getInteger("fuzz.iterations", DEFAULT_ITERATIONS);
        System.out.println("SipFuzzTest seed=" + seed + " iterations=" + iterations);
        Random random = new Random(seed);
        double boundBefore = count("switchboard.sip.registrations", "result", "created")
                + count("switchboard.sip.registrations", "result", "refreshed");
        double forwardedBefore = outgoingInvites();
        Deque<String> recent = new ArrayDeque<>();
        Map<String, String> sentByCallId = new ConcurrentHashMap<>();
        List<String> problems = new CopyOnWriteArrayList<>();
        int logged = 0;
        Map<String, Sent> awaiting = new ConcurrentHashMap<>();
        try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             TcpPeer tcp = new TcpPeer(node.tcpPort, problems, sentByCallId);
             Phone challenger = new Phone("alice", "wonderland", node.port)) {
            Corpus corpus = new Corpus(node.port, bob);
            udp.setSoTimeout(2);
            byte[] buffer = new byte[65_535];
            for (int i = 0; i < iterations; i++) {
                if (i % 2000 == 0) {
                    corpus.challenge = challenger.challenge(); // nonces live for minutes: a long run takes new ones
                    corpus.nc = 1;
                }
                boolean overTcp = random.nextInt(4) == 0;
                String base = corpus.pick(random, i, overTcp ? "TCP" : "UDP", overTcp ? tcp.localPort() : udp.getLocalPort());
                byte[] message = Mutator.mutate(base, random);
                if (!overTcp && message.length <= 65_507) {
                    expectAnswer(message, base, i, awaiting);
                }
                String text = new String(message, StandardCharsets.ISO_8859_1);
                Matcher callId = CALL_ID.matcher(text);
                if (callId.find()) {
                    if (sentByCallId.size() >= 20_000) {
                        sentByCallId.clear(); // only to quote what drew a bad answer: a long run keeps the recent ones
                    }
                    sentByCallId.put(callId.group(1).trim(), text);
                }
                recent.addLast("#" + i + " over " + (overTcp ? "TCP" : "UDP") + ":\n" + text);
                if (recent.size() > 4) {
                    recent.removeFirst();
                }
                if (overTcp) {
                    tcp.send(message);
                } else if (message.length <= 65_507) {
                    udp.send(new DatagramPacket(message, message.length, InetAddress.getLoopbackAddress(), node.port));
                }
                while (true) {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    try {
                        udp.receive(packet);
                    } catch (SocketTimeoutException e) {
                        break;
                    }
                    byte[] received = Arrays.copyOf(packet.getData(), packet.getLength());
                    check(received, true, problems, sentByCallId);
                    answerForwarded(udp, received, packet);
                    Matcher branch = BRANCH.matcher(new String(received, StandardCharsets.ISO_8859_1));
                    while (branch.find()) {
                        awaiting.remove(branch.group(1));
                    }
                }
                // RFC 3261 §21.4.1: a malformed request is answered, not dropped, while it has a usable Via
                for (var waiting : awaiting.entrySet()) {
                    if (waiting.getValue().iteration() < i - 500
                            && System.nanoTime() - waiting.getValue().sentAt() > ANSWER_WITHIN_NANOS) {
                        problems.add("no answer to #" + waiting.getValue().iteration() + ":\n" + waiting.getValue().text());
                        awaiting.remove(waiting.getKey());
                    }
                }
                List<String> lines = log.messages();
                for (int k = logged; k < lines.size(); k++) {
                    if (lines.get(k).indexOf('\r') >= 0 || lines.get(k).indexOf('\n') >= 0) {
                        problems.add("a log line quotes a line break from the input: " + lines.get(k));
                    }
                }
                logged = lines.size();
                if (!log.messagesAt(Level.ERROR).isEmpty() || !uncaught.isEmpty() || !problems.isEmpty()) {
                    Thread.sleep(200); // let the lanes finish what they had, for a complete report
                    throw new AssertionError("seed=" + seed + " iteration=" + i + "\nERROR lines: "
                            + log.messagesAt(Level.ERROR) + "\nuncaught: " + uncaught + "\nproblems: " + problems
                            + "\nlast messages sent:\n" + String.join("\n----\n", recent));
                }
            }
            // the last requests sent get their time to be answered too
            long drainUntil = System.nanoTime() + ANSWER_WITHIN_NANOS;
            byte[] tail = new byte[65_535];
            while (!awaiting.isEmpty() && System.nanoTime() < drainUntil) {
                DatagramPacket packet = new DatagramPacket(tail, tail.length);
                try {
                    udp.receive(packet);
                } catch (SocketTimeoutException e) {
                    continue;
                }
                byte[] received = Arrays.copyOf(packet.getData(), packet.getLength());
                check(received, true, problems, sentByCallId);
                answerForwarded(udp, received, packet);
                Matcher branch = BRANCH.matcher(new String(received, StandardCharsets.ISO_8859_1));
                while (branch.find()) {
                    awaiting.remove(branch.group(1));
                }
            }
            awaiting.values().forEach(w -> problems.add("no answer to #" + w.iteration() + ":\n" + w.text()));
        }
        Thread.sleep(300);
        assertThat(log.messagesAt(Level.ERROR)).as("seed %d", seed).isEmpty();
        assertThat(uncaught).as("seed %d", seed).isEmpty();
        assertThat(problems).as("seed %d", seed).isEmpty();

        // the mutations reached past the parser: bindings made and INVITEs forwarded (sent out by the node)
        double bound = count("switchboard.sip.registrations", "result", "created")
                + count("switchboard.sip.registrations", "result", "refreshed") - boundBefore;
        double forwarded = outgoingInvites() - forwardedBefore;
        System.out.println("SipFuzzTest: " + bound + " registrations accepted, " + forwarded + " INVITEs in and out");
        assertThat(bound).isPositive();
        assertThat(forwarded).isPositive();

        // still registers and routes a normal call (bob's binding is the one made before the run)
        try (Caller alice = new Caller(node.port)) {
            assertThat(alice.register()).isEqualTo(200);
            assertThat(alice.call("sip:bob@" + DOMAIN)).as("uncaught %s", uncaught).isEqualTo(200);
        }
        assertThat(log.messagesAt(Level.ERROR)).isEmpty();
    }

    /**
     * Alice's phone is the fuzzing socket too (its REGISTERs name it): what the node forwards to her
     * is answered 486, as a busy phone would, so the node's transaction ends.
     */
    static void answerForwarded(DatagramSocket udp, byte[] received, DatagramPacket packet) throws IOException {
        if (STATUS_LINE.matcher(new String(received, StandardCharsets.ISO_8859_1)).lookingAt()) {
            return;
        }
        try {
            if (SipParser.parse(received) instanceof SipRequest request && !request.isMethod(SipRequest.ACK)) {
                reply(udp, request, 486, "Busy Here", packet);
            }
        } catch (io.switchboard.sip.codec.SipParseException e) {
            // check() reports what the node sent that does not parse
        }
    }

    /** A request sent and not answered yet: its iteration, when it left (System.nanoTime) and its text. */
    record Sent(int iteration, long sentAt, String text) {
    }

    /** How long an answer may take: the node's lanes and store may stall for a while on a busy machine. */
    static final long ANSWER_WITHIN_NANOS = 10_000_000_000L;

    static final Pattern BRANCH = Pattern.compile("branch=(z9hG4bK[0-9a-z]+)");

    /**
     * Notes a UDP request the node must answer: its top Via as the phone sent it, and either valid
     * or malformed in a way the node's parser answers (a 400 needs From, To, Call-ID, CSeq).
     */
    static void expectAnswer(byte[] message, String base, int iteration, Map<String, Sent> awaiting) {
        String text = new String(message, StandardCharsets.UTF_8);
        String via = base.substring(base.indexOf("\r\nVia: ") + 2, base.indexOf("\r\n", base.indexOf("\r\nVia: ") + 2));
        if (base.startsWith("SIP/") || base.startsWith("ACK") || !text.contains("\r\n" + via + "\r\n")
                || text.indexOf("\nVia") != text.indexOf("\n" + via) || text.contains("\nv:")) {
            return;
        }
        try {
            SipMessage parsed = SipParser.parse(message);
            if (!(parsed instanceof SipRequest request) || request.isMethod(SipRequest.ACK)
                    || "alice".equals(request.requestUri().user())) {
                // alice's bindings are the fuzzing's own, some of them dead: a request forwarded
                // there is answered only when its branch times out (Timer F, RFC 3261 §17.1.2.2)
                return;
            }
        } catch (io.switchboard.sip.codec.SipParseException e) {
            if (e.errorResponse() == null) {
                return;
            }
        }
        Matcher branch = BRANCH.matcher(via);
        if (branch.find()) {
            awaiting.put(branch.group(1), new Sent(iteration, System.nanoTime(), text));
        }
    }

    /** INVITEs the node sent: forwarded to a device. */
    double outgoingInvites() {
        return node.meters.find("switchboard.sip.messages").tag("direction", "out").tag("method_or_status", "INVITE").counters()
                .stream().mapToDouble(c -> c.count()).sum();
    }

    double count(String name, String tag, String value) {
        return node.meters.find(name).tag(tag, value).counters().stream().mapToDouble(c -> c.count()).sum();
    }

    static final Pattern CALL_ID = Pattern.compile("(?im)^(?:Call-ID|i)[ \\t]*:(.*?)\\r?$");

    /** A response the node sent: 500 only for a real fault, any 4xx-6xx with a reason phrase. */
    static void check(byte[] data, boolean datagram, List<String> problems, Map<String, String> sentByCallId) {
        String text = new String(data, StandardCharsets.UTF_8);
        // not parsed whole: a 400 copies the From, To and Call-ID it was sent, broken or not (RFC 3261 §8.2.6.2)
        Matcher status = STATUS_LINE.matcher(text);
        if (!status.lookingAt()) {
            if (!text.matches("(?s)[A-Z]+ \\S+ SIP/2\\.0\r\n.*")) {
                problems.add("the node sent neither a response nor a request:\n" + text);
            }
            return; // a request the proxy forwarded back to this address (an odd Contact)
        }
        int code = Integer.parseInt(status.group(1));
        String reason = status.group(2);
        if (code == 500 || (code >= 400 && reason.isBlank())) {
            Matcher callId = CALL_ID.matcher(text);
            String id = callId.find() ? callId.group(1).trim() : "";
            problems.add("answered " + code + " " + reason + " to:\n"
                    + sentByCallId.getOrDefault(id, "(call " + id + ")"));
        }
    }

    static final Pattern STATUS_LINE = Pattern.compile("SIP/2\\.0 (\\d{3}) ([^\r\n]*)\r\n");

    /** A stream client that reconnects when the node closes the connection (it may, on a framing error). */
    static final class TcpPeer implements AutoCloseable {
        final int port;
        final List<String> problems;
        final Map<String, String> sentByCallId;
        Socket socket;
        Thread reader;

        TcpPeer(int port, List<String> problems, Map<String, String> sentByCallId) throws IOException {
            this.port = port;
            this.problems = problems;
            this.sentByCallId = sentByCallId;
            connect();
        }

        int localPort() {
            return socket.getLocalPort();
        }

        private void connect() throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
            Socket s = socket;
            reader = Thread.ofVirtual().start(() -> read(s));
        }

        void send(byte[] message) throws IOException {
            if (socket.isClosed() || !reader.isAlive()) {
                socket.close();
                connect();
            }
            try {
                socket.getOutputStream().write(message);
                socket.getOutputStream().flush();
            } catch (IOException e) {
                socket.close();
                connect();
            }
        }

        private void read(Socket s) {
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            byte[] chunk = new byte[65_536];
            try (InputStream in = s.getInputStream()) {
                int n;
                while ((n = in.read(chunk)) > 0) {
                    pending.write(chunk, 0, n);
                    byte[] all = pending.toByteArray();
                    int from = 0;
                    while (true) {
                        while (from < all.length && (all[from] == '\r' || all[from] == '\n')) {
                            from++;
                        }
                        String text = new String(all, from, all.length - from, StandardCharsets.ISO_8859_1);
                        int end = text.indexOf("\r\n\r\n");
                        if (end < 0) {
                            break;
                        }
                        Matcher length = Pattern.compile("(?im)^(?:Content-Length|l)[ \\t]*:[ \\t]*(\\d+)")
                                .matcher(text.substring(0, end));
                        int body = length.find() ? Integer.parseInt(length.group(1)) : 0;
                        int total = end + 4 + body;
                        if (text.length() < total) {
                            break;
                        }
                        check(Arrays.copyOfRange(all, from, from + total), false, problems, sentByCallId);
                        from += total;
                    }
                    pending.reset();
                    pending.write(all, from, all.length - from);
                }
            } catch (IOException closed) {
                // the node closed it, or the test did
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** The messages real phones send, as templates filled in per iteration. */
    static final class Corpus {
        final List<String> templates = new ArrayList<>();

        Corpus(int nodePort, Callee bob) {
            this.nodePort = nodePort;
            String sdp = "v=0\r\no=- 3913 3913 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                    + "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
                    + "a=sendrecv\r\n";
            String head = "Via: SIP/2.0/${T} 127.0.0.1:${P};rport;branch=z9hG4bK${B}\r\nMax-Forwards: 70\r\n";
            // baresip REGISTER, unauthenticated, RFC 5626 outbound
            templates.add("REGISTER sip:" + DOMAIN + " SIP/2.0\r\n" + head
                    + "To: <sip:alice@" + DOMAIN + ">\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                    + "Call-ID: ${C}\r\nCSeq: ${N} REGISTER\r\nUser-Agent: baresip v3.10.1 (x86_64/Linux)\r\n"
                    + "Contact: <sip:alice-0x1@127.0.0.1:${P};transport=${t}>;expires=3600;"
                    + "+sip.instance=\"<urn:uuid:a1b2c3d4-0000-4000-8000-000000000001>\";reg-id=1\r\n"
                    + "Expires: 3600\r\nAllow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE\r\n"
                    + "Supported: outbound, path, gruu\r\nContent-Length: 0\r\n\r\n");
            // REGISTER with a digest answer (linphonec), several Contacts
            templates.add("REGISTER sip:" + DOMAIN + " SIP/2.0\r\n" + head
                    + "From: \"Alice\" <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nTo: \"Alice\" <sip:alice@" + DOMAIN + ">\r\n"
                    + "CSeq: ${N} REGISTER\r\nCall-ID: ${C}\r\n"
                    + "Contact: <sip:alice@127.0.0.1:${P};transport=${t}>;+sip.instance=\"<urn:uuid:5f0e1c2a-1111-4222-8333-444455556666>\";"
                    + "+org.linphone.specs=\"lime\";expires=600, <sip:alice@127.0.0.1:${P}>;q=0.5\r\n"
                    + "Authorization: ${AUTH}\r\n"
                    + "User-Agent: Linphone-Desktop/5.2.6 (ubuntu) LinphoneCore/5.3.0\r\n"
                    + "Supported: replaces, outbound, gruu, path\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n");
            // unregister all: Contact: * with Expires: 0 (RFC 3261 §10.2.2)
            templates.add("REGISTER sip:" + DOMAIN + " SIP/2.0\r\n" + head
                    + "From: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nTo: <sip:alice@" + DOMAIN + ">\r\nCall-ID: ${C}\r\n"
                    + "CSeq: ${N} REGISTER\r\nContact: *\r\nExpires: 0\r\nAuthorization: ${AUTH}\r\n"
                    + "Content-Length: 0\r\n\r\n");
            // JsSIP REGISTER (as carried over WebSocket, here over UDP/TCP)
            templates.add("REGISTER sip:" + DOMAIN + " SIP/2.0\r\n" + head
                    + "To: <sip:alice@" + DOMAIN + ">\r\nFrom: \"alice\" <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                    + "Call-ID: ${C}\r\nCSeq: ${N} REGISTER\r\n"
                    + "Contact: <sip:h2k4jl8v@df7jal23ls0d.invalid;transport=ws>;+sip.ice;reg-id=1;"
                    + "+sip.instance=\"<urn:uuid:0d8f4a1b-9e3c-4a2d-8b7f-112233445566>\";expires=600\r\n"
                    + "Expires: 600\r\nAllow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n"
                    + "Authorization: ${AUTH}\r\n"
                    + "Supported: path,gruu,outbound\r\nUser-Agent: JsSIP 3.10.0\r\nContent-Length: 0\r\n\r\n");
            // INVITE with SDP to a registered account
            templates.add("INVITE sip:bob@" + DOMAIN + " SIP/2.0\r\n" + head
                    + "Contact: <sip:alice@127.0.0.1:${P};transport=${t}>\r\nTo: <sip:bob@" + DOMAIN + ">\r\n"
                    + "From: \"Alice \\\"A\\\"\" <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nCall-ID: ${C}\r\n"
                    + "CSeq: ${N} INVITE\r\nAllow: INVITE,ACK,BYE,CANCEL,OPTIONS,MESSAGE\r\n"
                    + "Supported: replaces, 100rel\r\nUser-Agent: baresip v3.10.1\r\nContent-Type: application/sdp\r\n"
                    + "Content-Length: " + sdp.length() + "\r\n\r\n" + sdp);
            // INVITE to a user nobody registered, with a Route to this node
            templates.add("INVITE sip:carol@" + DOMAIN + ";user=phone SIP/2.0\r\n" + head
                    + "Route: <sip:127.0.0.1:${NODE};lr>\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                    + "To: \"Carol\" <sip:carol@" + DOMAIN + ">\r\nCall-ID: ${C}\r\nCSeq: ${N} INVITE\r\n"
                    + "Contact: <sip:alice@127.0.0.1:${P}>;+sip.instance=\"<urn:uuid:5f0e1c2a-1111-4222-8333-444455556666>\"\r\n"
                    + "Session-Expires: 1800\r\nContent-Type: application/sdp\r\nContent-Length: " + sdp.length()
                    + "\r\n\r\n" + sdp);
            // ACK, BYE, CANCEL in a dialog the node may know of (same Call-ID as an INVITE above, sometimes)
            templates.add("ACK sip:bob@127.0.0.1:" + bob.port() + " SIP/2.0\r\n" + head
                    + "Route: <sip:127.0.0.1:${NODE};lr>\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                    + "To: <sip:bob@" + DOMAIN + ">;tag=bob${TAG}\r\nCall-ID: ${C}\r\nCSeq: ${N} ACK\r\nContent-Length: 0\r\n\r\n");
            templates.add("BYE sip:bob@127.0.0.1:" + bob.port() + " SIP/2.0\r\n" + head
                    + "Route: <sip:127.0.0.1:${NODE};lr;ftag=${TAG}>\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                    + "To: <sip:bob@" + DOMAIN + ">;tag=bob${TAG}\r\nCall-ID: ${C}\r\nCSeq: ${N} BYE\r\n"
                    + "Reason: Q.850;cause=16;text=\"Normal call clearing\"\r\nContent-Length: 0\r\n\r\n");
            templates.add("CANCEL sip:bob@" + DOMAIN + " SIP/2.0\r\n" + head
                    + "From: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nTo: <sip:bob@" + DOMAIN + ">\r\nCall-ID: ${C}\r\n"
                    + "CSeq: ${N} CANCEL\r\nContent-Length: 0\r\n\r\n");
            templates.add("OPTIONS sip:" + DOMAIN + " SIP/2.0\r\n" + head
                    + "From: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nTo: <sip:" + DOMAIN + ">\r\nCall-ID: ${C}\r\n"
                    + "CSeq: ${N} OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n");
            templates.add("MESSAGE sip:bob@" + DOMAIN + " SIP/2.0\r\n" + head
                    + "From: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\nTo: <sip:bob@" + DOMAIN + ">\r\nCall-ID: ${C}\r\n"
                    + "CSeq: ${N} MESSAGE\r\nContent-Type: text/plain;charset=utf-8\r\nContent-Length: 13\r\n\r\n"
                    + "héllo, bob!");
            // responses a phone sends to the node (to no transaction of the node's, mostly)
            for (String status : new String[]{"100 Trying", "180 Ringing", "200 OK", "486 Busy Here"}) {
                templates.add("SIP/2.0 " + status + "\r\nVia: SIP/2.0/UDP 127.0.0.1:${NODE};branch=z9hG4bK${B}\r\n"
                        + "Via: SIP/2.0/${T} 127.0.0.1:${P};rport=${P};received=127.0.0.1;branch=z9hG4bK${B}x\r\n"
                        + "Record-Route: <sip:127.0.0.1:${NODE};lr>\r\nFrom: <sip:alice@" + DOMAIN + ">;tag=${TAG}\r\n"
                        + "To: <sip:bob@" + DOMAIN + ">;tag=bob${TAG}\r\nCall-ID: ${C}\r\nCSeq: ${N} INVITE\r\n"
                        + "Contact: <sip:bob@127.0.0.1:" + bob.port() + ">\r\nContent-Length: 0\r\n\r\n");
            }
        }

        final int nodePort;
        /** A challenge the node sent, answered correctly by REGISTERs that keep their Authorization intact. */
        String challenge;
        int nc = 1;

        String pick(Random random, int iteration, String transport, int port) {
            String template = templates.get(random.nextInt(templates.size()));
            // a few Call-IDs repeat, so a BYE or CANCEL or response now and then meets a call the node has
            String callId = random.nextInt(4) == 0 ? "fz" + random.nextInt(8) + "@fuzz" : "fz" + iteration + "@fuzz";
            return template.replace("${T}", transport).replace("${t}", transport.toLowerCase())
                    .replace("${P}", Integer.toString(port)).replace("${B}", Integer.toString(iteration, 36))
                    .replace("${TAG}", "t" + (iteration % 16)).replace("${C}", callId)
                    .replace("${N}", Integer.toString(1 + iteration % 7)).replace("${NODE}", Integer.toString(nodePort))
                    .replace("${AUTH}", template.contains("${AUTH}")
                            ? DigestClient.authorization(challenge, "alice", "wonderland", "REGISTER", "sip:" + DOMAIN,
                                    nc++, "c" + iteration)
                            : "");
        }
    }

    /** Structure-aware mutations of one message, now and then a byte-level one. */
    static final class Mutator {
        static final String[] NUMBERS = {"0", "-1", "1", "256", "2147483647", "2147483648", "4294967295", "4294967296",
            "99999999999", "9223372036854775808", "", " ", "0x10", "1e3", "+5", "00000000000000000000070", "٣", "70 70"};
        static final String[] URIS = {"sip:" + DOMAIN, "sip:@" + DOMAIN, "sip:alice@::1", "sip:alice@[::1",
            "sip:alice@[::1]:0", "sip:alice@127.0.0.1:0", "sip:alice@127.0.0.1:99999", "sip:alice@127.0.0.1:-1",
            "sip:alice@127.0.0.1:", "sip:alice@" + DOMAIN + ";;transport=", "sip:alice@" + DOMAIN + ";lr;=x;;",
            "sip:alice%00@" + DOMAIN, "sip:%zz@" + DOMAIN, "sip:alice%@" + DOMAIN, "sips:alice@" + DOMAIN, "tel:+15551234",
            "tel:", "sip:alice@" + DOMAIN + "?Subject=x&", "sip:alice:pw@" + DOMAIN, "sip:", "sip:alice@",
            "sip:alice@127.0.0.1;maddr=", "sip:alice@127.0.0.1;maddr=[::1", "sip:alice@[fe80::1%25eth0]:5060",
            "sip:alice@" + DOMAIN + ";transport=tcp;transport=udp", "urn:uuid:abc", "*", "sip:alice@ex%41mple.test",
            "sip:alice@" + DOMAIN + ";ob;+sip.instance", "sip:alice@127.0.0.1:5060;received=;rport=x",
            "sip:ﬁ@" + DOMAIN, "sip:alice@1.2.3.4.5", "sip:alice@256.1.1.1", "sip:alice@[]", "sip:alice@[::1]:65536",
            "SIP:ALICE@EXAMPLE.TEST", "sip:alice@" + DOMAIN + ":5060:5060", "mailto:x@y"};
        static final String[] PARAMS = {";;", ";", ";=", ";=x", ";lr=", ";transport=", ";transport=sctp", ";maddr=",
            ";received=", ";received=::1", ";rport=abc", ";rport=99999", ";rport=-1", ";rport=", ";branch=",
            ";branch=z9hG4bK", ";expires=99999999999", ";expires=-1", ";expires=", ";q=2", ";q=abc", ";reg-id=",
            ";reg-id=-5", ";reg-id=99999999999", ";+sip.instance=\"<urn:uuid:", ";+sip.instance=", ";tag=", ";tag",
            ";ttl=999", ";ob", ";%00=x", ";a=\"unclosed", ";ftag=", ";sig="};
        static final String[] VALUES = {"", " ", "<", ">", "<sip:>", "\"unclosed <sip:a@b>", "\"a\\\"b\" <sip:a@b>",
            "\"\\\" <sip:a@b>", "<sip:a@b", "sip:a@b>", "<<sip:a@b>>", "a@b", ",", ",,", "<sip:a@b>,", "*", "* , *",
            "\"\"", "<sip:a@b>;", "<sip:a@b>;tag", "<sip:a@b>;tag=;tag=", "é", "\u0000", "SIP/2.0/UDP", "SIP/2.0/UDP ",
            "SIP/2.0/UDP [::1", "SIP/2.0/UDP 127.0.0.1:0", "SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bK1",
            "SIP/2.0/XYZ 127.0.0.1", "SIP/3.0/UDP 127.0.0.1;branch=z9hG4bKx", "SIP/2.0/UDP 127.0.0.1;received=;rport",
            "1", "1 ", "REGISTER", "1 REGISTER x", "2147483648 REGISTER", "4294967296 INVITE", "-1 INVITE",
            "Digest", "Digest ", "Digest ,", "Digest username=", "Digest username=\"alice", "Digest nc=zz, qop=auth",
            "Basic YWxpY2U6d29uZGVybGFuZA==", "Digest username=\"alice\", username=\"bob\"", "Digest =x", "Digest x"};
        static final String[] DIGEST = {"nc=zz", "nc=", "nc=000000001", "nc=ffffffffffffffff", "qop=auth-int",
            "qop=", "qop=\"auth\"", "algorithm=SHA-256", "algorithm=MD5-sess", "algorithm=", "algorithm=\"\"",
            "uri=\"sip:" + DOMAIN + "\"", "uri=\"\"", "uri=\"sip:%zz\"", "uri=\"sip:alice@[::1\"", "username=\"\"",
            "username=alice", "username=\"al\\\"ice\"", "realm=\"\"", "realm=other", "nonce=\"\"", "nonce=x",
            "nonce=\"%%%\"", "response=\"zz\"", "response=\"\"", "response=", "cnonce=", "opaque=", "opaque=\"\"",
            "username*=UTF-8''al%C3%AEce", "userhash=true", "nc=00000001, nc=00000002", ",,", "=", "x"};

        static byte[] mutate(String message, Random random) {
            int rounds = 1 + random.nextInt(3);
            String text = message;
            for (int r = 0; r < rounds; r++) {
                text = structural(text, random);
            }
            byte[] data = text.getBytes(StandardCharsets.UTF_8);
            int bytes = random.nextInt(10);
            if (bytes == 0) {
                data = bytewise(data, random);
            } else if (bytes == 1) {
                // invalid UTF-8 in a header value
                String[] parts = text.split("\r\n", -1);
                int line = 1 + random.nextInt(Math.max(1, Math.min(parts.length - 1, 12)));
                byte[] bad = {(byte) 0xff, (byte) 0xc3, (byte) 0x80, (byte) 0xed, (byte) 0xa0, (byte) 0x80, (byte) 0xf4};
                byte[] chosen = Arrays.copyOfRange(bad, random.nextInt(4), bad.length);
                int at = 0;
                for (int k = 0; k < line && k < parts.length; k++) {
                    at += parts[k].getBytes(StandardCharsets.UTF_8).length + 2;
                }
                at = Math.max(0, Math.min(data.length, at - 2));
                byte[] out = new byte[data.length + chosen.length];
                System.arraycopy(data, 0, out, 0, at);
                System.arraycopy(chosen, 0, out, at, chosen.length);
                System.arraycopy(data, at, out, at + chosen.length, data.length - at);
                data = out;
            }
            return data;
        }

        static String structural(String message, Random random) {
            int split = message.indexOf("\r\n\r\n");
            if (split < 0) {
                return message; // an earlier round broke the frame; mutate as is
            }
            String body = message.substring(split + 4);
            List<String> lines = new ArrayList<>(Arrays.asList(message.substring(0, split).split("\r\n", -1)));
            int n = lines.size();
            int h = n > 1 ? 1 + random.nextInt(n - 1) : 0;
            String line = lines.get(h);
            int colon = line.indexOf(':');
            String name = colon > 0 ? line.substring(0, colon) : line;
            String value = colon > 0 ? line.substring(colon + 1).trim() : "";
            switch (random.nextInt(19)) {
                case 0 -> lines.remove(h);
                case 1 -> lines.add(h, line);
                case 2 -> {
                    int other = n > 1 ? 1 + random.nextInt(n - 1) : 0;
                    lines.set(h, lines.get(other));
                    lines.set(other, line);
                }
                case 3 -> lines.set(h, name + ":");
                case 4 -> lines.set(h, name + ": " + value.repeat(1 + random.nextInt(random.nextBoolean() ? 40 : 600)));
                case 5 -> lines.set(h, replaceNumber(line, random));
                case 6 -> lines.set(h, replaceUri(line, random));
                case 7 -> {
                    // start line: the Request-URI
                    String start = lines.get(0);
                    String[] parts = start.split(" ", 3);
                    if (parts.length == 3 && !start.startsWith("SIP/")) {
                        lines.set(0, parts[0] + " " + pick(URIS, random) + " " + parts[2]);
                    } else {
                        lines.set(0, "SIP/2.0 " + pick(NUMBERS, random) + " Odd");
                    }
                }
                case 8 -> lines.set(h, line + pick(PARAMS, random));
                case 9 -> lines.set(h, name + ": " + pick(VALUES, random));
                case 10 -> {
                    int at = Math.max(colon + 1, random.nextInt(line.length() + 1));
                    lines.set(h, line.substring(0, Math.min(at, line.length())) + pick(PARAMS, random)
                            + line.substring(Math.min(at, line.length())));
                }
                case 11 -> {
                    String auth = pick(new String[]{"Authorization", "Proxy-Authorization"}, random);
                    String digest = "Digest username=\"alice\", realm=\"" + DOMAIN + "\", nonce=\"bm9uY2U\", "
                            + "uri=\"sip:" + DOMAIN + "\", response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, "
                            + "cnonce=\"x\", qop=auth, nc=00000001";
                    List<String> params = new ArrayList<>(Arrays.asList(digest.substring(7).split(", ")));
                    int k = random.nextInt(params.size());
                    switch (random.nextInt(4)) {
                        case 0 -> params.set(k, pick(DIGEST, random));
                        case 1 -> params.add(random.nextInt(params.size() + 1), pick(DIGEST, random));
                        case 2 -> params.remove(k);
                        default -> params.set(k, params.get(k).replace("\"", ""));
                    }
                    lines.add(h, auth + ": Digest " + String.join(random.nextBoolean() ? ", " : ",", params));
                }
                case 12 -> {
                    String length = pick(new String[]{"-1", "0", Integer.toString(body.length() + 1),
                        Integer.toString(Math.max(0, body.length() - 1)), "99999999999", "2147483647", "", "abc",
                        "1 2", Integer.toString(body.length())}, random);
                    lines.removeIf(l -> l.regionMatches(true, 0, "Content-Length", 0, 14));
                    lines.add(random.nextInt(lines.size()) + 1, "Content-Length: " + length);
                }
                case 13 -> {
                    // line ends: all LF, or one LF, or a bare CR
                    String joined = String.join("\r\n", lines) + "\r\n\r\n" + body;
                    return switch (random.nextInt(3)) {
                        case 0 -> joined.replace("\r\n", "\n");
                        case 1 -> joined.replaceFirst("\r\n(?=[^\r\n]*\r\n[^\r\n]*\r\n)", "\n");
                        default -> joined.replaceFirst("\r\n", "\r");
                    };
                }
                case 14 -> lines.set(h, name + ": " + value + (random.nextBoolean() ? " ñ ☎ 𝄞" : "\u0000x"));
                case 15 -> {
                    // folding (RFC 3261 §7.3.1)
                    int at = colon > 0 ? colon + 1 + random.nextInt(Math.max(1, line.length() - colon)) : 0;
                    at = Math.min(at, line.length());
                    lines.set(h, line.substring(0, at) + "\r\n " + line.substring(at));
                }
                case 16 -> {
                    // the method: a mismatch with CSeq, or both
                    String method = pick(new String[]{"INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "MESSAGE",
                        "PRACK", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER", "INFO", "PUBLISH", "FOO"}, random);
                    String start = lines.get(0);
                    if (!start.startsWith("SIP/") && random.nextBoolean()) {
                        lines.set(0, method + start.substring(start.indexOf(' ')));
                    }
                    for (int k = 0; k < lines.size(); k++) {
                        if (lines.get(k).startsWith("CSeq:") && random.nextBoolean()) {
                            lines.set(k, "CSeq: " + pick(NUMBERS, random) + " " + method);
                        }
                    }
                }
                case 17 -> lines.add(h, pick(new String[]{"Route", "Record-Route", "Contact", "Via", "Expires",
                    "Max-Forwards", "Min-Expires", "Path", "Supported", "Require", "Proxy-Require", "Call-ID", "From",
                    "To", "CSeq", "Content-Type", "Content-Encoding", "Timestamp", "Session-Expires", "Reason",
                    "Event", "P-Asserted-Identity", "Referred-By", "Replaces", "Refer-To", "Retry-After"}, random)
                        + ": " + pick(random.nextBoolean() ? VALUES : URIS, random));
                default -> {
                    // the body: SDP lines dropped or changed
                    body = body.isEmpty() ? "v=0\r\n" : body.substring(0, random.nextInt(body.length() + 1))
                            + pick(new String[]{"c=IN IP6 ::1\r\n", "m=audio 99999 RTP/AVP\r\n", "\u0000", "é", ""}, random);
                }
            }
            return String.join("\r\n", lines) + "\r\n\r\n" + body;
        }

        static String replaceNumber(String line, Random random) {
            Matcher m = Pattern.compile("\\d+").matcher(line);
            List<int[]> spans = new ArrayList<>();
            while (m.find()) {
                spans.add(new int[]{m.start(), m.end()});
            }
            if (spans.isEmpty()) {
                return line + " " + pick(NUMBERS, random);
            }
            int[] span = spans.get(random.nextInt(spans.size()));
            return line.substring(0, span[0]) + pick(NUMBERS, random) + line.substring(span[1]);
        }

        static String replaceUri(String line, Random random) {
            Matcher m = Pattern.compile("(sips?|tel|urn):[^>;,\\s\"]*").matcher(line);
            List<int[]> spans = new ArrayList<>();
            while (m.find()) {
                spans.add(new int[]{m.start(), m.end()});
            }
            if (spans.isEmpty()) {
                return line + pick(PARAMS, random);
            }
            int[] span = spans.get(random.nextInt(spans.size()));
            return line.substring(0, span[0]) + pick(URIS, random) + line.substring(span[1]);
        }

        static byte[] bytewise(byte[] data, Random random) {
            byte[] out = data.clone();
            switch (random.nextInt(4)) {
                case 0 -> out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
                case 1 -> out[random.nextInt(out.length)] = (byte) random.nextInt(256);
                case 2 -> out = Arrays.copyOf(out, random.nextInt(out.length + 1));
                default -> {
                    int at = random.nextInt(out.length);
                    out = Arrays.copyOf(out, out.length + 1);
                    System.arraycopy(out, at, out, at + 1, out.length - at - 1);
                    out[at] = (byte) "\r\n\0;:,<>\"\\@[]% ".charAt(random.nextInt(15));
                }
            }
            return out;
        }

        static String pick(String[] choices, Random random) {
            return choices[random.nextInt(choices.length)];
        }
    }

    /** A phone on UDP that registers with a digest answer; the node's calls are routed to it. */
    static class Phone implements AutoCloseable {
        final DatagramSocket socket;
        final String user;
        final String password;
        final int nodePort;
        final String callId = "reg-" + System.nanoTime() + "@phone";
        final AtomicInteger cseq = new AtomicInteger(1);
        int nc = 1;

        Phone(String user, String password, int nodePort) throws IOException {
            this.socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            this.user = user;
            this.password = password;
            this.nodePort = nodePort;
        }

        int port() {
            return socket.getLocalPort();
        }

        String register(String authorization) {
            int n = cseq.getAndIncrement();
            return "REGISTER sip:" + DOMAIN + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + port() + ";rport;branch=z9hG4bKreg"
                    + n + System.nanoTime() + "\r\nMax-Forwards: 70\r\nFrom: <sip:" + user + "@" + DOMAIN + ">;tag=r" + n
                    + "\r\nTo: <sip:" + user + "@" + DOMAIN + ">\r\nCall-ID: " + callId + "\r\nCSeq: " + n + " REGISTER\r\n"
                    + "Contact: <sip:" + user + "@127.0.0.1:" + port() + ">;expires=600\r\n"
                    + (authorization == null ? "" : "Authorization: " + authorization + "\r\n")
                    + "Content-Length: 0\r\n\r\n";
        }

        void send(String message) throws IOException {
            byte[] data = message.getBytes(StandardCharsets.UTF_8);
            socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), nodePort));
        }

        /** The next response to {@code callId} and {@code method}, final unless {@code provisional}. */
        SipResponse await(String callId, String method) throws Exception {
            socket.setSoTimeout(3000);
            long deadline = System.currentTimeMillis() + 5000;
            byte[] buffer = new byte[65_535];
            while (System.currentTimeMillis() < deadline) {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                socket.receive(packet);
                SipMessage message = SipParser.parse(Arrays.copyOf(packet.getData(), packet.getLength()));
                if (message instanceof SipResponse r && r.callId().equals(callId) && r.cseq().method().equals(method)
                        && r.status() >= 200) {
                    return r;
                }
                onOther(message);
            }
            throw new AssertionError("no final response to " + method + " " + callId);
        }

        void onOther(SipMessage message) throws IOException {
        }

        /** The WWW-Authenticate of a 401 to an unauthenticated REGISTER. */
        String challenge() throws Exception {
            send(register(null));
            return await(callId, "REGISTER").header("WWW-Authenticate");
        }

        int register() throws Exception {
            send(register(null));
            SipResponse challenge = await(callId, "REGISTER");
            if (challenge.status() != 401) {
                return challenge.status();
            }
            send(register(DigestClient.authorization(challenge.header("WWW-Authenticate"), user, password, "REGISTER",
                    "sip:" + DOMAIN, nc++, "c" + nc)));
            return await(callId, "REGISTER").status();
        }

        @Override
        public void close() {
            socket.close();
        }
    }

    /** Bob: answers whatever the node forwards (INVITE 180 then 200, others 200) from a thread of its own. */
    final class Callee extends Phone {
        final Thread answering;
        volatile boolean registering;

        Callee(int nodePort) throws IOException {
            super("bob", "builder1", nodePort);
            answering = Thread.ofVirtual().unstarted(this::answer);
        }

        @Override
        int register() throws Exception {
            int status = super.register();
            answering.start();
            return status;
        }

        private void answer() {
            byte[] buffer = new byte[65_535];
            while (!socket.isClosed()) {
                try {
                    DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                    try {
                        socket.receive(packet);
                    } catch (SocketTimeoutException quiet) {
                        continue;
                    }
                    SipMessage message = SipParser.parse(Arrays.copyOf(packet.getData(), packet.getLength()));
                    if (!(message instanceof SipRequest request) || request.isMethod(SipRequest.ACK)) {
                        continue;
                    }
                    if (request.isMethod(SipRequest.INVITE)) {
                        reply(request, 180, "Ringing", packet);
                    }
                    reply(request, 200, "OK", packet);
                } catch (IOException closed) {
                    return;
                } catch (Exception other) {
                    // what the node forwarded does not parse: report it like any other fault
                    uncaught.add(other);
                }
            }
        }

        private void reply(SipRequest request, int status, String reason, DatagramPacket from) throws IOException {
            SipFuzzTest.reply(socket, request, status, reason, from);
        }
    }

    /** Answers {@code request} (RFC 3261 §8.2.6.2 headers copied) to where it came from. */
    static void reply(DatagramSocket socket, SipRequest request, int status, String reason, DatagramPacket from)
            throws IOException {
        StringBuilder r = new StringBuilder("SIP/2.0 ").append(status).append(' ').append(reason).append("\r\n");
        for (String via : request.headers().fields("Via")) {
            r.append("Via: ").append(via).append("\r\n");
        }
        for (String rr : request.headers().fields("Record-Route")) {
            r.append("Record-Route: ").append(rr).append("\r\n");
        }
        String to = request.header("To");
        r.append("From: ").append(request.header("From")).append("\r\nTo: ").append(to)
                .append(to.contains(";tag=") ? "" : ";tag=bob1").append("\r\nCall-ID: ").append(request.callId())
                .append("\r\nCSeq: ").append(request.header("CSeq")).append("\r\nContact: <sip:bob@127.0.0.1:")
                .append(socket.getLocalPort()).append(">\r\nContent-Length: 0\r\n\r\n");
        byte[] data = r.toString().getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(data, data.length, from.getSocketAddress()));
    }

    /** Alice after the run: a registered phone placing an ordinary call to bob. */
    static final class Caller extends Phone {
        Caller(int nodePort) throws IOException {
            super("alice", "wonderland", nodePort);
        }

        int call(String target) throws Exception {
            String callId = "call-" + System.nanoTime() + "@alice";
            String via = "Via: SIP/2.0/UDP 127.0.0.1:" + port() + ";rport;branch=z9hG4bKinv" + System.nanoTime();
            String from = "From: <sip:alice@" + DOMAIN + ">;tag=a1";
            send("INVITE " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\n" + from + "\r\nTo: <" + target
                    + ">\r\nCall-ID: " + callId + "\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:" + port()
                    + ">\r\nContent-Length: 0\r\n\r\n");
            SipResponse answer = await(callId, "INVITE");
            if (answer.status() != 200) {
                return answer.status();
            }
            List<String> route = new ArrayList<>(answer.headers().fields("Record-Route"));
            java.util.Collections.reverse(route);
            String routes = route.isEmpty() ? "" : "Route: " + String.join(", ", route) + "\r\n";
            String to = "To: " + answer.header("To");
            String remote = "sip:bob@127.0.0.1:" + answer.header("Contact").replaceAll(".*:(\\d+)>.*", "$1");
            send("ACK " + remote + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + port() + ";rport;branch=z9hG4bKack"
                    + System.nanoTime() + "\r\nMax-Forwards: 70\r\n" + routes + from + "\r\n" + to + "\r\nCall-ID: "
                    + callId + "\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
            send("BYE " + remote + " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:" + port() + ";rport;branch=z9hG4bKbye"
                    + System.nanoTime() + "\r\nMax-Forwards: 70\r\n" + routes + from + "\r\n" + to + "\r\nCall-ID: "
                    + callId + "\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
            return await(callId, "BYE").status() == 200 ? 200 : -1;
        }
    }
}
