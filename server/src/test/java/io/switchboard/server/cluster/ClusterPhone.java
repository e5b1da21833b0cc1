package io.switchboard.server.cluster;

import io.switchboard.server.telephony.SipStream;
import io.switchboard.sip.codec.SipParseException;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A SIP phone on one TCP connection to the balancer that behaves like a real one when that
 * connection breaks: it connects again and re-registers at once (the flow recovery of RFC 5626
 * §4.4), under the same Call-ID with a higher CSeq (RFC 3261 §10.2.4) and the same Contact, so the
 * new registration replaces the old binding instead of adding one. Its Contact names no reachable
 * address ({@code .invalid} host): like a phone behind NAT, it can be reached only over the
 * connection it registered on, so a node must use that flow.
 *
 * <p>It answers by itself as a callee does: 200 to an INVITE (initial or re-INVITE, with our Contact
 * and the Record-Route copied, RFC 3261 §12.1.1), 200 to BYE, OPTIONS, INFO and UPDATE; as a caller
 * it sends INVITE, the ACK for a 2xx along the route set (§13.2.2.4), and requests in the dialog
 * (§12.2.1.1). Responses are matched by Call-ID, CSeq number and method.
 */
final class ClusterPhone implements AutoCloseable {
    final String user;
    private final int port;
    private final String contactHost = "p" + UUID.randomUUID().toString().substring(0, 8) + ".invalid";
    private final String registerCallId = UUID.randomUUID() + "@reg";
    private final String tag = "t" + UUID.randomUUID().toString().substring(0, 8);
    private final AtomicInteger cseq = new AtomicInteger(1);
    private final Map<String, CompletableFuture<SipResponse>> pending = new ConcurrentHashMap<>();
    private final List<Long> connectionLosses = Collections.synchronizedList(new ArrayList<>());
    private final List<Long> registrations = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger answered = new AtomicInteger();
    final AtomicInteger inDialogAnswered = new AtomicInteger();
    /** The Via headers (top first) of each request inside a dialog this phone answered, in arrival order. */
    final List<List<String>> inDialogVias = Collections.synchronizedList(new ArrayList<>());
    /** The calls this phone answered, by Call-ID: what it needs to send requests in them as the callee. */
    final Map<String, Dialog> answeredDialogs = new ConcurrentHashMap<>();
    private volatile Socket socket;
    private volatile boolean open = true;
    private volatile Thread keeper;

    ClusterPhone(String user, int balancerSipPort) {
        this.user = user;
        this.port = balancerSipPort;
    }

    String aor() {
        return "sip:" + user + "@" + ClusterUnderTest.DOMAIN;
    }

    private String contact() {
        return "<sip:" + user + "@" + contactHost + ";transport=tcp>";
    }

    /**
     * Connects and registers, and from then on keeps the registration: a thread reconnects and
     * re-registers whenever the connection breaks (retrying every 200 ms while the balancer has no
     * server for it), until {@link #close()}.
     */
    void start() {
        keeper = Thread.ofVirtual().name("phone-" + user).start(this::keep);
    }

    private void keep() {
        while (open) {
            Socket s;
            try {
                s = new Socket();
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 3000);
                s.setTcpNoDelay(true);
            } catch (IOException e) {
                pause(200);
                continue;
            }
            socket = s;
            Thread reader = Thread.ofVirtual().name("phone-rx-" + user).start(() -> receive(s));
            try {
                SipResponse ok = register(300);
                if (ok != null && ok.status() == 200) {
                    registrations.add(System.nanoTime());
                    reader.join(); // until the connection breaks
                } else {
                    pause(300);
                }
            } catch (InterruptedException e) {
                return;
            } catch (IOException | TimeoutException e) {
                pause(200);
            } finally {
                closeQuietly(s);
            }
            if (open) {
                connectionLosses.add(System.nanoTime());
            }
        }
    }

    private static void pause(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    private SipResponse register(int expires) throws IOException, InterruptedException, TimeoutException {
        int number = cseq.getAndIncrement();
        CompletableFuture<SipResponse> answer = expect(registerCallId, number, "REGISTER");
        send("REGISTER sip:" + ClusterUnderTest.DOMAIN + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n"
                + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + aor() + ">\r\nCall-ID: " + registerCallId + "\r\n"
                + "CSeq: " + number + " REGISTER\r\nContact: " + contact() + "\r\nExpires: " + expires
                + "\r\nContent-Length: 0\r\n\r\n");
        return await(answer, registerCallId, number, "REGISTER", Duration.ofSeconds(5));
    }

    /**
     * Closes the connection as a phone does when it decides to start a new flow: it reconnects
     * through the balancer (which may pick another node) and registers again.
     */
    void dropConnection() {
        Socket s = socket;
        if (s != null) {
            closeQuietly(s);
        }
    }

    /** Registers again over the current connection (REGISTER rate measurements); the status, 0 on no answer, -1 unsent. */
    int reRegister() throws InterruptedException {
        try {
            SipResponse r = register(300);
            return r.status();
        } catch (IOException e) {
            return -1;
        } catch (TimeoutException e) {
            return 0;
        }
    }

    /** Whether the phone is registered on a live connection now. */
    boolean isRegistered() {
        synchronized (registrations) {
            synchronized (connectionLosses) {
                long lastReg = registrations.isEmpty() ? 0 : registrations.getLast();
                long lastLoss = connectionLosses.isEmpty() ? 0 : connectionLosses.getLast();
                return lastReg != 0 && lastReg > lastLoss;
            }
        }
    }

    /** System.nanoTime() of the first successful registration after {@code since}, or -1. */
    long registeredAfter(long since) {
        synchronized (registrations) {
            return registrations.stream().filter(t -> t > since).findFirst().orElse(-1L);
        }
    }

    /** Whether this phone's connection broke after {@code since}. */
    boolean lostConnectionAfter(long since) {
        synchronized (connectionLosses) {
            return connectionLosses.stream().anyMatch(t -> t > since);
        }
    }

    private String via() {
        Socket s = socket;
        int local = s == null ? 0 : s.getLocalPort();
        return "Via: SIP/2.0/TCP 127.0.0.1:" + local + ";rport;branch=z9hG4bK" + UUID.randomUUID().toString().substring(0, 12);
    }

    private void send(String message) throws IOException {
        Socket s = socket;
        if (s == null || s.isClosed()) {
            throw new IOException("not connected");
        }
        OutputStream out = s.getOutputStream();
        synchronized (this) {
            out.write(message.getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private CompletableFuture<SipResponse> expect(String callId, int number, String method) {
        CompletableFuture<SipResponse> f = new CompletableFuture<>();
        pending.put(callId + " " + number + " " + method, f);
        return f;
    }

    private SipResponse await(CompletableFuture<SipResponse> f, String callId, int number, String method, Duration within)
            throws InterruptedException, TimeoutException {
        try {
            return f.get(within.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            pending.remove(callId + " " + number + " " + method);
        }
    }

    /** Reads the connection's messages until it breaks, handing each to {@link #accept}. */
    private void receive(Socket s) {
        try {
            InputStream in = new BufferedInputStream(s.getInputStream());
            byte[] message;
            while ((message = SipStream.readMessage(in)) != null) {
                accept(message);
            }
        } catch (IOException e) {
            // the connection broke: keep() reconnects
        } finally {
            closeQuietly(s);
        }
    }

    private void accept(byte[] data) {
        SipMessage message;
        try {
            message = SipParser.parse(data);
        } catch (RuntimeException | SipParseException e) {
            return; // not SIP: ignored, as a phone would
        }
        if (message instanceof SipResponse r) {
            if (r.status() >= 200) {
                CompletableFuture<SipResponse> f = pending.get(r.callId() + " " + r.cseq().number() + " " + r.cseq().method());
                if (f != null) {
                    f.complete(r);
                }
            }
            return;
        }
        SipRequest request = (SipRequest) message;
        try {
            switch (request.method()) {
                case SipRequest.ACK -> {
                    // ends the INVITE server transaction: nothing to answer
                }
                case SipRequest.INVITE -> {
                    boolean reInvite = request.to() != null && request.to().tag() != null;
                    String toTag = reInvite ? null : "c" + UUID.randomUUID().toString().substring(0, 8);
                    if (toTag != null) {
                        // RFC 3261 §12.1.1: the callee's route set is the Record-Route as received,
                        // its remote target the caller's Contact
                        answeredDialogs.put(request.callId(), new Dialog(request.callId(),
                                request.headers().values(HeaderNames.RECORD_ROUTE),
                                NameAddress.parse(request.headers().get(HeaderNames.CONTACT)).uri().toString(),
                                request.headers().get(HeaderNames.TO) + ";tag=" + toTag,
                                request.headers().get(HeaderNames.FROM)));
                    } else {
                        inDialogVias.add(request.headers().values(HeaderNames.VIA));
                    }
                    send(response(request, 200, "OK", toTag));
                    (reInvite ? inDialogAnswered : answered).incrementAndGet();
                }
                case SipRequest.BYE, "INFO", "UPDATE", SipRequest.OPTIONS -> {
                    if (request.to() != null && request.to().tag() != null) {
                        inDialogVias.add(request.headers().values(HeaderNames.VIA));
                    }
                    send(response(request, 200, "OK", null));
                    inDialogAnswered.incrementAndGet();
                }
                default -> send(response(request, 501, "Not Implemented", null));
            }
        } catch (IOException e) {
            // the connection broke while answering: the caller's transaction times out
        }
    }

    /** Our response to a request: Vias, From, To (tagged when new), Call-ID, CSeq copied; a 2xx to INVITE has Contact and Record-Route. */
    private String response(SipRequest request, int status, String reason, String toTag) {
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

    /** A call this phone placed or answered: what it needs for requests inside the dialog. */
    final class Dialog {
        final String callId;
        final List<String> routeSet;
        final String remoteTarget;
        /** This side's From in its requests (its address with its tag) and To (the other side's). */
        final String fromHeader;
        final String toHeader;

        Dialog(String callId, List<String> routeSet, String remoteTarget, String fromHeader, String toHeader) {
            this.callId = callId;
            this.routeSet = List.copyOf(routeSet);
            this.remoteTarget = remoteTarget;
            this.fromHeader = fromHeader;
            this.toHeader = toHeader;
        }

        /**
         * Sends {@code method} in the dialog and returns the final status, 0 when no final answer
         * came within {@code within}, or -1 when it could not be sent (no connection). A
         * re-INVITE's 2xx is ACKed.
         */
        int request(String method, Duration within) throws InterruptedException {
            int number = cseq.getAndIncrement();
            CompletableFuture<SipResponse> answer = expect(callId, number, method);
            StringBuilder m = new StringBuilder(method + " " + remoteTarget + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n");
            for (String route : routeSet) {
                m.append("Route: ").append(route).append("\r\n");
            }
            m.append("From: ").append(fromHeader).append("\r\nTo: ").append(toHeader)
                    .append("\r\nCall-ID: ").append(callId).append("\r\nCSeq: ").append(number).append(' ').append(method)
                    .append("\r\n");
            if (method.equals(SipRequest.INVITE)) {
                m.append("Contact: ").append(contact()).append("\r\n");
            }
            m.append("Content-Length: 0\r\n\r\n");
            try {
                send(m.toString());
                SipResponse r = await(answer, callId, number, method, within);
                if (method.equals(SipRequest.INVITE) && r.status() / 100 == 2) {
                    send(ack(number));
                }
                return r.status();
            } catch (IOException e) {
                pending.remove(callId + " " + number + " " + method);
                return -1;
            } catch (TimeoutException e) {
                return 0;
            }
        }

        /**
         * Sends {@code method} in the dialog until a final answer comes, as a UA whose flow broke
         * does after recovering it (RFC 5626 §4.4): when the request could not be sent or got no
         * answer, it waits until registered again and sends it anew, at most {@code attempts} times.
         * Returns the last status and how many sendings it took.
         */
        int[] requestUntilAnswered(String method, int attempts) throws InterruptedException {
            int status = 0;
            for (int attempt = 1; attempt <= attempts; attempt++) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!isRegistered() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                status = request(method, Duration.ofSeconds(8));
                if (status > 0) {
                    return new int[] {status, attempt};
                }
            }
            return new int[] {status, attempts};
        }

        /**
         * Sends a request other than INVITE in the dialog on a connection of its own, opened to the
         * address of the first Route entry (RFC 3261 §8.1.2 and §18.1.1: a loose route is sent to
         * its URI's host and port), as baresip does, and returns the final status (0: none within
         * {@code within}). Returns -1 when that entry names no address on this host's loopback.
         */
        int requestOnNewConnection(String method, Duration within) throws IOException {
            return requestOnNewConnection(method, within, null);
        }

        /**
         * As {@link #requestOnNewConnection(String, Duration)}, but the connection the balancer
         * would make is made here, to the node at {@code node}: from the balancer's own address
         * ({@link ClusterUnderTest#BALANCER_SOURCE}), with the PROXY v2 header HAProxy's
         * {@code send-proxy-v2} writes (this phone's address, and the first Route entry's address
         * as the one it connected to), so the test decides which node a new connection reaches.
         */
        int requestOnNewConnection(String method, Duration within, InetSocketAddress node) throws IOException {
            if (routeSet.isEmpty()) {
                return -1;
            }
            io.switchboard.sip.message.SipUri first = NameAddress.parse(routeSet.getFirst()).uri();
            InetAddress host = InetAddress.getByName(first.host().replace("[", "").replace("]", ""));
            if (!host.isLoopbackAddress() || !(host instanceof java.net.Inet4Address)) {
                return -1; // a test sends only to loopback (and the PROXY header below is IPv4's)
            }
            InetSocketAddress routeAddress = new InetSocketAddress(host, first.port() > 0 ? first.port() : 5060);
            int number = cseq.getAndIncrement();
            try (Socket s = new Socket()) {
                if (node == null) {
                    s.connect(routeAddress, 3000);
                } else {
                    s.bind(new InetSocketAddress(InetAddress.getByName(ClusterUnderTest.BALANCER_SOURCE), 0));
                    s.connect(node, 3000);
                    s.getOutputStream().write(proxyV2(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                            s.getLocalPort()), routeAddress));
                }
                s.setSoTimeout((int) within.toMillis());
                StringBuilder m = new StringBuilder(method + " " + remoteTarget + " SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:"
                        + s.getLocalPort() + ";rport;branch=z9hG4bK" + UUID.randomUUID().toString().substring(0, 12)
                        + "\r\nMax-Forwards: 70\r\n");
                for (String route : routeSet) {
                    m.append("Route: ").append(route).append("\r\n");
                }
                m.append("From: ").append(fromHeader).append("\r\nTo: ").append(toHeader)
                        .append("\r\nCall-ID: ").append(callId).append("\r\nCSeq: ").append(number).append(' ')
                        .append(method).append("\r\nContent-Length: 0\r\n\r\n");
                s.getOutputStream().write(m.toString().getBytes(StandardCharsets.UTF_8));
                s.getOutputStream().flush();
                InputStream in = new BufferedInputStream(s.getInputStream());
                long deadline = System.nanoTime() + within.toNanos();
                byte[] data;
                while (System.nanoTime() < deadline && (data = SipStream.readMessage(in)) != null) {
                    SipMessage message;
                    try {
                        message = SipParser.parse(data);
                    } catch (RuntimeException | SipParseException e) {
                        continue;
                    }
                    if (message instanceof SipResponse r && r.status() >= 200 && r.cseq().number() == number) {
                        return r.status();
                    }
                }
                return 0;
            } catch (java.net.SocketTimeoutException e) {
                return 0;
            }
        }

        private String ack(int number) {
            StringBuilder m = new StringBuilder("ACK " + remoteTarget + " SIP/2.0\r\n" + via() + "\r\nMax-Forwards: 70\r\n");
            for (String route : routeSet) {
                m.append("Route: ").append(route).append("\r\n");
            }
            return m.append("From: ").append(fromHeader).append("\r\nTo: ").append(toHeader)
                    .append("\r\nCall-ID: ").append(callId).append("\r\nCSeq: ").append(number).append(" ACK\r\n")
                    .append("Content-Length: 0\r\n\r\n").toString();
        }
    }

    /** A PROXY protocol v2 header (HAProxy's proxy-protocol.txt §2.2): the PROXY command, TCP over IPv4. */
    private static byte[] proxyV2(InetSocketAddress source, InetSocketAddress destination) {
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(28);
        header.put(new byte[] {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});
        header.put((byte) 0x21); // version 2, PROXY
        header.put((byte) 0x11); // AF_INET, STREAM
        header.putShort((short) 12);
        header.put(source.getAddress().getAddress());
        header.put(destination.getAddress().getAddress());
        header.putShort((short) source.getPort());
        header.putShort((short) destination.getPort());
        return header.array();
    }

    /** The outcome of an INVITE: the final status (0: none in time, -1: not sent) and, for a 2xx, the dialog. */
    record CallResult(int status, Dialog dialog) {
    }

    /** Calls {@code callee} and, when answered, ACKs the 2xx (RFC 3261 §13.2.2.4). */
    CallResult call(ClusterPhone callee, Duration within) throws InterruptedException {
        String callId = UUID.randomUUID() + "@call";
        String target = callee.aor();
        int number = cseq.getAndIncrement();
        CompletableFuture<SipResponse> answer = expect(callId, number, SipRequest.INVITE);
        String via = via();
        try {
            send("INVITE " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\n"
                    + "From: <" + aor() + ">;tag=" + tag + "\r\nTo: <" + target + ">\r\nCall-ID: " + callId + "\r\n"
                    + "CSeq: " + number + " INVITE\r\nContact: " + contact() + "\r\n"
                    + "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n");
            SipResponse r = await(answer, callId, number, SipRequest.INVITE, within);
            if (r.status() / 100 != 2) {
                // RFC 3261 §17.1.1.3: the ACK for a failure is part of the INVITE transaction (same Via)
                send("ACK " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\nFrom: <" + aor() + ">;tag=" + tag
                        + "\r\nTo: " + r.headers().get(HeaderNames.TO) + "\r\nCall-ID: " + callId + "\r\nCSeq: " + number
                        + " ACK\r\nContent-Length: 0\r\n\r\n");
                return new CallResult(r.status(), null);
            }
            List<String> rr = new ArrayList<>(r.headers().values(HeaderNames.RECORD_ROUTE));
            Collections.reverse(rr);
            Dialog dialog = new Dialog(callId, rr, NameAddress.parse(r.headers().get(HeaderNames.CONTACT)).uri().toString(),
                    "<" + aor() + ">;tag=" + tag, r.headers().get(HeaderNames.TO));
            send(dialog.ack(number));
            return new CallResult(r.status(), dialog);
        } catch (IOException e) {
            pending.remove(callId + " " + number + " " + SipRequest.INVITE);
            return new CallResult(-1, null);
        } catch (TimeoutException e) {
            return new CallResult(0, null);
        }
    }

    @Override
    public void close() {
        open = false;
        Socket s = socket;
        if (s != null) {
            closeQuietly(s);
        }
        Thread k = keeper;
        if (k != null) {
            k.interrupt();
        }
    }

    @Override
    public String toString() {
        return user;
    }
}
