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
     * "keepalive", "proxy_header" (a connection from a load balancer without a valid PROXY protocol header).
     */
    default void dropped(String reason, Transport transport, InetSocketAddress source) {
    }

    /**
     * {@link #dropped(String, Transport, InetSocketAddress)} with what happened in plain words for a
     * log line, e.g. for "oversize" on a stream: "a message of 70211 bytes, over the limit of 65535:
     * answered 513 Message Too Large, then closed the connection". By default only counted as the
     * three-argument form.
     */
    default void dropped(String reason, Transport transport, InetSocketAddress source, String detail) {
        dropped(reason, transport, source);
    }

    /**
     * An outgoing TLS connection (RFC 3261 §26.2) was opened and its server certificate accepted
     * ({@code outcome} "ok"), or failed: "connect_refused", "connect_timeout", "connect_failed",
     * "resolve", "handshake_timeout", "untrusted" (no trusted chain, expired), "name_mismatch"
     * (trusted, but not for that domain: RFC 5922 §7.2), "refused_by_peer" (the server sent a
     * fatal alert, e.g. it wanted a client certificate), "protocol", "closed", "recent_failure"
     * (the same peer failed moments ago; not dialled again yet), "busy" (too many connections being
     * opened at once), "deadline" (the attempt as a whole took too long), "not_configured", "other".
     */
    default void tlsConnect(String outcome, InetSocketAddress remote) {
    }

    /**
     * A TCP connection the node opened to a device whose own connection was gone
     * ({@link TransportLayer#tcpFlowTo}) is up ({@code outcome} "ok"), or failed: "connect_refused"
     * (nothing listens there: mostly a device that is offline), "connect_timeout", "connect_failed",
     * "closed", "recent_failure" (the same device failed moments ago; not dialled again yet), "busy"
     * (too many connections being opened at once), "deadline", "other".
     */
    default void tcpConnect(String outcome, InetSocketAddress remote) {
    }
}
