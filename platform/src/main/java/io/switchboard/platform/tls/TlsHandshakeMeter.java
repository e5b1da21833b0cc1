package io.switchboard.platform.tls;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.EOFException;
import java.nio.channels.ClosedChannelException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Counts one TLS listener's handshakes: {@code switchboard_tls_handshakes_total{listener}} for
 * those that completed and {@code switchboard_tls_handshake_failures_total{listener,reason}} for
 * those that did not, by a reason an operator can act on:
 *
 * <ul>
 *   <li>{@code not_tls} — the bytes were no TLS at all (plain HTTP or SIP sent to a TLS port, a scanner);</li>
 *   <li>{@code protocol} — the client offers only versions the node refuses (below TLS 1.2);</li>
 *   <li>{@code cipher} — no cipher suite in common;</li>
 *   <li>{@code certificate_refused} — the client refused the node's certificate (expired, wrong name,
 *       an issuer it does not trust: look at the chain);</li>
 *   <li>{@code client_certificate} — a peer's certificate was missing or not signed by {@code tls.clientCa};</li>
 *   <li>{@code incomplete} — the connection closed, or the handshake timeout passed, before the
 *       handshake finished (half-open connections, TCP health checks, slow or stuck clients);</li>
 *   <li>{@code alert} and {@code other} — the rest.</li>
 * </ul>
 */
public final class TlsHandshakeMeter {
    private final MeterRegistry meters;
    private final String listener;
    private final Counter succeeded;
    private final Map<String, Counter> failures = new ConcurrentHashMap<>();

    /** @param listener the listener's name in the meters' tag, e.g. {@code https} or {@code sip-tls} */
    public TlsHandshakeMeter(MeterRegistry meters, String listener) {
        this.meters = meters;
        this.listener = listener;
        this.succeeded = Counter.builder("switchboard.tls.handshakes").tag("listener", listener)
                .description("TLS handshakes completed").register(meters);
        for (String reason : new String[] {"not_tls", "protocol", "cipher", "certificate_refused", "client_certificate",
                "incomplete", "alert", "other"}) {
            failure(reason); // present from the start, so a rate() sees the first failure
        }
    }

    public void succeeded() {
        succeeded.increment();
    }

    /** A handshake the TLS engine failed with {@code failure}; returns the reason it was counted under. */
    public String failed(Throwable failure) {
        String reason = reason(failure);
        failure(reason).increment();
        return reason;
    }

    /** A connection that closed or timed out before its handshake finished, without an error from the engine. */
    public void incomplete() {
        failure("incomplete").increment();
    }

    private Counter failure(String reason) {
        return failures.computeIfAbsent(reason, r -> Counter.builder("switchboard.tls.handshake.failures")
                .tag("listener", listener).tag("reason", r)
                .description("TLS handshakes that failed, by reason").register(meters));
    }

    /**
     * The reason tag for a handshake failure, from the engine's messages: the JDK's (JSSE has no
     * error codes) or BoringSSL's, whose reason names (e.g. {@code WRONG_VERSION_NUMBER}) end its
     * messages.
     */
    static String reason(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof EOFException || t instanceof ClosedChannelException) {
                return "incomplete";
            }
            String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
            if (message.contains("handshake timed out")) {
                return "incomplete"; // Netty's SslHandshakeTimeoutException (SIP over TLS)
            }
            if (message.contains("unrecognized ssl message") || message.contains("plaintext connection")
                    || message.contains("unsupported or unrecognized") || message.contains("not an ssl/tls record")
                    || message.contains("wrong_version_number") || message.contains("http_request")) {
                return "not_tls";
            }
            if (message.contains("protocol version") || message.contains("protocol_version")
                    || message.contains("not enabled or supported") || message.contains("are not accepted by server")
                    || message.contains("unsupported_protocol")) {
                return "protocol";
            }
            if (message.contains("no cipher suites in common") || message.contains("handshake_failure")
                    || message.contains("no_shared_cipher") || message.contains("no_shared_group")) {
                return "cipher";
            }
            if (message.contains("certificate_unknown") || message.contains("bad_certificate")
                    || message.contains("unknown_ca") || message.contains("certificate_expired")) {
                return "certificate_refused";
            }
            if (message.contains("empty client certificate chain") || message.contains("certificate_required")
                    || message.contains("pkix path") || message.contains("peer_did_not_return_a_certificate")
                    || message.contains("certificate_verify_failed")) {
                return "client_certificate";
            }
            if (message.contains("remote host terminated") || message.contains("closed")) {
                return "incomplete";
            }
            if (message.contains("received fatal alert") || message.contains("_alert_")) {
                return "alert";
            }
        }
        return "other";
    }
}
