package io.switchboard.sip.transaction;

import io.netty.util.Timeout;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;

/**
 * A server transaction, INVITE (RFC 3261 §17.2.1 with the Accepted state of RFC 6026 §7.1) or
 * non-INVITE (§17.2.2). It absorbs request retransmissions, retransmits the last response when the
 * peer retransmits, retransmits INVITE error responses over UDP until the ACK comes (Timer G), and
 * lingers after the final response to catch late retransmissions (Timers H, I, J, L). A completed
 * non-INVITE transaction over UDP hands its response to the layer's {@link LingeringResponses} and
 * goes at once; the layer answers its retransmissions until Timer J.
 * <p>
 * Methods are synchronized: a transaction is touched by the I/O thread that read the request, the
 * thread the TU answers on, and the timer thread. After the final response only the encoded bytes
 * and the flow are kept, so the many transactions lingering under load stay small.
 */
public final class ServerTransaction {
    enum State { TRYING, PROCEEDING, COMPLETED, CONFIRMED, ACCEPTED, TERMINATED }

    private final TransactionLayer layer;
    private final String key;
    private final boolean invite;
    private final SipFlow flow;
    private final String method;
    private SipRequest request;
    private State state;
    private SipFlow responseFlow;
    private byte[] lastResponse;
    private int lastStatus;
    private Timeout retransmitTimer;
    private Timeout endTimer;
    private Timeout tryingTimer;
    private long retransmitInterval;
    /** The final response went to the layer's table for Timer J and this object is leaving. */
    private boolean lingered;
    private volatile Object attachment;

    ServerTransaction(TransactionLayer layer, String key, SipRequest request, SipFlow flow) {
        this.layer = layer;
        this.key = key;
        this.request = request;
        this.flow = flow;
        this.method = request.method();
        this.invite = request.isMethod(SipRequest.INVITE);
        this.state = invite ? State.PROCEEDING : State.TRYING;
    }

    /** RFC 3261 §17.2.1: send 100 Trying if the TU has not answered within 200 ms. */
    synchronized void startInvite() {
        tryingTimer = layer.schedule(this::sendTryingIfSilent, 200);
    }

    private synchronized void sendTryingIfSilent() {
        if (state == State.PROCEEDING && lastResponse == null && request != null) {
            respond(SipResponse.to(request, 100, "Trying"));
        }
    }

    /** The request; null once the transaction has completed (kept small while it lingers). */
    public synchronized SipRequest request() {
        return request;
    }

    public String method() {
        return method;
    }

    public SipFlow flow() {
        return flow;
    }

    public boolean isInvite() {
        return invite;
    }

    /** Application state the TU hangs on the transaction (a proxy's response context, say). */
    public Object attachment() {
        return attachment;
    }

    public void attach(Object value) {
        attachment = value;
    }

    public synchronized boolean isTerminated() {
        return state == State.TERMINATED;
    }

    /** True once a final response has been sent. */
    public synchronized boolean isAnswered() {
        return lastStatus >= 200;
    }

    String key() {
        return key;
    }

    /**
     * Sends a response through this transaction. Ignored (returns false) when a final response was
     * already sent, except further 2xx to an INVITE, which RFC 6026 §7.1 passes on in Accepted.
     */
    public synchronized boolean respond(SipResponse response) {
        int status = response.status();
        if (state == State.TERMINATED || state == State.COMPLETED || state == State.CONFIRMED) {
            return false;
        }
        if (state == State.ACCEPTED) {
            if (status < 200 || status >= 300) {
                return false;
            }
            transmit(response);
            lastResponse = null;
            return true;
        }
        if (tryingTimer != null && status >= 100) {
            tryingTimer.cancel();
            tryingTimer = null;
        }
        transmit(response);
        if (status < 200) {
            state = State.PROCEEDING;
            return true;
        }
        request = null;
        long t1 = layer.timers().t1().toMillis();
        boolean unreliable = !flow.transport().isReliable();
        if (invite && status < 300) {
            // RFC 6026 §7.1: absorb INVITE retransmissions, pass 2xx retransmissions; the 2xx itself
            // is never resent from here (the TU's retransmissions are), so its bytes can go
            state = State.ACCEPTED;
            lastResponse = null;
            endTimer = layer.schedule(this::terminate, layer.timers().timeout64Millis()); // Timer L
        } else if (invite) {
            state = State.COMPLETED;
            if (unreliable) {
                retransmitInterval = t1;
                retransmitTimer = layer.schedule(this::timerG, retransmitInterval);
            }
            endTimer = layer.schedule(this::timerH, layer.timers().timeout64Millis());
        } else {
            state = State.COMPLETED;
            if (!unreliable) {
                terminate();
            } else if (layer.linger(this, responseFlow, lastResponse)) {
                lingered = true;
                terminate(); // the layer now answers retransmissions for Timer J
            } else {
                endTimer = layer.schedule(this::terminate, layer.timers().timeout64Millis()); // Timer J
            }
        }
        return true;
    }

    private void transmit(SipResponse response) {
        if (responseFlow == null) {
            responseFlow = layer.transport().responseFlow(response, flow);
        }
        byte[] bytes = response.encode();
        lastResponse = bytes;
        lastStatus = response.status();
        layer.sent(response, responseFlow);
        if (responseFlow == null) {
            layer.transport().sendResponse(response, flow);
        } else {
            responseFlow.send(bytes);
        }
    }

    /** A retransmission of the request arrived. */
    synchronized void onRetransmission() {
        // RFC 3261 §17.2.2: in Trying the retransmission is discarded; in Proceeding and Completed
        // the last response is sent again. §17.2.1: same for INVITE in Proceeding and Completed.
        // A retransmission that found this object in the map just before it left for the table
        // still gets the response (lingered: TERMINATED here, Completed in the table).
        if (lastResponse != null && responseFlow != null
                && (state == State.PROCEEDING || state == State.COMPLETED || lingered)) {
            responseFlow.send(lastResponse);
        }
    }

    /**
     * An ACK matched this INVITE transaction. Returns true when it was absorbed here (the ACK for an
     * error response, §17.2.1); false when the TU must see it (an ACK in Accepted, RFC 6026 §7.1).
     */
    synchronized boolean onAck() {
        if (state == State.COMPLETED) {
            state = State.CONFIRMED;
            cancel(retransmitTimer);
            cancel(endTimer);
            long timerI = flow.transport().isReliable() ? 0 : layer.timers().t4().toMillis();
            if (timerI == 0) {
                terminate();
            } else {
                endTimer = layer.schedule(this::terminate, timerI);
            }
            return true;
        }
        return state == State.CONFIRMED || state == State.TERMINATED;
    }

    private synchronized void timerG() {
        if (state != State.COMPLETED || lastResponse == null) {
            return;
        }
        responseFlow.send(lastResponse);
        retransmitInterval = Math.min(retransmitInterval * 2, layer.timers().t2().toMillis());
        retransmitTimer = layer.schedule(this::timerG, retransmitInterval);
    }

    private void timerH() {
        boolean fire;
        synchronized (this) {
            fire = state == State.COMPLETED;
        }
        terminate();
        if (fire) {
            layer.ackTimeout(this);
        }
    }

    synchronized void terminate() {
        if (state == State.TERMINATED) {
            return;
        }
        state = State.TERMINATED;
        cancel(retransmitTimer);
        cancel(endTimer);
        cancel(tryingTimer);
        request = null;
        layer.remove(this);
    }

    private static void cancel(Timeout timeout) {
        if (timeout != null) {
            timeout.cancel();
        }
    }

    @Override
    public String toString() {
        return "ServerTransaction[" + key + " " + state + "]";
    }
}
