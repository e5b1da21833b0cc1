package io.switchboard.server.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * SIP traffic over TCP through the balancer: {@code n} phones that keep themselves registered
 * (see {@link ClusterPhone}) and a caller thread that places a call between two random phones
 * every {@code every} (INVITE, 200, ACK, BYE, 200), counting answered and failed calls with their
 * times, so a benchmark can tell when calls work again after a node died.
 */
final class SipLoad implements AutoCloseable {
    /** One background call: when it was placed (System.nanoTime()), INVITE status, BYE status (0 if none). */
    record CallRecord(long startedNanos, String caller, String callee, int inviteStatus, int byeStatus, long setupNanos) {
        boolean succeeded() {
            return inviteStatus / 100 == 2 && byeStatus / 100 == 2;
        }
    }

    private final List<ClusterPhone> phones = new ArrayList<>();
    private final List<CallRecord> calls = new CopyOnWriteArrayList<>();
    private final AtomicBoolean calling = new AtomicBoolean();
    private final AtomicLong registrationsStarted = new AtomicLong();
    private Thread caller;

    SipLoad(int sipFrontendPort, int count) {
        String run = UUID.randomUUID().toString().substring(0, 6);
        for (int i = 0; i < count; i++) {
            phones.add(new ClusterPhone("ph" + run + i, sipFrontendPort));
        }
    }

    /** Registers every phone (each keeps itself registered from then on) and waits until all are. */
    void register(Duration within) throws InterruptedException {
        registrationsStarted.set(System.nanoTime());
        for (ClusterPhone phone : phones) {
            phone.start();
        }
        awaitAllRegistered(within);
    }

    /** Waits until every phone is registered on a live connection; fails naming those that are not. */
    void awaitAllRegistered(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            if (phones.stream().allMatch(ClusterPhone::isRegistered)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("phones not registered within " + within + ": "
                + phones.stream().filter(p -> !p.isRegistered()).toList());
    }

    /**
     * Has every phone start a new connection, one after another, so the balancer's round robin
     * spreads them over the nodes it has now (after a failover they all sit on the survivors), and
     * waits until all are registered again.
     */
    void spreadAgain(Duration within) throws InterruptedException {
        for (ClusterPhone phone : phones) {
            long dropped = System.nanoTime();
            phone.dropConnection();
            long deadline = System.nanoTime() + within.toNanos();
            while (phone.registeredAfter(dropped) < 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        }
        awaitAllRegistered(within);
    }

    List<ClusterPhone> phones() {
        return phones;
    }

    /**
     * Waits until the phones a node took with it have noticed (their connection broke after
     * {@code since}) and registered again through the balancer, and no more are noticing (the same
     * set for a second); returns them.
     */
    List<ClusterPhone> awaitMovedAndRegistered(long since, Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        List<ClusterPhone> settled = null;
        while (System.nanoTime() < deadline) {
            List<ClusterPhone> moved = movedSince(since);
            boolean registered = phones.stream().allMatch(ClusterPhone::isRegistered);
            if (!moved.isEmpty() && registered && moved.equals(settled)) {
                return moved;
            }
            settled = registered && !moved.isEmpty() ? moved : null;
            Thread.sleep(settled == null ? 100 : 1000);
        }
        throw new AssertionError("phones moved by the loss of a node not all registered again within " + within
                + ": moved " + movedSince(since) + ", unregistered " + phones.stream().filter(p -> !p.isRegistered()).toList());
    }

    /** Phones whose connection broke after {@code since} (their node died or drained). */
    List<ClusterPhone> movedSince(long since) {
        return phones.stream().filter(p -> p.lostConnectionAfter(since)).toList();
    }

    void startCalling(Duration every) {
        calling.set(true);
        caller = Thread.ofVirtual().name("sip-caller").start(() -> {
            while (calling.get()) {
                int a = ThreadLocalRandom.current().nextInt(phones.size());
                int b = (a + 1 + ThreadLocalRandom.current().nextInt(phones.size() - 1)) % phones.size();
                try {
                    calls.add(callAndHangUp(phones.get(a), phones.get(b)));
                    Thread.sleep(every);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    void stopCalling() throws InterruptedException {
        calling.set(false);
        if (caller != null) {
            caller.join(Duration.ofSeconds(30));
        }
    }

    static CallRecord callAndHangUp(ClusterPhone from, ClusterPhone to) throws InterruptedException {
        long started = System.nanoTime();
        ClusterPhone.CallResult result = from.call(to, Duration.ofSeconds(8));
        long setup = System.nanoTime() - started;
        int bye = result.dialog() == null ? 0 : result.dialog().request("BYE", Duration.ofSeconds(8));
        return new CallRecord(started, from.user, to.user, result.status(), bye, setup);
    }

    /**
     * Calls each of {@code callees} once from the next phone of the load (the callee's neighbour)
     * and hangs up; returns one line per call that did not both set up and end with 2xx.
     */
    List<String> callEach(List<ClusterPhone> callees) throws InterruptedException {
        List<String> failures = new ArrayList<>();
        for (ClusterPhone callee : callees) {
            ClusterPhone from = phones.get((phones.indexOf(callee) + 1) % phones.size());
            CallRecord call = callAndHangUp(from, callee);
            if (!call.succeeded()) {
                failures.add(from + " -> " + callee + ": INVITE " + call.inviteStatus() + ", BYE " + call.byeStatus());
            }
        }
        return failures;
    }

    List<CallRecord> calls() {
        return List.copyOf(calls);
    }

    @Override
    public void close() {
        calling.set(false);
        for (ClusterPhone phone : phones) {
            phone.close();
        }
    }
}
