package io.switchboard.telephony.proxy;

/**
 * Stands on an INVITE server transaction from its arrival until it is forked, so a CANCEL that
 * another thread handles in between is not lost (RFC 3261 §9.2, §16.10): either the gate is
 * cancelled first and the proxy cancels what it forks, or the context took over first and the
 * CANCEL goes to it.
 */
final class CancelGate {
    private boolean cancelled;
    private ResponseContext context;

    /** The caller cancelled; returns the context when one already took over. */
    synchronized ResponseContext cancel() {
        cancelled = true;
        return context;
    }

    /** The request was forked; returns true when the caller had cancelled before. */
    synchronized boolean handOver(ResponseContext takeover) {
        context = takeover;
        return cancelled;
    }

    synchronized boolean isCancelled() {
        return cancelled;
    }
}
