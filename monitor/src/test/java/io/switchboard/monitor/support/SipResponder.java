package io.switchboard.monitor.support;

import io.switchboard.sip.codec.SipParser;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An in-process SIP device on loopback, UDP and TCP on one port number: answers OPTIONS with a
 * chosen status (optionally after a 100 Trying), or stays silent. Built on the sip module's parser
 * and messages (RFC 3261 §8.2.6: the response copies Via, From, To, Call-ID and CSeq).
 */
public final class SipResponder implements AutoCloseable {
    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private final AtomicInteger requests = new AtomicInteger();
    private volatile int status = 200;
    private volatile String reason = "OK";
    private volatile boolean silent;
    private volatile boolean tryingFirst;

    public SipResponder() throws IOException {
        ServerSocket server = null;
        DatagramSocket datagram = null;
        // the same port for both transports, as a device listens
        for (int i = 0; i < 20 && server == null; i++) {
            ServerSocket candidate = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            try {
                datagram = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), candidate.getLocalPort()));
                server = candidate;
            } catch (IOException e) {
                candidate.close();
            }
        }
        if (server == null) {
            throw new IOException("no port free for both UDP and TCP");
        }
        tcp = server;
        udp = datagram;
        Thread.ofVirtual().name("sip-udp").start(this::serveUdp);
        Thread.ofVirtual().name("sip-tcp").start(this::serveTcp);
    }

    public SipResponder answer(int status, String reason) {
        this.status = status;
        this.reason = reason;
        return this;
    }

    public SipResponder silent(boolean value) {
        silent = value;
        return this;
    }

    public SipResponder tryingFirst(boolean value) {
        tryingFirst = value;
        return this;
    }

    public int port() {
        return udp.getLocalPort();
    }

    public int requests() {
        return requests.get();
    }

    private void serveUdp() {
        byte[] buffer = new byte[65535];
        while (!udp.isClosed()) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                udp.receive(packet);
                SipMessage message = SipParser.parse(buffer, 0, packet.getLength(), true);
                if (!(message instanceof SipRequest request)) {
                    continue;
                }
                requests.incrementAndGet();
                if (silent) {
                    continue;
                }
                if (tryingFirst) {
                    byte[] trying = SipResponse.to(request, 100, "Trying").encode();
                    udp.send(new DatagramPacket(trying, trying.length, packet.getSocketAddress()));
                }
                byte[] answer = response(request);
                udp.send(new DatagramPacket(answer, answer.length, packet.getSocketAddress()));
            } catch (Exception e) {
                if (udp.isClosed()) {
                    return;
                }
            }
        }
    }

    private void serveTcp() {
        while (!tcp.isClosed()) {
            try {
                Socket socket = tcp.accept();
                Thread.ofVirtual().start(() -> serveConnection(socket));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serveConnection(Socket socket) {
        try (socket) {
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream head = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                head.write(b);
                String text = head.toString(StandardCharsets.ISO_8859_1);
                if (text.endsWith("\r\n\r\n")) {
                    SipMessage message = SipParser.parse(head.toByteArray(), 0, head.size(), false);
                    head.reset();
                    if (message instanceof SipRequest request) {
                        requests.incrementAndGet();
                        if (silent) {
                            continue;
                        }
                        if (tryingFirst) {
                            socket.getOutputStream().write(SipResponse.to(request, 100, "Trying").encode());
                        }
                        socket.getOutputStream().write(response(request));
                    }
                }
            }
        } catch (Exception e) {
            // the client went away
        }
    }

    private byte[] response(SipRequest request) {
        SipResponse response = SipResponse.to(request, status, reason);
        response.headers().add("Server", "Test Intercom 1.0");
        return response.encode();
    }

    @Override
    public void close() throws IOException {
        udp.close();
        tcp.close();
    }
}
