package io.switchboard.telephony.proxy;

import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.transaction.ClientTransaction;
import io.switchboard.sip.transaction.ClientTransactionListener;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transaction.TransactionLayer;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.accounts.Account;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.calls.ActiveCall;
import io.switchboard.telephony.calls.CallTracker;
import io.switchboard.telephony.cluster.ClusterNode;
import io.switchboard.telephony.cluster.NodeLiveness;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.function.BiFunction;
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
 * <p>
 * In a cluster ({@link #joinCluster}) a binding may have been made through another node, which
 * holds the device's flow (its TCP or WebSocket connection, its NAT binding). Such a branch is sent
 * to that node (node-to-node SIP) with a Route built from the binding's Path (RFC 3327) carrying the
 * flow token and a signature ({@link #HOP_FLOW}, {@link #HOP_SIGNATURE}) made with the cluster's
 * shared route key; that node verifies it instead of asking the caller for credentials again, and
 * sends the request over the device's flow (RFC 5626 §5.3, as an edge proxy). Both nodes
 * Record-Route, and entries another node of the cluster signed are left for it, so the dialog's
 * later requests take the same two hops in either direction. Each entry names the node that wrote
 * it by id ({@link #ROUTE_NODE}); towards a phone that came through a balancer (a PROXY header) it
 * names the balancer's address, so the phone's in-dialog requests come back through the balancer
 * to whichever node, which sends them on to the node named. When that node is dead, has left or
 * cannot be reached, or a recorded flow ended (its connection broke, its process restarted), the
 * node routes the request in its place, to the device's current flow ({@link #nextHop}): an
 * established call outlives the node it was set up through.
 */
public final class ProxyCore {
    static final Logger log = LoggerFactory.getLogger(ProxyCore.class);
    /**
     * What the node itself does as the target of a request (a Request-URI without user part):
     * the Allow of its 405 and of its 200 to OPTIONS (RFC 3261 §20.5: the methods the UA that
     * answers supports; §11.2). It takes REGISTER and OPTIONS, and ACK and CANCEL as every UA
     * does; the other methods (INVITE, BYE, MESSAGE, SUBSCRIBE...) it routes to users, and a proxy
     * lists no methods for that, being method agnostic (§16). One list, so the two never differ.
     */
    public static final String NODE_ALLOW = "REGISTER, OPTIONS, ACK, CANCEL";
    /** The parameter of our Record-Route entries that carries the signature of their flow tokens. */
    static final String ROUTE_MARK = "sb";
    /**
     * The parameter of our Record-Route entries that names the node that wrote them (its cluster
     * id): an entry towards a phone behind a balancer names the balancer, which every node counts
     * as its own, so the id is what tells the node that recorded the call (its flows, its call
     * record) from the others, which send the request on to it. Signed on its own
     * ({@link #ROUTE_NODE_MARK}, over the flow tokens and the id), so {@link #ROUTE_MARK} covers what
     * it always did and nodes of an earlier version, during a rolling upgrade, still take the entry
     * for the cluster's (by its address, as they did).
     */
    static final String ROUTE_NODE = "nid";
    static final String ROUTE_NODE_MARK = "sn";
    /** Route parameters of a node-to-node hop: the flow token, the expiry (epoch seconds) and the signature. */
    static final String HOP_FLOW = "nf";
    static final String HOP_EXPIRES = "nx";
    static final String HOP_SIGNATURE = "ns";
    /** How long a node-to-node Route stays valid: an INVITE transaction's lifetime (64*T1, RFC 3261 §17.1.1.2). */
    private static final long HOP_LIFETIME_SECONDS = 32;

    /** Store reads for calls that found no binding in memory, at once at most; more calls meanwhile do without. */
    private static final int MISS_READS = 4;

    /** This node in a cluster; null when alone (every binding is then this node's). */
    private volatile ClusterNode node;
    private volatile NodeLiveness liveness = nodeId -> true;
    /** Reads an AOR's bindings from the store (blocking), for calls that find none in memory; null: never. */
    private volatile BiFunction<String, Long, List<Binding>> storedBindings;
    private volatile Executor blocking;
    private final Semaphore missReads = new Semaphore(MISS_READS);

    final ProxySettings settings;
    private final LocationService location;
    private final AccountDirectory accounts;
    private final NumberDirectory numbers;
    private final DigestAuthenticator authenticator;
    final CallTracker calls;
    private final FlowDirectory flows;
    private final LocalEndpoints local;
    private final Clock clock;
    private final io.switchboard.telephony.sip.AuthFailureListener authFailures;
    private final RouteSigner signer;
    /** RFC 3261 §8.2.6.2: the To tag of responses this node makes up itself. */
    final String toTag = Long.toHexString(new java.security.SecureRandom().nextLong());
    volatile TransactionLayer transactions;
    /** INVITEs forked and not yet answered finally: what {@link #withdraw} looks through. */
    private final java.util.Set<ResponseContext> ringing = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Moves with every {@link #withdraw}, so a fork that raced one checks its targets again. */
    private final java.util.concurrent.atomic.AtomicLong withdrawals = new java.util.concurrent.atomic.AtomicLong();
    /**
     * Out-of-dialog INVITEs being routed or forked, by {@link #mergeKey}: the transaction that came
     * first. Another transaction with the same key is a merged request (RFC 3261 §8.2.2.2). An entry
     * leaves when its caller has a final answer ({@link #reject}, {@link #settled}).
     */
    private final java.util.concurrent.ConcurrentHashMap<String, ServerTransaction> invitesInProgress =
            new java.util.concurrent.ConcurrentHashMap<>();
    /**
     * Registrations whose flow the node holding it reported failed (430), by {@link #failedFlowKey}:
     * the time the binding expires, after which the entry goes.
     */
    private static final int MAX_FAILED_FLOWS = 100_000;
    private final java.util.concurrent.ConcurrentHashMap<String, Long> failedFlows = new java.util.concurrent.ConcurrentHashMap<>();
    /**
     * The INVITEs this node forwarded whose client transaction is still going, by the branch of
     * the Via it put on top (RFC 3261 §16.6 step 8): the call record each belongs to. An INVITE
     * that comes back carrying one of them below its top Via is a spiral of that call
     * ({@link #spiralOf}). Only the node's own branches count, which a caller cannot guess
     * ({@link #unguessable}): a Via naming the node is no proof, anyone can write one. An entry
     * leaves when its branch has its final answer ({@link ResponseContext}); bounded in number
     * and in age, so transactions that never finish cannot make it grow without end.
     */
    private final java.util.concurrent.ConcurrentHashMap<String, SentInvite> sentInvites =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final int MAX_SENT_INVITES = 100_000;
    /** Past this an entry is stale: the tracker's sweep ends a call unanswered for as long ({@link CallTracker#MAX_RINGING}). */
    private static final long SENT_INVITE_LIFETIME_MILLIS = CallTracker.MAX_RINGING.toMillis();
    /** When stale entries were last looked for, so a full map is not scanned for every INVITE. */
    private final java.util.concurrent.atomic.AtomicLong sentInvitesPurged = new java.util.concurrent.atomic.AtomicLong();
    private final java.security.SecureRandom branchRandom = new java.security.SecureRandom();

    /** A forwarded INVITE: the call record it belongs to and when it left. */
    private record SentInvite(ActiveCall call, long sentAtMillis) {
    }

    /** Calls with in-dialog requests waiting for a connection: the last one queued ({@link #inCallOrder}). */
    private final java.util.concurrent.ConcurrentHashMap<String, CompletableFuture<Void>> waitingCalls =
            new java.util.concurrent.ConcurrentHashMap<>();

    public ProxyCore(ProxySettings settings, LocationService location, AccountDirectory accounts, NumberDirectory numbers,
                     DigestAuthenticator authenticator, CallTracker calls, FlowDirectory flows, LocalEndpoints local,
                     Clock clock, io.switchboard.telephony.sip.AuthFailureListener authFailures, RouteSigner signer) {
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

    /**
     * Makes this proxy one node of a cluster: bindings owned by other nodes are reached through
     * them unless {@code liveness} says they are dead, and an AOR with no binding in memory is
     * looked up in the store ({@code storedBindings}, run on {@code blocking}; null where memory
     * holds every binding, a single node's own store) before a call is refused.
     */
    public void joinCluster(ClusterNode node, NodeLiveness liveness,
                            BiFunction<String, Long, List<Binding>> storedBindings, Executor blocking) {
        this.node = node;
        this.liveness = liveness;
        this.storedBindings = storedBindings;
        this.blocking = blocking;
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
        NodeHop hop = popNodeHop(tx, request);
        if (hop != null) {
            if (!hop.forged()) {
                relayToFlow(tx, request, hop.flowId(), loopHash);
            }
            return;
        }
        OwnRoute own = popOwnRoutes(request, tx.flow()); // §16.4
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
            notAllowed.headers().add(HeaderNames.ALLOW, NODE_ALLOW);
            tx.respond(notAllowed);
            return;
        }
        Caller caller = authenticate(tx, request);
        if (caller == null) {
            return;
        }
        if (invite && isMerged(tx, request)) {
            // RFC 3261 §8.2.2.2: the same INVITE (From tag, Call-ID, CSeq) by a second path, an
            // upstream proxy having forked it twice towards this node. Every device of the callee
            // would answer the copy 482 anyway (those that check); answering it here keeps the
            // callee's devices from ringing twice and the call from being recorded twice.
            reject(tx, request, 482, "Loop Detected - merged request: this INVITE already arrived by another path");
            return;
        }
        forwardToCallee(tx, request, caller, loopHash);
    }

    // ---- out of dialog ------------------------------------------------------------------------

    private static String whatRefused(SipRequest request, NameAddress from, String answer, String why) {
        return request.method() + " from " + from.uri() + " to " + request.requestUri() + " " + answer + ": " + why;
    }

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
        DigestAuthenticator.Outcome outcome = authenticator.verify(header, realm, request.method(), request.requestUri(),
                tx.flow().reachedAt());
        switch (outcome.status()) {
            case NO_CREDENTIALS, STALE, REPLAYED, WRONG_ALGORITHM, NONCE_FOR_OTHER_URI -> {
                if (outcome.status() != DigestAuthenticator.Status.NO_CREDENTIALS
                        && outcome.status() != DigestAuthenticator.Status.STALE) {
                    authFailures.authFailure(outcome.status().meterReason(), tx.flow().remote(),
                            whatRefused(request, from, "challenged again (407)", outcome.status().words()));
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
                authFailures.authFailure("bad_credentials", tx.flow().remote(),
                        whatRefused(request, from, "refused (400)", outcome.reason()));
                reject(tx, request, 400, "Bad Request - " + outcome.reason());
                return null;
            }
            case UNKNOWN_USER, WRONG_PASSWORD -> {
                // one answer for both, so user names cannot be probed (the log tells them apart)
                authFailures.authFailure(outcome.status().meterReason(), tx.flow().remote(),
                        whatRefused(request, from, "refused (403)", outcome.status().words()));
                reject(tx, request, 403, "Forbidden");
                return null;
            }
            default -> {
                Account account = outcome.account();
                if (fromUser == null || !account.username().equals(fromUser)) {
                    authFailures.authFailure("wrong_user", tx.flow().remote(), whatRefused(request, from, "refused (403)",
                            "authenticated as " + account.username() + ", not as its From"));
                    reject(tx, request, 403, "Forbidden - From must be the authenticated account " + account.username());
                    return null;
                }
                return new Caller(account.username(), false);
            }
        }
    }

    /**
     * One place a request is forked to: a device's contact, the AOR it registered, and the flow that
     * reaches it, or the TCP or TLS connection being opened to it ({@link FlowDirectory#reconnect});
     * through another node, also the Route to that node, the device's own UDP flow to fall back on,
     * the node's id and the binding reached there.
     */
    record Target(String aor, String contact, SipFlow flow, CompletionStage<SipFlow> connecting, String route,
                  SipFlow direct, String viaNode, Binding throughBinding) {
        Target(String aor, String contact, SipFlow flow) {
            this(aor, contact, flow, null, null, null, null, null);
        }
    }

    /**
     * A Contact the node can send to: a sip: or sips: URI (RFC 3261 §19.1), and not one naming
     * port 0 (reserved, RFC 6335 §6), which the registrar now refuses but a binding stored before
     * that still has; the holding node's parser would answer the forwarded INVITE 400 for it.
     */
    private static boolean isSipAddress(String contact) {
        if (!contact.regionMatches(true, 0, "sip:", 0, 4) && !contact.regionMatches(true, 0, "sips:", 0, 5)) {
            return false;
        }
        try {
            return SipUri.parse(contact).port() != 0;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** RFC 3261 §19.1: the SIPS scheme. */
    static boolean isSips(SipUri uri) {
        return uri != null && "sips".equals(uri.scheme());
    }

    /** A flow secured by TLS: SIP over TLS, or a WebSocket over TLS (RFC 7118 §5). */
    static boolean isSecure(SipFlow flow) {
        return flow.transport() == Transport.TLS || flow.transport() == Transport.WSS;
    }

    /** A registered Contact that is a SIPS URI (RFC 3261 §19.1); one that cannot be parsed is not. */
    private static boolean isSipsContact(String contact) {
        try {
            return isSips(SipUri.parse(contact));
        } catch (IllegalArgumentException e) {
            return false;
        }
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
        if (!uri.isSip() || uri.user() == null) {
            reject(tx, request, 404, "Not Found - the Request-URI names no user");
            return;
        }
        String domain = accounts.domainFor(uri.host());
        // A phone set up with the node's address as its domain and the node's port as its outbound
        // proxy dials sip:1001@<address>, no port: by RFC 3263 §4.2 that is port 5060 (§19.1.2),
        // where this node may not listen, yet the phone means this node, whose address it
        // registered with. A deliberate departure: this node relays to no other host (403 below),
        // so taking it as ours only turns a refusal into a lookup. The same holds for the address
        // of the balancer the request came through (PROXY header) when the balancer is not on
        // 5060: the phone registered to that address and knows no other.
        boolean ours = domain.equalsIgnoreCase(uri.host()) || local.isThisNode(uri, tx.flow())
                || uri.port() < 0 && local.isThisHost(uri, tx.flow());
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
        forkToBindings(tx, request, caller, callee, dialed, aors, known, loopHash, false);
    }

    /**
     * Finds the targets among the AORs' bindings and forks to them. Bindings whose flow another
     * node holds need a connection to that node first, and an AOR without bindings here is looked
     * up in the store first (an announcement may have been missed); both continue asynchronously.
     */
    private void forkToBindings(ServerTransaction tx, SipRequest request, Caller caller, String callee, String dialed,
                                List<String> aors, boolean known, String loopHash, boolean storeRead) {
        String callerContact = callerContact(request);
        long withdrawalsSeen = withdrawals.get();
        long now = clock.millis();
        Map<String, Target> targets = new LinkedHashMap<>();
        List<CompletableFuture<Target>> throughNodes = null;
        Set<String> seen = new HashSet<>();
        boolean anyBinding = false;
        boolean sips = isSips(request.requestUri());
        int insecureOnly = 0;
        ClusterNode self = node;
        for (String aor : aors) {
            for (Binding binding : location.lookup(aor, now)) {
                anyBinding = true;
                if (!isSipAddress(binding.contact())) {
                    // a tel: or mailto: Contact, or one naming port 0, registered before the
                    // registrar refused them (or through a node of an earlier version): nothing
                    // this node can send to
                    continue;
                }
                if (binding.contact().equals(callerContact) || !seen.add(binding.contact())) {
                    continue; // a member calling its own group does not ring itself
                }
                if (self != null && !sips) {
                    // registered to a floating address another node holds now (docs/cluster.md):
                    // only the holder can send from it, whichever node took the registration
                    String heldElsewhere = flows.heldElsewhere(binding);
                    Optional<NodeLiveness.NodePath> holder = heldElsewhere == null ? Optional.empty()
                            : liveness.nodeHolding(heldElsewhere);
                    if (holder.isPresent() && !holder.get().id().equals(self.id())) {
                        if (throughNodes == null) {
                            throughNodes = new ArrayList<>();
                        }
                        throughNodes.add(throughNode(aor, binding, request.callId(), holder.get().id(), holder.get().path()));
                        continue;
                    }
                }
                if (self != null && !self.owns(binding.node(), binding.path())) {
                    if (sips) {
                        // node-to-node SIP is plain TCP/UDP: a SIPS request cannot take that hop
                        // (RFC 5630, RFC 3261 §26.2.2)
                        insecureOnly++;
                        continue;
                    }
                    if (flowFailed(binding, now)) {
                        continue; // its node answered 430 for this registration's flow: see flowFailed
                    }
                    Optional<SipFlow> held = flows.fromHeldAddress(binding);
                    if (held.isPresent()) {
                        // registered to a floating address that this node holds now: the device's
                        // NAT binding is to the address, so it is reached from here, not through
                        // the node that took the registration (which may no longer hold it)
                        targets.put(binding.contact(), new Target(aor, binding.contact(), held.get()));
                        continue;
                    }
                    if (throughNodes == null) {
                        throughNodes = new ArrayList<>();
                    }
                    throughNodes.add(throughNode(aor, binding, request.callId()));
                    continue;
                }
                if (sips && !isSipsContact(binding.contact())) {
                    // RFC 5630 (and RFC 3261 §26.2.2): a sips: request is never forwarded
                    // to a sip: Contact; rewriting the Request-URI to sip: would be a downgrade
                    insecureOnly++;
                    continue;
                }
                Optional<SipFlow> open = flows.toBinding(binding);
                if (open.isPresent()) {
                    if (sips && !isSecure(open.get())) {
                        // RFC 5630 and RFC 3261 §26.2.2: a SIPS request never leaves over a plain hop
                        insecureOnly++;
                        continue;
                    }
                    targets.put(binding.contact(), new Target(aor, binding.contact(), open.get()));
                } else {
                    // its connection is gone; a TCP or TLS Contact can be connected to again (§18.1.1, §26.2)
                    flows.reconnect(binding).ifPresent(connecting -> targets.put(binding.contact(),
                            new Target(aor, binding.contact(), null, connecting, null, null, null, null)));
                }
            }
        }
        var stored = storedBindings;
        // Without authentication anyone may register under any name, so a name without an account
        // may still have a binding elsewhere; with it, such a name is 404 without asking.
        boolean mayBeRegistered = known || !settings.authenticate();
        if (!anyBinding && mayBeRegistered && !storeRead && stored != null && missReads.tryAcquire()) {
            // a miss: the callee may have registered through another node whose announcement this
            // node did not hear (cut off from the bus, or not yet: it registered a moment ago); the
            // store is the truth. Bounded, so a flood of calls to offline devices cannot take the
            // store's connections from registrations.
            blocking.execute(() -> {
                try {
                    for (String aor : aors) {
                        location.merge(stored.apply(aor, now), now);
                    }
                } catch (RuntimeException e) {
                    log.debug("could not read the bindings of {} from the store: {}", aors, e.toString());
                } finally {
                    missReads.release();
                }
                transactions.transport().executor().execute(() -> {
                    try {
                        forkToBindings(tx, request, caller, callee, dialed, aors, known, loopHash, true);
                    } catch (RuntimeException e) {
                        // answered, so the caller is not left without one and its INVITE leaves
                        // the merge check's map (an unanswered INVITE transaction never ends)
                        log.warn("could not fork {} {}: {}", request.method(), request.requestUri(), e.toString());
                        reject(tx, request, 500, "Server Internal Error");
                    }
                });
            });
            return;
        }
        if (throughNodes == null) {
            fork(tx, request, caller, callee, dialed, aors, known || anyBinding, targets, withdrawalsSeen, loopHash,
                    insecureOnly);
            return;
        }
        List<CompletableFuture<Target>> pending = throughNodes;
        int insecure = insecureOnly;
        CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).whenComplete((ignored, error) ->
                transactions.transport().executor().execute(() -> {
                    for (CompletableFuture<Target> f : pending) {
                        Target t = f.getNow(null);
                        if (t != null) {
                            targets.putIfAbsent(t.contact(), t);
                        }
                    }
                    try {
                        fork(tx, request, caller, callee, dialed, aors, true, targets, withdrawalsSeen, loopHash, insecure);
                    } catch (RuntimeException e) {
                        log.warn("could not fork {} {}: {}", request.method(), request.requestUri(), e.toString());
                        reject(tx, request, 500, "Server Internal Error");
                    }
                }));
    }

    private void fork(ServerTransaction tx, SipRequest request, Caller caller, String callee, String dialed,
                      List<String> aors, boolean reachableUser, Map<String, Target> targets, long withdrawalsSeen,
                      String loopHash, int insecureOnly) {
        boolean invite = request.isMethod(SipRequest.INVITE);
        long now = clock.millis();
        // A spiral is still the call its caller placed: it is routed as usual (§16.6), but records
        // no call of its own (a second record, newest for the Call-ID, would take the BYE of the
        // first, which stayed open until the sweep). Its devices are added to the first pass's
        // record, which takes its outcome from the answer as it reaches its own branch.
        // Only from a trusted peer (or with authentication off): the device the first pass went to
        // reads our branch in its top Via, and an account's own device could otherwise put it on an
        // INVITE of its own, authenticated as itself, and have that call recorded nowhere. With
        // authentication on, a spiral through an ordinary device cannot pass this node's
        // challenge anyway (the From stays the first caller, whose credentials it has not).
        ActiveCall spiralled = invite && caller.trusted() ? spiralOf(request) : null;
        if (targets.isEmpty()) {
            // §16.5 / §21.4.18: known but not reachable now is 480; unknown is 404
            int status = reachableUser ? 480 : 404;
            String reason = insecureOnly > 0
                    ? "Temporarily Unavailable - no device of the callee registered a sips: Contact (over TLS or WSS),"
                            + " the only kind a sips: request may go to (RFC 5630)"
                    : reachableUser ? "Temporarily Unavailable" : "Not Found";
            if (invite && spiralled == null) {
                ActiveCall call = calls.started(request.callId(), request.from().tag(), caller.identity(), callee, dialed, List.of());
                calls.failed(call, status, reason);
            }
            reject(tx, request, status, reason);
            return;
        }
        ActiveCall call = null;
        if (spiralled != null) {
            for (String device : targets.keySet()) {
                calls.rung(spiralled, device);
            }
        } else if (invite) {
            List<String> devices = new ArrayList<>(targets.keySet());
            call = calls.started(request.callId(), request.from().tag(), caller.identity(), callee, dialed, devices);
        }
        // the INVITEs of a spiral are remembered under the first pass's record, so a call that
        // spirals twice is still that one call
        ResponseContext context = new ResponseContext(this, tx, request, call, spiralled != null ? spiralled : call);
        boolean cancelledEarly = handOver(tx, context);
        boolean dialogCreating = isDialogCreating(request);
        List<Branch> branches = new ArrayList<>();
        List<Target> forked = new ArrayList<>(targets.values());
        for (Target target : forked) {
            Branch branch = context.addBranch(target.aor(), target.contact(), target.flow());
            branch.direct = target.direct();
            branch.viaNode = target.viaNode();
            branch.throughBinding = target.throughBinding();
            branches.add(branch);
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
            Target target = forked.get(i);
            if (target.connecting() == null) {
                forwardBranch(context, branch, request, callerFlow, loopHash, dialogCreating, target.route());
            } else {
                forwardWhenConnected(context, branch, target.connecting(), request, callerFlow, loopHash, dialogCreating);
            }
        }
        if (cancelledEarly) {
            context.cancelByCaller();
        }
    }

    /** §16.6 steps 1-10 for one branch whose flow is known. */
    private void forwardBranch(ResponseContext context, Branch branch, SipRequest request, SipFlow callerFlow,
                               String loopHash, boolean dialogCreating, String route) {
        SipRequest out;
        try {
            out = forwardedCopy(request, SipUri.parse(branch.target), branch.flow, loopHash);
        } catch (IllegalArgumentException e) {
            // a contact stored from a device that we cannot address: this branch fails alone
            context.onResponse(branch, null, 502, "Bad Gateway - unusable contact " + branch.target);
            return;
        }
        if (route != null) {
            // RFC 3327 §5.3: the binding's Path becomes the request's Route set
            out.headers().addFirst(HeaderNames.ROUTE, route);
        }
        if (dialogCreating) {
            addRecordRoute(out, callerFlow, branch.flow, request.from().tag(), isSips(out.requestUri()),
                    isSips(out.requestUri()));
        }
        context.send(branch, out);
    }

    /**
     * A branch to a device reached by a new TCP or TLS connection: sent once the connection is open
     * (and the device's certificate checked), on a SIP lane (never on the event loop that finished the
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
                forwardBranch(context, branch, request, callerFlow, loopHash, dialogCreating, null);
            } catch (RuntimeException e) {
                log.warn("could not forward {} to {}: {}", request.method(), branch.target, e.toString());
                context.onResponse(branch, null, 500, "Server Internal Error");
            }
        }, transactions.transport().executor(request.callId()));
    }

    /**
     * A branch to a device whose own connection was gone and to which no new one could be opened
     * (refused: mostly a phone that is offline, or that put a port it does not listen on in its
     * Contact; timed out; failed moments ago; too many being opened): the device is unreachable,
     * as one registered without a usable flow is, so the branch counts as a 480 (§21.4.18, as the
     * fork answers when no device has a flow). Not the 503 of §16.9, which §16.7 step 6 turns into
     * 500 for a lone branch: the caller's call did not fail at the server, the callee's phone is
     * away, and it is recorded so ("unavailable", not "error"). Such a 480 ranks after every other
     * branch's answer (a device that rang unanswered is "no_answer", not "unavailable"): the
     * device was never asked ({@link ResponseContext#unreachable}).
     */
    private static void failBranch(ResponseContext context, Branch branch, Throwable error) {
        Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                ? error.getCause() : error;
        log.debug("no connection to {}: {}", branch.target, cause == null ? "closed" : cause.getMessage());
        context.unreachable(branch, UNREACHABLE_DEVICE);
    }

    /** The reason of the 480 for a device whose connection is gone and cannot be opened again. */
    static final String UNREACHABLE_DEVICE = "Temporarily Unavailable - the device's connection is gone and it"
            + " could not be connected to (until it registers again)";

    // ---- node to node -------------------------------------------------------------------------

    /** A node-to-node hop popped from a request: the flow it is for, or forged (and answered 403). */
    private record NodeHop(String flowId, boolean forged) {
    }

    /**
     * The Route to the node holding a binding's flow: its Path with the flow token, an expiry and a
     * signature over both and the Call-ID, made with the route key every node of the cluster shares.
     */
    String hopRoute(Binding binding, String callId) {
        return hopRoute(binding, callId, binding.path());
    }

    /** The same Route, to the node at {@code path} (the holder of a floating address, for instance). */
    private String hopRoute(Binding binding, String callId, String path) {
        String flow = FlowDirectory.token(FlowDirectory.hopFlowId(binding));
        long expires = clock.millis() / 1000 + HOP_LIFETIME_SECONDS;
        return "<" + path + ";lr;" + HOP_FLOW + "=" + flow + ";" + HOP_EXPIRES + "=" + expires + ";"
                + HOP_SIGNATURE + "=" + signer.sign(hopText(flow, callId, expires)) + ">";
    }

    private static String hopText(String flow, String callId, long expires) {
        return "hop|" + flow + "|" + callId + "|" + expires;
    }

    /**
     * A target through the node that holds the binding's flow: a connection to it (TCP when its
     * Path says so), or, when it is thought dead or cannot be reached, the device directly if it
     * registered over UDP (RFC 3581: at the address its REGISTER came from); null when the binding
     * cannot be used (its connection ended with that node). Never fails.
     */
    private CompletableFuture<Target> throughNode(String aor, Binding binding, String callId) {
        return throughNode(aor, binding, callId, binding.node(), binding.path());
    }

    /** As above, through the node {@code node} at {@code nodePath} rather than the one the binding names. */
    private CompletableFuture<Target> throughNode(String aor, Binding binding, String callId, String node, String nodePath) {
        if (!liveness.isAlive(node)) {
            return CompletableFuture.completedFuture(directTarget(aor, binding));
        }
        SipUri path;
        InetSocketAddress address;
        Transport transport;
        try {
            path = SipUri.parse(nodePath);
            String t = path.param("transport");
            transport = t == null ? Transport.UDP : Transport.parse(t);
            String host = path.host().startsWith("[") ? path.host().substring(1, path.host().length() - 1) : path.host();
            byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
            if (literal == null) {
                throw new IllegalArgumentException("not an address literal: " + host);
            }
            address = new InetSocketAddress(java.net.InetAddress.getByAddress(literal), path.port() > 0 ? path.port() : 5060);
        } catch (IllegalArgumentException | java.net.UnknownHostException e) {
            log.debug("unusable node path {} of {}: {}", nodePath, binding.contact(), e.toString());
            return CompletableFuture.completedFuture(directTarget(aor, binding));
        }
        SipFlow direct = "UDP".equalsIgnoreCase(binding.transport()) ? flows.toBinding(binding).orElse(null) : null;
        return transactions.transport().flowTo(transport, address).toCompletableFuture().handle((flow, error) -> {
            if (error != null) {
                log.info("node {} at {} cannot be reached ({}): {} is {}", node, address, error.toString(),
                        binding.contact(), direct != null ? "tried directly" : "skipped");
                liveness.unreachable(node);
                return directTarget(aor, binding);
            }
            return new Target(aor, binding.contact(), flow, null, hopRoute(binding, callId, nodePath), direct, node,
                    binding);
        });
    }

    /** The binding's device reached without its node: over UDP only (a stream flow died with its node). */
    private Target directTarget(String aor, Binding binding) {
        if (!"UDP".equalsIgnoreCase(binding.transport())) {
            return null;
        }
        return flows.toBinding(binding).map(flow -> new Target(aor, binding.contact(), flow)).orElse(null);
    }

    /**
     * A branch through another node failed without an answer from it: report the node, and send
     * the request straight to the device in the branch that replaces it ({@link ResponseContext}).
     */
    void sendDirect(ResponseContext context, SipRequest request, SipFlow callerFlow, Branch failed, Branch direct) {
        liveness.unreachable(failed.viaNode);
        log.info("node {} did not take a request for {}: trying the device directly", failed.viaNode, direct.target);
        SipRequest out;
        try {
            out = forwardedCopy(request, SipUri.parse(direct.target), direct.flow, loopHash(request));
        } catch (RuntimeException e) {
            context.onResponse(direct, null, 502, "Bad Gateway - unusable contact " + direct.target);
            return;
        }
        if (isDialogCreating(request)) {
            addRecordRoute(out, callerFlow, direct.flow, request.from().tag(), isSips(out.requestUri()),
                    isSips(out.requestUri()));
        }
        context.send(direct, out);
    }

    /**
     * A request another node of the cluster sent for a device whose flow this node holds: its top
     * Route names this node and carries a flow token. Pops it and returns its flow when its
     * signature verifies and it has not expired; answers 403 and returns a forged hop when not
     * (requests from other nodes are trusted for their signature, never for where they come from);
     * null when the request is not one.
     */
    private NodeHop popNodeHop(ServerTransaction tx, SipRequest request) {
        NodeHop hop = popHop(request);
        if (hop != null && hop.forged()) {
            authFailures.authFailure("forged_node_route", tx.flow().remote(), request.method() + " to "
                    + request.requestUri() + " refused (403): a node-to-node request without a valid cluster signature");
            reject(tx, request, 403, "Forbidden - node-to-node request without a valid cluster signature");
        }
        return hop;
    }

    /**
     * The node-to-node hop on top of the request's Route, popped; null when the top Route is not
     * one; forged when its signature does not verify, it expired or more Routes follow it (a hop is
     * always the last). An in-dialog request takes a hop too, when the device it is for registered
     * again through another node ({@link #byRemoteTarget}).
     */
    private NodeHop popHop(SipRequest request) {
        List<String> routes = request.headers().values(HeaderNames.ROUTE);
        if (routes.isEmpty()) {
            return null;
        }
        SipUri uri = NameAddress.parse(routes.get(0)).uri();
        String flow = uri.param(HOP_FLOW);
        if (flow == null || !uri.isSip() || uri.host() == null || !local.isThisNode(uri)) {
            return null;
        }
        long expires;
        try {
            expires = Long.parseLong(String.valueOf(uri.param(HOP_EXPIRES)));
        } catch (NumberFormatException e) {
            expires = -1;
        }
        if (!signer.verify(hopText(flow, request.callId(), expires), uri.param(HOP_SIGNATURE))
                || expires < clock.millis() / 1000 || routes.size() > 1) {
            return new NodeHop(null, true);
        }
        request.headers().remove(HeaderNames.ROUTE);
        String flowId = FlowDirectory.fromToken(flow);
        return new NodeHop(flowId == null ? "" : flowId, false);
    }

    /**
     * RFC 5626 §5.3 as the edge proxy: another node authenticated the caller and routed the request
     * here, where the device's flow is; it goes out over that flow, Record-Routed so the dialog
     * comes back through this node. No call record is made here (the node the caller used keeps it).
     * A flow that is gone is answered 430 Flow Failed, so the other branches of the call ring on.
     */
    private void relayToFlow(ServerTransaction tx, SipRequest request, String flowId, String loopHash) {
        Optional<SipFlow> flow = flows.open(flowId);
        if (flow.isEmpty()) {
            reject(tx, request, 430, "Flow Failed");
            return;
        }
        ResponseContext context = new ResponseContext(this, tx, request, null);
        boolean cancelledEarly = handOver(tx, context);
        Branch branch = context.addBranch(null, request.requestUri().toString(), flow.get());
        SipRequest out = forwardedCopy(request, null, flow.get(), loopHash);
        if (isDialogCreating(request) && request.to().tag() == null) {
            addRecordRoute(out, tx.flow(), flow.get(), request.from().tag(), isSips(out.requestUri()),
                    isSips(out.requestUri()));
        }
        context.send(branch, out);
        if (cancelledEarly) {
            context.cancelByCaller();
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

    /**
     * The node stops: every call still ringing is ended (see {@link ResponseContext#endForShutdown}),
     * then this waits up to {@code limit} for the devices to answer the CANCELs, so that their
     * 487s are acknowledged before the sockets close.
     *
     * @return how many calls were ringing
     */
    public int endRinging(java.time.Duration limit) throws InterruptedException {
        List<ResponseContext> ended = new ArrayList<>(ringing);
        for (ResponseContext context : ended) {
            context.endForShutdown();
        }
        long deadline = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < deadline && !ended.stream().allMatch(ResponseContext::branchesFinished)) {
            Thread.sleep(20);
        }
        return ended.size();
    }

    /**
     * A branch through another node was answered 430 Flow Failed: the connection this registration
     * was made over is gone from that node (RFC 5626 §5.3). RFC 5626 §7 has the authoritative proxy
     * try another flow of the same device instead (every binding of the callee is rung at once
     * here), and §11.5 says other flows may still work, so only this registration is set aside: a
     * connection that closed never comes back, and the device's next REGISTER (over a new
     * connection, §4.4, §4.5) is a new registration, tried as usual. Until then calls skip it
     * rather than going through that node to hear 430 again.
     */
    void flowFailed(Binding binding) {
        long now = clock.millis();
        if (binding.isExpired(now) || "UDP".equalsIgnoreCase(binding.transport())) {
            // a UDP "flow" is an address, not a connection: the node answered 430 because it had no
            // UDP listener a moment (stopping, starting), and the device may be reached again from
            // it or from here (a floating address, Branch.direct), so nothing is set aside
            return;
        }
        if (failedFlows.size() >= MAX_FAILED_FLOWS) {
            failedFlows.values().removeIf(expires -> expires <= now);
            if (failedFlows.size() >= MAX_FAILED_FLOWS) {
                return; // bounded: past this, such calls cost a node-to-node round trip, as before
            }
        }
        if (failedFlows.put(failedFlowKey(binding), binding.expiresAtMillis()) == null) {
            log.info("{} of {}: its connection to node {} is gone (430 Flow Failed); not tried again until it registers again",
                    binding.contact(), binding.aor(), binding.node());
        }
    }

    private boolean flowFailed(Binding binding, long now) {
        if (failedFlows.isEmpty()) {
            return false;
        }
        String key = failedFlowKey(binding);
        Long expires = failedFlows.get(key);
        if (expires == null) {
            return false;
        }
        if (expires <= now) {
            failedFlows.remove(key, expires);
            return false;
        }
        return true;
    }

    /** One registration: the node and flow it was made over, and its version (every REGISTER has a new one). */
    private static String failedFlowKey(Binding binding) {
        return binding.node() + '\n' + binding.flowId() + '\n' + binding.contact() + '\n' + binding.version();
    }

    /** The caller of a forked INVITE has its final answer. */
    void settled(ResponseContext context) {
        ringing.remove(context);
        if (context.mergeKey != null) {
            invitesInProgress.remove(context.mergeKey, context.server());
        }
    }

    /**
     * What a merged request shares with the first (RFC 3261 §8.2.2.2): From tag, Call-ID and CSeq,
     * and here also the user it is for. §8.2.2.2 is a user agent's rule; a proxy also receives the
     * legs of an upstream parallel fork, which share the first three but ring different users
     * (1001 and 1002 of a group upstream), and each is a call of its own. A copy for the same user
     * (the user part is case-sensitive, §19.1.4) is the merge: it would ring the same devices again.
     */
    static String mergeKey(SipRequest request) {
        String fromTag = request.from().tag();
        return request.callId() + '\n' + (fromTag == null ? "" : fromTag) + '\n' + request.cseq().number()
                + '\n' + request.requestUri().user();
    }

    /**
     * Whether this out-of-dialog INVITE is a merged copy of one still being routed here; if not, it
     * is taken as the first. A copy carrying a Via of this node is a spiral, not a merge: it left
     * this node and came back (§16.3 step 4 tells it from a loop), and is routed as a new request.
     */
    private boolean isMerged(ServerTransaction tx, SipRequest request) {
        if (hasOwnVia(request, null)) {
            return false;
        }
        String key = mergeKey(request);
        while (true) {
            ServerTransaction first = invitesInProgress.putIfAbsent(key, tx);
            if (first == null || first == tx) {
                return false;
            }
            if (!first.isAnswered() && !first.isTerminated()) {
                return true;
            }
            // the first has its final answer: an INVITE sent again after that is not a merge
            if (invitesInProgress.replace(key, first, tx)) {
                return false;
            }
        }
    }

    /**
     * The call this INVITE is a spiral of, or null. RFC 3261 §16.3 step 4 tells a spiral from a
     * loop (its Request-URI or Route changed on the way: a device that is itself a proxy sent the
     * call on to another user here); what tells it from a new call is that it carries, below the
     * sender's top Via, the Via this node put on an INVITE it forwarded and that is still being
     * answered ({@link #sentInvites}). Not any Via naming the node: a caller could write one on an
     * INVITE of its own, with the Call-ID and From tag of a call of its own that rings, and have
     * the answered call recorded nowhere. A call that has ended takes no spiral: an INVITE then
     * is a call of its own.
     */
    private ActiveCall spiralOf(SipRequest request) {
        if (sentInvites.isEmpty()) {
            return null;
        }
        List<Via> vias = request.vias();
        long now = clock.millis();
        for (int i = 1; i < vias.size(); i++) {
            String branch = vias.get(i).branch();
            SentInvite sent = branch == null ? null : sentInvites.get(branch);
            // and the call's own Call-ID and From tag, which a proxy passes on unchanged (§16.6)
            if (sent != null && now - sent.sentAtMillis() < SENT_INVITE_LIFETIME_MILLIS
                    && sent.call().phase() != ActiveCall.Phase.ENDED && sent.call().callId().equals(request.callId())
                    && java.util.Objects.equals(sent.call().callerTag(), request.from().tag())) {
                return sent.call();
            }
        }
        return null;
    }

    /** An INVITE of {@code call} left with our Via's {@code branch} on top ({@link #sentInvites}). */
    void rememberSentInvite(String branch, ActiveCall call) {
        long now = clock.millis();
        if (sentInvites.size() >= MAX_SENT_INVITES) {
            long purged = sentInvitesPurged.get();
            if (now - purged >= 1000 && sentInvitesPurged.compareAndSet(purged, now)) {
                sentInvites.values().removeIf(sent -> now - sent.sentAtMillis() >= SENT_INVITE_LIFETIME_MILLIS);
            }
            if (sentInvites.size() >= MAX_SENT_INVITES) {
                return; // bounded: past this a spiral of this INVITE is recorded as a call of its own, as before
            }
        }
        sentInvites.put(branch, new SentInvite(call, now));
    }

    /** The INVITE that left with this branch has its final answer (or was given up): no spiral of it can come now. */
    void forgetSentInvite(String branch) {
        sentInvites.remove(branch);
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
     * flow tokens that say over which flows the two ends of the dialog are reached, and our node id
     * (it may name a balancer every node is reached through, so the id decides); an entry a device
     * preloaded (this node as its outbound proxy, by address or by a served domain) has none.
     * A Route whose signature does not verify is not ours. Of several signed entries in a row
     * (a spiral), the last one's tokens are returned: they describe the next hop.
     */
    OwnRoute popOwnRoutes(SipRequest request, SipFlow arrivedOn) {
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
            if (uri.param(ROUTE_MARK) != null) {
                if (!signedHere(uri, request.callId())) {
                    // not ours nor the cluster's (or a forgery, refused later), or another node of
                    // the cluster Record-Routed it: the next hop either way
                    break;
                }
                // The last of consecutive signed entries of this node gives the tokens. Two with
                // different tokens are two passes of a spiral (RFC 3261 §16.3 step 4: the INVITE
                // left this node for a device that is a proxy, which did not Record-Route and sent
                // it back): the caller's route set is <pass 1>, <pass 2>, the callee's the reverse.
                // §16.4 pops one entry per pass, and §16.6 step 7 then sends the request to the
                // next entry, this node again, where the next pass pops its own: popping them all
                // here is those passes without the round trip, and the hop after them is the one
                // the last entry recorded (pass 1's callee-side token would send the caller's BYE
                // to the device that spiralled the call, which is not in the route set). Both
                // entries of one pass (RFC 5658) carry the same tokens.
                own = new OwnRoute(uri.param("ftag"), FlowDirectory.fromToken(uri.param("cf")),
                        FlowDirectory.fromToken(uri.param("ef")), true);
            } else if (local.isThisNode(uri, arrivedOn) || accounts.domainFor(uri.host()).equalsIgnoreCase(uri.host())) {
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

    /** What an entry's {@link #ROUTE_MARK} covers: its flow tokens. */
    private static String signedText(String ftag, String cf, String ef) {
        return ftag + "|" + cf + "|" + ef;
    }

    /**
     * What an entry's {@link #ROUTE_NODE_MARK} covers: the call (so an entry copied from one call is
     * nothing in another), its flow tokens and the id of the node that wrote it.
     */
    private static String nodeText(String callId, String ftag, String cf, String ef, String nodeId) {
        return "node|" + callId + "|" + ftag + "|" + cf + "|" + ef + "|" + nodeId;
    }

    /**
     * The id of the node that wrote a signed entry of this call, when it names one under a
     * signature that verifies; else null, and the entry is judged by its address, as entries
     * written before ids were.
     */
    private String signedNodeId(SipUri uri, String ftag, String cf, String ef, String callId) {
        String nid = uri.param(ROUTE_NODE);
        return nid != null && signer.verify(nodeText(callId, ftag, cf, ef, nid), uri.param(ROUTE_NODE_MARK)) ? nid : null;
    }

    /** Whether an entry carries a valid {@link #ROUTE_MARK} over its flow tokens and was written here. */
    private boolean signedHere(SipUri uri, String callId) {
        String mark = uri.param(ROUTE_MARK);
        String ftag = uri.param("ftag");
        String cf = uri.param("cf");
        String ef = uri.param("ef");
        return mark != null && signer.verify(signedText(ftag, cf, ef), mark) && writtenHere(uri, ftag, cf, ef, callId);
    }

    /**
     * Whether a signed entry is this node's: one with a node id when the id is, wherever it names
     * (a balancer in front of the cluster, or this node's own address); one without, written
     * before ids were, by the address it names, which was always the node's own.
     */
    private boolean writtenHere(SipUri uri, String ftag, String cf, String ef, String callId) {
        String nid = signedNodeId(uri, ftag, cf, ef, callId);
        return nid != null ? isThisNodeId(nid) : local.isThisNode(uri);
    }

    private boolean isThisNodeId(String nodeId) {
        ClusterNode self = node;
        return self != null && self.id().equals(nodeId);
    }

    private void forwardInDialog(ServerTransaction tx, SipRequest request, OwnRoute own, String loopHash) {
        if ((own == null || !own.signed()) && clusterEntry(request) == null) {
            // not routed through us (or another node of the cluster) at dialog creation: refuse
            // rather than relay (as Kamailio's default "Not here")
            reject(tx, request, 404, "Not Found - in-dialog request without this proxy's Route");
            return;
        }
        if (calls != null && !request.isMethod(SipRequest.ACK)) {
            String fromTag = request.from().tag();
            calls.find(request.callId()).ifPresent(call -> {
                boolean fromCaller = fromTag != null && fromTag.equals(call.callerTag());
                call.sawRequest(fromCaller, request.cseq().number());
                if (request.isMethod(SipRequest.BYE)) {
                    calls.ended(call, fromCaller ? "caller" : "callee");
                }
            });
        }
        inCallOrder(request.callId(), nextHop(request, own), (hop, error) -> {
            SipFlow flow = hop == null ? null : hop.flow();
            if (flow == null) {
                // nextHop never fails with a connection that could not be opened: a device's TCP or
                // TLS connection that cannot be opened again is no hop (the 480 below), and another
                // node that cannot be reached is dealt with in nextHop (inPlaceOf)
                if (error != null) {
                    log.debug("no next hop for {} {}: {}", request.method(), request.requestUri(), error.toString());
                }
                reject(tx, request, 480, "Temporarily Unavailable - the other party is not reachable");
                return;
            }
            if (isSips(request.requestUri()) && !isSecure(flow)) {
                // RFC 5630: a SIPS request is never forwarded over a plain hop
                reject(tx, request, 480, "Temporarily Unavailable - the other party is reached over a connection without TLS,"
                        + " which a sips: request must not take (RFC 5630)");
                return;
            }
            try {
                ResponseContext context = new ResponseContext(this, tx, request, null);
                boolean cancelledEarly = handOver(tx, context);
                Branch branch = context.addBranch(null, request.requestUri().toString(), flow);
                SipRequest out = forwardedCopy(request, null, flow, loopHash);
                if (hop.route() != null) {
                    // RFC 3327 §5.3: through the node that holds the device's flow now
                    out.headers().addFirst(HeaderNames.ROUTE, hop.route());
                }
                context.send(branch, out);
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

    /** Where an in-dialog request goes: a flow, with a node-to-node Route to put on top when through another node. */
    record InDialogHop(SipFlow flow, String route) {
    }

    private static final CompletionStage<InDialogHop> NO_HOP = CompletableFuture.completedFuture(null);

    /**
     * The next hop of an in-dialog request (§16.6 step 7), in this order:
     * <ol>
     * <li>the flow recorded in our signed Route entry towards the other end of the dialog (which also
     * reaches a next proxy on that side);</li>
     * <li>when the next Route entry is one another node of the cluster Record-Routed: that node (by the
     * entry's node id, at the node-to-node address the view lists for it; in an entry without an id,
     * the node the view lists listening at the entry's address), if membership says it is alive
     * and a connection to it opens (the connection the dialog used may have closed); else this node
     * takes its place: its entries are popped (with ours if they follow) and the request is routed
     * as that node would have (the entry is signed with the cluster's key, so §16.4 may treat it as
     * this cluster's own);</li>
     * <li>with no Route left, when the recorded flow is gone (the connection broke, or the process
     * that held it restarted: flow ids are per process): the Request-URI, the device's Contact
     * (§12.2.1.1 remote target), in the location service, reached over the flow it registered
     * again with, here or through the node that holds it ({@link #throughNode}); a TCP or TLS
     * Contact is connected to again ({@link FlowDirectory#reconnect}), and if it cannot be, the
     * device is unreachable (480).</li>
     * </ol>
     * Never to an address the request names but no node of the cluster recorded or registered:
     * that would make the node an open relay.
     */
    private CompletionStage<InDialogHop> nextHop(SipRequest request, OwnRoute own) {
        if (own != null && own.signed()) {
            String fromTag = request.from().tag();
            boolean fromCaller = own.fromTag() != null && own.fromTag().equals(fromTag);
            Optional<SipFlow> flow = flows.open(fromCaller ? own.calleeFlow() : own.callerFlow());
            if (flow.isPresent()) {
                return CompletableFuture.completedFuture(new InDialogHop(flow.get(), null));
            }
        }
        ClusterEntry next = clusterEntry(request);
        if (next == null) {
            return byRemoteTarget(request);
        }
        String nodeId = next.nodeId() != null ? next.nodeId()
                : liveness.nodeListeningAt(next.uri().host(), next.address().getPort());
        if (nodeId == null) {
            // the signature covers the flow tokens, not the address: an entry naming an address
            // where the cluster view lists no node is never followed (no relaying to an arbitrary
            // host); the request is routed from what this node knows instead
            return inPlaceOf(request, next, null, "not where any node of the cluster view listens");
        }
        if (!liveness.isAlive(nodeId)) {
            return inPlaceOf(request, next, nodeId, "dead or left by membership");
        }
        // an entry with a node id may name a balancer: the node is reached at the node-to-node
        // address the view lists for it, never at an address the request carries
        ClusterEntry hop = next.address() != null ? next : reachedAt(next, liveness.pathOf(nodeId).orElse(null));
        if (hop == null) {
            return inPlaceOf(request, next, nodeId, "listed with no node-to-node address");
        }
        return transactions.transport().flowTo(hop.transport(), hop.address()).toCompletableFuture()
                .handle((flow, error) -> flow)
                .thenComposeAsync(flow -> {
                    if (flow != null) {
                        return CompletableFuture.completedFuture(new InDialogHop(flow, null));
                    }
                    liveness.unreachable(nodeId);
                    return inPlaceOf(request, next, nodeId, "unreachable");
                }, transactions.transport().executor());
    }

    /**
     * Runs {@code action} with the next hop of an in-dialog request once it is known. When the hop
     * is a connection still being opened, or an earlier request of the same call still waits for
     * one, the action is queued behind the call's earlier ones and run on the call's lane (the lane
     * of its Call-ID), so an ACK, re-INVITE and BYE that all waited for one TLS connection leave in
     * the order they arrived (a CompletableFuture runs its waiters in no defined order, and the
     * lanes taken in turn would reorder them too).
     */
    @SuppressWarnings("unchecked")
    private <T> void inCallOrder(String callId, CompletionStage<T> hop, java.util.function.BiConsumer<T, Throwable> action) {
        CompletableFuture<T> hopFuture = hop.toCompletableFuture();
        if (hopFuture.isDone() && !waitingCalls.containsKey(callId)) {
            hopFuture.whenComplete(action); // known now and nothing of the call waits: at once, in this lane
            return;
        }
        java.util.concurrent.Executor lane = transactions.transport().executor(callId);
        CompletableFuture<Void>[] mine = new CompletableFuture[1];
        waitingCalls.compute(callId, (id, before) -> {
            CompletableFuture<Void> previous = before == null ? CompletableFuture.completedFuture(null) : before;
            // each step waits for the one before it to have run, so one waiter is ever released at a time
            mine[0] = previous
                    .thenCompose(ignored -> hopFuture.handle((flow, error) -> new Object[]{flow, error}))
                    .thenAcceptAsync(result -> {
                        try {
                            action.accept((T) result[0], (Throwable) result[1]);
                        } catch (RuntimeException e) {
                            log.warn("could not forward an in-dialog request of {}: {}", callId, e.toString());
                        }
                    }, lane)
                    .exceptionally(e -> null);
            return mine[0];
        });
        CompletableFuture<Void> step = mine[0];
        step.whenComplete((ignored, error) -> waitingCalls.remove(callId, step));
    }

    /**
     * The node of the cluster that Record-Routed {@code gone} is gone: its entries (every
     * consecutive one it wrote: one, or two when the dialog's sides differ in transport, RFC 5658)
     * are popped, then ours if they follow, and the request goes on from there.
     */
    private CompletionStage<InDialogHop> inPlaceOf(SipRequest request, ClusterEntry gone, String nodeId, String why) {
        List<String> routes = request.headers().values(HeaderNames.ROUTE);
        int popped = 0;
        for (String value : routes) {
            ClusterEntry entry = clusterEntry(value, request.callId());
            if (entry == null || !entry.mark().equals(gone.mark())) {
                break;
            }
            popped++;
        }
        request.headers().remove(HeaderNames.ROUTE);
        for (String rest : routes.subList(Math.max(popped, 1), routes.size())) {
            request.headers().add(HeaderNames.ROUTE, rest);
        }
        log.info("{} {} of dialog {}: node {} ({}) is {}; routing in its place", request.method(),
                request.requestUri(), request.callId(), nodeId == null ? "(not in the view)" : nodeId,
                gone.address() != null ? "at " + gone.address() : "Route via " + gone.uri().host(), why);
        OwnRoute own = popOwnRoutes(request, null); // the gone node's entries are popped above; ours follow by address
        return nextHop(request, own);
    }

    /**
     * §16.6 step 7 when no recorded flow or Route is left: the request's Request-URI is the remote
     * target, a device's Contact; it is looked up among the registered contacts (whatever their AOR,
     * RFC 5626 §4.2: a device that re-registered keeps its Contact and +sip.instance) and sent over
     * the flow it registered over: here, through the node holding it, or (UDP) to the address it
     * registered from.
     */
    private CompletionStage<InDialogHop> byRemoteTarget(SipRequest request) {
        SipUri target = request.requestUri();
        if (!target.isSip()) {
            return NO_HOP;
        }
        ClusterNode self = node;
        List<Binding> bindings = location.byContact(target.toString(), clock.millis());
        List<Binding> elsewhere = new ArrayList<>();
        for (Binding binding : bindings) {
            if (self != null && !self.owns(binding.node(), binding.path())) {
                elsewhere.add(binding);
                continue;
            }
            Optional<SipFlow> registered = flows.toBinding(binding);
            if (registered.isPresent()) {
                return CompletableFuture.completedFuture(new InDialogHop(registered.get(), null));
            }
        }
        // the device is registered but its connection is gone: a TCP or TLS Contact is connected
        // to again (§18.1.1, §26.2); the request goes on once the connection is up (and checked)
        for (Binding binding : bindings) {
            if (elsewhere.contains(binding)) {
                continue;
            }
            Optional<CompletionStage<SipFlow>> connecting = flows.reconnect(binding);
            if (connecting.isPresent()) {
                // one that cannot be opened leaves the device unreachable: the 480 below, as for a
                // device without a flow (failBranch), not the 408 or 500 of a failed next hop
                return connecting.get().handleAsync((opened, error) -> {
                    if (opened == null) {
                        log.debug("no connection to {} for {}: {}", binding.contact(), request.method(),
                                error == null ? "closed" : error.toString());
                        return null;
                    }
                    return new InDialogHop(opened, null);
                }, transactions.transport().executor());
            }
        }
        if (isSips(target)) {
            return NO_HOP; // node-to-node SIP is plain TCP/UDP (RFC 5630)
        }
        return throughNodes(elsewhere, 0, request.callId());
    }

    /** The first of these bindings (held by other nodes) that {@link #throughNode} reaches. */
    private CompletionStage<InDialogHop> throughNodes(List<Binding> bindings, int index, String callId) {
        if (index >= bindings.size()) {
            return NO_HOP;
        }
        Binding binding = bindings.get(index);
        return throughNode(binding.aor(), binding, callId).thenComposeAsync(t -> t != null && t.flow() != null
                        ? CompletableFuture.completedFuture(new InDialogHop(t.flow(), t.route()))
                        : throughNodes(bindings, index + 1, callId),
                transactions.transport().executor());
    }

    /**
     * A Route entry another node of the cluster Record-Routed: signed with the shared key, naming a
     * node not this one, by its id ({@link #ROUTE_NODE}; then transport and address are those of the
     * node's node-to-node path, known only when the request is sent on) or, in entries written
     * before ids were, by the address it listened at.
     */
    record ClusterEntry(SipUri uri, String mark, String nodeId, Transport transport, InetSocketAddress address) {
    }

    /** The request's top Route as a {@link ClusterEntry}, or null when it is none. */
    private ClusterEntry clusterEntry(SipRequest request) {
        List<String> routes = request.headers().values(HeaderNames.ROUTE);
        return routes.isEmpty() ? null : clusterEntry(routes.get(0), request.callId());
    }

    /**
     * A Route value as a {@link ClusterEntry}: only an entry whose signature verifies and whose
     * host is an address literal (where the node listened) is one, so a forged or foreign Route
     * never makes this node send anywhere.
     */
    private ClusterEntry clusterEntry(String value, String callId) {
        try {
            SipUri uri = NameAddress.parse(value).uri();
            String mark = uri.param(ROUTE_MARK);
            String ftag = uri.param("ftag");
            String cf = uri.param("cf");
            String ef = uri.param("ef");
            if (!uri.isSip() || uri.host() == null || mark == null || !signer.verify(signedText(ftag, cf, ef), mark)) {
                return null;
            }
            String nid = signedNodeId(uri, ftag, cf, ef, callId);
            if (nid != null) {
                return isThisNodeId(nid) ? null : new ClusterEntry(uri, mark, nid, null, null);
            }
            if (local.isThisNode(uri)) {
                return null;
            }
            return reachedAt(new ClusterEntry(uri, mark, null, null, null), uri);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** The entry with the transport and address of a node-to-node path ({@code sip.path}); null when it names no address literal. */
    private static ClusterEntry reachedAt(ClusterEntry entry, String path) {
        if (path == null) {
            return null;
        }
        try {
            return reachedAt(entry, SipUri.parse(path));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The entry with the transport and address {@code at} names (UDP and 5060 when absent); null when its host is no address literal. */
    private static ClusterEntry reachedAt(ClusterEntry entry, SipUri at) {
        try {
            String t = at.param("transport");
            Transport transport = t == null ? Transport.UDP : Transport.parse(t);
            String host = at.host().startsWith("[") ? at.host().substring(1, at.host().length() - 1) : at.host();
            byte[] literal = io.netty.util.NetUtil.createByteArrayFromIpAddressString(host);
            if (literal == null) {
                return null;
            }
            InetSocketAddress address = new InetSocketAddress(java.net.InetAddress.getByAddress(literal),
                    at.port() > 0 ? at.port() : 5060);
            return new ClusterEntry(entry.uri(), entry.mark(), entry.nodeId(), transport, address);
        } catch (RuntimeException | java.net.UnknownHostException e) {
            return null;
        }
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
            NodeHop nodeHop = popHop(ack);
            if (nodeHop != null) {
                // the ACK of a re-INVITE another node sent here for a device whose flow this node holds
                Optional<SipFlow> flow = nodeHop.forged() ? Optional.empty() : flows.open(nodeHop.flowId());
                flow.ifPresent(f -> transactions.transport().send(forwardedCopy(ack, null, f, null,
                        Via.MAGIC_COOKIE + "a" + hash(ack.topVia().branch() + "|" + ack.callId())), f));
                return;
            }
            OwnRoute own = popOwnRoutes(ack, from);
            if ((own == null || !own.signed()) && clusterEntry(ack) == null) {
                return; // not ours (nor the cluster's) to route; an ACK is never answered
            }
            String incomingBranch = ack.topVia().branch();
            inCallOrder(ack.callId(), nextHop(ack, own), (hop, error) -> {
                if (hop == null || hop.flow() == null) {
                    return;
                }
                SipFlow flow = hop.flow();
                // a branch derived from the incoming one, so a retransmitted ACK carries the same (§16.11)
                String branch = Via.MAGIC_COOKIE + "a" + hash(incomingBranch + "|" + ack.callId());
                SipRequest out = forwardedCopy(ack, null, flow, null, branch);
                if (hop.route() != null) {
                    out.headers().addFirst(HeaderNames.ROUTE, hop.route());
                }
                transactions.transport().send(out, flow);
            });
        } catch (RuntimeException e) {
            log.debug("dropping malformed ACK from {}: {}", from, e.toString());
        }
    }

    // ---- forwarding helpers -------------------------------------------------------------------

    SipRequest forwardedCopy(SipRequest request, SipUri newRequestUri, SipFlow flow, String loopHash) {
        String branch = transactions.newBranch();
        if (request.isMethod(SipRequest.INVITE) && request.to() != null && request.to().tag() == null) {
            branch += unguessable();
        }
        return forwardedCopy(request, newRequestUri, flow, loopHash, branch + (loopHash == null ? "" : "-" + loopHash));
    }

    /**
     * 64 random bits for the branch of a forwarded initial INVITE, which tells its spirals from
     * new calls ({@link #spiralOf}). The transaction layer's branches are unique (RFC 3261
     * §8.1.1.7) but not secret: a random prefix per process and a counter, so anyone who saw one
     * (a device called through this node) could work out the next, and the loop hash after it is
     * made of what the caller sent.
     */
    private String unguessable() {
        return "." + Long.toHexString(branchRandom.nextLong());
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
        String via = "SIP/2.0/" + flow.transport().viaToken() + " " + viaSentBy(flow)
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

    /**
     * What ends an answered call at both phones when it outlives {@code telephony.maxCallDuration}
     * (as Kamailio's dialog module does): a BYE to each, in the other's name (RFC 3261 §12.2.1.1:
     * the remote target, the tags), with a CSeq above every one this node saw from that side. Each
     * BYE starts with the route the other side would send it on, from this node's own entries on,
     * and is routed as an in-dialog request arriving here would be ({@link #nextHop}): over the
     * flow recorded now, or the device's current one, through the node that holds it, or in the
     * place of a node that died. Only text is kept until then, no connection, and the route is
     * split only then: nothing but a few references is added to the answer of every call. When the
     * 2xx gives no Contact or this node's own entry is not in its Record-Route, only the record is
     * closed (and the log says so).
     */
    ActiveCall.HangUp hangUpFor(ActiveCall call, SipRequest invite, SipResponse ok) {
        try {
            List<NameAddress> calleeContacts = ok.contacts();
            List<NameAddress> callerContacts = invite.contacts();
            if (calleeContacts.isEmpty() || callerContacts.isEmpty()) {
                return null;
            }
            List<String> recorded = ok.headers().values(HeaderNames.RECORD_ROUTE);
            String callId = invite.callId();
            String callerFrom = invite.headers().get(HeaderNames.FROM);
            String calleeTo = ok.headers().get(HeaderNames.TO);
            SipUri callerTarget = callerContacts.get(0).uri();
            SipUri calleeTarget = calleeContacts.get(0).uri();
            long inviteCSeq = invite.cseq().number();
            return () -> {
                // the callee's route set is the Record-Route as it is (§12.1.1), the caller's
                // reversed (§12.1.2); each BYE takes the part from this node's first entry on
                List<String> callerRoute = new ArrayList<>(recorded);
                java.util.Collections.reverse(callerRoute);
                List<String> towardsCaller = fromOwnEntry(recorded, callId);
                List<String> towardsCallee = fromOwnEntry(callerRoute, callId);
                if (towardsCaller == null || towardsCallee == null) {
                    log.info("call {}: none of its Record-Route entries is this node's; only its record is closed", callId);
                    return false;
                }
                // to the callee in the caller's name, and to the caller in the callee's; a gap of
                // ten, so a request of that side still on its way does not take the BYE's number
                // (below 2^31, RFC 3261 §8.1.1.5)
                long toCallee = Math.min(Math.max(inviteCSeq, call.highestCSeq(true)) + 10, Integer.MAX_VALUE);
                long toCaller = Math.min(call.highestCSeq(false) + 10, Integer.MAX_VALUE);
                hangUp(byeInDialog(currentTarget(call, false, calleeTarget), callerFrom, calleeTo, callId, toCallee,
                        towardsCallee));
                hangUp(byeInDialog(currentTarget(call, true, callerTarget), calleeTo, callerFrom, callId, toCaller,
                        towardsCaller));
                return true;
            };
        } catch (RuntimeException e) {
            log.debug("no hang-up for call {}: {}", invite.callId(), e.toString());
            return null;
        }
    }

    /**
     * A 2xx to a request forwarded in a dialog: for a target refresh (re-INVITE, UPDATE: RFC 3261
     * §12.2.1.2 and §12.2.2, RFC 3311 §5) the call keeps each side's new Contact, the request's for
     * the side that sent it and the answer's for the other, so the duration limit's BYEs go where
     * the phones now are. The route set never changes in a dialog (§12.2), so only the targets do.
     */
    void acceptedInDialog(SipRequest request, SipResponse ok) {
        if (calls == null || !(request.isMethod(SipRequest.INVITE) || request.isMethod("UPDATE"))) {
            return;
        }
        try {
            String fromTag = request.from().tag();
            String toTag = request.to().tag();
            if (toTag == null || fromTag == null) {
                return; // not in a dialog
            }
            calls.find(request.callId()).ifPresent(call -> {
                // only the answered dialog's refreshes: an early dialog's UPDATE or another
                // fork's re-INVITE shares the Call-ID but not both tags
                Boolean fromCaller = call.sideOf(fromTag, toTag);
                if (fromCaller == null) {
                    return;
                }
                List<NameAddress> sent = request.contacts();
                if (!sent.isEmpty()) {
                    call.targetRefreshed(fromCaller, sent.get(0).uri().toString());
                }
                List<NameAddress> answered = ok.contacts();
                if (!answered.isEmpty()) {
                    call.targetRefreshed(!fromCaller, answered.get(0).uri().toString());
                }
            });
        } catch (RuntimeException e) {
            log.debug("a target refresh of call {} could not be read: {}", request.callId(), e.toString());
        }
    }

    /** The route from this node's first own entry on; null when none of them is this node's. */
    private List<String> fromOwnEntry(List<String> route, String callId) {
        for (int i = 0; i < route.size(); i++) {
            if (isOwnEntry(route.get(i), callId)) {
                return List.copyOf(route.subList(i, route.size()));
            }
        }
        return null;
    }

    /** Whether a Record-Route value is an entry this node wrote for the call: signed, with this node's id (or its address). */
    private boolean isOwnEntry(String value, String callId) {
        SipUri uri;
        try {
            uri = NameAddress.parse(value).uri();
        } catch (IllegalArgumentException e) {
            return false; // another element's entry this parser does not read: not ours
        }
        return uri.isSip() && uri.host() != null && signedHere(uri, callId);
    }

    /** One side's Contact from its last accepted target refresh, or the one it gave at the answer. */
    private static SipUri currentTarget(ActiveCall call, boolean caller, SipUri atTheAnswer) {
        String refreshed = call.refreshedTarget(caller);
        if (refreshed != null) {
            try {
                return SipUri.parse(refreshed);
            } catch (IllegalArgumentException e) {
                log.debug("call {}: the refreshed target {} is not a URI; the BYE goes to {}", call.callId(), refreshed,
                        atTheAnswer);
            }
        }
        return atTheAnswer;
    }

    private static SipRequest byeInDialog(SipUri target, String from, String to, String callId, long cseq, List<String> route) {
        SipRequest bye = new SipRequest(SipRequest.BYE, target);
        bye.headers().add(HeaderNames.MAX_FORWARDS, "71"); // one more: it is forwarded from here as if it had arrived
        for (String entry : route) {
            bye.headers().add(HeaderNames.ROUTE, entry);
        }
        bye.headers().add(HeaderNames.FROM, from);
        bye.headers().add(HeaderNames.TO, to);
        bye.headers().add(HeaderNames.CALL_ID, callId);
        bye.headers().add(HeaderNames.CSEQ, cseq + " " + SipRequest.BYE);
        return bye;
    }

    /** Sends a BYE this node made as an in-dialog request arriving here would go, in the call's order. */
    private void hangUp(SipRequest bye) {
        String callId = bye.callId();
        try {
            OwnRoute own = popOwnRoutes(bye, null);
            inCallOrder(callId, nextHop(bye, own), (hop, error) -> sendHangUp(bye, hop, error));
        } catch (RuntimeException e) {
            // one side's failure must not keep the other side's BYE from going out
            log.info("call {}: its BYE to {} could not be routed: {}", callId, bye.requestUri(), e.toString());
            calls.hangUpSent("unsent");
        }
    }

    private void sendHangUp(SipRequest bye, InDialogHop hop, Throwable error) {
        String callId = bye.callId();
        if (hop == null || hop.flow() == null) {
            log.info("call {}: its BYE to {} has no way to the phone ({})", callId, bye.requestUri(),
                    error == null ? "not reachable" : error.toString());
            calls.hangUpSent("unsent");
            return;
        }
        if (isSips(bye.requestUri()) && !isSecure(hop.flow())) {
            log.info("call {}: its BYE to {} would take a hop without TLS, which a sips: request must not (RFC 5630)",
                    callId, bye.requestUri());
            calls.hangUpSent("unsent");
            return;
        }
        // each BYE counted once, by the first of its outcomes: a send error may still be reported
        // after the answer (a retransmission over UDP), or the answer after a start that failed late
        java.util.concurrent.atomic.AtomicBoolean counted = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.function.Consumer<String> count = result -> {
            if (counted.compareAndSet(false, true)) {
                calls.hangUpSent(result);
            }
        };
        try {
            SipRequest out = forwardedCopy(bye, null, hop.flow(), null);
            if (hop.route() != null) {
                out.headers().addFirst(HeaderNames.ROUTE, hop.route());
            }
            transactions.sendRequest(out, hop.flow(), new ClientTransactionListener() {
                @Override
                public void onResponse(ClientTransaction transaction, SipResponse response) {
                    if (response.status() >= 300) {
                        log.info("call {}: the phone at {} answered the duration limit's BYE {}", callId,
                                bye.requestUri(), response.startLine());
                        count.accept("refused");
                    } else if (response.status() >= 200) {
                        count.accept("answered");
                    }
                }

                @Override
                public void onTimeout(ClientTransaction transaction) {
                    log.info("call {}: the phone at {} did not answer the duration limit's BYE", callId, bye.requestUri());
                    count.accept("no_answer");
                }

                @Override
                public void onTransportError(ClientTransaction transaction, Throwable cause) {
                    log.info("call {}: the duration limit's BYE to {} could not be sent: {}", callId, bye.requestUri(),
                            cause.toString());
                    count.accept("unsent");
                }
            });
        } catch (RuntimeException e) {
            log.info("call {}: the duration limit's BYE to {} could not be sent: {}", callId, bye.requestUri(), e.toString());
            count.accept("unsent");
        }
    }

    private SipRequest requestInDialog(String method, SipUri target, SipRequest invite, SipResponse ok, long cseq,
                                       SipFlow flow) {
        SipRequest request = new SipRequest(method, target);
        request.headers().add(HeaderNames.VIA, "SIP/2.0/" + flow.transport().viaToken() + " " + viaSentBy(flow)
                + ";branch=" + transactions.newBranch() + (flow.transport() == Transport.UDP ? ";rport" : ""));
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
     * is secure (§16.6 step 4: the URI placed into the Record-Route is a SIPS URI when the Request-URI
     * forwarded is one; a request received over TLS and sent on without a SIPS Request-URI gets a
     * plain one). Both sides follow the forwarded Request-URI (a sips: request is only forwarded to
     * sips: Contacts, RFC 5630, so it is sips whenever the caller's was), each only if its own flow
     * is secure: a caller over plain TCP gets no SIPS entry it could not use.
     */
    private void addRecordRoute(SipRequest out, SipFlow callerFlow, SipFlow calleeFlow, String fromTag,
                                boolean callerSips, boolean calleeSips) {
        String cf = FlowDirectory.token(callerFlow);
        String ef = FlowDirectory.token(calleeFlow);
        ClusterNode self = node;
        String nid = self == null ? null : self.id();
        String params = ";lr" + (fromTag == null ? "" : ";ftag=" + fromTag) + ";cf=" + cf + ";ef=" + ef
                + (nid == null ? "" : ";" + ROUTE_NODE + "=" + nid + ";" + ROUTE_NODE_MARK + "="
                        + signer.sign(nodeText(out.callId(), fromTag, cf, ef, nid)))
                + ";" + ROUTE_MARK + "=" + signer.sign(signedText(fromTag, cf, ef));
        String callerSide = routeUri(callerFlow, callerSips) + params;
        String calleeSide = routeUri(calleeFlow, calleeSips) + params;
        if (!callerSide.equals(calleeSide)) {
            out.headers().addFirst(HeaderNames.RECORD_ROUTE, "<" + callerSide + ">");
        }
        out.headers().addFirst(HeaderNames.RECORD_ROUTE, "<" + calleeSide + ">");
    }

    /**
     * The sent-by of this node's Via on a request leaving over {@code flow}. Towards a phone that
     * came through a balancer (a PROXY header) it is the balancer's address, the one the phone
     * knows, as in the Record-Route. RFC 3261 §18.2.2 has a phone answer on the connection the
     * request came over, but linphonec (belle-sip) answers on a connection it looks up by the
     * Via's address: with the node's own there, it took the address it was connected from (the
     * balancer) and the Via's port, opened a new connection, and the balancer gave that to
     * whichever node it chose, which had no transaction for the 180 and 200, so the caller never
     * heard the call answered. Responses are matched by branch alone (§17.1.3). Such a Via also
     * names this node by its id ({@value #ROUTE_NODE}, a via-extension, §20.42), which the address
     * no longer tells: for an operator reading a phone's trace.
     */
    private String viaSentBy(SipFlow flow) {
        InetSocketAddress balancer = flow.balancer();
        if (balancer != null && !balancer.getAddress().isAnyLocalAddress()) {
            ClusterNode self = node;
            return LocalEndpoints.literal(balancer.getAddress()) + ":" + balancer.getPort()
                    + (self == null ? "" : ";" + ROUTE_NODE + "=" + self.id());
        }
        return local.hostFor(flow) + ":" + local.portFor(flow);
    }

    private String routeUri(SipFlow flow, boolean sips) {
        // a phone behind a balancer reached us at the balancer's address (PROXY header): its
        // in-dialog requests go back there, on the same connection to this node or on a new one
        // to any node (which sends them on to this one, by the entry's node id), never to this
        // node's own address, which the phone may not reach and which takes no connection
        // without a PROXY header from where the balancer is
        // Not over TLS: another node would have to send the request on over plain node-to-node
        // TCP, which a sips: request must never take (RFC 5630); a TLS phone gets the node's own
        // address, as before. Not while a node of an earlier version is in the cluster: it would
        // take such an entry for its own by the address alone.
        InetSocketAddress balancer = flow.balancer();
        String hostPort = balancer != null && !balancer.getAddress().isAnyLocalAddress() && !isSecure(flow)
                && liveness.everyNodeRoutesById()
                ? LocalEndpoints.literal(balancer.getAddress()) + ":" + balancer.getPort()
                : local.hostFor(flow) + ":" + local.portFor(flow);
        if (sips && isSecure(flow)) {
            // RFC 5630 deprecates transport=tls: sips: alone means TLS over TCP; over a secure
            // WebSocket it is sips: with transport=ws (RFC 7118 §5)
            return "sips:" + hostPort + (flow.transport() == Transport.WSS ? ";transport=ws" : "");
        }
        String transport = flow.transport() == Transport.UDP ? "" : ";transport=" + flow.transport().uriParam();
        return "sip:" + hostPort + transport;
    }


    /**
     * §16.6 step 8: a hash over what identifies the request at this hop, for loop detection. The
     * Route set as received is part of it: an in-dialog request may pass this node twice on its
     * way (RFC 3261 §16.3 step 4: a spiral, not a loop), e.g. to a node of the cluster that
     * restarted and back, and each time its remaining route is shorter. So is this node's id: a node
     * that sends an in-dialog request on unchanged to the node its Route names (same Route set) has
     * written the same hash, and two nodes on one host at one port (separate addresses) would take
     * each other's Via for their own.
     */
    private String loopHash(SipRequest request) {
        NameAddress to = request.to();
        NameAddress from = request.from();
        String text = request.requestUri() + "|" + (from == null ? "" : from.tag()) + "|" + (to == null ? "" : to.tag())
                + "|" + request.callId() + "|" + request.cseq().number() + "|"
                + String.join(",", request.headerValues("Proxy-Require")) + "|"
                + String.join(",", request.headers().values(HeaderNames.ROUTE));
        ClusterNode self = node;
        return hash(self == null ? text : text + "|" + self.id());
    }

    private boolean isLoop(SipRequest request, String loopHash) {
        return hasOwnVia(request, loopHash);
    }

    /** Whether a Via of this node is in the request; with {@code loopHash}, one whose branch ends with it. */
    private boolean hasOwnVia(SipRequest request, String loopHash) {
        ClusterNode self = node;
        for (Via via : request.vias()) {
            String branch = via.branch();
            if (loopHash != null && (branch == null || !branch.endsWith("-" + loopHash))) {
                continue;
            }
            // host and port: nodes of a cluster may share a host, and one node's Via is not another's;
            // towards a phone behind a balancer the Via names the balancer, and this node by its id
            if (local.isThisHost(via.host()) && local.listensOn(via.portOrDefault())
                    || self != null && self.id().equals(via.param(ROUTE_NODE))) {
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
        if (request.isMethod(SipRequest.INVITE) && !invitesInProgress.isEmpty()) {
            try {
                invitesInProgress.remove(mergeKey(request), tx);
            } catch (IllegalArgumentException e) {
                // a From or CSeq that does not parse: this request was never taken in
            }
        }
    }
}
