package io.switchboard.sip.transaction;

import io.netty.util.HashedWheelTimer;
import io.netty.util.Timeout;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.switchboard.sip.message.SipMessage;
import io.switchboard.sip.message.SipRequest;
import io.switchboard.sip.message.SipResponse;
import io.switchboard.sip.message.Via;
import io.switchboard.sip.transport.InboundHandler;
import io.switchboard.sip.transport.SipFlow;
import io.switchboard.sip.transport.TransportLayer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Matches messages to transactions (RFC 3261 §17.1.3, §17.2.3) and owns their timers.
 * <p>
 * Timers run on one hashed wheel (10 ms ticks): under load tens of thousands of transactions linger
 * in Completed at once (Timer J is 32 s over UDP), and a wheel schedules and cancels them in O(1)
 * where a heap-based scheduler would not. Timer callbacks run on the wheel's thread.
 */
public final class TransactionLayer implements InboundHandler {
    static final Logger log = LoggerFactory.getLogger(TransactionLayer.class);

    private final TransportLayer transport;
    private final TimerSettings timers;
    private final TransactionUser user;
    private final ConcurrentHashMap<String, ServerTransaction> servers = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, ClientTransaction> clients = new ConcurrentHashMap<>();
    private final LingeringResponses lingering;
    private final HashedWheelTimer wheel;
    private final String branchPrefix;
    private final AtomicLong branchCounter = new AtomicLong();

    public TransactionLayer(TransportLayer transport, TimerSettings timers, TransactionUser user) {
        this(transport, timers, user, Math.min(Runtime.getRuntime().maxMemory() / 8, 1L << 30));
    }

    /**
     * @param lingeringBytes the most memory the responses of completed non-INVITE transactions may
     *                       take while they wait out Timer J; past it the oldest are forgotten early
     */
    public TransactionLayer(TransportLayer transport, TimerSettings timers, TransactionUser user, long lingeringBytes) {
        this.transport = transport;
        this.timers = timers;
        this.user = user;
        this.lingering = new LingeringResponses(timers.timeout64Millis(), lingeringBytes, System::nanoTime);
        this.wheel = new HashedWheelTimer(new DefaultThreadFactory("sip-timers", true), 10, TimeUnit.MILLISECONDS, 1024);
        byte[] random = new byte[6];
        new SecureRandom().nextBytes(random);
        this.branchPrefix = Via.MAGIC_COOKIE + java.util.HexFormat.of().formatHex(random) + ".";
        transport.setInboundHandler(this);
    }

    public TransportLayer transport() {
        return transport;
    }

    public TimerSettings timers() {
        return timers;
    }

    /** A fresh branch, unique in space and time, with the RFC 3261 §8.1.1.7 magic cookie. */
    public String newBranch() {
        return branchPrefix + Long.toString(branchCounter.incrementAndGet(), 36);
    }

    /** Live transactions, server and client, including those lingering in Completed. */
    public int size() {
        return servers.size() + clients.size() + lingering.size();
    }

    public void stop() {
        wheel.stop();
        servers.clear();
        clients.clear();
        lingering.clear();
    }

    @Override
    public void onMessage(SipMessage message, SipFlow flow) {
        if (message instanceof SipRequest request) {
            onRequest(request, flow);
        } else {
            onResponse((SipResponse) message, flow);
        }
    }

    private void onRequest(SipRequest request, SipFlow flow) {
        if (request.isMethod(SipRequest.ACK)) {
            ServerTransaction invite = servers.get(serverKey(request, SipRequest.INVITE));
            if (invite == null || !invite.onAck()) {
                user.onAck(request, flow);
            }
            return;
        }
        String key = serverKey(request, request.method());
        ServerTransaction existing = servers.get(key);
        if (existing != null) {
            existing.onRetransmission();
            return;
        }
        ServerTransaction transaction = new ServerTransaction(this, key, request, flow);
        existing = servers.putIfAbsent(key, transaction);
        if (existing != null) {
            existing.onRetransmission();
            return;
        }
        // Looked up only once this request holds the key: a transaction completes by lingering
        // first and leaving the map second, so a retransmission racing its completion is seen
        // here or it found the transaction in the map above.
        // Only datagram requests: the table holds UDP transactions' responses, and the key has no transport.
        LingeringResponses.Found completed = flow.transport().isReliable() ? null : lingering.find(key);
        if (completed != null) {
            servers.remove(key, transaction);
            transport.datagramFlow(flow, completed.target()).send(completed.response());
            return;
        }
        if (transaction.isInvite()) {
            transaction.startInvite();
        }
        try {
            user.onRequest(transaction);
        } catch (RuntimeException e) {
            log.error("TU failed on {} from {}", request.startLine(), flow.remote(), e);
            if (!transaction.isAnswered()) {
                transaction.respond(SipResponse.to(request, 500, "Server Internal Error"));
            }
        }
    }

    private void onResponse(SipResponse response, SipFlow flow) {
        Via top = response.topVia();
        ClientTransaction transaction = top.branch() == null ? null
                : clients.get(clientKey(top.branch(), response.cseq().method()));
        if (transaction != null) {
            transaction.onResponse(response);
        } else {
            user.onStrayResponse(response, flow);
        }
    }

    /** The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2), if it is still there. */
    public Optional<ServerTransaction> findInviteFor(SipRequest cancel) {
        return Optional.ofNullable(servers.get(serverKey(cancel, SipRequest.INVITE)));
    }

    /**
     * Starts a client transaction for a request whose top Via this node already added (with a
     * branch from {@link #newBranch()}), over the given flow.
     */
    public ClientTransaction sendRequest(SipRequest request, SipFlow flow, ClientTransactionListener listener) {
        Via top = request.topVia();
        if (top == null || top.branch() == null) {
            throw new IllegalArgumentException("the request needs a top Via with a branch");
        }
        String method = request.isMethod(SipRequest.ACK) ? SipRequest.INVITE : request.method();
        String key = clientKey(top.branch(), method);
        ClientTransaction transaction = new ClientTransaction(this, key, request, flow, listener);
        if (clients.putIfAbsent(key, transaction) != null) {
            throw new IllegalStateException("a client transaction with branch " + top.branch() + " exists");
        }
        transaction.start();
        return transaction;
    }

    /** RFC 3261 §17.2.3: branch, sent-by and method; RFC 2543 peers are matched on dialog fields. */
    private static String serverKey(SipRequest request, String method) {
        Via top = request.topVia();
        String branch = top.branch();
        if (branch != null && branch.startsWith(Via.MAGIC_COOKIE)) {
            return branch + '|' + top.sentBy() + '|' + method;
        }
        String fromTag = request.from().tag();
        return "2543|" + request.callId() + '|' + request.cseq().number() + '|' + fromTag + '|' + top.sentBy()
                + '|' + method;
    }

    /** RFC 3261 §17.1.3: the branch of the top Via and the CSeq method. */
    private static String clientKey(String branch, String method) {
        return branch + '|' + method;
    }

    /** Runs a task on the transaction timer wheel after a delay (10 ms resolution); for TU timers such as Timer C. */
    public Timeout schedule(Runnable task, long delayMillis) {
        return wheel.newTimeout(t -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.error("SIP timer task failed", e);
            }
        }, delayMillis, TimeUnit.MILLISECONDS);
    }

    void sent(SipMessage message, SipFlow flow) {
        if (flow != null) {
            transport.reportSent(message, flow);
        }
    }

    /**
     * Keeps the final response of a completed non-INVITE transaction over UDP for Timer J, so the
     * transaction itself can go (see {@link LingeringResponses}). False when it must stay.
     */
    boolean linger(ServerTransaction transaction, SipFlow responseFlow, byte[] response) {
        return responseFlow != null && lingering.add(transaction.key(), responseFlow.remote(), response);
    }

    void remove(ServerTransaction transaction) {
        servers.remove(transaction.key(), transaction);
    }

    void remove(ClientTransaction transaction) {
        clients.remove(transaction.key(), transaction);
    }

    void ackTimeout(ServerTransaction transaction) {
        try {
            user.onAckTimeout(transaction);
        } catch (RuntimeException e) {
            log.error("TU failed on ACK timeout", e);
        }
    }
}
