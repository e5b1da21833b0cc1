package io.switchboard.platform.tls;

import java.util.List;

/**
 * The cipher suites every TLS listener of the node offers (HTTPS and SIP over TLS alike), in the
 * node's order of preference: Mozilla's "intermediate" profile, the one the HAProxy recipe in the
 * docs uses. TLS 1.2 gets only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305);
 * the CBC suites JSSE would otherwise add are left out (RFC 7457 §2: padding-oracle attacks), and
 * ChaCha20 is offered for phones without AES instructions. TLS 1.3 has only AEAD suites.
 * Names are IANA's, which JSSE, Jetty and Netty (mapping them for BoringSSL) all take.
 */
public final class CipherSuites {
    public static final List<String> OFFERED = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    private CipherSuites() {
    }
}
