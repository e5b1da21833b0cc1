package io.switchboard.server.telephony;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A softphone for tests: registers, calls, answers, cancels and hangs up, over UDP or over a
 * WebSocket (RFC 7118) the way a browser does. Every message it receives is queued for the test
 * to wait on; it answers nothing by itself except what a test asks for.
 */
final class SipPhone implements AutoCloseable {
    final String user;
    final String domain;
    final boolean webSocket;
    /** Whether this phone's connection is TLS. */
    final boolean secure;
    private final DatagramSocket socket;
    private final WebSocket ws;
    private final java.net.Socket tcp;
    private volatile InetSocketAddress server;
    /** The loopback address this phone uses: 127.0.0.1, or ::1 for {@link #udp6}. */
    private final InetAddress loopback;
    private final LinkedBlockingQueue<SipMessage> inbox = new LinkedBlockingQueue<>();
    private final List<SipMessage> seen = Collections.synchronizedList(new ArrayList<>());
    private final Thread receiver;
    private final String tag = "t" + UUID.randomUUID().toString().substring(0, 8);
    private final String wsHost = UUID.randomUUID().toString().substring(0, 8) + ".invalid";
    private int cseq = 1;
    /** When set, the Contact this phone advertises (a private address behind NAT, say) instead of its real one. */
    String claimedContact;

    /** A UDP phone talking to the node's UDP port. */
    static SipPhone udp(String user, String domain, int serverPort) throws IOException {
        return new SipPhone(user, domain, serverPort, null, false, InetAddress.getLoopbackAddress(), null);
    }

    /** A UDP phone on ::1 talking to the node's UDP port on ::1. */
    static SipPhone udp6(String user, String domain, int serverPort) throws IOException {
        return new SipPhone(user, domain, serverPort, null, false, InetAddress.getByName("::1"), null);
    }

    /** A phone on one TCP connection to the node, which must reach it over that same connection. */
    static SipPhone tcp(String user, String domain, int serverPort) throws IOException {
        return new SipPhone(user, domain, serverPort, null, true, InetAddress.getLoopbackAddress(), null);
    }

    /**
     * A phone on one TCP connection that a balancer (HAProxy, {@code send-proxy}) opened for it: the
     * connection starts with a PROXY protocol v1 header naming this phone's address as the source
     * and {@code balancer} as the address the phone connected to. The node must take PROXY headers
     * from loopback ({@code telephony.proxyProtocolFrom}).
     */
    static SipPhone tcpThroughBalancer(String user, String domain, int serverPort, InetSocketAddress balancer)
            throws IOException {
        SipPhone phone = tcp(user, domain, serverPort);
        phone.send("PROXY TCP4 127.0.0.1 " + balancer.getAddress().getHostAddress() + " " + phone.localPort()
                + " " + balancer.getPort() + "\r\n");
        return phone;
    }

    /**
     * A phone on one TLS connection to the node's tls listener (RFC 3261 §26.2), trusting what
     * {@code trust} trusts; it registers a {@code sips:} Contact (RFC 5630 §4) and must be reached
     * over that same connection. The handshake is done before this returns.
     */
    static SipPhone tls(String user, String domain, int serverPort, javax.net.ssl.SSLContext trust) throws IOException {
        return new SipPhone(user, domain, serverPort, null, true, InetAddress.getLoopbackAddress(), trust);
    }

    /**
     * A phone on a connection the node opened to it (a TLS connection accepted on the phone's own
     * listener, RFC 3261 §26.2): it answers and sends on that connection; its Contact names the
     * listener's port.
     */
    static SipPhone overConnection(String user, String domain, java.net.Socket accepted) {
        return new SipPhone(user, domain, accepted);
    }

    private SipPhone(String user, String domain, java.net.Socket accepted) {
        this.user = user;
        this.domain = domain;
        this.loopback = InetAddress.getLoopbackAddress();
        this.webSocket = false;
        this.secure = accepted instanceof javax.net.ssl.SSLSocket;
        this.tcp = accepted;
        this.socket = null;
        this.ws = null;
        this.server = null;
        this.receiver = Thread.ofPlatform().daemon().name("phone-" + user).start(this::receiveTcp);
    }

    /** A browser-style phone on the node's WebSocket endpoint, subprotocol "sip". */
    static SipPhone webSocket(String user, String domain, String httpBaseUrl) throws Exception {
        return new SipPhone(user, domain, -1, httpBaseUrl.replace("http://", "ws://") + "/sip", false,
                InetAddress.getLoopbackAddress(), null);
    }

    private SipPhone(String user, String domain, int serverPort, String wsUrl, boolean overTcp, InetAddress loopback,
                     javax.net.ssl.SSLContext tlsTrust) throws IOException {
        this.user = user;
        this.loopback = loopback;
        this.domain = domain;
        this.webSocket = wsUrl != null;
        this.secure = tlsTrust != null;
        if (overTcp) {
            if (tlsTrust != null) {
                javax.net.ssl.SSLSocket socket = (javax.net.ssl.SSLSocket) tlsTrust.getSocketFactory()
                        .createSocket(InetAddress.getLoopbackAddress(), serverPort);
                socket.setSoTimeout(10_000);
                socket.startHandshake();
                socket.setSoTimeout(0);
                tcp = socket;
            } else {
                tcp = new java.net.Socket(InetAddress.getLoopbackAddress(), serverPort);
            }
            socket = null;
            ws = null;
            server = null;
            receiver = Thread.ofPlatform().daemon().name("phone-" + user).start(this::receiveTcp);
            return;
        }
        tcp = null;
        if (wsUrl == null) {
            socket = new DatagramSocket(new InetSocketAddress(loopback, 0));
            server = new InetSocketAddress(loopback, serverPort);
            ws = null;
            receiver = Thread.ofPlatform().daemon().name("phone-" + user).start(this::receiveUdp);
        } else {
            socket = null;
            server = null;
            receiver = null;
            StringBuilder partial = new StringBuilder();
            ws = HttpClient.newHttpClient().newWebSocketBuilder().subprotocols("sip")
                    .buildAsync(URI.create(wsUrl), new WebSocket.Listener() {
                        @Override
                        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
                            partial.append(data);
                            if (last) {
                                accept(partial.toString().getBytes(StandardCharsets.UTF_8));
                                partial.setLength(0);
                            }
                            webSocket.request(1);
                            return null;
                        }
                    }).join();
        }
    }

    private void receiveUdp() {
        byte[] buffer = new byte[65535];
        while (!socket.isClosed()) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (IOException e) {
                return;
            }
            accept(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
        }
    }

    /** Reads the connection's messages until it closes (RFC 3261 §18.3, {@link SipStream}). */
    private void receiveTcp() {
        try {
            java.io.BufferedInputStream in = new java.io.BufferedInputStream(tcp.getInputStream());
            byte[] message;
            while (!tcp.isClosed() && (message = SipStream.readMessage(in)) != null) {
                accept(message);
            }
        } catch (IOException e) {
            // closed
        }
    }

    private void accept(byte[] data) {
        try {
            SipMessage message = SipParser.parse(data);
            seen.add(message);
            inbox.add(message);
        } catch (RuntimeException | io.switchboard.sip.codec.SipParseException e) {
            // not SIP: ignore, as a phone would
        }
    }

    String transportToken() {
        return webSocket ? "WS" : secure ? "TLS" : tcp != null ? "TCP" : "UDP";
    }

    String host() {
        // RFC 3261 §25.1: an IPv6 reference in a URI or Via is in brackets
        return webSocket ? wsHost : loopback instanceof java.net.Inet6Address ? "[::1]" : "127.0.0.1";
    }

    String sentBy() {
        if (tcp != null) {
            return host() + ":" + tcp.getLocalPort();
        }
        return webSocket ? wsHost : host() + ":" + socket.getLocalPort();
    }

    /**
     * A UDP phone sends from now on to this port of the node's address: its server moved (a
     * floating address taken over by another node, or the next node of a list).
     */
    void sendTo(int udpPort) {
        server = new InetSocketAddress(loopback, udpPort);
    }

    /** The local port of this phone's socket (UDP or TCP). */
    int localPort() {
        return tcp != null ? tcp.getLocalPort() : socket.getLocalPort();
    }

    String contact() {
        if (claimedContact != null) {
            return claimedContact;
        }
        if (secure) {
            return "<sips:" + user + "@" + sentBy() + ">"; // RFC 5630 §3.1.1: sips, no transport=tls
        }
        if (tcp != null) {
            return "<sip:" + user + "@" + sentBy() + ";transport=tcp>";
        }
        return webSocket ? "<sip:" + user + "@" + wsHost + ";transport=ws>" : "<sip:" + user + "@" + sentBy() + ">";
    }

    String aor() {
        return "sip:" + user + "@" + domain;
    }

    void send(String message) {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        try {
            if (ws != null) {
                ws.sendText(message, true).join();
            } else if (tcp != null) {
                synchronized (tcp) {
                    tcp.getOutputStream().write(bytes);
                    tcp.getOutputStream().flush();
                }
            } else {
                socket.send(new DatagramPacket(bytes, bytes.length, server));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    String via() {
        return "Via: SIP/2.0/" + transportToken() + " " + sentBy() + ";rport;branch=z9hG4bK" + UUID.randomUUID().toString().substring(0, 12);
    }

    /** REGISTER without credentials (nodes in these tests run with auth off or trust loopback). */
    SipResponse register(int expires) throws InterruptedException {
        String callId = UUID.randomUUID() + "@reg";
        send("REGISTER sip:" + domain + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n"
                + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + aor() + ">\r\nCall-ID: " + callId + "\r\n"
                + "CSeq: " + (cseq++) + " REGISTER\r\nContact: " + contact() + "\r\nExpires: " + expires
                + "\r\nContent-Length: 0\r\n\r\n");
        return awaitResponse(r -> r.callId().equals(callId) && r.status() >= 200, Duration.ofSeconds(5));
    }

    /**
     * REGISTER with digest credentials (RFC 3261 §22.4, MD5 with qop=auth): sent without, and
     * again with an Authorization for the 401's MD5 challenge. Returns the final answer (200, 403...).
     */
    SipResponse register(int expires, String password) throws Exception {
        String callId = UUID.randomUUID() + "@reg";
        SipResponse first = registerOnce(callId, expires, "");
        if (first.status() != 401) {
            return first;
        }
        String offer = first.headers().fields("WWW-Authenticate").stream()
                .filter(c -> c.contains("algorithm=MD5")).findFirst().orElseThrow();
        String realm = param(offer, "realm");
        String nonce = param(offer, "nonce");
        String uri = "sip:" + domain;
        String ha1 = hash("MD5", user + ":" + realm + ":" + password);
        String response = hash("MD5", ha1 + ":" + nonce + ":00000001:c0ffee:auth:" + hash("MD5", "REGISTER:" + uri));
        return registerOnce(callId, expires, "Authorization: Digest username=\"" + user + "\", realm=\"" + realm
                + "\", nonce=\"" + nonce + "\", uri=\"" + uri + "\", response=\"" + response
                + "\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"c0ffee\"\r\n");
    }

    private SipResponse registerOnce(String callId, int expires, String authorization) throws InterruptedException {
        int number = cseq++;
        send("REGISTER sip:" + domain + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n"
                + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + aor() + ">\r\nCall-ID: " + callId + "\r\n"
                + "CSeq: " + number + " REGISTER\r\nContact: " + contact() + "\r\nExpires: " + expires + "\r\n"
                + authorization + "Content-Length: 0\r\n\r\n");
        return awaitResponse(r -> r.callId().equals(callId) && r.cseq().number() == number && r.status() >= 200,
                Duration.ofSeconds(5));
    }

    /** A call this phone makes. */
    final class Call {
        final String callId = UUID.randomUUID() + "@call";
        final String target;
        final int inviteCseq = cseq++;
        final String branch = "z9hG4bK" + UUID.randomUUID().toString().substring(0, 12);
        String inviteVia;
        List<String> routeSet = List.of();
        String remoteTarget;
        String toHeader;

        Call(String target) {
            this.target = target;
        }

        /** RFC 7616 digest with qop=auth for the (first) 407 challenge, signing the Request-URI. */
        String proxyAuthorization(SipResponse challenge, String password) throws Exception {
            return proxyAuthorization(challenge, password, target);
        }

        /**
         * RFC 7616 digest with qop=auth for the first 407 challenge, in its algorithm (MD5 or
         * SHA-256), with {@code digestUri} as the signed uri (RFC 7616 §3.4.3 A2 = method ":" uri).
         */
        String proxyAuthorization(SipResponse challenge, String password, String digestUri) throws Exception {
            String offer = challenge.headers().fields("Proxy-Authenticate").get(0);
            java.util.regex.Matcher alg = java.util.regex.Pattern.compile("algorithm=([A-Za-z0-9-]+)").matcher(offer);
            String algorithm = alg.find() ? alg.group(1) : "MD5";
            String realm = param(offer, "realm");
            String nonce = param(offer, "nonce");
            String cnonce = "c0ffee";
            String nc = "00000001";
            String ha1 = hash(algorithm, user + ":" + realm + ":" + password);
            String ha2 = hash(algorithm, "INVITE:" + digestUri);
            String response = hash(algorithm, ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2);
            return "Proxy-Authorization: Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce
                    + "\", uri=\"" + digestUri + "\", response=\"" + response + "\", algorithm=" + algorithm
                    + ", qop=auth, nc=" + nc + ", cnonce=\"" + cnonce + "\"\r\n";
        }

        void invite(String extraHeaders) {
            inviteVia = "Via: SIP/2.0/" + transportToken() + " " + sentBy() + ";rport;branch=" + branch;
            send(inviteText(inviteVia, extraHeaders));
        }

        /**
         * The same INVITE (From tag, Call-ID, CSeq) again as another transaction, a new branch: what
         * arrives when a proxy on the way forked it twice towards the node, a merged request (RFC 3261
         * §8.2.2.2). Returns that branch.
         */
        String inviteByAnotherPath() {
            return inviteByAnotherPath(target);
        }

        /**
         * This INVITE (From tag, Call-ID, CSeq) as another transaction to {@code otherTarget}: a leg
         * of a parallel fork upstream that rings another user of the node. Returns its branch.
         */
        String inviteByAnotherPath(String otherTarget) {
            String other = "z9hG4bK" + UUID.randomUUID().toString().substring(0, 12);
            send(inviteText(otherTarget, "Via: SIP/2.0/" + transportToken() + " " + sentBy() + ";rport;branch=" + other, null));
            return other;
        }

        private String inviteText(String via, String extraHeaders) {
            return inviteText(target, via, extraHeaders);
        }

        private String inviteText(String target, String via, String extraHeaders) {
            return ("INVITE " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\n"
                    + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + target + ">\r\nCall-ID: " + callId + "\r\n"
                    + "CSeq: " + inviteCseq + " INVITE\r\nContact: " + contact() + "\r\n" + (extraHeaders == null ? "" : extraHeaders)
                    + "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n");
        }

        SipResponse awaitFinal() throws InterruptedException {
            return awaitResponse(r -> r.callId().equals(callId) && r.cseq().method().equals("INVITE") && r.status() >= 200,
                    Duration.ofSeconds(10));
        }

        SipResponse await(int status) throws InterruptedException {
            return awaitResponse(r -> r.callId().equals(callId) && r.status() == status, Duration.ofSeconds(10));
        }

        /** The ACK for a 2xx (RFC 3261 §13.2.2.4): a new transaction along the route set from Record-Route, reversed. */
        void ack(SipResponse ok) {
            List<String> rr = new ArrayList<>(ok.headers().values(HeaderNames.RECORD_ROUTE));
            Collections.reverse(rr);
            routeSet = rr;
            remoteTarget = NameAddress.parse(ok.headers().get(HeaderNames.CONTACT)).uri().toString();
            toHeader = ok.headers().get(HeaderNames.TO);
            send(inDialog("ACK", inviteCseq));
        }

        /**
         * The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): part of the INVITE transaction,
         * so the INVITE's Via and branch, the response's To tag, hop by hop to the node.
         */
        void ackFailure(SipResponse failure) {
            send("ACK " + target + " SIP/2.0\r\n" + inviteVia + "\r\nMax-Forwards: 70\r\n"
                    + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: " + failure.headers().get(HeaderNames.TO)
                    + "\r\nCall-ID: " + callId + "\r\nCSeq: " + inviteCseq + " ACK\r\nContent-Length: 0\r\n\r\n");
        }

        /**
         * Sends an in-dialog request (re-INVITE, UPDATE, INFO...) along the route set learnt from the
         * 2xx (RFC 3261 §12.2.1.1) and returns its CSeq number.
         */
        int sendInDialog(String method) {
            int number = cseq++;
            send(inDialog(method, number));
            return number;
        }

        /** An in-dialog request and its final response. */
        SipResponse inDialog(String method) throws InterruptedException {
            int number = sendInDialog(method);
            return awaitResponse(r -> r.callId().equals(callId) && r.cseq().method().equals(method)
                    && r.cseq().number() == number && r.status() >= 200, Duration.ofSeconds(10));
        }

        /** The ACK for the 2xx of a re-INVITE: in the dialog, along the same route set, CSeq of that re-INVITE (§13.2.2.4). */
        void ackInDialog(int reInviteCseq) {
            send(inDialog("ACK", reInviteCseq));
        }

        void cancel() {
            send("CANCEL " + target + " SIP/2.0\r\n" + inviteVia + "\r\nMax-Forwards: 70\r\n"
                    + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + target + ">\r\nCall-ID: " + callId + "\r\n"
                    + "CSeq: " + inviteCseq + " CANCEL\r\nContent-Length: 0\r\n\r\n");
        }

        SipResponse bye() throws InterruptedException {
            int n = cseq++;
            send(inDialog("BYE", n));
            return awaitResponse(r -> r.callId().equals(callId) && r.cseq().method().equals("BYE"), Duration.ofSeconds(10));
        }

        /**
         * The text of an in-dialog request of this call (its route set, remote target and tags), for
         * the same device to send over another connection: it reconnected and registered again, with
         * the same Contact, through another node.
         */
        String inDialogText(String method, int number) {
            return inDialog(method, number);
        }

        private String inDialog(String method, int number) {
            return requestInDialog(method, remoteTarget, routeSet, "<" + aor() + ">;tag=" + tag, toHeader, callId, number);
        }
    }

    /**
     * A request inside a dialog (RFC 3261 §12.2.1.1): to the remote target, one Route per entry of
     * the route set; target-refresh requests (re-INVITE, UPDATE: RFC 3311 §5.1) carry our Contact.
     */
    private String requestInDialog(String method, String remoteTarget, List<String> routeSet, String from, String to,
                                   String callId, int number) {
        StringBuilder m = new StringBuilder(method + " " + remoteTarget + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n");
        for (String route : routeSet) {
            m.append("Route: ").append(route).append("\r\n");
        }
        m.append("From: ").append(from).append("\r\nTo: ").append(to)
                .append("\r\nCall-ID: ").append(callId).append("\r\nCSeq: ").append(number).append(' ').append(method)
                .append("\r\n");
        if (method.equals(SipRequest.INVITE) || method.equals("UPDATE")) {
            m.append("Contact: ").append(contact()).append("\r\n");
        }
        m.append("Content-Length: 0\r\n\r\n");
        return m.toString();
    }

    /**
     * A response of this phone to {@code request}: Vias, From, To (with {@code toTag} added when it
     * has none), Call-ID and CSeq copied; a 2xx to an INVITE carries our Contact and, for an initial
     * INVITE, its Record-Route (RFC 3261 §12.1.1).
     */
    String response(SipRequest request, int status, String reason, String toTag) {
        StringBuilder m = new StringBuilder("SIP/2.0 " + status + " " + reason + "\r\n");
        for (String via : request.headers().fields(HeaderNames.VIA)) {
            m.append("Via: ").append(via).append("\r\n");
        }
        if (request.isMethod(SipRequest.INVITE)) {
            for (String rr : request.headers().fields(HeaderNames.RECORD_ROUTE)) {
                m.append("Record-Route: ").append(rr).append("\r\n");
            }
        }
        String to = request.headers().get(HeaderNames.TO);
        m.append("From: ").append(request.headers().get(HeaderNames.FROM)).append("\r\n")
                .append("To: ").append(toTag != null && !to.contains("tag=") ? to + ";tag=" + toTag : to).append("\r\n")
                .append("Call-ID: ").append(request.callId()).append("\r\n")
                .append("CSeq: ").append(request.headers().get(HeaderNames.CSEQ)).append("\r\n");
        if (status >= 200 && status < 300 && request.isMethod(SipRequest.INVITE)) {
            m.append("Contact: ").append(contact()).append("\r\n");
        }
        m.append("Content-Length: 0\r\n\r\n");
        return m.toString();
    }

    /** Answers a request this phone received (in a dialog its To already has a tag). */
    void respond(SipRequest request, int status, String reason) {
        send(response(request, status, reason, null));
    }

    private static String param(String header, String name) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(name + "=\"([^\"]*)\"").matcher(header);
        if (!m.find()) {
            throw new AssertionError("no " + name + " in " + header);
        }
        return m.group(1);
    }

    private static String hash(String algorithm, String text) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance(algorithm)
                .digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    Call call(String target) {
        return new Call(target);
    }

    /** A call this phone receives: answers it and, as the callee, can hang up. */
    final class Incoming {
        final SipRequest invite;
        final String localTag = "c" + UUID.randomUUID().toString().substring(0, 8);
        int cseq = 100;

        Incoming(SipRequest invite) {
            this.invite = invite;
        }

        void respond(int status, String reason) {
            send(response(invite, status, reason, status > 100));
        }

        /** 200 with our Contact and the Record-Route copied (RFC 3261 §12.1.1). */
        void answer() {
            send(response(invite, 200, "OK", true));
        }

        String response(SipRequest request, int status, String reason, boolean withTag) {
            return SipPhone.this.response(request, status, reason, withTag ? localTag : null);
        }

        /** Answers a CANCEL for this call (200, then 487 for the INVITE, RFC 3261 §9.2). */
        void acceptCancel(SipRequest cancel) {
            send(response(cancel, 200, "OK", true));
            send(response(invite, 487, "Request Terminated", true));
        }

        /** The callee hangs up: BYE along the route set (Record-Route as received), to the caller's Contact. */
        void bye() {
            sendInDialog(SipRequest.BYE);
        }

        /**
         * The callee sends a request in the dialog (RFC 3261 §12.2.1.1): the route set is the
         * Record-Route as received (§12.1.1), the remote target the caller's Contact. Returns its CSeq number.
         */
        int sendInDialog(String method) {
            int number = cseq++;
            send(inDialog(method, number));
            return number;
        }

        /** An in-dialog request from the callee and its final response. */
        SipResponse inDialog(String method) throws InterruptedException {
            int number = sendInDialog(method);
            String callId = invite.callId();
            return awaitResponse(r -> r.callId().equals(callId) && r.cseq().method().equals(method)
                    && r.cseq().number() == number && r.status() >= 200, Duration.ofSeconds(10));
        }

        /** The ACK for the 2xx of the callee's re-INVITE (§13.2.2.4). */
        void ackInDialog(int reInviteCseq) {
            send(inDialog(SipRequest.ACK, reInviteCseq));
        }

        /** The text of an in-dialog request from the callee, for the same device to send over a new connection. */
        String inDialogText(String method, int number) {
            return inDialog(method, number);
        }

        private String inDialog(String method, int number) {
            return requestInDialog(method, NameAddress.parse(invite.headers().get(HeaderNames.CONTACT)).uri().toString(),
                    invite.headers().values(HeaderNames.RECORD_ROUTE), invite.headers().get(HeaderNames.TO) + ";tag=" + localTag,
                    invite.headers().get(HeaderNames.FROM), invite.callId(), number);
        }

        void respondTo(SipRequest request, int status) {
            send(response(request, status, "OK", false));
        }
    }

    Incoming awaitInvite() throws InterruptedException {
        return new Incoming(awaitRequest("INVITE", Duration.ofSeconds(10)));
    }

    SipRequest awaitRequest(String method, Duration timeout) throws InterruptedException {
        return (SipRequest) await(m -> m instanceof SipRequest r && r.isMethod(method), timeout,
                "a " + method + " request");
    }

    SipResponse awaitResponse(Predicate<SipResponse> match, Duration timeout) throws InterruptedException {
        return (SipResponse) await(m -> m instanceof SipResponse r && match.test(r), timeout, "a matching response");
    }

    /** Waits for a message; messages that do not match stay queued for later waits. */
    private SipMessage await(Predicate<SipMessage> match, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<SipMessage> skipped = new ArrayList<>();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                SipMessage next = left <= 0 ? null : inbox.poll(left, TimeUnit.NANOSECONDS);
                if (next == null) {
                    throw new AssertionError(user + " waited " + timeout + " for " + what + "; got " + describe(skipped));
                }
                if (match.test(next)) {
                    return next;
                }
                skipped.add(next);
            }
        } finally {
            for (SipMessage m : skipped) {
                inbox.add(m);
            }
        }
    }

    /** True when nothing matching arrives within the time. */
    boolean receivesNo(String method, Duration within) throws InterruptedException {
        try {
            awaitRequest(method, within);
            return false;
        } catch (AssertionError e) {
            return true;
        }
    }

    /** True when no response matching arrives within the time. */
    boolean receivesNoResponse(Predicate<SipResponse> match, Duration within) throws InterruptedException {
        try {
            awaitResponse(match, within);
            return false;
        } catch (AssertionError e) {
            return true;
        }
    }

    private static String describe(List<SipMessage> messages) {
        List<String> lines = new ArrayList<>();
        for (SipMessage m : messages) {
            lines.add(m.startLine());
        }
        return lines.toString();
    }

    @Override
    public void close() {
        if (socket != null) {
            socket.close();
        }
        if (tcp != null) {
            try {
                tcp.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        if (ws != null) {
            ws.abort();
        }
    }
}
