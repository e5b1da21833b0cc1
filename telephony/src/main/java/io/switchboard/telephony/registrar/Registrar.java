package io.switchboard.telephony.registrar;

import io.switchboard.platform.LogLineBudgets;
import io.switchboard.sip.message.HeaderNames;
import io.switchboard.sip.message.HeaderText;
import io.switchboard.sip.message.NameAddress;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.SipUri;
import io.switchboard.sip.transaction.ServerTransaction;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.accounts.AccountDirectory;
import io.switchboard.telephony.auth.DigestAuthenticator;
import io.switchboard.telephony.cluster.ClusterNode;

import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;

/**
 * The registrar (RFC 3261 §10.3): authenticates REGISTER requests, adds, refreshes and removes
 * bindings in the {@link LocationService}, makes them durable through the {@link BindingStore}
 * and answers with the AOR's current contacts once the change is committed.
 * Runs on SIP I/O threads; never blocks (the commit completes on the store's writer thread).
 */
public final class Registrar {
    /** rfc1123-date with a two-digit day, always GMT (RFC 3261 §20.17). */
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Registrar.class);
    private static final DateTimeFormatter SIP_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US);

    private final RegistrarSettings settings;
    private final AccountDirectory accounts;
    private final DigestAuthenticator authenticator;
    private final LocationService location;
    private final BindingStore store;
    private final Clock clock;
    private final RegistrarListener listener;
    /** Where the answer to a REGISTER continues once its commit is done, by the flow it came over. */
    private final java.util.function.Function<SipFlow, java.util.concurrent.Executor> replies;
    private final String toTag;
    private volatile FormattedDate lastDate = new FormattedDate(Long.MIN_VALUE, "");
    private final ClusterNode node;
    /**
     * Lines about a binding replaced by the same +sip.instance from another address: one an AOR a
     * minute, for at most {@value #MAX_REPLACEMENT_AORS} AORs at once. Two devices with one (cloned)
     * instance-id push each other out at every REGISTER; one line a minute shows it as well.
     */
    private final LogLineBudgets<String> replacementLines;
    private static final int MAX_REPLACEMENT_AORS = 10_000;

    /** What the registrar reports, for metrics and (failed authentications) the log. */
    public interface RegistrarListener extends io.switchboard.telephony.sip.AuthFailureListener {
        /** result: created, refreshed, removed, fetched, challenged, rejected, error. */
        void registration(String result);

        /**
         * A REGISTER refused for a reason other than failed authentication (which goes to
         * {@link #authFailure}): one rate-limited log line per source, as for a wrong password.
         *
         * @param what what was refused and why, e.g. "REGISTER of sip:1004@vm refused (423): ..."
         */
        default void refused(java.net.InetSocketAddress source, String what) {
        }
    }

    /**
     * @param replies where an answer continues after its commit, for the flow its REGISTER came
     *                over (the store's writer thread must not build answers)
     * @param node    this node, recorded in each binding as the holder of its flow (RFC 3327 Path)
     */
    public Registrar(RegistrarSettings settings, AccountDirectory accounts, DigestAuthenticator authenticator,
                     LocationService location, BindingStore store, Clock clock, RegistrarListener listener,
                     java.util.function.Function<SipFlow, java.util.concurrent.Executor> replies, ClusterNode node) {
        this.node = node;
        this.settings = settings;
        this.accounts = accounts;
        this.authenticator = authenticator;
        this.location = location;
        this.store = store;
        this.clock = clock;
        this.replacementLines = new LogLineBudgets<>(1, MAX_REPLACEMENT_AORS, clock);
        this.listener = listener;
        this.replies = replies;
        this.toTag = Long.toHexString(new java.security.SecureRandom().nextLong());
    }

    private static final class Rejection extends RuntimeException {
        final int status;
        final String reason;
        final Map<String, String> headers;
        /** Already in the log through {@link RegistrarListener#authFailure}: not logged twice. */
        boolean reported;

        Rejection(int status, String reason, Map<String, String> headers) {
            super(reason, null, false, false);
            this.status = status;
            this.reason = reason;
            this.headers = headers;
        }

        Rejection(int status, String reason) {
            this(status, reason, Map.of());
        }

        Rejection reported() {
            reported = true;
            return this;
        }
    }

    public void register(ServerTransaction transaction) {
        SipRequest request = transaction.request();
        try {
            handle(transaction, request);
        } catch (Rejection r) {
            listener.registration("rejected");
            if (!r.reported) {
                // The device's owner sees only the status; why it was refused (too many contacts,
                // too short an interval, a Require we lack...) is in the log, one line a refusal,
                // rate-limited per source like the authentication failures (SipRefusals)
                listener.refused(transaction.flow().remote(), describe(request, r));
            }
            reply(transaction, request, r.status, r.reason, r.headers, null);
        }
    }

    /** "REGISTER of sip:1004@vm refused (423): Interval Too Brief (Min-Expires: 60) [linphone/5.2]". */
    private static String describe(SipRequest request, Rejection r) {
        NameAddress to = request.to();
        String reason = r.reason;
        int dash = reason.indexOf(" - ");
        // the words after the standard phrase say why; a bare phrase is all there is
        String why = dash >= 0 ? reason.substring(dash + 3) : reason;
        StringBuilder line = new StringBuilder("REGISTER of ").append(to == null ? "?" : to.uri())
                .append(" refused (").append(r.status).append("): ").append(why);
        r.headers.forEach((name, value) -> line.append(" (").append(name).append(": ").append(value).append(')'));
        return line.append(byUserAgent(request)).toString();
    }

    /** " [linphone/5.2]": which device a refusal line is about, when it said (SipRefusals quotes control characters). */
    private static String byUserAgent(SipRequest request) {
        String userAgent = request.headers().get(HeaderNames.USER_AGENT);
        return userAgent == null ? "" : " [" + userAgent + "]";
    }

    private void handle(ServerTransaction transaction, SipRequest request) {
        // RFC 3261 §10.3 step 2: no extensions required of us are supported beyond plain registration
        List<String> required = request.headerValues(HeaderNames.REQUIRE);
        if (!required.isEmpty()) {
            throw new Rejection(420, "Bad Extension", Map.of(HeaderNames.UNSUPPORTED, String.join(", ", required)));
        }
        NameAddress to = request.to();
        SipUri aorUri = to.uri();
        if (!aorUri.isSip() || aorUri.user() == null) {
            throw new Rejection(404, "Not Found - the To URI is not a user address");
        }
        String domain = accounts.domainFor(aorUri.host());
        String user = aorUri.user();
        // RFC 3261 §10.3 step 5: the AOR in canonical form, scheme sip, no parameters
        String aor = "sip:" + user + "@" + domain;

        if (settings.authenticate()) {
            java.net.InetSocketAddress source = transaction.flow().remote();
            String credentials = DigestAuthenticator.credentialsFor(request.headers().fields(HeaderNames.AUTHORIZATION), domain);
            DigestAuthenticator.Outcome outcome = authenticator.verify(credentials, domain, request.method(),
                    request.requestUri(), transaction.flow().reachedAt());
            switch (outcome.status()) {
                case NO_CREDENTIALS, STALE -> {
                    challenge(transaction, request, domain, user, outcome.stale());
                    return;
                }
                case REPLAYED, WRONG_ALGORITHM, NONCE_FOR_OTHER_URI -> {
                    // RFC 7616 §3.4 nc: a replayed count gets a fresh challenge; so do credentials
                    // computed with an algorithm this account is not challenged with, and credentials
                    // signing the node with a nonce from a challenge to another Request-URI
                    listener.authFailure(outcome.status().meterReason(), source,
                            "REGISTER of " + aor + " challenged again (401): " + outcome.status().words() + byUserAgent(request));
                    challenge(transaction, request, domain, user, outcome.stale());
                    return;
                }
                case BAD_CREDENTIALS -> {
                    listener.authFailure("bad_credentials", source, "REGISTER of " + aor + " refused (400): " + outcome.reason()
                            + byUserAgent(request));
                    throw new Rejection(400, "Bad Request - " + outcome.reason()).reported();
                }
                case UNKNOWN_USER, WRONG_PASSWORD -> {
                    // One answer for both, so user names cannot be probed (the authenticator already
                    // treats an unknown name like a wrong password at every earlier step); the log,
                    // which only the operator reads, tells them apart
                    listener.authFailure(outcome.status().meterReason(), source,
                            "REGISTER of " + aor + " refused (403): " + outcome.status().words() + byUserAgent(request));
                    throw new Rejection(403, "Forbidden").reported();
                }
                case OK -> {
                    // §10.3 step 3: the authenticated user may only register its own address
                    if (!outcome.account().username().equals(user)) {
                        listener.authFailure("wrong_user", source, "REGISTER of " + aor + " refused (403): authenticated as "
                                + outcome.account().username() + ", who may not register it" + byUserAgent(request));
                        throw new Rejection(403, "Forbidden - " + outcome.account().username()
                                + " may not register " + user).reported();
                    }
                }
            }
        }
        update(transaction, request, aor, settings.authenticate() ? user : null, domain);
    }

    /** RFC 3261 §22.4: 401 with the challenge(s) for the account the To names (RFC 3261 §10.3 step 3). */
    private void challenge(ServerTransaction transaction, SipRequest request, String realm, String user, boolean stale) {
        SipResponse response = SipResponse.to(request, 401, "Unauthorized").withToTag(toTag);
        for (String challenge : authenticator.challenges(realm, user, stale, request.requestUri())) {
            response.headers().add(HeaderNames.WWW_AUTHENTICATE, challenge);
        }
        listener.registration("challenged");
        transaction.respond(response);
    }

    /** @param account the authenticated account's username, or null when registrations are not authenticated */
    private void update(ServerTransaction transaction, SipRequest request, String aor, String account, String domain) {
        long now = clock.millis();
        List<NameAddress> contacts;
        try {
            contacts = request.contacts();
        } catch (IllegalArgumentException e) {
            throw new Rejection(400, "Bad Request - malformed Contact: " + e.getMessage());
        }
        String expiresHeader = request.headers().get(HeaderNames.EXPIRES);
        Integer headerExpires = expiresHeader == null ? null : clampParse(expiresHeader);
        String callId = request.callId();
        long cseq = request.cseq().number();

        boolean wildcard = contacts.stream().anyMatch(NameAddress::isWildcard);
        if (wildcard) {
            // RFC 3261 §10.3 step 6: "*" only alone and only with Expires: 0
            if (contacts.size() != 1 || headerExpires == null || headerExpires != 0) {
                throw new Rejection(400, "Bad Request - '*' must be the only Contact and needs Expires: 0");
            }
        }
        Transport arrivedOver = transaction.flow().transport();
        if (arrivedOver != Transport.TLS && arrivedOver != Transport.WSS) {
            for (NameAddress contact : contacts) {
                if (!contact.isWildcard() && "sips".equals(contact.uri().scheme())) {
                    // RFC 5630 and RFC 3261 §26.2.2: a SIPS Contact asks to be reached over
                    // TLS on every hop; registered over plain UDP/TCP/WS that promise is already
                    // broken (and calls to it could only go back over this insecure flow)
                    throw new Rejection(400, "Bad Request - a sips: Contact must be registered over TLS (RFC 5630),"
                            + " not " + arrivedOver);
                }
            }
        }
        if (contacts.isEmpty()) {
            // A query: answer with the current bindings (RFC 3261 §10.2.3)
            listener.registration("fetched");
            reply(transaction, request, 200, "OK", Map.of(), location.lookup(aor, now));
            return;
        }
        SipFlow flow = transaction.flow();
        String userAgent = request.headers().get(HeaderNames.USER_AGENT);
        List<Binding> upserts = new ArrayList<>(contacts.size());
        List<Binding> removals = new ArrayList<>(1);
        List<Replacement> fromElsewhere = new ArrayList<>(0);
        String[] outcome = {"refreshed"};
        CompletableFuture<?>[] committed = new CompletableFuture<?>[1];
        List<List<Binding>> previous = new ArrayList<>(1);
        List<Binding> result = location.update(aor, current -> {
            if (account != null && accounts.lookup(account, domain).isEmpty()) {
                // Removed after this request authenticated: the removal cleared this AOR before or
                // clears it after, never while we hold it; not re-adding it here closes the gap.
                throw new Rejection(403, "Forbidden - the account was removed");
            }
            previous.add(current);
            Map<String, Binding> next = new LinkedHashMap<>();
            for (Binding b : current) {
                if (!b.isExpired(now)) {
                    next.put(b.contact(), b);
                } else {
                    removals.add(b);
                }
            }
            if (wildcard) {
                for (Binding b : next.values()) {
                    checkOrder(b, callId, cseq);
                }
                removals.addAll(next.values());
                next.clear();
                outcome[0] = "removed";
            } else {
                for (NameAddress contact : contacts) {
                    applyContact(aor, contact, headerExpires, next, upserts, removals, fromElsewhere, outcome, callId, cseq,
                            now, flow, userAgent);
                }
                // a contact this request writes again is not also removed (a binding it replaced,
                // or set to expires 0, under the same URI): a removal announced with the upsert
                // would delete the new binding on other nodes (LocationService#remove)
                java.util.Set<String> written = new java.util.HashSet<>();
                for (Binding b : upserts) {
                    written.add(b.contact());
                }
                removals.removeIf(b -> written.contains(b.contact()));
                if (next.size() > settings.maxContacts()) {
                    throw new Rejection(403, "Forbidden - more than " + settings.maxContacts() + " contacts for " + aor);
                }
            }
            // inside the AOR's update, so a store read merged after it cannot bring these back
            location.removed(removals, now);
            committed[0] = store.submit(List.copyOf(upserts), List.copyOf(removals), now, true);
            return new ArrayList<>(next.values());
        });
        String result0 = outcome[0];
        // Answered on the connection's event loop (TCP, TLS) or a SIP lane, not on the store's
        // single writer thread that completes the commit
        committed[0].whenCompleteAsync((ok, error) -> {
            // counted before the answer leaves, so a device (or test) that sees the answer sees the count
            if (error != null) {
                // Not durable, so not in force either: put back what was there unless a later
                // registration of this AOR has replaced it meanwhile
                List<Binding> before = previous.get(previous.size() - 1);
                location.update(aor, current -> current == result ? before : current);
                listener.registration("error");
                if (io.switchboard.platform.store.StoreFailure.isTransient(error)) {
                    // RFC 3261 §21.5.4: temporarily unable (the store is away); the device may
                    // retry here after Retry-After or fail over to another node.
                    reply(transaction, request, 503, "Service Unavailable - registration store unavailable",
                            Map.of("Retry-After", "5"), null);
                } else {
                    reply(transaction, request, 500, "Server Internal Error - registration not stored",
                            Map.of("Retry-After", "5"), null);
                }
            } else {
                // only now: a replacement whose commit failed did not happen. (In a cluster the
                // replaced binding may have been refreshed through another node meanwhile, newer
                // than this removal, and then stays: the line says what this REGISTER asked for.)
                for (Replacement r : fromElsewhere) {
                    logReplacement(aor, r);
                }
                listener.registration(result0);
                reply(transaction, request, 200, "OK", Map.of(), result);
            }
        }, replies.apply(flow));
    }

    private void applyContact(String aor, NameAddress contact, Integer headerExpires, Map<String, Binding> next,
                              List<Binding> upserts, List<Binding> removals, List<Replacement> fromElsewhere,
                              String[] outcome, String callId, long cseq, long now, SipFlow flow, String userAgent) {
        String expiresParam = contact.param("expires");
        int requested;
        if (expiresParam != null) {
            requested = clampParse(expiresParam);
        } else if (headerExpires != null) {
            requested = headerExpires;
        } else {
            requested = settings.defaultExpires();
        }
        String key = contact.uri().toString();
        Binding existing = next.get(key);
        if (existing != null) {
            checkOrder(existing, callId, cseq);
        }
        if (requested == 0) {
            if (existing != null) {
                next.remove(key);
                removals.add(existing);
            }
            outcome[0] = "removed";
            return;
        }
        if (!contact.uri().isSip()) {
            // RFC 3261 §10.2.1 lets a Contact be any URI (tel:, mailto:...), but this node reaches a
            // device only at a SIP or SIPS address, over the flow it registered from, and relays to
            // no other service: such a binding could only make every call to it fail later, with
            // nothing to tell why. Refused here, where the device's owner sees it; removing one
            // (expires 0, above) is still allowed.
            throw new Rejection(400, "Bad Request - a " + contact.uri().scheme()
                    + ": Contact cannot be called through this node; register a sip: or sips: Contact");
        }
        if (contact.uri().port() == 0) {
            // RFC 3261 §25.1 (port = 1*DIGIT) lets ":0" parse, but port 0 is reserved and nothing
            // listens on it (RFC 6335 §6): the binding would be handed out (200 OK, the cluster's
            // announcements, a callee's Request-URI) as an address nobody can reach. Refused as the
            // tel: Contact above; removing one is still allowed
            throw new Rejection(400, "Bad Request - a Contact with port 0 cannot be reached;"
                    + " register the port the device listens on, or none");
        }
        if (requested < settings.minExpires()) {
            // RFC 3261 §10.3 step 7: too brief, tell the device the least we accept
            throw new Rejection(423, "Interval Too Brief",
                    Map.of(HeaderNames.MIN_EXPIRES, Integer.toString(settings.minExpires())));
        }
        int granted = Math.min(requested, settings.maxExpires());
        int q = qValue(contact.param("q"));
        String stored = contact.withoutParam("expires").toString();
        String instance = contact.param("+sip.instance");
        int regId = regId(contact.param("reg-id"));
        Binding binding = new Binding(aor, key, stored, callId, cseq, q, now + granted * 1000L,
                existing != null ? existing.registeredAtMillis() : now, flow.transport().name(),
                flow.remote().getAddress().getHostAddress(), flow.remote().getPort(),
                flow.local().getAddress().getHostAddress(), flow.local().getPort(), flow.id(), userAgent,
                instance == null ? null : HeaderText.unquote(instance), instance == null ? 0 : regId, node.id(),
                node.path(), now);
        // RFC 5626 §6 (registrar): a registration with the instance and reg-id of an existing binding
        // (or the same instance, both without reg-id) replaces it, whatever its contact: the
        // device's new flow or restart (through this node or another); see Binding#sameFlowAs.
        // Only a binding from before this request: two Contacts of one REGISTER with the same
        // instance (a dual-stack device's IPv4 and IPv6 addresses) are both kept (RFC 3261 §10.3
        // allows several), and one this request wrote is never also removed.
        next.values().removeIf(other -> {
            if (!other.contact().equals(key) && other.sameFlowAs(binding) && !writtenBy(upserts, other)) {
                removals.add(other);
                if (!other.remoteAddress().equals(binding.remoteAddress())) {
                    fromElsewhere.add(new Replacement(other, binding)); // logged once committed
                }
                return true;
            }
            return false;
        });
        next.put(key, binding);
        upserts.add(binding);
        if (existing == null) {
            outcome[0] = "created";
        }
    }

    /** A binding a REGISTER from another address replaced through its +sip.instance (and reg-id). */
    private record Replacement(Binding replaced, Binding by) {
    }

    /**
     * Two devices with one (cloned) instance-id push each other out at every registration, and the
     * log is where that shows; rate-limited per AOR, the next line saying how many were left out.
     */
    private void logReplacement(String aor, Replacement r) {
        OptionalInt leftOut = replacementLines.take(aor);
        if (leftOut.isEmpty()) {
            return;
        }
        int more = leftOut.getAsInt();
        log.info("REGISTER of {} from {} replaces {} registered from {} (same +sip.instance {}{}){}", aor,
                r.by().remoteAddress(), r.replaced().contact(), r.replaced().remoteAddress(), r.by().instanceId(),
                r.by().regId() == 0 ? "" : ", reg-id " + r.by().regId(), more == 0 ? "" : " (" + more + " more like it for "
                        + aor + " since the last such line were not logged)");
    }

    private static boolean writtenBy(List<Binding> upserts, Binding binding) {
        for (Binding b : upserts) {
            if (b == binding) {
                return true;
            }
        }
        return false;
    }

    /**
     * RFC 3261 §10.3 step 7: the same Call-ID with a CSeq not higher than the stored one is an old
     * or reordered request, and the update is refused.
     */
    private static void checkOrder(Binding existing, String callId, long cseq) {
        if (existing.callId().equals(callId) && cseq <= existing.cseq()) {
            throw new Rejection(400, "Bad Request - CSeq " + cseq + " is not above " + existing.cseq()
                    + " of the existing registration");
        }
    }

    /** reg-id = 1*10DIGIT, 1 to 2^31-1 (RFC 5626 §4.2); anything else counts as none. */
    private static int regId(String value) {
        if (value == null || value.isEmpty() || value.length() > 10) {
            return 0;
        }
        try {
            long id = Long.parseLong(value);
            return id >= 1 && id <= Integer.MAX_VALUE ? (int) id : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static int clampParse(String delta) {
        try {
            return (int) Math.min(HeaderText.parseBounded(delta, 4_294_967_295L, "expires"), Integer.MAX_VALUE);
        } catch (IllegalArgumentException e) {
            throw new Rejection(400, "Bad Request - " + e.getMessage());
        }
    }

    /** q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), RFC 3261 §25.1; in thousandths. */
    static int qValue(String q) {
        if (q == null || q.isEmpty()) {
            return 1000;
        }
        try {
            double value = Double.parseDouble(q);
            if (value < 0 || value > 1 || q.length() > 5 || !q.matches("[01](\\.\\d{0,3})?")) {
                throw new NumberFormatException();
            }
            return (int) Math.round(value * 1000);
        } catch (NumberFormatException e) {
            throw new Rejection(400, "Bad Request - q-value must be between 0 and 1");
        }
    }

    /** The Date header's text for the second of {@code nowMillis}, formatted once per second: every 200 OK carries it. */
    private String sipDate(long nowMillis) {
        long second = Math.floorDiv(nowMillis, 1000);
        FormattedDate last = lastDate;
        if (last.second() != second) {
            last = new FormattedDate(second, SIP_DATE.format(java.time.Instant.ofEpochSecond(second).atZone(ZoneOffset.UTC)));
            lastDate = last;
        }
        return last.text();
    }

    private record FormattedDate(long second, String text) {
    }

    private void reply(ServerTransaction transaction, SipRequest request, int status, String reason,
                       Map<String, String> headers, List<Binding> bindings) {
        SipResponse response = SipResponse.to(request, status, reason).withToTag(toTag);
        headers.forEach((name, value) -> response.headers().add(name, value));
        if (bindings != null) {
            long now = clock.millis();
            for (Binding b : bindings) {
                response.headers().add(HeaderNames.CONTACT, b.contactHeader() + ";expires=" + b.remainingSeconds(now));
            }
            // RFC 3261 §10.3 step 8: a Date header lets devices without a clock learn the time
            response.headers().add(HeaderNames.DATE, sipDate(now));
        }
        transaction.respond(response);
    }
}
