package io.switchboard.telephony.calls;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A call in progress, as the proxy sees it: from the forwarded initial INVITE until the final
 * non-2xx answer, or the BYE after the 2xx. Fields change only through {@link CallTracker}; every
 * change and the snapshot written for it happen under the call's lock, so records reach the store
 * in the order the call changed.
 */
public final class ActiveCall {
    /** Where a call is in its life. */
    public enum Phase {
        RINGING, ANSWERED, ENDED
    }

    private final String id;
    private final String callId;
    private final String callerTag;
    private final String caller;
    private final String callee;
    private final String dialed;
    private final String node;
    private final Instant startedAt;
    private final List<String> devicesRung;
    private Phase phase = Phase.RINGING;
    private String answeredBy;
    private Instant ringingAt;
    private Instant answeredAt;
    private Instant endedAt;
    private String status = "ringing";
    private Integer finalCode;
    private String endedBy;

    ActiveCall(String id, String callId, String callerTag, String caller, String callee, String dialed,
               List<String> devicesRung, Instant startedAt, String node) {
        this.id = id;
        this.callId = callId;
        this.callerTag = callerTag;
        this.caller = caller;
        this.callee = callee;
        this.dialed = dialed;
        this.devicesRung = new ArrayList<>();
        for (String device : devicesRung) {
            if (device != null && !this.devicesRung.contains(device)) {
                this.devicesRung.add(device);
            }
        }
        this.startedAt = startedAt;
        this.node = node;
    }

    /**
     * What ends the call at both phones when it outlives {@code telephony.maxCallDuration}, set by
     * the proxy when the call is answered; null until then, and for calls it cannot end.
     */
    public interface HangUp {
        /**
         * Sends the BYEs (each counted by how it went); never blocks (runs on the sweep thread).
         *
         * @return false when none could be made (the tracker counts both phones as not sent one)
         */
        boolean hangUp();
    }

    private volatile HangUp hangUp;
    /** The highest CSeq seen from each side (the INVITE's, then every request in the dialog but ACK). */
    private final java.util.concurrent.atomic.AtomicLong callerCSeq = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong calleeCSeq = new java.util.concurrent.atomic.AtomicLong();
    private volatile String callerTarget;
    private volatile String calleeTarget;
    /** The To tag of the 2xx that answered the call: with the caller's tag, the dialog the call is. */
    private volatile String answeredTag;

    /**
     * A request of this call passed the node (from the caller or not): a BYE the node sends in
     * that side's name must carry a higher CSeq (RFC 3261 §12.2.2), PRACKs and UPDATEs before the
     * answer included.
     */
    public void sawRequest(boolean fromCaller, long cseq) {
        (fromCaller ? callerCSeq : calleeCSeq).accumulateAndGet(cseq, Math::max);
    }

    /**
     * A target refresh of one side was accepted (RFC 3261 §12.2: a re-INVITE or UPDATE answered
     * 2xx, its Contact from the side that sent it and the 2xx's from the other): that side's
     * Contact URI, which a BYE the node sends in the other's name must go to.
     */
    public void targetRefreshed(boolean caller, String contactUri) {
        if (caller) {
            callerTarget = contactUri;
        } else {
            calleeTarget = contactUri;
        }
    }

    /** One side's Contact URI from its last accepted target refresh; null when there was none. */
    public String refreshedTarget(boolean caller) {
        return caller ? callerTarget : calleeTarget;
    }

    /** The highest CSeq seen from one side, 0 when none. */
    public long highestCSeq(boolean fromCaller) {
        return (fromCaller ? callerCSeq : calleeCSeq).get();
    }

    /**
     * Attaches what ends the call at the phones (the proxy, at the 2xx), and the 2xx's To tag,
     * which names the one dialog of the call (a forked INVITE may have made others).
     */
    public void hangUpWith(HangUp hangUp, String answeredTag) {
        this.hangUp = hangUp;
        this.answeredTag = answeredTag;
    }

    /**
     * Which side of the answered dialog a request with these tags comes from: true for the
     * caller, false for the callee, null when the tags are not the answered dialog's (an early
     * dialog, another fork's, or before the answer).
     */
    public Boolean sideOf(String fromTag, String toTag) {
        String answered = answeredTag;
        if (answered == null || fromTag == null || toTag == null) {
            return null;
        }
        if (fromTag.equals(callerTag) && toTag.equals(answered)) {
            return true;
        }
        if (fromTag.equals(answered) && toTag.equals(callerTag)) {
            return false;
        }
        return null;
    }

    /** What ends the call at the phones, or null. */
    public HangUp hangUp() {
        return hangUp;
    }

    /** This call's record id (a UUID); SIP Call-IDs may repeat across calls, this does not. */
    public String id() {
        return id;
    }

    /** The SIP Call-ID of the initial INVITE. */
    public String callId() {
        return callId;
    }

    /** The From tag of the initial INVITE: tells a BYE from the caller from one from the callee. */
    public String callerTag() {
        return callerTag;
    }

    public String caller() {
        return caller;
    }

    public String callee() {
        return callee;
    }

    /** What the caller dialed (the Request-URI user), before number lookup. */
    public String dialed() {
        return dialed;
    }

    public String node() {
        return node;
    }

    public Instant startedAt() {
        return startedAt;
    }

    public synchronized List<String> devicesRung() {
        return List.copyOf(devicesRung);
    }

    public synchronized Phase phase() {
        return phase;
    }

    public synchronized String answeredBy() {
        return answeredBy;
    }

    public synchronized Instant ringingAt() {
        return ringingAt;
    }

    public synchronized Instant answeredAt() {
        return answeredAt;
    }

    public synchronized Instant endedAt() {
        return endedAt;
    }

    /** "ringing" or "answered" while the call is active, then its final status ("completed", "busy", ...). */
    public synchronized String status() {
        return status;
    }

    // ---- transitions, called by CallTracker under this call's lock -----------------------------

    boolean addDevice(String device) {
        if (phase != Phase.RINGING || device == null || devicesRung.contains(device)) {
            return false;
        }
        devicesRung.add(device);
        return true;
    }

    boolean markRinging(Instant at) {
        if (phase != Phase.RINGING || ringingAt != null) {
            return false;
        }
        ringingAt = at;
        return true;
    }

    boolean markAnswered(Instant at, String device) {
        if (phase != Phase.RINGING) {
            return false;
        }
        phase = Phase.ANSWERED;
        answeredAt = at;
        answeredBy = device;
        status = "answered";
        finalCode = 200;
        return true;
    }

    boolean markEnded(Instant at, String finalStatus, Integer code, String by) {
        if (phase == Phase.ENDED) {
            return false;
        }
        phase = Phase.ENDED;
        endedAt = at;
        status = finalStatus;
        if (code != null) {
            finalCode = code;
        }
        endedBy = by;
        return true;
    }

    /** The call as a row of call_records; only under this call's lock (see {@link CallTracker}). */
    CallRecord snapshot() {
        Long durationMillis = answeredAt != null && endedAt != null
                ? Math.max(0, endedAt.toEpochMilli() - answeredAt.toEpochMilli()) : null;
        return new CallRecord(id, callId, caller, callee, dialed, List.copyOf(devicesRung), answeredBy, startedAt,
                ringingAt, answeredAt, endedAt, durationMillis, status, finalCode, endedBy, node);
    }

    @Override
    public String toString() {
        return "call " + id + " (" + callId + ") " + caller + " -> " + callee;
    }
}
