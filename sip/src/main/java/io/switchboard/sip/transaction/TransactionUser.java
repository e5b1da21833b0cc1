package io.switchboard.sip.transaction;

import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;

/**
 * The layer above transactions (RFC 3261 §17: the "TU"): a registrar, a proxy core, a user agent.
 * Called on I/O threads; must not block.
 */
public interface TransactionUser {
    /** A new request; answer it through the transaction, now or later. */
    void onRequest(ServerTransaction transaction);

    /** An ACK that matched no INVITE server transaction: the ACK for a 2xx (RFC 3261 §17.2.3, §13.3.1.4). */
    default void onAck(SipRequest ack, SipFlow flow) {
    }

    /** A response that matched no client transaction, e.g. a retransmitted 2xx (RFC 3261 §16.7, §18.1.2). */
    default void onStrayResponse(SipResponse response, SipFlow flow) {
    }

    /** An INVITE server transaction never received the ACK for its error response (Timer H). */
    default void onAckTimeout(ServerTransaction transaction) {
    }
}
