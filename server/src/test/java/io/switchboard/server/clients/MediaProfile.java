package io.switchboard.server.clients;

/**
 * The media a native phone offers and accepts in its SDP. The node relays SDP untouched and
 * carries no media, so a browser and a native phone can set up a call only when the phone speaks
 * the browser's kind of media.
 */
public enum MediaProfile {
    /** Plain RTP ({@code RTP/AVP}, G.711): what the clients do on their defaults, like desk phones and door panels. */
    RTP,
    /**
     * What a browser accepts (RFC 8827, RFC 8829 §5.3): DTLS-SRTP ({@code UDP/TLS/RTP/SAVPF} with a
     * fingerprint and {@code a=setup}, RFC 5763), ICE credentials (RFC 8839) and RTP/RTCP on one
     * port ({@code a=rtcp-mux}, RFC 5761, which Chromium requires).
     */
    WEBRTC
}
