package io.switchboard.telephony.proxy;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether an address is on one of this host's interfaces now. A floating address moves between
 * hosts (keepalived adds it to the holder's interface), so the answer changes; it is remembered for
 * a second, as reading the interfaces costs a system call per interface and calls may come fast.
 */
class LocalAddresses {
    private static final long REMEMBER_NANOS = 1_000_000_000L;
    private static final int MAX_REMEMBERED = 1_024;

    private record Answer(boolean held, long readAt) {
    }

    private final Map<InetAddress, Answer> answers = new ConcurrentHashMap<>();

    boolean holds(InetAddress address) {
        long now = System.nanoTime();
        Answer answer = answers.get(address);
        if (answer != null && now - answer.readAt() < REMEMBER_NANOS) {
            return answer.held();
        }
        boolean held = read(address);
        if (answers.size() >= MAX_REMEMBERED) {
            answers.clear();
        }
        answers.put(address, new Answer(held, now));
        return held;
    }

    /** Reads the interfaces: overridden by tests. */
    boolean read(InetAddress address) {
        try {
            return NetworkInterface.getByInetAddress(address) != null;
        } catch (SocketException e) {
            return false;
        }
    }
}
