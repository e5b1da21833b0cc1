package io.switchboard.sip.transaction;

import io.netty.util.Timeout;
import io.switchboard.sip.message.CSeq;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipHeaders;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;

/**
 * A client transaction, INVITE (RFC 3261 §17.1.1 with the Accepted state of RFC 6026 §7.2) or
 * non-INVITE (§17.1.2). Retransmits over UDP (Timers A and E), times out (Timers B and F), ACKs
 * error responses to INVITE itself (§17.1.1.3) and absorbs retransmitted final responses.
 * Synchronized for the same reasons as {@link ServerTransaction}.
 */
public final class ClientTransaction {
    enum State { CALLING, TRYING, PROCEEDING, COMPLETED, ACCEPTED, TERMINATED }

    private final TransactionLayer layer;
    private final String key;
    /** Dropped once a final response arrived: tens of thousands of transactions linger then (Timers D, K, M). */
    private volatile SipRequest request;
    private final SipFlow flow;
    private final boolean invite;
    private final ClientTransactionListener listener;
    private byte[] encoded;
    private byte[] ack;
    private State state;
    private Timeout retransmitTimer;
    private Timeout timeoutTimer;
    private Timeout endTimer;
    private long retransmitInterval;
    /** The TU gave up on an answer ({@link #stopRetransmitting}): Timers A and E send nothing more. */
    private boolean retransmissionsStopped;
    private volatile Object attachment;

    ClientTransaction(TransactionLayer layer, String key, SipRequest request, SipFlow flow,
                      ClientTransactionListener listener) {
        this.layer = layer;
        this.key = key;
        this.request = request;
        this.flow = flow;
        this.invite = request.isMethod(SipRequest.INVITE);
        this.listener = listener;
        this.state = invite ? State.CALLING : State.TRYING;
    }

    synchronized void start() {
        encoded = request.encode();
        layer.sent(request, flow);
        sendBytes(encoded);
        long t1 = layer.timers().t1().toMillis();
        if (!flow.transport().isReliable()) {
            retransmitInterval = t1;
            retransmitTimer = layer.schedule(this::retransmit, retransmitInterval); // Timer A or E
        }
        timeoutTimer = layer.schedule(this::timeout, layer.timers().timeout64Millis()); // Timer B or F
    }

    private void sendBytes(byte[] bytes) {
        flow.send(bytes).whenComplete((ok, error) -> {
            if (error != null) {
                transportError(error);
            }
        });
    }

    /** The request; null once a final response has arrived. */
    public SipRequest request() {
        return request;
    }

    public SipFlow flow() {
        return flow;
    }

    public Object attachment() {
        return attachment;
    }

    public void attach(Object value) {
        attachment = value;
    }

    public synchronized boolean isTerminated() {
        return state == State.TERMINATED;
    }

    /** True while no final response has arrived: the state in which a CANCEL may be sent (§9.1). */
    public synchronized boolean isPending() {
        return state == State.CALLING || state == State.PROCEEDING || state == State.TRYING;
    }

    /** True once a provisional response arrived (RFC 3261 §9.1: CANCEL only after one). */
    public synchronized boolean hasProvisional() {
        return state == State.PROCEEDING;
    }

    String key() {
        return key;
    }

    /**
     * Sends the request no more (over UDP, Timer A or E) while the transaction stays to take a
     * late response until its timeout: RFC 3261 §17.1.1.2 ends a Calling INVITE transaction at
     * Timer B, not earlier, and whatever answers before then (a 1xx to be cancelled, a 2xx to be
     * forwarded or hung up) must still reach the TU. For a TU that stopped waiting for the peer,
     * such as a proxy that gave up a branch as silent: retransmissions to a device that is gone
     * only load the network and the node. Nothing changes over a reliable transport, which never
     * retransmits.
     */
    public synchronized void stopRetransmitting() {
        retransmissionsStopped = true;
        cancel(retransmitTimer);
        retransmitTimer = null;
    }

    /**
     * A CANCEL for this INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From, To and CSeq number,
     * CSeq method CANCEL, one Via equal to the request's top Via, and the request's Route headers.
     */
    public SipRequest createCancel() {
        SipRequest request = this.request;
        if (request == null) {
            return null; // a final response arrived meanwhile: nothing left to cancel
        }
        SipRequest cancel = new SipRequest(SipRequest.CANCEL, request.requestUri());
        SipHeaders headers = cancel.headers();
        headers.add(HeaderNames.VIA, request.header(HeaderNames.VIA));
        for (String route : request.headers().fields(HeaderNames.ROUTE)) {
            headers.add(HeaderNames.ROUTE, route);
        }
        headers.add(HeaderNames.MAX_FORWARDS, "70");
        headers.add(HeaderNames.FROM, request.headers().get(HeaderNames.FROM));
        headers.add(HeaderNames.TO, request.headers().get(HeaderNames.TO));
        headers.add(HeaderNames.CALL_ID, request.callId());
        headers.add(HeaderNames.CSEQ, new CSeq(request.cseq().number(), SipRequest.CANCEL).toString());
        return cancel;
    }

    synchronized void onResponse(SipResponse response) {
        int status = response.status();
        switch (state) {
            case CALLING, TRYING, PROCEEDING -> {
                if (status < 200) {
                    if (invite && retransmitTimer != null) {
                        retransmitTimer.cancel(); // §17.1.1.2: Proceeding stops Timer A
                        retransmitTimer = null;
                    }
                    if (!invite && state == State.TRYING && retransmitTimer != null) {
                        // §17.1.2.2: in Proceeding Timer E fires every T2
                        retransmitInterval = layer.timers().t2().toMillis();
                    }
                    if (invite) {
                        cancel(timeoutTimer); // Timer B only guards the Calling state
                        timeoutTimer = null;
                    }
                    state = State.PROCEEDING;
                    deliver(response);
                    return;
                }
                cancel(retransmitTimer);
                cancel(timeoutTimer);
                encoded = null;
                if (invite && status < 300) {
                    state = State.ACCEPTED;
                    request = null;
                    endTimer = layer.schedule(this::terminate, layer.timers().timeout64Millis()); // Timer M
                } else if (invite) {
                    state = State.COMPLETED;
                    ack = createAck(response).encode();
                    request = null;
                    sendBytes(ack);
                    long timerD = flow.transport().isReliable() ? 0 : 32_000;
                    scheduleEnd(timerD);
                } else {
                    state = State.COMPLETED;
                    request = null;
                    scheduleEnd(flow.transport().isReliable() ? 0 : layer.timers().t4().toMillis()); // Timer K
                }
                deliver(response);
            }
            case ACCEPTED -> {
                if (status >= 200 && status < 300) {
                    deliver(response); // RFC 6026 §7.2: 2xx retransmissions go to the TU
                }
            }
            case COMPLETED -> {
                if (invite && status >= 300 && ack != null) {
                    sendBytes(ack); // §17.1.1.2: retransmitted final response, ACK again
                }
            }
            default -> {
            }
        }
    }

    private void scheduleEnd(long millis) {
        if (millis <= 0) {
            terminate();
        } else {
            endTimer = layer.schedule(this::terminate, millis);
        }
    }

    private void deliver(SipResponse response) {
        try {
            listener.onResponse(this, response);
        } catch (RuntimeException e) {
            TransactionLayer.log.error("TU failed on {} for {}", response.startLine(), key, e);
        }
    }

    /** §17.1.1.3: the ACK for a non-2xx final response belongs to the transaction. */
    private SipRequest createAck(SipResponse response) {
        SipRequest ackRequest = new SipRequest(SipRequest.ACK, request.requestUri());
        SipHeaders headers = ackRequest.headers();
        headers.add(HeaderNames.VIA, request.header(HeaderNames.VIA));
        for (String route : request.headers().fields(HeaderNames.ROUTE)) {
            headers.add(HeaderNames.ROUTE, route);
        }
        headers.add(HeaderNames.MAX_FORWARDS, "70");
        headers.add(HeaderNames.FROM, request.headers().get(HeaderNames.FROM));
        headers.add(HeaderNames.TO, response.headers().get(HeaderNames.TO));
        headers.add(HeaderNames.CALL_ID, request.callId());
        headers.add(HeaderNames.CSEQ, new CSeq(request.cseq().number(), SipRequest.ACK).toString());
        return ackRequest;
    }

    private synchronized void retransmit() {
        if (retransmissionsStopped || state != State.CALLING && state != State.TRYING && state != State.PROCEEDING) {
            return;
        }
        if (invite && state == State.PROCEEDING) {
            return;
        }
        sendBytes(encoded);
        retransmitInterval = invite ? retransmitInterval * 2
                : Math.min(retransmitInterval * 2, layer.timers().t2().toMillis());
        retransmitTimer = layer.schedule(this::retransmit, retransmitInterval);
    }

    private void timeout() {
        synchronized (this) {
            if (state != State.CALLING && state != State.TRYING && state != State.PROCEEDING) {
                return;
            }
            terminateLocked();
        }
        try {
            listener.onTimeout(this);
        } catch (RuntimeException e) {
            TransactionLayer.log.error("TU failed on timeout of {}", key, e);
        }
    }

    private void transportError(Throwable cause) {
        synchronized (this) {
            if (state == State.TERMINATED) {
                return;
            }
            terminateLocked();
        }
        listener.onTransportError(this, cause);
    }

    /** Ends the transaction now (e.g. the TU gave up on the branch). */
    public synchronized void terminate() {
        terminateLocked();
    }

    private void terminateLocked() {
        if (state == State.TERMINATED) {
            return;
        }
        state = State.TERMINATED;
        cancel(retransmitTimer);
        cancel(timeoutTimer);
        cancel(endTimer);
        layer.remove(this);
    }

    private static void cancel(Timeout timeout) {
        if (timeout != null) {
            timeout.cancel();
        }
    }

    @Override
    public String toString() {
        return "ClientTransaction[" + key + " " + state + "]";
    }
}
