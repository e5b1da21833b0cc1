package io.switchboard.monitor.support;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * A tiny authoritative DNS server on loopback UDP, built with dnsjava's Message API: answers the
 * records it was given, NXDOMAIN for names it does not know, or nothing at all when told to be silent.
 */
public final class DnsResponder implements AutoCloseable {
    private final DatagramSocket socket;
    private final Map<String, List<Record>> records = new ConcurrentHashMap<>();
    private final AtomicInteger queries = new AtomicInteger();
    private final Thread thread;
    private volatile boolean silent;

    public DnsResponder() throws SocketException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        thread = Thread.ofVirtual().name("dns-responder").start(this::serve);
    }

    /** Adds records from zone-file lines, e.g. {@code "shop.test. 60 IN A 192.0.2.10"}. */
    public DnsResponder zone(String... lines) throws IOException {
        for (String line : lines) {
            String[] parts = line.split("\\s+", 5);
            Name name = Name.fromString(parts[0]);
            int type = Type.value(parts[3]);
            Record record = Record.fromString(name, type, DClass.IN, Long.parseLong(parts[1]), parts[4], Name.root);
            records.computeIfAbsent(key(name, type), k -> new java.util.concurrent.CopyOnWriteArrayList<>()).add(record);
            records.putIfAbsent(key(name, -1), List.of());
        }
        return this;
    }

    public void silent(boolean value) {
        silent = value;
    }

    public String address() {
        return "127.0.0.1:" + socket.getLocalPort();
    }

    public int queries() {
        return queries.get();
    }

    private static String key(Name name, int type) {
        return name.toString().toLowerCase() + "/" + type;
    }

    private void serve() {
        byte[] buffer = new byte[4096];
        while (!socket.isClosed()) {
            DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
            try {
                socket.receive(packet);
            } catch (IOException e) {
                return;
            }
            queries.incrementAndGet();
            if (silent) {
                continue;
            }
            try {
                Message query = new Message(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
                Record question = query.getQuestion();
                Message response = new Message(query.getHeader().getID());
                response.getHeader().setFlag(Flags.QR);
                response.getHeader().setFlag(Flags.AA);
                response.addRecord(question, Section.QUESTION);
                List<Record> answers = records.get(key(question.getName(), question.getType()));
                if (answers != null) {
                    answers.forEach(r -> response.addRecord(r, Section.ANSWER));
                } else if (!records.containsKey(key(question.getName(), -1))) {
                    response.getHeader().setRcode(Rcode.NXDOMAIN);
                }
                byte[] wire = response.toWire();
                socket.send(new DatagramPacket(wire, wire.length, packet.getSocketAddress()));
            } catch (IOException | RuntimeException e) {
                // a query it cannot parse gets no answer, like a real server under garbage
            }
        }
    }

    @Override
    public void close() throws InterruptedException {
        socket.close();
        thread.join(2000);
    }
}
