package io.switchboard.telephony.registrar;

import io.switchboard.telephony.accounts.DigestAlgorithm;

import java.time.Duration;
import java.util.List;

/**
 * @param authenticate    require digest credentials on REGISTER (off only for trusted networks and benchmarks)
 * @param minExpires      shortest registration accepted; shorter asks get 423 (RFC 3261 §10.3 step 7)
 * @param maxExpires      longest registration granted; longer asks are shortened
 * @param defaultExpires  granted when the device asks for none (RFC 3261 §10.2.1.1)
 * @param maxContacts     contacts one address of record may have at once
 * @param algorithms      digest algorithms offered node-wide, in order of preference (one MD5 challenge by
 *                        default: see DigestPolicy for why one, and for domains and accounts that choose SHA-256)
 * @param nonceLifetime   how long a nonce stays valid before a device is told it is stale
 */
public record RegistrarSettings(boolean authenticate, int minExpires, int maxExpires, int defaultExpires,
                                int maxContacts, List<DigestAlgorithm> algorithms, Duration nonceLifetime) {
    public static RegistrarSettings defaults() {
        return new RegistrarSettings(true, 60, 86_400, 3600, 16, List.of(DigestAlgorithm.MD5),
                Duration.ofMinutes(5));
    }
}
