package io.switchboard.platform.tls;

import java.util.List;
import java.util.stream.Stream;

/**
 * The cipher suites the node's TLS listeners offer, in the node's order of preference (the server
 * chooses: AES-GCM first, ChaCha20-Poly1305 for clients that offer no AES-GCM).
 * Names are IANA's, which JSSE, Jetty and Netty (mapping them for BoringSSL) all take.
 */
public final class CipherSuites {
    /**
     * HTTPS: Mozilla's "intermediate" profile, the one the HAProxy recipe in the docs uses. TLS 1.2
     * gets only forward-secret AEAD suites (ECDHE with AES-GCM or ChaCha20-Poly1305); the CBC suites
     * JSSE would otherwise add are left out (RFC 7457 §2: padding-oracle attacks). Every browser
     * of the last ten years has these. TLS 1.3 has only AEAD suites.
     */
    public static final List<String> HTTPS = List.of(
            "TLS_AES_128_GCM_SHA256",
            "TLS_AES_256_GCM_SHA384",
            "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    /**
     * SIP over TLS: the same, then, last, the CBC and RSA-key-exchange suites Netty offered before
     * this list was the node's own. Door panels and desk phones keep a TLS stack for a decade; one
     * that offers only these must still register (a server that prefers the suites above never
     * picks these for a client that offers better).
     */
    public static final List<String> SIP = Stream.concat(HTTPS.stream(), Stream.of(
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_256_CBC_SHA")).toList();

    private CipherSuites() {
    }
}
