package io.switchboard.telephony.sip;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.SipStackObserver;
import io.switchboard.sip.transport.Transport;
import io.switchboard.telephony.registrar.Registrar;

import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The SIP meters at /metrics. Counters are looked up once per label set and cached, since they are
 * hit on every message; method labels are limited to known methods so a peer sending odd method
 * names cannot grow the metric's cardinality.
 */
public final class SipMetrics implements SipStackObserver, Registrar.RegistrarListener {
    private static final Set<String> KNOWN_METHODS = Set.of("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER",
            "PRACK", "UPDATE", "INFO", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER", "PUBLISH");

    private final MeterRegistry registry;
    /** Failed authentications: a full exchange from a real source each; kept apart from bad input. */
    private final SipRefusals authRefusals;
    /** Malformed and flooding input, which anyone can send from made-up addresses. */
    private final SipRefusals inputRefusals;
    private final ConcurrentHashMap<String, Counter> messages = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> registrations = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> authFailures = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> dropped = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> parseErrors = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> tlsConnects = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> tcpConnects = new ConcurrentHashMap<>();

    /** Every reason the transport drops input for (SipStackObserver#dropped): each counter exists from the start. */
    private static final String[] DROP_REASONS = {"flood", "overload", "shed", "oversize", "connection_limit", "slow_peer", "idle",
        "keepalive", "proxy_header", "stray_response"};
    private static final String DROPPED_DESCRIPTION = "SIP input dropped (all but stray responses before parsing): " + String.join(", ", DROP_REASONS);

    public SipMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.authRefusals = new SipRefusals(java.time.Clock.systemUTC());
        this.inputRefusals = new SipRefusals(java.time.Clock.systemUTC());
        for (String result : new String[]{"created", "refreshed", "removed", "fetched", "challenged", "rejected", "error"}) {
            registration(result, 0);
        }
        authFailure("wrong_password", 0);
        parseError(Transport.UDP, 0);
        tlsConnect("ok", 0);
        tcpConnect("ok", 0);
        // at 0 from the start, so that rate() and increase() see the first drop of each kind
        for (String reason : DROP_REASONS) {
            dropped.computeIfAbsent(reason, r -> Counter.builder("switchboard.sip.dropped")
                    .description(DROPPED_DESCRIPTION)
                    .tag("reason", r).register(registry));
        }
    }

    public void bindGauges(Supplier<Number> registeredContacts, Supplier<Number> transactions, Supplier<Number> connections) {
        Gauge.builder("switchboard.sip.registered.contacts", registeredContacts)
                .description("Contacts currently registered (online devices)").register(registry);
        Gauge.builder("switchboard.sip.transactions", transactions)
                .description("SIP transactions in progress or lingering for retransmissions").register(registry);
        Gauge.builder("switchboard.sip.connections", connections)
                .description("Open SIP stream connections").register(registry);
    }

    @Override
    public void messageReceived(SipMessage message, SipFlow flow) {
        message("in", message);
    }

    @Override
    public void messageSent(SipMessage message, SipFlow flow) {
        message("out", message);
    }

    private void message(String direction, SipMessage message) {
        String label;
        if (message instanceof SipRequest request) {
            label = KNOWN_METHODS.contains(request.method()) ? request.method() : "OTHER";
        } else {
            label = Integer.toString(((SipResponse) message).status());
        }
        messages.computeIfAbsent(direction + label, k -> Counter.builder("switchboard.sip.messages")
                .description("SIP messages by direction and method or status")
                .tag("direction", direction).tag("method_or_status", label).register(registry)).increment();
    }

    @Override
    public void parseError(String reason, Transport transport, InetSocketAddress source) {
        parseError(transport, 1);
        // the reason ends with what was done: "answered 400 …", "dropped without an answer", "closed the connection"
        inputRefusals.refused(source, "malformed SIP over " + transport.uriParam() + ": " + reason);
    }

    private void parseError(Transport transport, double amount) {
        String name = transport.uriParam();
        parseErrors.computeIfAbsent(name, t -> Counter.builder("switchboard.sip.parse.errors")
                .description("Malformed SIP messages (answered 400 where possible, else dropped)")
                .tag("transport", t).register(registry)).increment(amount);
    }

    @Override
    public void dropped(String reason, Transport transport, InetSocketAddress source) {
        dropped(reason, transport, source, null);
    }

    @Override
    public void dropped(String reason, Transport transport, InetSocketAddress source, String detail) {
        dropped.computeIfAbsent(reason, r -> Counter.builder("switchboard.sip.dropped")
                .description(DROPPED_DESCRIPTION)
                .tag("reason", r).register(registry)).increment();
        String what = switch (reason) {
            case "flood" -> "more messages than telephony.floodLimit allows; they are dropped";
            case "oversize" -> detail != null ? detail : "a message over the size limit; dropped";
            case "connection_limit" -> "more connections than telephony.maxConnectionsPerAddress; a new one refused";
            // the partial-message sweep (TransportLayer): a message begun and never finished
            case "slow_peer" -> "began a message and did not finish it within telephony.partialMessageTimeout;"
                    + " its connection closed";
            case "stray_response" -> "a response to no request of this node's, dropped (one too late for its transaction,"
                    + " or from a phone behind a balancer that answered on a connection that reached another node)";
            // idle, keepalive and load shedding are not about what the peer sent; a balancer
            // without a PROXY header is a setting to fix, which the transport warns of itself
            default -> null;
        };
        if (what != null && source != null) {
            inputRefusals.refused(source, "SIP over " + transport.uriParam() + ": " + what);
        }
    }

    /** A response to no request of this node's (SipService#onStrayResponse): counted and logged as dropped. */
    public void strayResponse(SipResponse response, SipFlow flow) {
        dropped("stray_response", flow.transport(), flow.remote());
    }

    /**
     * A TLS handshake on a tls listener failed ({@code reason}: the tag it was counted under in
     * switchboard_tls_handshake_failures_total): one refusal line, so that a phone that cannot
     * register over TLS (a CA it does not trust, no client certificate) leaves a trace in the log.
     * Not for {@code incomplete}: a balancer's TCP health check closes before a ClientHello every
     * few seconds, and a stuck client says nothing more than the meter does.
     */
    public void tlsHandshakeFailed(InetSocketAddress peer, String reason, Throwable cause) {
        String what = switch (reason) {
            case "incomplete" -> null;
            case "not_tls" -> "sent no TLS to a tls port (plain SIP, or a scanner)";
            case "protocol" -> "offers only TLS versions the node refuses (below 1.2)";
            case "cipher" -> "has no cipher suite in common with the node";
            case "certificate_refused" -> "refused the node's certificate (is its issuer trusted there, and is it"
                    + " for the name the phone was given?)";
            case "client_certificate" -> "gave no client certificate, or one tls.clientCa did not sign";
            default -> "failed";
        };
        if (what == null || peer == null) {
            return;
        }
        // a device's settings to fix, or input anyone can send: kept apart as the other refusals are
        SipRefusals log = reason.equals("certificate_refused") || reason.equals("client_certificate") ? authRefusals : inputRefusals;
        log.refused(peer, "TLS handshake refused (" + reason + "): the client " + what + "; " + engineWords(cause));
    }

    /**
     * The TLS engine's reason, short enough for a refusal line: BoringSSL's messages end with the
     * reason's name ("error:10000416:SSL routines:OPENSSL_internal:SSLV3_ALERT_CERTIFICATE_UNKNOWN"),
     * which is what the line keeps; the JDK's are plain words.
     */
    static String engineWords(Throwable cause) {
        String message = io.switchboard.platform.RootCause.message(cause);
        java.util.regex.Matcher boring = BORINGSSL_REASON.matcher(message);
        return boring.find() ? boring.group(1) : message;
    }

    private static final java.util.regex.Pattern BORINGSSL_REASON =
            java.util.regex.Pattern.compile("error:[0-9a-fA-F]+:[^:]*:[^:]*:([A-Z0-9_]+)\\s*$");

    @Override
    public void tlsConnect(String outcome, InetSocketAddress remote) {
        tlsConnect(outcome, 1);
    }

    private void tlsConnect(String outcome, double amount) {
        countByOutcome(tlsConnects, "switchboard.sip.tls.connects",
                "Outgoing SIP TLS connections: ok, or why they failed", outcome, amount);
    }

    @Override
    public void tcpConnect(String outcome, InetSocketAddress remote) {
        tcpConnect(outcome, 1);
    }

    private void tcpConnect(String outcome, double amount) {
        countByOutcome(tcpConnects, "switchboard.sip.tcp.connects",
                "TCP connections the node opened to devices whose own connection was gone: ok, or why they failed",
                outcome, amount);
    }

    /** One counter per outcome of a meter, made on first use. */
    private void countByOutcome(ConcurrentHashMap<String, Counter> counters, String meter, String description,
                                String outcome, double amount) {
        counters.computeIfAbsent(outcome, o -> Counter.builder(meter).description(description)
                .tag("outcome", o).register(registry)).increment(amount);
    }

    @Override
    public void registration(String result) {
        registration(result, 1);
    }

    private void registration(String result, double amount) {
        registrations.computeIfAbsent(result, r -> Counter.builder("switchboard.sip.registrations")
                .description("REGISTER requests by result").tag("result", r).register(registry)).increment(amount);
    }

    /**
     * A REGISTER refused for the device's settings or request (too many contacts, 423, 420, a To
     * that is no user): logged with the authentication failures, which are what a real device's
     * owner looks for, not with the bad input anyone can send from made-up addresses.
     */
    @Override
    public void refused(InetSocketAddress source, String what) {
        authRefusals.refused(source, what);
    }

    @Override
    public void authFailure(String reason, InetSocketAddress source, String what) {
        authFailure(reason, 1);
        authRefusals.refused(source, what);
    }

    private void authFailure(String reason, double amount) {
        authFailures.computeIfAbsent(reason, r -> Counter.builder("switchboard.sip.auth.failures")
                .description("Failed digest authentications by reason").tag("reason", r).register(registry)).increment(amount);
    }
}
