package io.switchboard.sip.transaction;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** A plain UDP socket on 127.0.0.1 playing the remote SIP peer in tests. */
final class LoopbackPeer implements AutoCloseable {
    final DatagramSocket socket;

    LoopbackPeer() throws IOException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    int port() {
        return socket.getLocalPort();
    }

    void send(String text, int port) throws IOException {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        socket.send(new DatagramPacket(data, data.length, InetAddress.getLoopbackAddress(), port));
    }

    /** The next datagram as text, or null after {@code millis}. */
    String receive(int millis) throws IOException {
        socket.setSoTimeout(millis);
        byte[] buffer = new byte[65535];
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
            socket.receive(packet);
        } catch (SocketTimeoutException e) {
            return null;
        }
        return new String(packet.getData(), 0, packet.getLength(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        socket.close();
    }
}
