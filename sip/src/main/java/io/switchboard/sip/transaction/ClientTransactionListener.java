package io.switchboard.sip.transaction;

import io.switchboard.sip.message.SipResponse;

/** What a client transaction tells its TU (RFC 3261 §17.1). Called on I/O or timer threads; must not block. */
public interface ClientTransactionListener {
    /** Every provisional and final response; for INVITE, every 2xx including retransmissions (RFC 6026 §8.4). */
    void onResponse(ClientTransaction transaction, SipResponse response);

    /** Timer B or F fired with no final response: the TU acts as if a 408 arrived (RFC 3261 §8.1.3.1). */
    void onTimeout(ClientTransaction transaction);

    /** The request could not be sent (RFC 3261 §8.1.3.1: treat as 503). */
    void onTransportError(ClientTransaction transaction, Throwable cause);
}
