package io.switchboard.telephony.sip;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transaction.TransactionUser;
import io.switchboard.telephony.registrar.Registrar;

import java.util.function.BooleanSupplier;

/**
 * The node's SIP core: what a request is answered with. REGISTER goes to the {@link Registrar};
 * OPTIONS is answered by the node itself (RFC 3261 §11.2: 200 with what it supports); requests
 * this node does not handle get 405 with an Allow header (RFC 3261 §21.4.6). While the node drains
 * new requests get 503 with Retry-After so devices fail over to another node (RFC 3261 §21.5.4).
 */
public final class SipService implements TransactionUser {
    static final String ALLOW = "REGISTER, OPTIONS";

    private final Registrar registrar;
    private final BooleanSupplier draining;
    private final String serverHeader;
    /** RFC 3261 §8.2.6.2: a To tag of our own, random per node so responses of two nodes never collide. */
    private final String toTag = Long.toHexString(new java.security.SecureRandom().nextLong());

    public SipService(Registrar registrar, BooleanSupplier draining, String serverHeader) {
        this.registrar = registrar;
        this.draining = draining;
        this.serverHeader = serverHeader;
    }

    @Override
    public void onRequest(ServerTransaction transaction) {
        SipRequest request = transaction.request();
        if (draining.getAsBoolean()) {
            SipResponse busy = SipResponse.to(request, 503, "Service Unavailable - node is shutting down");
            busy.headers().add(HeaderNames.RETRY_AFTER, "5");
            transaction.respond(busy);
            return;
        }
        switch (request.method()) {
            case SipRequest.REGISTER -> registrar.register(transaction);
            case SipRequest.OPTIONS -> {
                SipResponse ok = SipResponse.to(request, 200, "OK").withToTag(toTag);
                ok.headers().add(HeaderNames.ALLOW, ALLOW);
                ok.headers().add("Accept", "application/sdp");
                ok.headers().add(HeaderNames.SERVER, serverHeader);
                transaction.respond(ok);
            }
            case SipRequest.CANCEL -> {
                // RFC 3261 §9.2: no INVITE transaction here to cancel
                transaction.respond(SipResponse.to(request, 481, "Call/Transaction Does Not Exist").withToTag(toTag));
            }
            default -> {
                SipResponse notAllowed = SipResponse.to(request, 405, "Method Not Allowed").withToTag(toTag);
                notAllowed.headers().add(HeaderNames.ALLOW, ALLOW);
                transaction.respond(notAllowed);
            }
        }
    }
}
