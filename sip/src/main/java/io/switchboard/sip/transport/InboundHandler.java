package io.switchboard.sip.transport;

import io.switchboard.sip.message.SipMessage;

/** Receives every well-formed message the transports read. Called on I/O threads; must not block. */
@FunctionalInterface
public interface InboundHandler {
    void onMessage(SipMessage message, SipFlow flow);
}
