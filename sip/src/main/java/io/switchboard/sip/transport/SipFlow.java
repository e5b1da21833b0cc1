package io.switchboard.sip.transport;

import java.net.InetSocketAddress;
import java.util.concurrent.CompletionStage;

/**
 * A path between this node and a peer that messages can be sent back on: a UDP socket and the peer's
 * address, or a connection (TCP, WebSocket). Binding a registration to its flow lets requests reach a
 * device behind NAT or in a browser the way RFC 5626 §4.2 and RFC 7118 §5 describe.
 */
public interface SipFlow {
    Transport transport();

    InetSocketAddress remote();

    InetSocketAddress local();

    /**
     * The address the peer sent to: {@link #local()}, or for a connection through a PROXY-protocol
     * balancer, the balancer's address the client connected to (from the header's destination).
     */
    default InetSocketAddress reachedAt() {
        InetSocketAddress balancer = balancer();
        return balancer != null ? balancer : local();
    }

    /** For a connection through a PROXY-protocol balancer, the balancer's address the client connected to; else null. */
    default InetSocketAddress balancer() {
        return null;
    }

    /** A stable identifier: the same for every message on one connection, or one UDP socket and peer. */
    String id();

    /** False once a connection has closed; a UDP flow is always open. */
    boolean isOpen();

    /** Sends already-encoded bytes; completes exceptionally when the transport refuses them. */
    CompletionStage<Void> send(byte[] message);
}
