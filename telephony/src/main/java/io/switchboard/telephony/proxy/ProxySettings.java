package io.switchboard.telephony.proxy;

import io.switchboard.platform.net.AddressRange;

import java.time.Duration;
import java.util.List;

/**
 * How the proxy treats calls.
 *
 * @param authenticate      challenge out-of-dialog requests from devices with 407 (RFC 3261 §22.3)
 * @param trustedPeers      sources never challenged: an intercom panel, a gateway ("10.0.0.5", "192.168.1.0/24")
 * @param timerC            how long an INVITE branch may ring after its last provisional (RFC 3261 §16.6 step 11, over 3 min)
 * @param advertisedAddress the address put in Via and Record-Route when listening on a wildcard address; null picks one
 */
public record ProxySettings(boolean authenticate, List<AddressRange> trustedPeers, Duration timerC,
                            String advertisedAddress) {
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
