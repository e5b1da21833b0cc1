package io.switchboard.telephony.proxy;

import io.netty.util.Timeout;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transaction.ClientTransaction;
import io.switchboard.sip.transaction.ClientTransactionListener;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.telephony.calls.ActiveCall;

import java.util.ArrayList;
import java.util.List;

/**
 * The response context of one proxied request (RFC 3261 §16.7): its server transaction, the
 * branches it was forked to, and what the caller has been told.
 * <p>
 * Provisional responses and every 2xx go to the caller at once; the first 2xx cancels the other
 * branches (§16.7 step 10 via §9.1, a CANCEL only once a branch answered provisionally), as does a
 * 6xx; otherwise the best final response is chosen when every branch has finished (§16.7 step 6).
 * <p>
 * Locking: client transactions call in while holding their own lock, so this class never calls a
 * synchronized method of an existing client transaction while holding its own lock; it answers
 * the server transaction under its lock, which keeps responses in order.
 */
final class ResponseContext {
    /**
     * After the caller cancels, or a device declines (6xx), how long branches that have not finished
     * may keep the caller waiting.
     */
    private static final long CANCEL_GRACE_MILLIS = 2_000;
    /** §9.1: a branch that answers neither the CANCEL nor the INVITE is given up after 64*T1. */
    private static final long CANCEL_GIVE_UP_MILLIS = 32_000;
    private static final String WITHDRAWN_REASON = "Temporarily Unavailable - account removed";
    private static final String SILENT_REASON = "Request Timeout - the device did not respond";
    static final ClientTransactionListener IGNORE = new ClientTransactionListener() {
        @Override
        public void onResponse(ClientTransaction transaction, SipResponse response) {
        }

        @Override
        public void onTimeout(ClientTransaction transaction) {
        }

        @Override
        public void onTransportError(ClientTransaction transaction, Throwable cause) {
        }
    };

    private final ProxyCore core;
    private final ServerTransaction server;
    /** The caller's request; dropped once the caller has a 2xx (the context lingers as long as the transactions). */
    private SipRequest request;
    /** The caller's Vias, for responses forwarded after that (RFC 3261 §16.7 step 3). */
    private final List<String> callerVias;
    /** The call being set up; let go once the caller has its final answer (the context lingers 32 s). */
    private ActiveCall call;
    /**
     * The record this request's INVITEs belong to: {@link #call}, or for a spiral (which records no
     * call of its own) the call it is a spiral of; what their branches are remembered under
     * ({@link ProxyCore#rememberSentInvite}) so that a spiral of a spiral is still that call. Null
     * when nothing is recorded (an in-dialog request, an edge hop for another node).
     */
    private final ActiveCall placedCall;
    private final boolean invite;
    /**
     * An INVITE that creates a dialog (no To tag): only its branches are given up when silent
     * ({@link #noResponse}). A re-INVITE goes to a party already in the call, and a 408 for it
     * would end the call (RFC 3261 §12.2.1.2); a slow PBX or B2BUA there is waited for.
     */
    private final boolean dialogCreating;
    private final List<Branch> branches = new ArrayList<>(2);
    private boolean finalSent;
    private boolean answered;
    private boolean ringing;
    private boolean cancelledByCaller;
    /** A device answered 6xx: the fork is over (§16.7 step 5) and the caller gets that answer soon. */
    private boolean declined;
    private Timeout cancelGrace;
    /** For an INVITE, what tells a merged copy of it ({@link ProxyCore#mergeKey}); null otherwise. */
    final String mergeKey;

    ServerTransaction server() {
        return server;
    }

    ResponseContext(ProxyCore core, ServerTransaction server, SipRequest request, ActiveCall call) {
        this(core, server, request, call, call);
    }

    ResponseContext(ProxyCore core, ServerTransaction server, SipRequest request, ActiveCall call, ActiveCall placedCall) {
        this.core = core;
        this.placedCall = placedCall;
        this.server = server;
        this.request = request;
        this.callerVias = List.copyOf(request.headers().fields(HeaderNames.VIA));
        this.call = call;
        this.invite = request.isMethod(SipRequest.INVITE);
        this.mergeKey = invite ? ProxyCore.mergeKey(request) : null;
        this.dialogCreating = invite && request.to().tag() == null;
    }

    synchronized Branch addBranch(String aor, String target, SipFlow flow) {
        Branch branch = new Branch(this, aor, target, flow);
        branches.add(branch);
        return branch;
    }

    /** The connection a branch waited for is open (ProxyCore#forwardWhenConnected). */
    synchronized void connected(Branch branch, SipFlow flow) {
        branch.flow = flow;
    }

    /** Starts the branch's client transaction (§16.6 step 10) and, for INVITE, its Timer C (step 11). */
    void send(Branch branch, SipRequest out) {
        synchronized (this) {
            if (answered || cancelledByCaller || branch.withdrawn || finalSent) {
                // answered, cancelled, withdrawn or given up (the node stopping) while the fork was being sent: do not ring it
                branch.skipped = true;
            } else if (placedCall != null && dialogCreating && !branch.finished) {
                // before it leaves: the device may send it back at once (a spiral, RFC 3261 §16.3)
                branch.sentBranch = out.topVia().branch();
                core.rememberSentInvite(branch.sentBranch, placedCall);
            }
        }
        if (branch.skipped) {
            onResponse(branch, null, 487, "Request Terminated");
            return;
        }
        ClientTransaction transaction;
        try {
            transaction = core.transactions.sendRequest(out, branch.flow, branch);
        } catch (RuntimeException e) {
            ProxyCore.log.warn("could not forward {} to {}: {}", out.method(), branch.target, e.toString());
            onResponse(branch, null, 503, "Service Unavailable");
            return;
        }
        synchronized (this) {
            branch.transaction = transaction;
            if (invite && !branch.finished) {
                restartTimerC(branch);
                if (!branch.provisional && dialogCreating) {
                    startResponseTimer(branch);
                }
            }
            if (branch.cancelOwed && branch.provisional && !branch.cancelSent && !branch.finished) {
                sendCancel(branch);
            }
            if (branch.withdrawn) {
                stopWithdrawn(branch); // withdrawn while its request was on the way
            }
        }
    }

    /**
     * The account of {@code aor} was removed: its branches stop ringing. One that rings gets a
     * CANCEL now (RFC 3261 §16.10); one that has not answered provisionally cannot be cancelled
     * yet (§9.1), so it gets its CANCEL when it does and is given up after a short grace; one not
     * sent yet is never sent. Each counts as a 480 for the caller (§16.7), so other members of a
     * number keep ringing and a call to the account alone ends at once.
     */
    synchronized void withdraw(String aor) {
        if (finalSent) {
            return;
        }
        for (Branch branch : branches) {
            if (aor.equals(branch.aor) && !branch.finished && !branch.withdrawn) {
                branch.withdrawn = true;
                stopWithdrawn(branch);
            }
        }
    }

    private void stopWithdrawn(Branch branch) {
        if (branch.finished || branch.transaction == null) {
            return; // not sent yet: send() skips it
        }
        if (branch.provisional) {
            if (!branch.cancelSent) {
                sendCancel(branch);
            }
        } else if (!branch.cancelOwed) {
            branch.cancelOwed = true;
            cancel(branch.timerC);
            branch.timerC = core.transactions.schedule(() -> withdrawnGraceOver(branch), CANCEL_GRACE_MILLIS);
        }
    }

    /**
     * A withdrawn branch still silent after the grace counts as a 480 for the caller, but its
     * INVITE transaction is kept (as {@link #graceOver} keeps the caller's): a 1xx arriving later
     * still gets its CANCEL (§9.1), a 2xx its ACK and BYE; Timer B ends it if nothing comes.
     * Terminating it would turn a late 2xx into a stray nobody ends, leaving the device in a call.
     */
    private void withdrawnGraceOver(Branch branch) {
        synchronized (this) {
            if (branch.finished || branch.settled) {
                return;
            }
            branch.timerC = null;
            branch.settled = true;
            if (finalSent) {
                return; // the caller has its answer already (request may be gone)
            }
            branch.finalResponse = SipResponse.to(request, 480, WITHDRAWN_REASON);
            branch.synthetic = true;
            settleIfAllFinished();
        }
    }

    void onResponse(Branch branch, SipResponse response) {
        onResponse(branch, response, response.status(), response.reason());
    }

    void onResponse(Branch branch, SipResponse response, int status, String reason) {
        Branch direct = null;
        SipRequest original = null;
        synchronized (this) {
            if (response == null && status >= 408 && branch.direct != null && !branch.finished && !finalSent
                    && !branch.provisional && !branch.cancelSent && !cancelledByCaller && !branch.withdrawn
                    && !branch.settled && request != null) {
                // The node holding a UDP device's flow did not answer at all (timeout or transport
                // error, RFC 3261 §8.1.3.1; a node that answered 100 was alive): the device itself may
                // still be reachable at the address it registered from, so it is tried directly in a
                // branch that replaces this one.
                direct = new Branch(this, branch.aor, branch.target, branch.direct);
                branches.add(direct);
                finish(branch);
                branch.finalResponse = SipResponse.to(request, status, reason);
                branch.synthetic = true;
                original = request;
            }
        }
        if (direct != null) {
            core.sendDirect(this, original, server.flow(), branch, direct);
            return;
        }
        synchronized (this) {
            if (branch.finished) {
                if (response != null && status >= 200 && status < 300 && !branch.withdrawn) {
                    server.respond(strip(response)); // a retransmitted 2xx, passed on (RFC 6026 §7.2)
                }
                return;
            }
            if (status < 200) {
                onProvisional(branch, response, status);
            } else if (status < 300) {
                onSuccess(branch, response);
            } else {
                onFailure(branch, response, status, reason);
            }
        }
    }

    private void onProvisional(Branch branch, SipResponse response, int status) {
        branch.provisional = true;
        cancel(branch.noResponse); // the device is there: from now on Timer C and the caller decide
        branch.noResponse = null;
        if (branch.cancelOwed && !branch.cancelSent && branch.transaction != null) {
            sendCancel(branch);
        }
        if (status == 100 || branch.withdrawn || branch.silent) {
            // §16.7 step 5: a 100 is not forwarded; nor is the ringing of a removed account's
            // device or of one given up as silent, which was just cancelled (and keeps the
            // CANCEL's give-up timer, not Timer C)
            return;
        }
        if (invite) {
            restartTimerC(branch); // §16.7 step 2
        }
        if (!finalSent) {
            server.respond(strip(response));
        }
        if (call != null && !ringing) {
            ringing = true;
            core.calls.ringing(call);
        }
    }

    private void onSuccess(Branch branch, SipResponse response) {
        if (branch.withdrawn && request != null) {
            // answered as its account was being removed (the CANCEL crossed the 2xx): nobody may
            // talk through a removed account, so the answer is ended and counts as a 480
            finish(branch);
            core.hangUpLateAnswer(request, response, branch.flow);
            onFailure(branch, null, 480, WITHDRAWN_REASON);
            return;
        }
        finish(branch);
        if (finalSent && !answered) {
            // the caller was already told no (the grace after its CANCEL ran out): end this late answer
            core.hangUpLateAnswer(request, response, branch.flow);
            return;
        }
        if (answered) {
            server.respond(strip(response)); // §16.7 step 5: every 2xx is forwarded
            return;
        }
        answered = true;
        finalSent = true;
        if (call != null) {
            // recorded before the 2xx leaves: the caller's ACK and a BYE may follow on other
            // threads at once, and a BYE must find the call answered, not still ringing
            if (!ringing) {
                ringing = true;
                core.calls.ringing(call);
            }
            core.calls.answered(call, branch.target);
            call.hangUpWith(core.hangUpFor(call, request, response), response.to().tag());
            call = null;
        } else if (request != null) {
            core.acceptedInDialog(request, response);
        }
        server.respond(strip(response)); // §16.7 step 5: every 2xx is forwarded
        core.settled(this);
        cancel(cancelGrace);
        cancelPendingBranches(branch); // §16.7 step 10
        request = null;
        for (Branch b : branches) {
            b.finalResponse = null;
        }
    }

    private void onFailure(Branch branch, SipResponse response, int status, String reason) {
        finish(branch);
        if (status == 430 && branch.throughBinding != null && !branch.withdrawn) {
            // told even when the caller has its answer already (another device took the call, the
            // caller cancelled): the next call should not go through that node to hear it again
            core.flowFailed(branch.throughBinding);
        }
        if (finalSent) {
            return; // the caller has its answer; nothing of this branch is needed any more
        }
        if (branch.withdrawn) {
            response = null;
            status = 480;
            reason = WITHDRAWN_REASON;
        } else if (branch.timedOut && status == 487) {
            // §16.8: the CANCEL was this proxy's, because nobody answered before Timer C: the
            // branch timed out (408); a 487 would tell the caller it had cancelled itself
            response = null;
            status = 408;
            reason = "Request Timeout";
        } else if (status == 430) {
            // RFC 5626 §11.5: a 430 tells this (authoritative) proxy that the device's flow through
            // the node that holds it failed; "endpoints should never receive a 430". To the caller
            // the device is unavailable until it registers again, as one with no flow here
            response = null;
            status = 480;
            reason = "Temporarily Unavailable - the device's connection is gone (until it registers again)";
        }
        branch.finalResponse = response != null ? response : SipResponse.to(request, status, reason);
        branch.synthetic = response == null;
        if (status >= 600 && !finalSent && !declined) {
            declined = true;
            cancelPendingBranches(branch); // a 6xx ends the fork (§16.7 step 5)
            if (cancelGrace == null) {
                // a device that rang and then ignores its CANCEL is given up after 32 s (§9.1);
                // the person who declined is not kept waiting for that
                cancelGrace = core.transactions.schedule(this::graceOver, CANCEL_GRACE_MILLIS);
            }
        }
        settleIfAllFinished();
    }

    /**
     * §16.7 step 6: every branch has its final answer: the best goes to the caller. After a 6xx,
     * branches that never answered provisionally are not waited for: they cannot be cancelled
     * until they do (§9.1; their CANCEL is owed and goes with their first 1xx), and waiting for
     * their Timer B kept a caller whom the flat had declined hearing ringing for 32 s whenever one
     * of its devices had a stale registration. The 6xx is the answer whatever they say (step 6).
     */
    private void settleIfAllFinished() {
        if (!finalSent && (allFinished() || declined && onlySilentBranchesLeft())) {
            settle();
        }
    }

    private void settle() {
        finalSent = true;
        cancel(cancelGrace);
        SipResponse best = best();
        server.respond(best);
        core.settled(this); // after the answer: a merged copy arriving before it is still told apart
        if (call != null) {
            core.calls.failed(call, best.status(), best.reason());
            call = null;
        }
    }

    /**
     * The node stops with this call still ringing: what rings is cancelled (§16.10; a branch that
     * has not answered provisionally gets its CANCEL only if its 1xx comes before the sockets
     * close, §9.1) and the caller gets 503 with Retry-After (§21.5.4), so it may try another node
     * at once rather than ring on with nobody to connect it.
     */
    void endForShutdown() {
        synchronized (this) {
            if (finalSent) {
                return;
            }
            finalSent = true;
            cancel(cancelGrace);
            cancelPendingBranches(null);
            // a caller that cancelled already gets what its CANCEL asked for (§9.2), not a 503
            SipResponse last = cancelledByCaller ? SipResponse.to(request, 487, "Request Terminated").withToTag(toTagOf())
                    : SipResponse.to(request, 503, "Service Unavailable - node is shutting down").withToTag(toTagOf());
            if (!cancelledByCaller) {
                last.headers().add(HeaderNames.RETRY_AFTER, "5");
            }
            server.respond(last);
            core.settled(this);
            if (call != null) {
                core.calls.failed(call, last.status(), last.reason());
                call = null;
            }
        }
    }

    /** Whether every branch has its final answer (the CANCELs sent at a stop answered). */
    synchronized boolean branchesFinished() {
        return allFinished();
    }

    /** §16.10: the caller gave up; cancel what still rings. */
    void cancelByCaller() {
        synchronized (this) {
            if (finalSent || cancelledByCaller) {
                return;
            }
            cancelledByCaller = true;
            cancelPendingBranches(null);
            cancelGrace = core.transactions.schedule(this::graceOver, CANCEL_GRACE_MILLIS);
        }
    }

    private void graceOver() {
        synchronized (this) {
            if (finalSent) {
                return;
            }
            if (declined) {
                settle(); // a device declined (before or after a CANCEL): its 6xx is the answer (§16.7 step 6)
                return;
            }
            // branches that never answered provisionally cannot be cancelled yet (§9.1); the caller
            // is told now instead of after their Timer B
            finalSent = true;
            server.respond(SipResponse.to(request, 487, "Request Terminated").withToTag(toTagOf()));
            core.settled(this);
            if (call != null) {
                core.calls.failed(call, 487, "Request Terminated");
                call = null;
            }
        }
    }

    private String toTagOf() {
        return core.toTag;
    }

    private void cancelPendingBranches(Branch except) {
        if (!invite) {
            return; // only an INVITE can be cancelled (§9)
        }
        for (Branch other : branches) {
            if (other == except || other.finished || other.cancelSent) {
                continue;
            }
            if (other.provisional && other.transaction != null) {
                sendCancel(other);
            } else {
                other.cancelOwed = true;
            }
        }
    }

    private void sendCancel(Branch branch) {
        branch.cancelSent = true;
        SipRequest cancel = branch.transaction.createCancel();
        if (cancel == null) {
            return; // its final response is on the way to us
        }
        try {
            core.transactions.sendRequest(cancel, branch.flow, IGNORE);
        } catch (RuntimeException e) {
            ProxyCore.log.debug("could not cancel branch {}: {}", branch.target, e.toString());
        }
        cancel(branch.timerC);
        branch.timerC = core.transactions.schedule(() -> giveUp(branch), CANCEL_GIVE_UP_MILLIS);
    }

    private void restartTimerC(Branch branch) {
        cancel(branch.timerC);
        branch.timerC = core.transactions.schedule(() -> timerC(branch), core.settings.timerC().toMillis());
    }

    /**
     * §16.8: Timer C fired: cancel a branch that rings (its answer to the CANCEL then counts as a
     * 408); one that never answered counts as a 408 at once.
     */
    private void timerC(Branch branch) {
        boolean silent;
        synchronized (this) {
            if (branch.finished) {
                return;
            }
            silent = !branch.provisional || branch.transaction == null;
            if (!silent && !branch.cancelSent) {
                branch.timedOut = true;
                sendCancel(branch);
                return;
            }
        }
        if (silent) {
            giveUp(branch);
        }
    }

    private void startResponseTimer(Branch branch) {
        long millis = core.settings.branchResponseTimeout().toMillis();
        if (millis > 0) {
            branch.noResponse = core.transactions.schedule(() -> noResponse(branch), millis);
        }
    }

    /**
     * The device of this branch sent nothing at all, not even 100 Trying, within
     * telephony.branchResponseTimeout: it is probably gone (a phone unplugged, a NAT binding that
     * expired) and the caller should not wait for its Timer B (32 s) while another device has
     * already said busy, or while none of the devices is there. The branch counts as a 408 in the
     * choice of the best response from now on (§16.7 step 6, as §16.8 has a timed-out branch
     * count), but its client transaction is kept, as {@link #withdrawnGraceOver} keeps a withdrawn
     * one: a phone that wakes late (a TCP or TLS device out of doze) may still ring or answer. A
     * late 1xx gets the CANCEL it is owed (it cannot be cancelled before one, RFC 3261 §9.1); a
     * late 2xx is forwarded to a caller still waiting (§16.7 step 5: every 2xx is forwarded), and
     * is ACKed and ended with a BYE once the caller was told no. Timer B ends the transaction if
     * nothing comes (over UDP its INVITE is no longer retransmitted:
     * {@link ClientTransaction#stopRetransmitting}). Everything is decided under
     * the lock, so a response that arrives as the timer fires is either seen here (the branch
     * rings on) or finds the branch given up.
     */
    private void noResponse(Branch branch) {
        ClientTransaction transaction;
        synchronized (this) {
            branch.noResponse = null;
            if (branch.finished || branch.settled || branch.provisional || branch.transaction == null
                    || !dialogCreating) {
                return;
            }
            if (branch.cancelOwed || finalSent) {
                // the caller cancelled, another device declined or answered, or the account was
                // removed: the caller is answered by that; this branch's transaction is kept so
                // that a late 1xx still gets the CANCEL it is owed (§9.1) and a late 2xx is hung
                // up; Timer B ends it if nothing comes
                return;
            }
            transaction = branch.transaction;
            if (branch.direct == null) {
                branch.silent = true; // from now on a 1xx of this branch is not forwarded (onProvisional)
                branch.settled = true;
                branch.cancelOwed = true;
                branch.timedOut = true; // the 487 a late ringing answers to its CANCEL is a 408
                branch.finalResponse = SipResponse.to(request, 408, SILENT_REASON);
                branch.synthetic = true;
            }
        }
        if (branch.direct == null) {
            // given up: over UDP the INVITE is not sent again to a device thought gone (Timer A
            // would go on doubling until Timer B, 32 s), yet its transaction still takes a late
            // response until Timer B (RFC 3261 §17.1.1.2). Outside this context's lock (see the
            // class comment), and before the caller may hear 408
            transaction.stopRetransmitting();
        }
        long millis = core.settings.branchResponseTimeout().toMillis();
        String within = millis % 1000 == 0 ? millis / 1000 + "s" : millis + "ms";
        SipFlow flow = branch.flow;
        ProxyCore.log.info("no response from {}{} over {} within {} to INVITE {}: given up as 408"
                        + " (telephony.branchResponseTimeout)", branch.target,
                branch.aor == null ? "" : " (" + branch.aor + ")",
                flow == null ? "?" : flow.transport().uriParam() + " " + io.switchboard.platform.config.HostPort.format(
                        flow.remote().getAddress().getHostAddress(), flow.remote().getPort()), within, server.request().callId());
        core.calls.silentBranch();
        if (branch.direct != null) {
            // through the node holding a UDP device's flow, which did not even answer 100: it may
            // have died, and the device is tried directly (onResponse) in a branch that replaces this
            // one; unless its 1xx came in the meantime: ending a ringing transaction would leave the
            // device ringing with no CANCEL to come
            giveUp(branch, true);
            return;
        }
        synchronized (this) {
            settleIfAllFinished();
        }
    }

    private void giveUp(Branch branch) {
        giveUp(branch, false);
    }

    /** With {@code unlessRinging}, a branch whose 1xx came meanwhile goes on as any ringing one. */
    private void giveUp(Branch branch, boolean unlessRinging) {
        ClientTransaction transaction;
        synchronized (this) {
            if (branch.finished || unlessRinging && branch.provisional) {
                return;
            }
            transaction = branch.transaction;
        }
        if (transaction != null) {
            transaction.terminate();
        }
        onResponse(branch, null, 408, "Request Timeout");
    }

    private void finish(Branch branch) {
        branch.finished = true;
        if (branch.sentBranch != null) {
            core.forgetSentInvite(branch.sentBranch);
        }
        cancel(branch.noResponse);
        branch.noResponse = null;
        cancel(branch.timerC);
        branch.timerC = null;
    }

    /** Whether every branch still open has not answered even provisionally. */
    private boolean onlySilentBranchesLeft() {
        for (Branch b : branches) {
            if (!b.finished && !b.settled && b.provisional) {
                return false;
            }
        }
        return true;
    }

    private boolean allFinished() {
        for (Branch b : branches) {
            if (!b.finished && !b.settled) {
                return false;
            }
        }
        return true;
    }

    /**
     * §16.7 step 6: a 6xx if any, else a response of the lowest class; within a class the most
     * telling (busy over unavailable over a timeout), and a device that could not be connected to
     * last of all ({@link #rank(Branch)}); a lone 503 becomes 500. Challenges of every
     * 401/407 are gathered into the chosen one (step 7).
     */
    private SipResponse best() {
        Branch chosen = null;
        for (Branch b : branches) {
            if (b.finalResponse != null && (chosen == null || rank(b) < rank(chosen))) {
                chosen = b;
            }
        }
        if (chosen == null) {
            return SipResponse.to(request, 408, "Request Timeout").withToTag(toTagOf());
        }
        SipResponse picked = chosen.finalResponse;
        int status = picked.status();
        if (status == 503) {
            return SipResponse.to(request, 500, "Server Internal Error - every destination failed").withToTag(toTagOf());
        }
        if (chosen.synthetic) {
            return picked.withToTag(toTagOf());
        }
        SipResponse out = strip(picked);
        if (status == 401 || status == 407) {
            for (Branch b : branches) {
                if (b != chosen && b.finalResponse != null && !b.synthetic
                        && (b.finalResponse.status() == 401 || b.finalResponse.status() == 407)) {
                    for (String name : List.of(HeaderNames.WWW_AUTHENTICATE, HeaderNames.PROXY_AUTHENTICATE)) {
                        for (String value : b.finalResponse.headers().fields(name)) {
                            out.headers().add(name, value);
                        }
                    }
                }
            }
        }
        return out;
    }

    /**
     * A branch whose device could not be connected to ranks after every other 4xx (a 408 of a
     * device that rang unanswered, a 487): that device was never asked, so it says nothing about
     * the call. Its 480 is still a 4xx, and §16.7 step 6 makes the lowest class win, so it goes
     * before a 5xx of another branch (whose 503 would become the caller's 500).
     */
    private static int rank(Branch b) {
        return b.unreachable ? UNREACHABLE_RANK : rank(b.finalResponse.status());
    }

    /** After every 4xx {@link #rank(int)} gives (4000-4099), before any 5xx. */
    private static final int UNREACHABLE_RANK = 4099;

    /** Marks a branch whose device could not be connected to, then ends it with its 480 (see {@link #rank(Branch)}). */
    void unreachable(Branch branch, String reason) {
        synchronized (this) {
            if (branch.finalResponse == null && !branch.finished) {
                branch.unreachable = true;
            }
        }
        onResponse(branch, null, 480, reason);
    }

    private static int rank(int status) {
        if (status >= 600) {
            return status - 600;
        }
        int classBase = (status / 100) * 100 * 10;
        int within = switch (status) {
            case 486 -> 0;
            case 401, 407 -> 1;
            case 480 -> 50;
            case 487 -> 60;
            case 408 -> 70;
            case 503 -> 80;
            default -> 10;
        };
        return classBase + within;
    }

    /**
     * §16.7 step 3: the response goes on without our Via. The Vias below ours are by rule the
     * caller's request's own, so they are taken from the request: a peer that echoes only the top
     * Via (some do in a 487 after CANCEL) cannot misroute the response.
     */
    private SipResponse strip(SipResponse response) {
        SipResponse copy = new SipResponse(response.status(), response.reason(), response.headers().copy(), response.body());
        copy.headers().remove(HeaderNames.VIA);
        List<String> vias = callerVias;
        for (int i = vias.size() - 1; i >= 0; i--) {
            copy.headers().addFirst(HeaderNames.VIA, vias.get(i));
        }
        return copy;
    }

    private static void cancel(Timeout timeout) {
        if (timeout != null) {
            timeout.cancel();
        }
    }
}
