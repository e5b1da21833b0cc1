package io.switchboard.telephony.registrar;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.telephony.auth.DigestClient;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

/** A softphone reduced to REGISTER: builds requests, answers challenges, reads responses. */
final class TestPhone implements AutoCloseable {
    final DatagramSocket socket;
    final String user;
    final String password;
    final int serverPort;
    final String domain;
    String callId = UUID.randomUUID() + "@phone";
    int cseq = 1;
    int nc = 1;

    TestPhone(String user, String password, int serverPort) throws IOException {
        this(user, password, serverPort, RegistrarFixture.DOMAIN);
    }

    TestPhone(String user, String password, int serverPort, String domain) throws IOException {
        this(user, password, serverPort, domain, InetAddress.getLoopbackAddress());
    }

    /** A phone sending from {@code local} (another loopback address, 127.0.0.2, say: another device). */
    TestPhone(String user, String password, int serverPort, String domain, InetAddress local) throws IOException {
        this.domain = domain;
        this.socket = new DatagramSocket(new InetSocketAddress(local, 0));
        this.user = user;
        this.password = password;
        this.serverPort = serverPort;
    }

    String contact() {
        return "<sip:" + user + "@127.0.0.1:" + socket.getLocalPort() + ">";
    }

    String register(String contactHeaders, String expiresHeader, String authorization) {
        StringBuilder r = new StringBuilder();
        r.append("REGISTER sip:").append(domain).append(" SIP/2.0\r\n");
        r.append("Via: SIP/2.0/UDP 127.0.0.1:").append(socket.getLocalPort()).append(";rport;branch=z9hG4bK")
                .append(UUID.randomUUID().toString(), 0, 12).append("\r\n");
        r.append("Max-Forwards: 70\r\n");
        r.append("From: <sip:").append(user).append('@').append(domain).append(">;tag=f").append(cseq).append("\r\n");
        r.append("To: <sip:").append(user).append('@').append(domain).append(">\r\n");
        r.append("Call-ID: ").append(callId).append("\r\n");
        r.append("CSeq: ").append(cseq++).append(" REGISTER\r\n");
        if (contactHeaders != null) {
            r.append(contactHeaders).append("\r\n");
        }
        if (expiresHeader != null) {
            r.append("Expires: ").append(expiresHeader).append("\r\n");
        }
        if (authorization != null) {
            r.append("Authorization: ").append(authorization).append("\r\n");
        }
        r.append("User-Agent: TestPhone\r\nContent-Length: 0\r\n\r\n");
        return r.toString();
    }

    SipResponse send(String request) throws Exception {
        return send(request.getBytes(StandardCharsets.UTF_8));
    }

    /** Sends these bytes as they are (octets that are not UTF-8, say) and returns the response. */
    SipResponse send(byte[] data) throws Exception {
        String request = new String(data, StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), serverPort));
        socket.setSoTimeout(3000);
        byte[] buffer = new byte[65535];
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
            socket.receive(packet);
        } catch (SocketTimeoutException e) {
            throw new AssertionError("no response to " + request.lines().findFirst().orElse(""));
        }
        return (SipResponse) SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
    }

    /** REGISTER, answer the 401 with the challenge for {@code algorithm}, return the final response. */
    SipResponse registerWithAuth(String contactHeaders, String expires, String algorithm) throws Exception {
        SipResponse challenge = send(register(contactHeaders, expires, null));
        if (challenge.status() != 401) {
            return challenge;
        }
        List<String> challenges = challenge.headers().fields("WWW-Authenticate");
        String chosen = challenges.stream().filter(c -> c.contains("algorithm=" + algorithm)).findFirst().orElseThrow();
        String uri = "sip:" + domain;
        return send(register(contactHeaders, expires,
                DigestClient.authorization(chosen, user, password, "REGISTER", uri, nc++, "c" + cseq)));
    }

    /**
     * An INVITE from this phone's user to {@code target}, with a Proxy-Authorization value when one is
     * given; returns the final response (provisional ones and strays skipped) after ACKing a non-2xx
     * one (RFC 3261 §17.1.1.3), so its retransmissions stop.
     */
    SipResponse invite(String target, String proxyAuthorization) throws Exception {
        String inviteCallId = UUID.randomUUID() + "@call";
        String via = "Via: SIP/2.0/UDP 127.0.0.1:" + socket.getLocalPort() + ";rport;branch=z9hG4bK"
                + UUID.randomUUID().toString().substring(0, 12);
        String from = "From: <sip:" + user + "@" + domain + ">;tag=i" + cseq;
        String request = "INVITE " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\n" + from + "\r\n"
                + "To: <" + target + ">\r\nCall-ID: " + inviteCallId + "\r\nCSeq: 1 INVITE\r\n"
                + "Contact: " + contact() + "\r\n"
                + (proxyAuthorization == null ? "" : "Proxy-Authorization: " + proxyAuthorization + "\r\n")
                + "Content-Length: 0\r\n\r\n";
        cseq++;
        byte[] data = request.getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), serverPort));
        socket.setSoTimeout(3000);
        byte[] buffer = new byte[65535];
        while (true) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("no final response to INVITE " + target);
            }
            if (!(SipParser.parse(java.util.Arrays.copyOf(packet.getData(), packet.getLength())) instanceof SipResponse r)
                    || !inviteCallId.equals(r.callId()) || r.status() < 200) {
                continue;
            }
            if (r.status() >= 300) {
                String ack = "ACK " + target + " SIP/2.0\r\n" + via + "\r\nMax-Forwards: 70\r\n" + from + "\r\n"
                        + "To: " + r.header("To") + "\r\nCall-ID: " + inviteCallId + "\r\nCSeq: 1 ACK\r\n"
                        + "Content-Length: 0\r\n\r\n";
                byte[] ackData = ack.getBytes(StandardCharsets.UTF_8);
                socket.send(new DatagramPacket(ackData, ackData.length, InetAddress.getLoopbackAddress(), serverPort));
            }
            return r;
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
