package io.switchboard.telephony.sip;

import io.switchboard.platform.config.HostPort;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log line for what the node refused from a SIP peer (a wrong password, a REGISTER for
 * another's address, malformed or flooding input), so that whoever looks for why a door panel does
 * not register finds the reason in the log, not only in a counter. At most {@value #LINES_PER_MINUTE}
 * lines a minute per source (an IPv4 address, or an IPv6 /64, which one sender has whole; phones
 * behind one NAT share one) and {@value #ALL_LINES_PER_MINUTE} in all (spoofed UDP sources cost
 * nothing): a client retrying a wrong password every second, or a scan, must not fill the disk.
 * The next line says how many were left out; every one is counted in the meters either way. What
 * the peer wrote is quoted without control characters and cut to {@value #MAX_TEXT} characters.
 */
public final class SipRefusals {
    private static final Logger log = LoggerFactory.getLogger(SipRefusals.class);
    static final int LINES_PER_MINUTE = 5;
    static final int ALL_LINES_PER_MINUTE = 30;
    static final int MAX_TEXT = 240;
    private static final long MINUTE_MILLIS = 60_000;
    /** Sources remembered at once; past it, those quiet for a minute are forgotten. */
    private static final int MAX_SOURCES = 10_000;

    private final Clock clock;
    private final Map<String, Window> bySource = new HashMap<>();
    private Window all = new Window(Long.MIN_VALUE / 2, 0, 0);

    /** A minute of one source's (or of all) refusals: when it began, lines written, refusals left out. */
    private record Window(long startMillis, int logged, int leftOut) {
        Window next(boolean logs) {
            return logs ? new Window(startMillis, logged + 1, leftOut) : new Window(startMillis, logged, leftOut + 1);
        }
    }

    public SipRefusals(Clock clock) {
        this.clock = clock;
    }

    /**
     * @param source where it came from; null when unknown
     * @param what   what was refused and why, e.g. "REGISTER of sip:1001@vm refused (403): wrong password"
     */
    public void refused(InetSocketAddress source, String what) {
        String key = source == null || source.getAddress() == null ? "an unknown source" : sourceKey(source.getAddress());
        long now = clock.millis();
        int sourceLeftOutBefore = 0;
        int allLeftOutBefore = 0;
        boolean logs;
        synchronized (this) {
            Window mine = bySource.get(key);
            if (mine == null || now - mine.startMillis() >= MINUTE_MILLIS) {
                sourceLeftOutBefore = mine == null ? 0 : mine.leftOut();
                mine = new Window(now, 0, 0);
            }
            if (now - all.startMillis() >= MINUTE_MILLIS) {
                allLeftOutBefore = all.leftOut();
                all = new Window(now, 0, 0);
            }
            boolean sourceAllows = mine.logged() < LINES_PER_MINUTE;
            boolean allAllow = all.logged() < ALL_LINES_PER_MINUTE;
            logs = sourceAllows && allAllow;
            if (!logs) {
                // what earlier minutes left out is said on a later line, not lost
                mine = new Window(mine.startMillis(), mine.logged(), mine.leftOut() + sourceLeftOutBefore);
                sourceLeftOutBefore = 0;
                all = new Window(all.startMillis(), all.logged(), all.leftOut() + allLeftOutBefore);
                allLeftOutBefore = 0;
            }
            bySource.put(key, mine.next(logs));
            if (logs || sourceAllows) {
                all = all.next(logs); // counted as left out by the budget of all only when it alone held the line back
            }
            if (bySource.size() > MAX_SOURCES) {
                bySource.values().removeIf(window -> now - window.startMillis() >= MINUTE_MILLIS);
                if (bySource.size() > MAX_SOURCES) {
                    bySource.clear();
                }
            }
        }
        if (logs) {
            String notes = (sourceLeftOutBefore == 0 ? "" : " (" + sourceLeftOutBefore + " more from " + key
                    + " after its last line were counted, not logged)")
                    + (allLeftOutBefore == 0 ? "" : " (" + allLeftOutBefore + " more from all sources in the minute before"
                    + " were counted, not logged)");
            log.info("{}: {}{}", source == null ? "unknown source" : address(source), printable(what), notes);
        }
    }

    /** An IPv4 address; the /64 of an IPv6 one. */
    private static String sourceKey(InetAddress address) {
        if (address instanceof Inet6Address) {
            byte[] bytes = address.getAddress();
            Arrays.fill(bytes, 8, 16, (byte) 0);
            try {
                String prefix = host(InetAddress.getByAddress(bytes));
                return prefix.substring(1, prefix.length() - 1) + "/64"; // without the brackets
            } catch (java.net.UnknownHostException impossible) {
                return host(address);
            }
        }
        return host(address);
    }

    /** What a peer wrote, safe in a log line: control characters as '?', at most {@value #MAX_TEXT} characters. */
    static String printable(String text) {
        StringBuilder out = new StringBuilder(Math.min(text.length(), MAX_TEXT + 3));
        for (int i = 0; i < text.length() && out.length() < MAX_TEXT; i++) {
            char c = text.charAt(i);
            out.append(Character.isISOControl(c) ? '?' : c);
        }
        if (text.length() > MAX_TEXT) {
            out.append("...");
        }
        return out.toString();
    }

    private static String host(InetAddress address) {
        String text = HostPort.format(address.getHostAddress(), 0);
        return text.substring(0, text.length() - 2); // without ":0"
    }

    private static String address(InetSocketAddress source) {
        InetAddress address = source.getAddress();
        return HostPort.format(address == null ? source.getHostString() : address.getHostAddress(), source.getPort());
    }
}
