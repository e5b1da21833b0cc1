package io.switchboard.telephony.proxy;

import io.switchboard.platform.net.AddressRange;

import java.time.Duration;
import java.util.List;

/**
 * How the proxy treats calls.
 *
 * @param authenticate          challenge out-of-dialog requests from devices with 407 (RFC 3261 §22.3)
 * @param trustedPeers          sources never challenged: an intercom panel, a gateway ("10.0.0.5", "192.168.1.0/24")
 * @param timerC                how long an INVITE branch may ring after its last provisional (RFC 3261 §16.6 step 11, over 3 min)
 * @param advertisedAddress     the address put in Via and Record-Route when listening on a wildcard address; null picks one
 * @param branchResponseTimeout how long an INVITE branch may stay without any response at all (not even 100)
 *                              before it is given up as a 408; zero waits for Timer B (32 s)
 */
public record ProxySettings(boolean authenticate, List<AddressRange> trustedPeers, Duration timerC,
                            String advertisedAddress, Duration branchResponseTimeout) {
    /**
     * The default no-response time: over UDP the INVITE has then been sent four times (Timer A:
     * at 0, 0.5, 1.5 and 3.5 s, RFC 3261 §17.1.1.2) and a live device's transaction answers each
     * with 100 within 200 ms (§17.2.1); over TCP, TLS and WebSocket one round trip would do, so 5 s
     * is as generous there. Kamailio's tm calls the same thing fr_timer, apart from fr_inv_timer.
     */
    public static final Duration DEFAULT_BRANCH_RESPONSE_TIMEOUT = Duration.ofSeconds(5);

    public ProxySettings(boolean authenticate, List<AddressRange> trustedPeers, Duration timerC, String advertisedAddress) {
        this(authenticate, trustedPeers, timerC, advertisedAddress, DEFAULT_BRANCH_RESPONSE_TIMEOUT);
    }

    public static ProxySettings defaults() {
        return new ProxySettings(true, List.of(), Duration.ofSeconds(181), null);
    }

    public boolean isTrusted(java.net.InetAddress source) {
        for (AddressRange range : trustedPeers) {
            if (range.contains(source)) {
                return true;
            }
        }
        return false;
    }
}
