package io.switchboard.telephony.sip;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transaction.TransactionUser;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.telephony.proxy.ProxyCore;
import io.switchboard.telephony.registrar.Registrar;

import java.util.function.BooleanSupplier;

/**
 * The node's SIP core: what a request is answered with. REGISTER goes to the {@link Registrar};
 * OPTIONS addressed to the node itself (no user part) is answered here (RFC 3261 §11.2: 200 with
 * what it supports); everything else goes to the {@link ProxyCore}. While the node drains, new
 * out-of-dialog requests get 503 with Retry-After so devices fail over to another node
 * (RFC 3261 §21.5.4); calls in progress still end normally.
 */
public final class SipService implements TransactionUser {
    private final Registrar registrar;
    private final ProxyCore proxy;
    private final BooleanSupplier draining;
    private final String serverHeader;
    /** Where a response that matches no transaction of this node's is reported (meters and the log). */
    private final java.util.function.BiConsumer<SipResponse, SipFlow> strays;
    /** RFC 3261 §8.2.6.2: a To tag of our own, random per node so responses of two nodes never collide. */
    private final String toTag = Long.toHexString(new java.security.SecureRandom().nextLong());

    public SipService(Registrar registrar, ProxyCore proxy, BooleanSupplier draining, String serverHeader,
                      java.util.function.BiConsumer<SipResponse, SipFlow> strays) {
        this.strays = strays;
        this.registrar = registrar;
        this.proxy = proxy;
        this.draining = draining;
        this.serverHeader = serverHeader;
    }

    @Override
    public void onRequest(ServerTransaction transaction) {
        SipRequest request = transaction.request();
        boolean inDialog = request.to() != null && request.to().tag() != null;
        if (draining.getAsBoolean() && !inDialog && !request.isMethod(SipRequest.CANCEL)) {
            SipResponse busy = SipResponse.to(request, 503, "Service Unavailable - node is shutting down")
                    .withToTag(toTag);
            busy.headers().add(HeaderNames.RETRY_AFTER, "5");
            transaction.respond(busy);
            return;
        }
        String scheme = request.requestUri().scheme();
        // a CANCEL is answered 200 or 481 (§9.2): one for such an INVITE finds nothing to cancel
        if (!scheme.equals("sip") && !scheme.equals("sips") && !request.isMethod(SipRequest.CANCEL)) {
            // RFC 3261 §8.2.2.1: a Request-URI whose scheme this node does not serve (tel:, http:)
            transaction.respond(SipResponse.to(request, 416, "Unsupported URI Scheme - only sip: and sips: are served")
                    .withToTag(toTag));
            return;
        }
        switch (request.method()) {
            case SipRequest.REGISTER -> registrar.register(transaction);
            case SipRequest.CANCEL -> proxy.onCancel(transaction);
            case SipRequest.OPTIONS -> {
                if (request.requestUri().user() != null || inDialog) {
                    proxy.onRequest(transaction);
                    return;
                }
                SipResponse ok = SipResponse.to(request, 200, "OK").withToTag(toTag);
                ok.headers().add(HeaderNames.ALLOW, ProxyCore.NODE_ALLOW); // the same as its 405 says
                ok.headers().add("Accept", "application/sdp");
                ok.headers().add(HeaderNames.SERVER, serverHeader);
                transaction.respond(ok);
            }
            default -> proxy.onRequest(transaction);
        }
    }

    @Override
    public void onAck(SipRequest ack, SipFlow flow) {
        proxy.onAck(ack, flow);
    }

    /**
     * A response to no request of this node's (RFC 3261 §18.1.2: discarded). Counted and logged:
     * it is what a phone behind a balancer sends when it answers on a new connection that the
     * balancer gave to another node, and the call it belongs to then never hears the answer.
     */
    @Override
    public void onStrayResponse(SipResponse response, SipFlow flow) {
        strays.accept(response, flow);
    }
}
