package io.switchboard.telephony.sip;

import io.switchboard.platform.LogLineBudget;
import io.switchboard.platform.LogLineBudgets;
import io.switchboard.platform.config.HostPort;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log line for what the node refused from a SIP peer (a wrong password, a REGISTER for
 * another's address, malformed or flooding input), so that whoever looks for why a door panel does
 * not register finds the reason in the log, not only in a counter. At most {@value #LINES_PER_MINUTE}
 * lines a minute per source (an IPv4 address, or an IPv6 /64, which one sender has whole; phones
 * behind one NAT share one) and {@value #ALL_LINES_PER_MINUTE} in all (spoofed UDP sources cost
 * nothing): a client retrying a wrong password every second, or a scan, must not fill the disk.
 * The next line written says how many were left out; every one is counted in the meters either
 * way. The node keeps two of these, one for failed authentications and one for bad input, so a
 * flood of junk from made-up addresses cannot use up the lines that say why a real device was
 * refused. The text is made safe for a log line: control, format and line-separator characters
 * become '?', and a long one keeps its start and its end (where the reason is).
 */
public final class SipRefusals {
    private static final Logger log = LoggerFactory.getLogger(SipRefusals.class);
    static final int LINES_PER_MINUTE = 5;
    static final int ALL_LINES_PER_MINUTE = 30;
    static final int MAX_TEXT = 240;
    /** Sources remembered at once; past it, those quiet for a minute are forgotten with what they had left out. */
    private static final int MAX_SOURCES = 10_000;

    private final LogLineBudgets<String> bySource;
    private final LogLineBudget all;

    public SipRefusals(Clock clock) {
        this.bySource = new LogLineBudgets<>(LINES_PER_MINUTE, MAX_SOURCES, clock);
        this.all = new LogLineBudget(ALL_LINES_PER_MINUTE, clock);
    }

    /**
     * @param source where it came from; null when unknown
     * @param what   what was refused and why, e.g. "REGISTER of sip:1001@vm refused (403): wrong password"
     */
    public void refused(InetSocketAddress source, String what) {
        String key = source == null || source.getAddress() == null ? "an unknown source" : sourceKey(source.getAddress());
        int sourceLeftOut;
        int allLeftOut;
        synchronized (this) {
            LogLineBudget mine = bySource.of(key);
            if (!mine.hasRoom()) {
                mine.leaveOut();
                return;
            }
            if (!all.hasRoom()) {
                all.leaveOut(); // its source had room: said on the next line of all
                return;
            }
            sourceLeftOut = mine.let();
            allLeftOut = all.let();
        }
        String notes = (sourceLeftOut == 0 ? "" : " (" + sourceLeftOut + " more from " + key + " before this line were"
                + " counted, not logged)") + (allLeftOut == 0 ? "" : " (" + allLeftOut + " more from other sources before this"
                + " line were counted, not logged)");
        log.info("{}: {}{}", source == null ? "unknown source" : address(source), printable(what), notes);
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

    /**
     * Text that quotes a peer, safe in a log line: control, format (bidi overrides) and line or
     * paragraph separator characters as '?'; past {@value #MAX_TEXT} characters its start and its
     * end, whole code points, around "...".
     */
    static String printable(String text) {
        int[] points = text.codePoints().map(c -> Character.isISOControl(c) || Character.getType(c) == Character.FORMAT
                || Character.getType(c) == Character.LINE_SEPARATOR || Character.getType(c) == Character.PARAGRAPH_SEPARATOR
                ? '?' : c).toArray();
        if (points.length <= MAX_TEXT) {
            return new String(points, 0, points.length);
        }
        int tail = MAX_TEXT / 3;
        int head = MAX_TEXT - tail;
        return new String(points, 0, head) + "..." + new String(points, points.length - tail, tail);
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
