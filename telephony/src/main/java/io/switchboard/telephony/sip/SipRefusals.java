package io.switchboard.telephony.sip;

import io.switchboard.platform.config.HostPort;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One log line for what the node refused from a SIP peer (a wrong password, a REGISTER for
 * another's address, malformed or flooding input), so that whoever looks for why a door panel does
 * not register finds the reason in the log, not only in a counter. At most {@value #LINES_PER_MINUTE}
 * lines a minute per source address (phones behind one NAT share one): a client retrying a wrong
 * password every second, or someone trying passwords, must not fill the disk. The first line of
 * the next minute says how many were left out; every one is counted in the meters either way.
 */
public final class SipRefusals {
    private static final Logger log = LoggerFactory.getLogger(SipRefusals.class);
    static final int LINES_PER_MINUTE = 5;
    private static final long MINUTE_MILLIS = 60_000;
    /** Sources remembered at once; past it, those quiet for a minute are forgotten (a scan from many addresses). */
    private static final int MAX_SOURCES = 10_000;

    private final Clock clock;
    private final ConcurrentHashMap<String, Window> bySource = new ConcurrentHashMap<>();

    /** A source's minute: when it began, lines written in it, refusals left out of the log. */
    private record Window(long startMillis, int logged, int leftOut) {
    }

    public SipRefusals(Clock clock) {
        this.clock = clock;
    }

    /**
     * @param source where it came from; null when unknown
     * @param what   what was refused and why, e.g. "REGISTER of sip:1001@vm refused (403): wrong password"
     */
    public void refused(InetSocketAddress source, String what) {
        String key = source == null || source.getAddress() == null ? "?" : host(source.getAddress());
        long now = clock.millis();
        int[] leftOutBefore = {-1}; // stays -1 when this one is left out too
        bySource.compute(key, (k, window) -> {
            if (window == null || now - window.startMillis() >= MINUTE_MILLIS) {
                leftOutBefore[0] = window == null ? 0 : window.leftOut();
                return new Window(now, 1, 0);
            }
            if (window.logged() < LINES_PER_MINUTE) {
                leftOutBefore[0] = 0;
                return new Window(window.startMillis(), window.logged() + 1, 0);
            }
            return new Window(window.startMillis(), window.logged(), window.leftOut() + 1);
        });
        if (leftOutBefore[0] >= 0) {
            log.info("{}: {}{}", source == null ? "unknown source" : address(source), what, leftOutBefore[0] == 0 ? ""
                    : " (" + leftOutBefore[0] + " more from " + key + " after the last line were counted, not logged)");
        }
        if (bySource.size() > MAX_SOURCES) {
            bySource.values().removeIf(window -> now - window.startMillis() >= MINUTE_MILLIS);
            if (bySource.size() > MAX_SOURCES) {
                bySource.clear();
            }
        }
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
