package io.switchboard.telephony.proxy;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transaction.TransactionLayer;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.sip.transport.TransportFailure;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.calls.ActiveCall;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.telephony.numbers.NumberDirectory;
import io.switchboard.telephony.numbers.RingGroup;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.LocationService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import java.util.zip.CRC32;

/**
 * The stateful proxy (RFC 3261 §16): requests other than REGISTER go through here.
 * <p>
 * Out-of-dialog requests are authenticated (407, unless from a trusted peer), resolved against
 * numbers and the location service, and forked in parallel to every live binding of the callee
 * (§16.5, §16.6); {@link ResponseContext} chooses what the caller hears (§16.7). Dialog-creating
 * requests are Record-Routed so in-dialog requests come back through this node (§16.6 step 4);
 * our Record-Route entries carry flow tokens for both ends, so an in-dialog request reaches a
 * browser over its WebSocket or a phone through its NAT binding without rewriting its Contact.
 * When the two ends are on different transports two entries are written, one per side (RFC 5658).
 */
public final class ProxyCore {
    static final Logger log = LoggerFactory.getLogger(ProxyCore.class);
    /** The parameter of our Record-Route entries that carries the signature of their flow tokens. */
    static final String ROUTE_MARK = "sb";

    final ProxySettings settings;
    private final LocationService location;
    private final AccountDirectory accounts;
    private final NumberDirectory numbers;
    private final DigestAuthenticator authenticator;
    final CallTracker calls;
    private final FlowDirectory flows;
    private final LocalEndpoints local;
    private final Clock clock;
    private final Consumer<String> authFailures;
    private final RouteSigner signer;
    /** RFC 3261 §8.2.6.2: the To tag of responses this node makes up itself. */
    final String toTag = Long.toHexString(new java.security.SecureRandom().nextLong());
    volatile TransactionLayer transactions;
    /** INVITEs forked and not yet answered finally: what {@link #withdraw} looks through. */
    private final java.util.Set<ResponseContext> ringing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Moves with every {@link #withdraw}, so a fork that raced one checks its targets again. */
    private final java.util.concurrent.atomic.AtomicLong withdrawals = new java.util.concurrent.atomic.AtomicLong();

    public ProxyCore(ProxySettings settings, LocationService location, AccountDirectory accounts, NumberDirectory numbers,
                     DigestAuthenticator authenticator, CallTracker calls, FlowDirectory flows, LocalEndpoints local,
                     Clock clock, Consumer<String> authFailures, RouteSigner signer) {
        this.settings = settings;
        this.location = location;
        this.accounts = accounts;
        this.numbers = numbers;
        this.authenticator = authenticator;
        this.calls = calls;
        this.flows = flows;
        this.local = local;
        this.clock = clock;
        this.authFailures = authFailures;
        this.signer = signer;
    }

    public void bind(TransactionLayer layer) {
        this.transactions = layer;
    }

    /** A request for the proxy: anything but REGISTER, CANCEL and ACK, and OPTIONS to the node itself. */
    public void onRequest(ServerTransaction tx) {
        SipRequest request = tx.request();
        try {
            route(tx, request);
        } catch (IllegalArgumentException e) {
            reject(tx, request, 400, "Bad Request - " + e.getMessage());
        } catch (RuntimeException e) {
            // malformed input must not flood the log with stack traces
            log.debug("could not route {} from {}", request.startLine(), tx.flow().remote(), e);
            reject(tx, request, 500, "Server Internal Error");
        }
    }

    private void route(ServerTransaction tx, SipRequest request) {
        int maxForwards = request.maxForwards();
        if (maxForwards == 0) {
            reject(tx, request, 483, "Too Many Hops"); // RFC 3261 §16.3 step 3
            return;
        }
        String loopHash = loopHash(request);
        if (isLoop(request, loopHash)) {
            reject(tx, request, 482, "Loop Detected"); // §16.3 step 4
            return;
        }
        boolean invite = request.isMethod(SipRequest.INVITE);
        if (invite) {
            // a CANCEL may be handled on another thread before this INVITE is forked
            tx.attach(new CancelGate());
            // §16.2: a stateful proxy answers 100 at once so the caller stops retransmitting
            tx.respond(SipResponse.to(request, 100, "Trying"));
        }
        OwnRoute own = popOwnRoutes(request); // §16.4
        if (request.to().tag() != null) {
            forwardInDialog(tx, request, own, loopHash);
            return;
        }
        if (isSips(request.requestUri()) && !isSecure(tx.flow())) {
            // RFC 3261 §26.2.2 and RFC 5630: every hop of a request to a SIPS URI is TLS; this one
            // was not, so the caller cannot have the security it asked for
            reject(tx, request, 480, "Temporarily Unavailable - a sips: request must reach this proxy over TLS (RFC 5630)");
            return;
        }
        if (isDialogCreating(request) && !isSecure(tx.flow()) && hasSipsContact(request)) {
            // RFC 5630: a SIPS Contact asks for TLS on every hop of the requests sent back to it;
            // from a plain connection that cannot hold (as for REGISTER, Registrar)
            reject(tx, request, 400, "Bad Request - a sips: Contact must be sent over TLS (RFC 5630), not "
                    + tx.flow().transport());
            return;
        }
        if (!request.headers().fields(HeaderNames.ROUTE).isEmpty()) {
            // a preloaded route past this node: not an open relay
            reject(tx, request, 403, "Forbidden - routes through other hosts are not followed");
            return;
        }
        if (request.requestUri().user() == null) {
            // addressed to the node itself, which as a user agent does only these (RFC 3261 §21.4.6)
            SipResponse notAllowed = SipResponse.to(request, 405, "Method Not Allowed").withToTag(toTag);
            notAllowed.headers().add(HeaderNames.ALLOW, "REGISTER, OPTIONS");
            tx.respond(notAllowed);
            return;
        }
        Caller caller = authenticate(tx, request);
        if (caller == null) {
            return;
        }
        forwardToCallee(tx, request, caller, loopHash);
    }

    // ---- out of dialog ------------------------------------------------------------------------

    private record Caller(String identity, boolean trusted) {
    }

    /** RFC 3261 §22.3: devices prove who they are with Proxy-Authorization; trusted peers need not. */
    private Caller authenticate(ServerTransaction tx, SipRequest request) {
        NameAddress from = request.from();
        String fromUser = from.uri().user();
        String fallback = fromUser != null ? fromUser : from.uri().toString();
        if (!settings.authenticate() || settings.isTrusted(tx.flow().remote().getAddress())) {
            return new Caller(fallback, true);
        }
        String realm = accounts.domainFor(from.uri().host());
        String header = DigestAuthenticator.credentialsFor(request.headers().fields(HeaderNames.PROXY_AUTHORIZATION), realm);
        DigestAuthenticator.Outcome outcome = authenticator.verify(header, realm, request.method(), request.requestUri());
        switch (outcome.status()) {
            case NO_CREDENTIALS, STALE, REPLAYED, WRONG_ALGORITHM, NONCE_FOR_OTHER_URI -> {
                if (outcome.status() != DigestAuthenticator.Status.NO_CREDENTIALS
                        && outcome.status() != DigestAuthenticator.Status.STALE) {
                    authFailures.accept(outcome.status().meterReason());
                }
                // the caller is the From user (checked against the credentials below), so the
                // challenge is the one that account gets, its nonce bound to this Request-URI
                SipResponse challenge = SipResponse.to(request, 407, "Proxy Authentication Required").withToTag(toTag);
                for (String value : authenticator.challenges(realm, fromUser, outcome.stale(), request.requestUri())) {
                    challenge.headers().add(HeaderNames.PROXY_AUTHENTICATE, value);
                }
                tx.respond(challenge);
                return null;
            }
            case BAD_CREDENTIALS -> {
                authFailures.accept("bad_credentials");
                reject(tx, request, 400, "Bad Request - " + outcome.reason());
                return null;
            }
            case UNKNOWN_USER, WRONG_PASSWORD -> {
                // one answer for both, so user names cannot be probed
                authFailures.accept(outcome.status().meterReason());
                reject(tx, request, 403, "Forbidden");
                return null;
            }
            default -> {
                Account account = outcome.account();
                if (fromUser == null || !account.username().equals(fromUser)) {
                    authFailures.accept("wrong_user");
                    reject(tx, request, 403, "Forbidden - From must be the authenticated account " + account.username());
                    return null;
                }
                return new Caller(account.username(), false);
            }
        }
    }

    /**
     * One place a request is forked to: a device's contact, the AOR it registered, and the flow that
     * reaches it, or the TLS connection being opened to it ({@link FlowDirectory#reconnectTls}).
     */
    record Target(String aor, String contact, SipFlow flow, CompletionStage<SipFlow> connecting) {
    }

    /** RFC 3261 §19.1: the SIPS scheme. */
    static boolean isSips(SipUri uri) {
        return uri != null && "sips".equals(uri.scheme());
    }

    /** A flow secured by TLS: SIP over TLS, or a WebSocket over TLS (RFC 7118 §5). */
    static boolean isSecure(SipFlow flow) {
        return flow.transport() == Transport.TLS || flow.transport() == Transport.WSS;
    }

    private static boolean hasSipsContact(SipRequest request) {
        try {
            for (NameAddress contact : request.contacts()) {
                if (!contact.isWildcard() && isSips(contact.uri())) {
                    return true;
                }
            }
        } catch (IllegalArgumentException e) {
            return false; // a malformed Contact is the dialog's problem later, not this rule's
        }
        return false;
    }

    /** §16.5: the targets are the bindings of the callee, or of every member of a number. */
    private void forwardToCallee(ServerTransaction tx, SipRequest request, Caller caller, String loopHash) {
        SipUri uri = request.requestUri();
        boolean invite = request.isMethod(SipRequest.INVITE);
        if (!uri.isSip() || uri.user() == null) {
            reject(tx, request, 404, "Not Found - the Request-URI names no user");
            return;
        }
        String domain = accounts.domainFor(uri.host());
        boolean ours = domain.equalsIgnoreCase(uri.host()) || local.isThisNode(uri);
        if (!ours) {
            reject(tx, request, 403, "Forbidden - " + uri.host() + " is not served here and relaying is not allowed");
            return;
        }
        String dialed = uri.user();
        Optional<RingGroup> group = numbers.lookup(dialed, domain);
        List<String> aors = new ArrayList<>();
        String callee;
        boolean known;
        if (group.isPresent()) {
            for (String member : group.get().members()) {
                aors.add("sip:" + member + "@" + domain);
            }
            callee = "number " + dialed + "@" + domain;
            known = true;
        } else {
            String aor = "sip:" + dialed + "@" + domain;
            aors.add(aor);
            callee = aor;
            known = accounts.lookup(dialed, domain).isPresent();
        }
        String callerContact = callerContact(request);
        long withdrawalsSeen = withdrawals.get();
        long now = clock.millis();
        Map<String, Target> targets = new LinkedHashMap<>();
        boolean anyBinding = false;
        boolean sips = isSips(uri);
        int insecureOnly = 0;
        for (String aor : aors) {
            for (Binding binding : location.lookup(aor, now)) {
                anyBinding = true;
                if (binding.contact().equals(callerContact) || targets.containsKey(binding.contact())) {
                    continue; // a member calling its own group does not ring itself
                }
                Optional<SipFlow> open = flows.toBinding(binding);
                if (open.isPresent()) {
                    if (sips && !isSecure(open.get())) {
                        // RFC 5630 and RFC 3261 §26.2.2: a SIPS request never leaves over a plain hop
                        insecureOnly++;
                        continue;
                    }
                    targets.put(binding.contact(), new Target(aor, binding.contact(), open.get(), null));
                } else {
                    // its connection is gone; a TLS Contact can be connected to again (§18.1.1, §26.2)
                    flows.reconnectTls(binding).ifPresent(connecting -> targets.put(binding.contact(),
                            new Target(aor, binding.contact(), null, connecting)));
                }
            }
        }
        if (targets.isEmpty()) {
            // §16.5 / §21.4.18: known but not reachable now is 480; unknown is 404
            boolean reachableUser = known || anyBinding;
            int status = reachableUser ? 480 : 404;
            String reason = insecureOnly > 0
                    ? "Temporarily Unavailable - the callee is reachable only without TLS, which a sips: request must not take (RFC 5630)"
                    : reachableUser ? "Temporarily Unavailable" : "Not Found";
            if (invite) {
                ActiveCall call = calls.started(request.callId(), request.from().tag(), caller.identity(), callee, dialed, List.of());
                calls.failed(call, status, reason);
            }
            reject(tx, request, status, reason);
            return;
        }
        ActiveCall call = null;
        if (invite) {
            List<String> devices = new ArrayList<>(targets.keySet());
            call = calls.started(request.callId(), request.from().tag(), caller.identity(), callee, dialed, devices);
        }
        ResponseContext context = new ResponseContext(this, tx, request, call);
        boolean cancelledEarly = handOver(tx, context);
        boolean dialogCreating = isDialogCreating(request);
        List<Branch> branches = new ArrayList<>();
        List<Target> forked = new ArrayList<>(targets.values());
        for (Target target : forked) {
            branches.add(context.addBranch(target.aor(), target.contact(), target.flow()));
        }
        if (invite) {
            ringing.add(context);
            if (withdrawals.get() != withdrawalsSeen) {
                // an account was removed since the bindings were read, and the removal may have
                // looked for ringing calls before this one was listed: check its AORs again
                for (String aor : aors) {
                    if (location.lookup(aor, now).isEmpty()) {
                        context.withdraw(aor);
                    }
                }
            }
        }
        SipFlow callerFlow = tx.flow();
        for (int i = 0; i < branches.size(); i++) {
            Branch branch = branches.get(i);
            CompletionStage<SipFlow> connecting = forked.get(i).connecting();
            if (connecting == null) {
                forwardBranch(context, branch, request, callerFlow, loopHash, dialogCreating);
            } else {
                forwardWhenConnected(context, branch, connecting, request, callerFlow, loopHash, dialogCreating);
            }
        }
        if (cancelledEarly) {
            context.cancelByCaller();
        }
    }

    /** §16.6 steps 1-10 for one branch whose flow is known. */
    private void forwardBranch(ResponseContext context, Branch branch, SipRequest request, SipFlow callerFlow,
                               String loopHash, boolean dialogCreating) {
        SipRequest out;
        try {
            out = forwardedCopy(request, SipUri.parse(branch.target), branch.flow, loopHash);
        } catch (IllegalArgumentException e) {
            // a contact stored from a device that we cannot address: this branch fails alone
            context.onResponse(branch, null, 502, "Bad Gateway - unusable contact " + branch.target);
            return;
        }
        if (dialogCreating) {
            addRecordRoute(out, callerFlow, branch.flow, request.from().tag(), isSips(request.requestUri()),
                    isSips(out.requestUri()));
        }
        context.send(branch, out);
    }

    /**
     * A branch to a device reached by a new TLS connection: sent once the connection is open and
     * the device's certificate checked, on a SIP lane (never on the event loop that finished the
     * handshake). The other branches ring meanwhile; a branch cancelled or answered elsewhere in
     * the meantime is not sent ({@link ResponseContext#send}).
     */
    private void forwardWhenConnected(ResponseContext context, Branch branch, CompletionStage<SipFlow> connecting,
                                      SipRequest request, SipFlow callerFlow, String loopHash, boolean dialogCreating) {
        connecting.whenCompleteAsync((flow, error) -> {
            if (flow == null) {
                failBranch(context, branch, error);
                return;
            }
            try {
                context.connected(branch, flow);
                forwardBranch(context, branch, request, callerFlow, loopHash, dialogCreating);
            } catch (RuntimeException e) {
                log.warn("could not forward {} to {}: {}", request.method(), branch.target, e.toString());
                context.onResponse(branch, null, 500, "Server Internal Error");
            }
        }, transactions.transport().executor());
    }

    /**
     * A branch whose connection could not be opened: RFC 3261 §16.9, a transport error counts as a
     * 503 from that branch; §16.8, a connect or handshake that timed out as a 408. (§16.7 step 6
     * then turns a lone 503 into a 500 for the caller.)
     */
    private static void failBranch(ResponseContext context, Branch branch, Throwable error) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause() : error;
        boolean timedOut = cause instanceof TransportFailure failure && failure.timedOut();
        log.debug("no TLS connection to {}: {}", branch.target, cause == null ? "closed" : cause.getMessage());
        if (timedOut) {
            context.onResponse(branch, null, 408, "Request Timeout");
        } else {
            context.onResponse(branch, null, 503, "Service Unavailable");
        }
    }

    /**
     * Replaces the INVITE's {@link CancelGate} by its response context; true when the caller
     * cancelled meanwhile (the context then cancels what it forked).
     */
    private static boolean handOver(ServerTransaction tx, ResponseContext context) {
        Object attachment = tx.attachment();
        tx.attach(context);
        return attachment instanceof CancelGate gate && gate.handOver(context);
    }

    private static String callerContact(SipRequest request) {
        try {
            List<NameAddress> contacts = request.contacts();
            return contacts.isEmpty() ? null : contacts.get(0).uri().toString();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean isDialogCreating(SipRequest request) {
        return request.isMethod(SipRequest.INVITE) || request.isMethod(SipRequest.SUBSCRIBE)
                || request.isMethod(SipRequest.REFER);
    }

    /**
     * The account of {@code aor} was removed and its bindings are already gone from the location
     * service: calls still ringing its devices stop ringing them (RFC 3261 §16.10, §9.1). Calls
     * already answered go on; the caller or callee ends them.
     */
    public void withdraw(String aor) {
        withdrawals.incrementAndGet();
        for (ResponseContext context : ringing) {
            context.withdraw(aor);
        }
    }

    /** The caller of a forked INVITE has its final answer. */
    void settled(ResponseContext context) {
        ringing.remove(context);
    }

    /** INVITEs forked whose caller has no final answer yet (for tests and metrics). */
    public int ringingCalls() {
        return ringing.size();
    }

    // ---- in dialog ----------------------------------------------------------------------------

    /** Our Route entries popped from a request; the flow tokens when one of them was signed by us. */
    record OwnRoute(String fromTag, String callerFlow, String calleeFlow, boolean signed) {
    }

    /**
     * §16.4: Route entries naming this node are removed. An entry we Record-Routed carries signed
     * flow tokens that say over which flows the two ends of the dialog are reached; an entry a
     * device preloaded (this node as its outbound proxy, by address or by a served domain) has none.
     * A Route whose signature does not verify is not ours.
     */
    OwnRoute popOwnRoutes(SipRequest request) {
        List<String> routes = request.headers().values(HeaderNames.ROUTE);
        if (routes.isEmpty()) {
            return null;
        }
        OwnRoute own = null;
        int popped = 0;
        for (String value : routes) {
            NameAddress route = NameAddress.parse(value);
            SipUri uri = route.uri();
            if (!uri.isSip() || uri.host() == null) {
                break;
            }
            String mark = uri.param(ROUTE_MARK);
            if (mark != null) {
                String ftag = uri.param("ftag");
                String cf = uri.param("cf");
                String ef = uri.param("ef");
                if (!signer.verify(signedText(ftag, cf, ef), mark)) {
                    break;
                }
                if (own == null || !own.signed()) {
                    own = new OwnRoute(ftag, FlowDirectory.fromToken(cf), FlowDirectory.fromToken(ef), true);
                }
            } else if (local.isThisNode(uri) || accounts.domainFor(uri.host()).equalsIgnoreCase(uri.host())) {
                if (own == null) {
                    own = new OwnRoute(null, null, null, false);
                }
            } else {
                break;
            }
            popped++;
        }
        if (popped > 0) {
            request.headers().remove(HeaderNames.ROUTE);
            for (String rest : routes.subList(popped, routes.size())) {
                request.headers().add(HeaderNames.ROUTE, rest);
            }
        }
        return own;
    }

    private static String signedText(String ftag, String cf, String ef) {
        return ftag + "|" + cf + "|" + ef;
    }

    private void forwardInDialog(ServerTransaction tx, SipRequest request, OwnRoute own, String loopHash) {
        if (own == null || !own.signed()) {
            // not routed through us at dialog creation: refuse rather than relay (as Kamailio's default "Not here")
            reject(tx, request, 404, "Not Found - in-dialog request without this proxy's Route");
            return;
        }
        if (request.isMethod(SipRequest.BYE) && calls != null) {
            String fromTag = request.from().tag();
            calls.find(request.callId()).ifPresent(call ->
                    calls.ended(call, fromTag != null && fromTag.equals(call.callerTag()) ? "caller" : "callee"));
        }
        nextHop(request, own).whenComplete((flow, error) -> {
            if (flow == null) {
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                if (cause instanceof TransportFailure failure) {
                    // §16.8 / §16.9 with §16.7 step 6: a timeout is a 408, a failed connection a 500
                    if (failure.timedOut()) {
                        reject(tx, request, 408, "Request Timeout - no TLS connection to the other party in time");
                    } else {
                        reject(tx, request, 500, "Server Internal Error - the TLS connection to the other party failed ("
                                + failure.reason() + ")");
                    }
                    return;
                }
                reject(tx, request, 480, "Temporarily Unavailable - the other party is not reachable");
                return;
            }
            if (isSips(request.requestUri()) && !isSecure(flow)) {
                // RFC 5630: a SIPS request is never forwarded over a plain hop
                reject(tx, request, 480, "Temporarily Unavailable - the other party is reachable only without TLS,"
                        + " which a sips: request must not take (RFC 5630)");
                return;
            }
            try {
                ResponseContext context = new ResponseContext(this, tx, request, null);
                boolean cancelledEarly = handOver(tx, context);
                Branch branch = context.addBranch(null, request.requestUri().toString(), flow);
                context.send(branch, forwardedCopy(request, null, flow, loopHash));
                if (cancelledEarly) {
                    context.cancelByCaller();
                }
            } catch (RuntimeException e) {
                // never leave a transaction unanswered: it would linger without end
                log.warn("could not forward {} {}: {}", request.method(), request.requestUri(), e.toString());
                reject(tx, request, 500, "Server Internal Error");
            }
        });
    }

    /**
     * The flow an in-dialog request takes (§16.6 step 7): towards the other end of the dialog over
     * the flow recorded in our signed Route entry, which also reaches a next proxy on that side; if
     * that connection has closed, over the connection the addressed device registered again with.
     * Never to an address the request names but this node did not record: that would make the
     * node an open relay.
     */
    private CompletionStage<SipFlow> nextHop(SipRequest request, OwnRoute own) {
        String fromTag = request.from().tag();
        boolean fromCaller = own.fromTag() != null && own.fromTag().equals(fromTag);
        Optional<SipFlow> flow = flows.open(fromCaller ? own.calleeFlow() : own.callerFlow());
        if (flow.isPresent()) {
            return CompletableFuture.completedFuture(flow.get());
        }
        SipUri target = request.requestUri();
        if (target.isSip()) {
            List<Binding> bindings = location.byContact(target.toString(), clock.millis());
            for (Binding binding : bindings) {
                Optional<SipFlow> registered = flows.toBinding(binding);
                if (registered.isPresent()) {
                    return CompletableFuture.completedFuture(registered.get());
                }
            }
            // the device is registered but its connection is gone: a TLS Contact is connected to
            // again (§18.1.1, §26.2); the request goes on once the connection is up and checked
            for (Binding binding : bindings) {
                Optional<CompletionStage<SipFlow>> connecting = flows.reconnectTls(binding);
                if (connecting.isPresent()) {
                    return connecting.get().thenApplyAsync(opened -> opened, transactions.transport().executor());
                }
            }
        }
        return CompletableFuture.completedFuture(null);
    }

    // ---- CANCEL and ACK -----------------------------------------------------------------------

    /** RFC 3261 §16.10: answer the CANCEL, then cancel every pending branch of the INVITE. */
    public void onCancel(ServerTransaction tx) {
        SipRequest cancel = tx.request();
        Optional<ServerTransaction> invite = transactions.findInviteFor(cancel);
        Object attachment = invite.map(ServerTransaction::attachment).orElse(null);
        if (attachment instanceof CancelGate gate) {
            tx.respond(SipResponse.to(cancel, 200, "OK").withToTag(toTag));
            ResponseContext context = gate.cancel();
            if (context != null) {
                context.cancelByCaller();
            }
            return;
        }
        if (!(attachment instanceof ResponseContext context)) {
            tx.respond(SipResponse.to(cancel, 481, "Call/Transaction Does Not Exist").withToTag(toTag));
            return;
        }
        tx.respond(SipResponse.to(cancel, 200, "OK").withToTag(toTag));
        context.cancelByCaller();
    }

    /** The ACK for a 2xx (a transaction of its own, §13.2.2.4) is forwarded statelessly along the route (§16.11). */
    public void onAck(SipRequest ack, SipFlow from) {
        try {
            if (ack.to().tag() == null || ack.maxForwards() == 0) {
                return;
            }
            OwnRoute own = popOwnRoutes(ack);
            if (own == null || !own.signed()) {
                return; // not ours to route; an ACK is never answered
            }
            String incomingBranch = ack.topVia().branch();
            nextHop(ack, own).whenComplete((flow, error) -> {
                if (flow == null) {
                    return;
                }
                // a branch derived from the incoming one, so a retransmitted ACK carries the same (§16.11)
                String branch = Via.MAGIC_COOKIE + "a" + hash(incomingBranch + "|" + ack.callId());
                SipRequest out = forwardedCopy(ack, null, flow, null, branch);
                transactions.transport().send(out, flow);
            });
        } catch (RuntimeException e) {
            log.debug("dropping malformed ACK from {}: {}", from, e.toString());
        }
    }

    // ---- forwarding helpers -------------------------------------------------------------------

    SipRequest forwardedCopy(SipRequest request, SipUri newRequestUri, SipFlow flow, String loopHash) {
        return forwardedCopy(request, newRequestUri, flow, loopHash,
                transactions.newBranch() + (loopHash == null ? "" : "-" + loopHash));
    }

    /** §16.6 steps 1-8: copy, new Request-URI, Max-Forwards decremented, our Via on top. */
    private SipRequest forwardedCopy(SipRequest request, SipUri newRequestUri, SipFlow flow, String loopHash, String branch) {
        SipRequest out = request.copy();
        if (newRequestUri != null) {
            out.setRequestUri(newRequestUri);
        }
        int maxForwards = request.maxForwards();
        out.headers().set(HeaderNames.MAX_FORWARDS, Integer.toString(maxForwards < 0 ? 70 : maxForwards - 1));
        // §22.3: credentials for our realm were consumed here
        out.headers().remove(HeaderNames.PROXY_AUTHORIZATION);
        String via = "SIP/2.0/" + flow.transport().viaToken() + " " + local.hostFor(flow) + ":" + local.portFor(flow)
                + ";branch=" + branch + (flow.transport() == Transport.UDP ? ";rport" : "");
        out.headers().addFirst(HeaderNames.VIA, via);
        return out;
    }

    /**
     * A device answered after the caller was already given a final error (the caller cancelled and
     * the grace period ran out): ACK its 2xx and end its call with a BYE, so it does not sit in a
     * call nobody is on (RFC 3261 §13.3.1.4 and §15).
     */
    void hangUpLateAnswer(SipRequest invite, SipResponse ok, SipFlow flow) {
        try {
            List<NameAddress> contacts = ok.contacts();
            SipUri target = contacts.isEmpty() ? invite.requestUri() : contacts.get(0).uri();
            long number = invite.cseq().number();
            transactions.transport().send(requestInDialog(SipRequest.ACK, target, invite, ok, number, flow), flow);
            transactions.sendRequest(requestInDialog(SipRequest.BYE, target, invite, ok, number + 1, flow), flow,
                    ResponseContext.IGNORE);
        } catch (RuntimeException e) {
            log.debug("could not end a late answer from {}: {}", flow, e.toString());
        }
    }

    private SipRequest requestInDialog(String method, SipUri target, SipRequest invite, SipResponse ok, long cseq,
                                       SipFlow flow) {
        SipRequest request = new SipRequest(method, target);
        request.headers().add(HeaderNames.VIA, "SIP/2.0/" + flow.transport().viaToken() + " " + local.hostFor(flow) + ":"
                + local.portFor(flow) + ";branch=" + transactions.newBranch() + (flow.transport() == Transport.UDP ? ";rport" : ""));
        request.headers().add(HeaderNames.MAX_FORWARDS, "70");
        request.headers().add(HeaderNames.FROM, invite.headers().get(HeaderNames.FROM));
        request.headers().add(HeaderNames.TO, ok.headers().get(HeaderNames.TO));
        request.headers().add(HeaderNames.CALL_ID, invite.callId());
        request.headers().add(HeaderNames.CSEQ, cseq + " " + method);
        return request;
    }

    /**
     * §16.6 step 4, RFC 5658 when the sides differ: one entry per side, the callee's side on top.
     * An entry is a SIPS URI when the Request-URI that side's requests carry is one and that side
     * is secure (§16.6 step 4: a SIPS Request-URI gets a SIPS Record-Route; a request received over
     * TLS and sent on without a SIPS Request-URI gets a plain one): the caller's side follows the
     * caller's Request-URI, the callee's side the Request-URI forwarded to it.
     */
    private void addRecordRoute(SipRequest out, SipFlow callerFlow, SipFlow calleeFlow, String fromTag,
                                boolean callerSips, boolean calleeSips) {
        String cf = FlowDirectory.token(callerFlow);
        String ef = FlowDirectory.token(calleeFlow);
        String params = ";lr" + (fromTag == null ? "" : ";ftag=" + fromTag) + ";cf=" + cf + ";ef=" + ef
                + ";" + ROUTE_MARK + "=" + signer.sign(signedText(fromTag, cf, ef));
        String callerSide = routeUri(callerFlow, callerSips) + params;
        String calleeSide = routeUri(calleeFlow, calleeSips) + params;
        if (!callerSide.equals(calleeSide)) {
            out.headers().addFirst(HeaderNames.RECORD_ROUTE, "<" + callerSide + ">");
        }
        out.headers().addFirst(HeaderNames.RECORD_ROUTE, "<" + calleeSide + ">");
    }

    private String routeUri(SipFlow flow, boolean sips) {
        if (sips && isSecure(flow)) {
            // RFC 5630 deprecates transport=tls: sips: alone means TLS over TCP; over a secure
            // WebSocket it is sips: with transport=ws (RFC 7118 §5)
            return "sips:" + local.hostFor(flow) + ":" + local.portFor(flow)
                    + (flow.transport() == Transport.WSS ? ";transport=ws" : "");
        }
        String transport = flow.transport() == Transport.UDP ? "" : ";transport=" + flow.transport().uriParam();
        return "sip:" + local.hostFor(flow) + ":" + local.portFor(flow) + transport;
    }

    /** §16.6 step 8: a hash over what identifies the request at this hop, for loop detection. */
    private static String loopHash(SipRequest request) {
        NameAddress to = request.to();
        NameAddress from = request.from();
        String text = request.requestUri() + "|" + (from == null ? "" : from.tag()) + "|" + (to == null ? "" : to.tag())
                + "|" + request.callId() + "|" + request.cseq().number() + "|"
                + String.join(",", request.headerValues("Proxy-Require"));
        return hash(text);
    }

    private boolean isLoop(SipRequest request, String loopHash) {
        for (Via via : request.vias()) {
            String branch = via.branch();
            if (branch != null && branch.endsWith("-" + loopHash) && local.isThisHost(via.host())) {
                return true;
            }
        }
        return false;
    }

    private static String hash(String text) {
        CRC32 crc = new CRC32();
        crc.update(text.getBytes(StandardCharsets.UTF_8));
        return Long.toHexString(crc.getValue());
    }

    void reject(ServerTransaction tx, SipRequest request, int status, String reason) {
        if (request.isMethod(SipRequest.ACK)) {
            return;
        }
        tx.respond(SipResponse.to(request, status, reason).withToTag(toTag));
    }
}
