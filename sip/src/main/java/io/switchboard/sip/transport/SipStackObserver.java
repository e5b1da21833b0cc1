package io.switchboard.sip.transport;

import io.switchboard.sip.message.SipMessage;

import java.net.InetSocketAddress;

/**
 * What the stack reports about itself, so the application can count it (the SIP library depends on
 * no metrics library). Called on I/O threads: implementations must be quick and never block.
 */
public interface SipStackObserver {
    SipStackObserver NONE = new SipStackObserver() {
    };

    default void messageReceived(SipMessage message, SipFlow flow) {
    }

    default void messageSent(SipMessage message, SipFlow flow) {
    }

    /** A message that could not be parsed; it was answered with 400/505 where possible, else dropped. */
    default void parseError(String reason, Transport transport, InetSocketAddress source) {
    }

    /**
     * Input dropped before parsing: "flood", "overload" (a full lane), "shed" (a new request that
     * waited too long in an overloaded lane), "oversize", "connection_limit", "slow_peer", "idle",
     * "keepalive".
     */
    default void dropped(String reason, Transport transport, InetSocketAddress source) {
    }
}
