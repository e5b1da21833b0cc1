package io.switchboard.telephony.proxy;

import io.netty.util.Timeout;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transaction.ClientTransaction;
import io.switchboard.sip.transaction.ClientTransactionListener;
import io.switchboard.sip.transport.SipFlow;

/**
 * One target of a forked request (RFC 3261 §16.6): its client transaction and what it answered.
 * Fields are guarded by the owning {@link ResponseContext}'s lock.
 */
final class Branch implements ClientTransactionListener {
    final ResponseContext context;
    /** The address of record whose binding this branch rings, or null (in-dialog requests). */
    final String aor;
    final String target;
    /** The flow to the target; null while a TLS connection to it is being opened (set once, under the context's lock). */
    SipFlow flow;
    ClientTransaction transaction;
    /** The branch of our Via on the INVITE sent, while it is remembered for spirals (ProxyCore#rememberSentInvite). */
    String sentBranch;
    boolean provisional;
    boolean finished;
    /** A CANCEL is owed but waits for a provisional response (§9.1). */
    boolean cancelOwed;
    boolean cancelSent;
    /** Cancelled because its Timer C ran out (§16.8): the 487 it answers counts as a 408. */
    boolean timedOut;
    /** Its account was removed while it rang: cancelled, and whatever it answers counts as a 480. */
    boolean withdrawn;
    /**
     * Withdrawn and silent past the grace: counts as a 480 for the caller while its transaction
     * runs on, so a late 1xx is cancelled and a late 2xx hung up.
     */
    boolean settled;
    /**
     * Sent nothing at all within telephony.branchResponseTimeout: settled as a 408 (unless it goes
     * through another node, then tried directly) while its transaction runs on, so a late 1xx is
     * cancelled and not forwarded, and a late 2xx is forwarded or hung up (ResponseContext#noResponse).
     */
    boolean silent;
    /**
     * Its device's connection was gone and none could be opened (or none was tried: too many
     * under way): its 480 is made up here, and counts after every answer a device gave or a
     * timeout (ResponseContext#best): it decides the caller's answer only when no other branch has one.
     */
    boolean unreachable;
    /** Never sent: the call was answered or cancelled before its turn came. */
    boolean skipped;
    SipResponse finalResponse;
    /** The final response was made up here (timeout, transport error), not received. */
    boolean synthetic;
    Timeout timerC;
    /** Gives the branch up if no response at all comes in time (ProxySettings#branchResponseTimeout). */
    Timeout noResponse;
    /**
     * Set when this branch goes through the node holding a UDP device's flow (node-to-node SIP):
     * the device's own address, tried directly if that node cannot be reached (it may have died).
     */
    SipFlow direct;
    /** The node this branch goes through, when it does; reported unreachable if it fails. */
    String viaNode;
    /** Through another node: the binding reached there, set aside if that node answers 430 ({@link ProxyCore#flowFailed}). */
    io.switchboard.telephony.registrar.Binding throughBinding;

    Branch(ResponseContext context, String aor, String target, SipFlow flow) {
        this.context = context;
        this.aor = aor;
        this.target = target;
        this.flow = flow;
    }

    @Override
    public void onResponse(ClientTransaction transaction, SipResponse response) {
        context.onResponse(this, response);
    }

    @Override
    public void onTimeout(ClientTransaction transaction) {
        // §16.8: a branch that timed out counts as a 408
        context.onResponse(this, null, 408, "Request Timeout");
    }

    @Override
    public void onTransportError(ClientTransaction transaction, Throwable cause) {
        // §16.7 step 1 and §8.1.3.1: a transport failure counts as a 503
        ProxyCore.log.warn("sending {} to {} over {} failed: {}", transaction.request().method(), target, flow,
                cause == null ? "closed" : cause.toString());
        context.onResponse(this, null, 503, "Service Unavailable");
    }
}
