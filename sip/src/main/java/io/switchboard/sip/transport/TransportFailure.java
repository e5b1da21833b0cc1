package io.switchboard.sip.transport;

import java.io.IOException;

/**
 * A flow that could not be opened: why, in a word an operator can count ({@link #reason()}), and
 * whether it was a timeout. A proxy answers a timeout as 408 and anything else as 503 for the
 * branch (RFC 3261 §16.8 and §16.9).
 */
public final class TransportFailure extends IOException {
    private final String reason;
    private final boolean timedOut;

    public TransportFailure(String reason, boolean timedOut, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
        this.timedOut = timedOut;
    }

    /** A short tag: {@code connect_refused}, {@code connect_timeout}, {@code handshake_timeout}, {@code untrusted}, … */
    public String reason() {
        return reason;
    }

    public boolean timedOut() {
        return timedOut;
    }
}
