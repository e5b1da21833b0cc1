package io.switchboard.monitor.check;

import io.switchboard.monitor.definition.CheckOptions;
import io.switchboard.monitor.definition.DurationText;
import io.switchboard.monitor.definition.MonitorDefinition;
import io.switchboard.monitor.definition.Targets;
import io.switchboard.platform.config.HostPort;
import io.switchboard.sip.codec.SipParseException;
import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.CSeq;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.transaction.TimerSettings;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SIP check: an OPTIONS request (RFC 3261 §11) to a SIP URI over UDP or TCP, as a client
 * transaction of its own: over UDP the request is retransmitted on Timer E, starting at T1 and
 * doubling up to T2, and every T2 once a provisional response came (§17.1.2.2); the transaction
 * ends at the first final response or at the monitor's timeout (in place of Timer F). Any final
 * response means the device is alive (§11.2: a UAS answers OPTIONS as it would an INVITE, so 404
 * or 486 still shows a working SIP stack) unless {@code expectStatus} narrows it. The latency is
 * the round trip from the first transmission to the final response.
 */
public final class SipOptionsCheck implements Check {
    /** RFC 3261 §17.1.1.1 T1 and T2, from the SIP library's timer settings. */
    private static final TimerSettings TIMERS = TimerSettings.rfc3261();
    private static final int MAX_MESSAGE = 65_535;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Clock clock;

    public SipOptionsCheck(Clock clock) {
        this.clock = clock;
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) throws InterruptedException {
        CheckOptions.Sip options = (CheckOptions.Sip) monitor.options();
        SipUri uri = Targets.sipUri(monitor.target());
        String host = uri.hostAddress();
        int port = uri.port() > 0 ? uri.port() : 5060; // RFC 3263 §4.2 would ask DNS SRV; a device is usually given as host:port
        Instant startedAt = clock.instant();
        long begin = System.nanoTime();
        long deadline = begin + monitor.timeout().toNanos();
        List<String> worked = new ArrayList<>();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("transport", options.transport());
        InetAddress address;
        try {
            address = InetAddress.getByName(host);
        } catch (IOException e) {
            return CheckResult.down(startedAt, elapsed(begin), FailureText.of(e, host, port, monitor.timeout()), worked, details);
        }
        if (!address.getHostAddress().equals(host)) {
            worked.add("the name " + host + " resolved to " + address.getHostAddress());
        }
        String branch = Via.MAGIC_COOKIE + hex(8); // RFC 3261 §8.1.1.7
        Exchange exchange = new Exchange(branch);
        try {
            if (options.transport().equals("tcp")) {
                overTcp(uri, address, port, deadline, exchange, worked);
            } else {
                overUdp(uri, address, port, deadline, exchange);
            }
        } catch (PortUnreachableException e) {
            return CheckResult.down(startedAt, elapsed(begin), "nothing listens on " + address.getHostAddress() + " UDP port "
                    + port + " (the host said the port is closed)", worked, details);
        } catch (SocketTimeoutException e) {
            details.put("retransmissions", exchange.retransmissions);
            String said = exchange.provisional == null ? "no answer at all"
                    : "only a provisional " + exchange.provisional.status() + " " + exchange.provisional.reason();
            return CheckResult.down(startedAt, elapsed(begin), "the SIP device at " + HostPort.format(address.getHostAddress(), port)
                    + " gave no final answer to OPTIONS within " + DurationText.spoken(monitor.timeout()) + " (" + said
                    + (exchange.retransmissions > 0 ? ", after " + exchange.retransmissions + " retransmissions" : "") + ")",
                    worked, details);
        } catch (IOException e) {
            FailureText.noteReachable(e, address.getHostAddress(), worked);
            return CheckResult.down(startedAt, elapsed(begin), FailureText.of(e, address.getHostAddress(), port, monitor.timeout()),
                    worked, details);
        }
        SipResponse response = exchange.finalResponse;
        long rtt = (exchange.answeredAt - exchange.firstSentAt) / 1_000_000;
        details.put("status", response.status());
        details.put("reason", response.reason());
        details.put("rttMs", rtt);
        details.put("retransmissions", exchange.retransmissions);
        String agent = response.header(HeaderNames.SERVER) != null ? response.header(HeaderNames.SERVER)
                : response.header(HeaderNames.USER_AGENT);
        if (agent != null) {
            details.put("server", agent);
        }
        String answer = response.status() + " " + response.reason();
        if (options.expectStatus() != null && !options.expectStatus().contains(response.status())) {
            worked.add("the SIP device answered (" + answer + ")");
            return CheckResult.down(startedAt, rtt, "the SIP device answered OPTIONS with " + answer + "; expected "
                    + options.expectStatus(), worked, details);
        }
        worked.add("the SIP device answered OPTIONS with " + answer + " in " + rtt + " ms");
        if (monitor.degradedAbove() != null && rtt > monitor.degradedAbove().toMillis()) {
            return new CheckResult(CheckStatus.DEGRADED, startedAt, rtt, "answered in " + rtt + " ms, slower than the "
                    + DurationText.spoken(monitor.degradedAbove()) + " threshold", worked, details);
        }
        return new CheckResult(CheckStatus.UP, startedAt, rtt, null, worked, details);
    }

    /** The state of one OPTIONS client transaction. */
    private static final class Exchange {
        final String branch;
        long firstSentAt;
        long answeredAt;
        int retransmissions;
        SipResponse provisional;
        SipResponse finalResponse;

        Exchange(String branch) {
            this.branch = branch;
        }

        /** True when the message is the final response to our request (RFC 3261 §17.1.3 matching). */
        boolean accept(SipMessage message) {
            if (!(message instanceof SipResponse response)) {
                return false;
            }
            Via via = response.topVia();
            CSeq cseq = response.cseq();
            if (via == null || !branch.equals(via.branch()) || cseq == null || !SipRequest.OPTIONS.equals(cseq.method())) {
                return false;
            }
            if (response.isProvisional()) {
                provisional = response;
                return false;
            }
            finalResponse = response;
            answeredAt = System.nanoTime();
            return true;
        }
    }

    private static void overUdp(SipUri uri, InetAddress address, int port, long deadline, Exchange exchange)
            throws IOException {
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.connect(new InetSocketAddress(address, port));
            byte[] request = options(uri, "UDP", socket.getLocalAddress(), socket.getLocalPort(), exchange.branch);
            DatagramPacket out = new DatagramPacket(request, request.length);
            byte[] buffer = new byte[MAX_MESSAGE];
            DatagramPacket in = new DatagramPacket(buffer, buffer.length);
            long t2 = TIMERS.t2().toMillis();
            long interval = TIMERS.t1().toMillis();
            socket.send(out);
            exchange.firstSentAt = System.nanoTime();
            long nextSend = exchange.firstSentAt + interval * 1_000_000;
            while (true) {
                long now = System.nanoTime();
                if (now >= deadline) {
                    throw new SocketTimeoutException("no final response");
                }
                if (now >= nextSend) {
                    socket.send(out);
                    exchange.retransmissions++;
                    // §17.1.2.2: double up to T2; after a provisional response, retransmit every T2
                    interval = exchange.provisional != null ? t2 : Math.min(interval * 2, t2);
                    nextSend = now + interval * 1_000_000;
                }
                long wait = Math.max(1, (Math.min(nextSend, deadline) - System.nanoTime()) / 1_000_000);
                socket.setSoTimeout((int) wait);
                try {
                    socket.receive(in);
                } catch (SocketTimeoutException e) {
                    continue;
                }
                SipMessage message;
                try {
                    message = SipParser.parse(buffer, 0, in.getLength(), true);
                } catch (SipParseException | RuntimeException e) {
                    continue; // not a SIP message for us: keep waiting
                }
                if (exchange.accept(message)) {
                    return;
                }
            }
        }
    }

    private static void overTcp(SipUri uri, InetAddress address, int port, long deadline, Exchange exchange,
                                List<String> worked) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(address, port), remaining(deadline));
            worked.add("TCP port " + port + " accepted the connection");
            byte[] request = options(uri, "TCP", socket.getLocalAddress(), socket.getLocalPort(), exchange.branch);
            socket.getOutputStream().write(request);
            socket.getOutputStream().flush();
            exchange.firstSentAt = System.nanoTime();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream pending = new ByteArrayOutputStream();
            byte[] chunk = new byte[8192];
            while (true) {
                socket.setSoTimeout(remaining(deadline));
                int n = in.read(chunk);
                if (n < 0) {
                    throw new IOException("end of stream: the device closed the connection without a final answer");
                }
                pending.write(chunk, 0, n);
                if (pending.size() > MAX_MESSAGE * 2) {
                    throw new IOException("the device sent more than " + MAX_MESSAGE + " bytes without a complete SIP message");
                }
                byte[] data;
                int length;
                // RFC 3261 §18.3: over a stream, Content-Length frames each message
                while ((length = frameLength(data = pending.toByteArray())) > 0) {
                    SipMessage message;
                    try {
                        message = SipParser.parse(data, 0, length, false);
                    } catch (SipParseException e) {
                        throw new IOException("the device answered with a malformed SIP message: " + e.getMessage());
                    }
                    pending.reset();
                    pending.write(data, length, data.length - length);
                    if (exchange.accept(message)) {
                        return;
                    }
                }
            }
        }
    }

    /** The length of the first complete message in {@code data}, or 0 when it is not all there yet. */
    static int frameLength(byte[] data) {
        String text = new String(data, StandardCharsets.ISO_8859_1);
        int start = 0;
        while (start < text.length() && (text.charAt(start) == '\r' || text.charAt(start) == '\n')) {
            start++; // RFC 5626 §3.5.1 keep-alive CRLFs
        }
        int end = text.indexOf("\r\n\r\n", start);
        if (end < 0) {
            return 0;
        }
        int contentLength = 0;
        for (String line : text.substring(start, end).split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                String name = line.substring(0, colon).strip();
                if (name.equalsIgnoreCase("Content-Length") || name.equals("l")) {
                    try {
                        contentLength = Integer.parseInt(line.substring(colon + 1).strip());
                    } catch (NumberFormatException e) {
                        contentLength = 0;
                    }
                }
            }
        }
        int total = end + 4 + contentLength;
        return data.length >= total ? total : 0;
    }

    static byte[] options(SipUri uri, String transport, InetAddress local, int localPort, String branch) {
        String localHost = local.getHostAddress().contains(":") ? "[" + local.getHostAddress() + "]" : local.getHostAddress();
        SipRequest request = new SipRequest(SipRequest.OPTIONS, uri.withoutHeaders());
        request.headers()
                .add(HeaderNames.VIA, "SIP/2.0/" + transport + " " + localHost + ":" + localPort + ";branch=" + branch + ";rport")
                .add(HeaderNames.MAX_FORWARDS, "70")
                .add(HeaderNames.FROM, "<sip:monitor@" + localHost + ">;tag=" + hex(6))
                .add(HeaderNames.TO, "<" + uri.withoutHeaders() + ">")
                .add(HeaderNames.CALL_ID, hex(12) + "@switchboard-monitor")
                .add(HeaderNames.CSEQ, "1 " + SipRequest.OPTIONS)
                .add("Accept", "application/sdp")
                .add(HeaderNames.USER_AGENT, "Switchboard-Monitor/1.0");
        return request.encode();
    }

    private static int remaining(long deadline) throws SocketTimeoutException {
        long ms = (deadline - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new SocketTimeoutException("timed out");
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }

    private static String hex(int bytes) {
        byte[] random = new byte[bytes];
        RANDOM.nextBytes(random);
        return HexFormat.of().formatHex(random);
    }

    private static long elapsed(long begin) {
        return (System.nanoTime() - begin) / 1_000_000;
    }
}
