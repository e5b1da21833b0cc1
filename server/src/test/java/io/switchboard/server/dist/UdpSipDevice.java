package io.switchboard.server.dist;

import io.switchboard.sip.codec.SipParseException;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A UDP SIP phone as a process of its own, so that a test can run it inside a network namespace
 * ({@code ip netns exec NS java ... UdpSipDevice}), where the test's own JVM cannot go. It reads
 * commands on stdin, one a line, and prints one result line for each on stdout:
 * <ul>
 * <li>{@code register}: REGISTER for its account (with digest credentials after the 401), prints
 *     {@code REGISTER <status> <address the final answer came from>};</li>
 * <li>{@code options}: OPTIONS to its own address of record, which the node routes to the
 *     contact just registered, that is back to this phone (it answers 200, as a phone does); prints
 *     {@code OPTIONS <status> <source> routed=<true if the request came back through the node>}.</li>
 * <li>{@code options-via <address> <port>}: the same OPTIONS sent to another address (a node's
 *     own listener rather than the floating address);</li>
 * <li>{@code vias}: prints {@code VIAS <n>}, the Via header fields of the last request routed back
 *     (this phone's own and one per proxy it passed).</li>
 * </ul>
 * A request is sent like a UA's non-INVITE client transaction over UDP (RFC 3261 §17.1.2.2: resent
 * at 500 ms, 1 s, 2 s...) and given up after 4 s ({@code <METHOD> timeout}), so a test can simply
 * retry while an address moves. The source printed is what the test is after: a phone, and the
 * NAT in front of it, accepts answers only from the address it sent to.
 *
 * <p>Arguments: local address, server address, server port, user, password, domain.
 */
public final class UdpSipDevice {
    private static final Pattern QUOTED = Pattern.compile("(\\w+)=\"([^\"]*)\"");
    private static final Pattern ALGORITHM = Pattern.compile("algorithm=([A-Za-z0-9-]+)");

    private final DatagramSocket socket;
    private final InetSocketAddress server;
    /** Where requests go: the server, or for {@code options-via} another node's address. */
    private InetSocketAddress destination;
    private final String user;
    private final String password;
    private final String domain;
    private final String callId = UUID.randomUUID() + "@device";
    private final String tag = "d" + UUID.randomUUID().toString().substring(0, 8);
    private int cseq = 1;
    private boolean routedBack;
    /** Via header fields of the last request routed back: ours and one per proxy it passed. */
    private int routedVias;

    private UdpSipDevice(DatagramSocket socket, InetSocketAddress server, String user, String password, String domain) {
        this.socket = socket;
        this.server = server;
        this.destination = server;
        this.user = user;
        this.password = password;
        this.domain = domain;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println("usage: UdpSipDevice LOCAL_ADDRESS SERVER_ADDRESS SERVER_PORT USER PASSWORD DOMAIN");
            System.exit(2);
        }
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getByName(args[0]), 0))) {
            UdpSipDevice device = new UdpSipDevice(socket,
                    new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2])), args[3], args[4], args[5]);
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            System.out.println("READY " + socket.getLocalAddress().getHostAddress() + ":" + socket.getLocalPort());
            String line;
            while ((line = in.readLine()) != null) {
                switch (line.strip()) {
                    case "register" -> System.out.println(device.transaction("REGISTER", "sip:" + device.domain));
                    case "options" -> {
                        device.routedBack = false;
                        String result = device.transaction("OPTIONS", "sip:" + device.user + "@" + device.domain);
                        System.out.println(result + " routed=" + device.routedBack);
                    }
                    case "vias" -> System.out.println("VIAS " + device.routedVias);
                    case String via when via.startsWith("options-via ") -> {
                        String[] to = via.split("\\s+");
                        device.routedBack = false;
                        device.destination = new InetSocketAddress(InetAddress.getByName(to[1]), Integer.parseInt(to[2]));
                        try {
                            String result = device.transaction("OPTIONS", "sip:" + device.user + "@" + device.domain);
                            System.out.println(result + " routed=" + device.routedBack);
                        } finally {
                            device.destination = device.server;
                        }
                    }
                    case "quit" -> {
                        return;
                    }
                    default -> System.out.println("ERROR unknown command: " + line);
                }
            }
        }
    }

    private String aor() {
        return "sip:" + user + "@" + domain;
    }

    private String sentBy() {
        return socket.getLocalAddress().getHostAddress() + ":" + socket.getLocalPort();
    }

    /** Sends one request, answering its challenge once; the result line for stdout. */
    private String transaction(String method, String uri) throws IOException {
        String credentials = "";
        for (int attempt = 0; attempt < 2; attempt++) {
            int number = cseq++;
            String branch = "z9hG4bK" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
            StringBuilder m = new StringBuilder(method + " " + uri + " SIP/2.0\r\n")
                    .append("Via: SIP/2.0/UDP ").append(sentBy()).append(";rport;branch=").append(branch).append("\r\n")
                    .append("Max-Forwards: 70\r\n")
                    .append("From: <").append(aor()).append(">;tag=").append(tag).append("\r\n")
                    .append("To: <").append(method.equals("REGISTER") ? aor() : uri).append(">\r\n")
                    .append("Call-ID: ").append(callId).append("\r\n")
                    .append("CSeq: ").append(number).append(' ').append(method).append("\r\n");
            if (method.equals("REGISTER")) {
                m.append("Contact: <sip:").append(user).append('@').append(sentBy()).append(">\r\nExpires: 300\r\n");
            }
            m.append(credentials).append("Content-Length: 0\r\n\r\n");
            Answer answer = exchange(m.toString().getBytes(StandardCharsets.UTF_8), number);
            if (answer == null) {
                return method + " timeout";
            }
            int status = answer.response.status();
            if ((status == 401 || status == 407) && attempt == 0) {
                credentials = authorization(answer.response, method, uri);
                continue;
            }
            return method + " " + status + " " + answer.source.getAddress().getHostAddress() + ":" + answer.source.getPort();
        }
        throw new IllegalStateException("unreachable");
    }

    private record Answer(SipResponse response, InetSocketAddress source) {
    }

    /** Sends and resends (RFC 3261 §17.1.2.2, Timer E from 500 ms) until a final answer to CSeq {@code number}, for 4 s. */
    private Answer exchange(byte[] request, int number) throws IOException {
        long deadline = System.nanoTime() + 4_000_000_000L;
        long interval = 500;
        long nextSend = 0;
        byte[] buffer = new byte[65_535];
        while (System.nanoTime() < deadline) {
            long now = System.nanoTime() / 1_000_000;
            if (now >= nextSend) {
                socket.send(new DatagramPacket(request, request.length, destination));
                nextSend = now + interval;
                interval = Math.min(interval * 2, 4000);
            }
            socket.setSoTimeout((int) Math.max(1, Math.min(nextSend - now, 200)));
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (SocketTimeoutException e) {
                continue;
            }
            SipMessage message;
            try {
                message = SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
            } catch (SipParseException | RuntimeException e) {
                continue; // not SIP: a phone ignores it
            }
            InetSocketAddress source = (InetSocketAddress) packet.getSocketAddress();
            if (message instanceof SipRequest incoming) {
                // the node routed our OPTIONS to our registered contact: answer as a phone does
                if (incoming.callId().equals(callId)) {
                    routedBack = true;
                    routedVias = incoming.headers().fields("Via").size();
                }
                if (!incoming.isMethod(SipRequest.ACK)) {
                    byte[] ok = SipResponse.to(incoming, 200, "OK").encode();
                    socket.send(new DatagramPacket(ok, ok.length, source));
                }
            } else if (message instanceof SipResponse response && response.callId().equals(callId)
                    && response.cseq().number() == number && response.status() >= 200) {
                return new Answer(response, source);
            }
        }
        return null;
    }

    /** Digest credentials (RFC 7616 §3.4, qop=auth) for the challenge's first offer in MD5 or SHA-256. */
    private String authorization(SipResponse challenge, String method, String uri) {
        boolean proxy = challenge.status() == 407;
        List<String> offers = challenge.headers().fields(proxy ? "Proxy-Authenticate" : "WWW-Authenticate");
        String offer = offers.stream().filter(o -> o.contains("algorithm=MD5")).findFirst().orElse(offers.get(0));
        Matcher alg = ALGORITHM.matcher(offer);
        String algorithm = alg.find() ? alg.group(1) : "MD5";
        String realm = null;
        String nonce = null;
        Matcher q = QUOTED.matcher(offer);
        while (q.find()) {
            if (q.group(1).equals("realm")) {
                realm = q.group(2);
            } else if (q.group(1).equals("nonce")) {
                nonce = q.group(2);
            }
        }
        String cnonce = UUID.randomUUID().toString().substring(0, 8);
        String ha1 = hash(algorithm, user + ":" + realm + ":" + password);
        String ha2 = hash(algorithm, method + ":" + uri);
        String response = hash(algorithm, ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + ha2);
        return (proxy ? "Proxy-Authorization" : "Authorization") + ": Digest username=\"" + user + "\", realm=\"" + realm
                + "\", nonce=\"" + nonce + "\", uri=\"" + uri + "\", response=\"" + response + "\", algorithm=" + algorithm
                + ", qop=auth, nc=00000001, cnonce=\"" + cnonce + "\"\r\n";
    }

    private static String hash(String algorithm, String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance(algorithm).digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalArgumentException("digest algorithm " + algorithm, e);
        }
    }
}
