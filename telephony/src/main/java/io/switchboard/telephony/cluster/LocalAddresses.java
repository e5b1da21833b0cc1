package io.switchboard.telephony.cluster;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Whether an address is on one of this host's interfaces now. A floating address moves between
 * hosts (keepalived adds it to the holder's interface), so an answer is kept only 100 ms: reading
 * walks every interface, which a burst of calls to devices registered to a specific UDP address
 * should not pay for each, while an older answer would send calls the wrong way after a move for
 * longer than a phone's first retransmission (500 ms, RFC 3261 §17.1.1.2).
 */
public class LocalAddresses {
    private static final long REMEMBER_NANOS = 100_000_000L;
    private static final int MAX_REMEMBERED = 1_024;

    private record Answer(boolean held, long readAt) {
    }

    private final Map<InetAddress, Answer> answers = new ConcurrentHashMap<>();

    public boolean holds(InetAddress address) {
        long now = System.nanoTime();
        Answer answer = answers.get(address);
        if (answer != null && now - answer.readAt() < REMEMBER_NANOS) {
            return answer.held();
        }
        return holdsNow(address);
    }

    /**
     * As {@link #holds}, read from the interfaces now: for a "no" that would send a request the
     * long way (through another node), where an answer up to 100 ms old could be from just before
     * the address arrived here (the other node, losing it, can no longer send from it).
     */
    public boolean holdsNow(InetAddress address) {
        long now = System.nanoTime();
        boolean held;
        try {
            held = NetworkInterface.getByInetAddress(address) != null;
        } catch (SocketException e) {
            held = false;
        }
        if (answers.size() >= MAX_REMEMBERED) {
            answers.clear();
        }
        answers.put(address, new Answer(held, now));
        return held;
    }
}
