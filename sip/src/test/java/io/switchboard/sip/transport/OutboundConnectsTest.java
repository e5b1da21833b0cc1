package io.switchboard.sip.transport;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bookkeeping of {@link OutboundConnects}: a failed attempt is remembered before it leaves the
 * map of attempts under way, so a request that asks for the same peer meanwhile finds one or the
 * other and never dials again; the cap per host.
 */
class OutboundConnectsTest {
    private static final InetSocketAddress PEER = new InetSocketAddress(InetAddress.getLoopbackAddress(), 5060);

    /**
     * Each attempt fails on another thread while this one keeps asking for the same peer: every
     * answer is the attempt under way or the remembered failure, and the peer is dialled once.
     * (With the attempt removed from the map before its failure was remembered, a request in
     * between dialled again.)
     */
    @Test
    void aPeerWhoseAttemptJustFailedIsNotDialledAgain() throws Exception {
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000_000, 0,
                (outcome, remote) -> { }, "test_connects_total", false);
        ExecutorService failing = Executors.newSingleThreadExecutor();
        int redialled = 0;
        try {
            for (int i = 0; i < 5_000 && redialled == 0; i++) { // under the 10,000 failures remembered
                String key = "peer-" + i;
                AtomicInteger dials = new AtomicInteger();
                OutboundConnects.Dial dial = attempt -> {
                    dials.incrementAndGet();
                    failing.execute(() -> connects.fail(attempt, PEER, "connect_refused", false, "refused", null));
                };
                CompletionStage<SipFlow> first = connects.open(key, PEER, 10_000, dial);
                while (!first.toCompletableFuture().isDone()) {
                    connects.open(key, PEER, 10_000, dial);
                }
                connects.open(key, PEER, 10_000, dial);
                if (dials.get() > 1) {
                    redialled++;
                }
            }
        } finally {
            failing.shutdownNow();
            failing.awaitTermination(5, TimeUnit.SECONDS);
        }
        assertThat(redialled).as("peers dialled again right after their attempt failed").isZero();
    }

    /**
     * The deadline and the connect's own outcome may end one attempt on two threads at once; only
     * the one that ends it is counted. The other thread is played by the outcome counter itself,
     * which, told the first outcome, delivers the second at that moment (with a look at the attempt
     * before counting, both were counted: one attempt two failures, or a deadline and "ok").
     */
    @Test
    void anAttemptEndedTwiceAtOnceIsCountedOnce() throws Exception {
        List<String> counted = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.concurrent.atomic.AtomicReference<Runnable> meanwhile = new java.util.concurrent.atomic.AtomicReference<>();
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000, 0, (outcome, remote) -> {
            counted.add(outcome);
            Runnable other = meanwhile.getAndSet(null);
            if (other != null) {
                other.run();
            }
        }, "test_connects_total", false);

        // the deadline, and meanwhile the connect refused
        CompletionStage<SipFlow> refused = connects.open("a", PEER, 10_000, attempt -> {
            meanwhile.set(() -> connects.fail(attempt, PEER, "connect_refused", false, "refused", null));
            connects.fail(attempt, PEER, "deadline", true, "not open in time", null);
        });
        assertThat(refused.toCompletableFuture().isCompletedExceptionally()).isTrue();
        assertThat(counted).containsExactly("deadline");

        // the connect refused, and meanwhile the deadline
        counted.clear();
        connects.open("b", PEER, 10_000, attempt -> {
            meanwhile.set(() -> connects.fail(attempt, PEER, "deadline", true, "not open in time", null));
            connects.fail(attempt, PEER, "connect_refused", false, "refused", null);
        });
        assertThat(counted).containsExactly("connect_refused");

        // the deadline, and meanwhile the connection came up (counted "ok" only by whoever completes it, as TransportLayer does)
        counted.clear();
        CompletionStage<SipFlow> late = connects.open("c", PEER, 10_000, attempt -> {
            meanwhile.set(() -> {
                if (attempt.complete(null)) {
                    counted.add("ok");
                }
            });
            connects.fail(attempt, PEER, "deadline", true, "not open in time", null);
        });
        assertThat(counted).containsExactly("deadline");
        assertThat(late.toCompletableFuture().isCompletedExceptionally()).isTrue();
    }

    /**
     * At most so many attempts under way to one host, whatever the port; another host still gets
     * its own. One more waits for a place of its host and starts when an attempt to it ends; the
     * host's line of waiting attempts is bounded, and beyond it a request fails at once.
     */
    @Test
    void attemptsUnderWayToOneHostAreCappedAndTheNextOnesWaitInLine() throws Exception {
        // the attempts' deadlines report from another thread: synchronized, and long enough not to fall in the test
        List<String> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000, 2,
                (outcome, remote) -> outcomes.add(outcome), "test_connects_total", false);
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        OutboundConnects.Dial never = hanging::add;
        InetAddress host = InetAddress.getLoopbackAddress();
        connects.open("a", new InetSocketAddress(host, 5060), 120_000, never);
        connects.open("b", new InetSocketAddress(host, 5062), 120_000, never);
        CompletableFuture<SipFlow> third = connects.open("c", new InetSocketAddress(host, 5064), 120_000, never)
                .toCompletableFuture();
        assertThat(third).as("waiting in line").isNotDone();
        assertThat(hanging).as("dialled").hasSize(2);
        assertThat(connects.open("c", new InetSocketAddress(host, 5064), 120_000, never))
                .as("the same peer asked for again: the attempt in line").isSameAs(third);
        connects.open("d", new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 5060), 120_000, never);
        assertThat(hanging).as("another host").hasSize(3);
        // one ends: its place goes to the one in line
        connects.fail(hanging.get(0), new InetSocketAddress(host, 5060), "connect_refused", false, "refused", null);
        assertThat(hanging).as("the one in line dialled").hasSize(4);
        hanging.get(3).complete(null);
        assertThat(third).isCompletedWithValue(null);
        assertThat(outcomes).containsExactly("connect_refused");

        // the line is bounded: with both places taken (b, and the first of these) and the line
        // full, one more fails at once
        List<CompletableFuture<SipFlow>> inLine = new ArrayList<>();
        for (int i = 0; i <= OutboundConnects.MAX_WAITING_PER_HOST; i++) {
            inLine.add(connects.open("line-" + i, new InetSocketAddress(host, 6000 + i), 120_000, never).toCompletableFuture());
        }
        assertThat(inLine).noneMatch(CompletableFuture::isDone);
        assertThat(hanging).as("the first of them took the free place").hasSize(5);
        CompletableFuture<SipFlow> beyond = connects.open("beyond", new InetSocketAddress(host, 7000), 120_000, never)
                .toCompletableFuture();
        assertThat(beyond).isCompletedExceptionally();
        assertThat(((TransportFailure) beyond.handle((flow, error) -> error).get()).reason()).isEqualTo("busy_host");
        assertThat(hanging).as("nothing more dialled").hasSize(5);
    }

    /**
     * Counting a failed attempt that throws (a meter registry closing with the node, say) must not
     * leave the attempt or its host's place taken: the caller still hears the failure, and the
     * attempt waiting for that host's place is dialled.
     */
    @Test
    void aCounterThatThrowsLeavesNoAttemptOrPlaceTaken() throws Exception {
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000, 1, (outcome, remote) -> {
            throw new IllegalStateException("the meters are closed");
        }, "test_connects_total", false);
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        OutboundConnects.Dial never = hanging::add;
        InetAddress host = InetAddress.getLoopbackAddress();
        CompletableFuture<SipFlow> first = connects.open("a", new InetSocketAddress(host, 5060), 120_000, never)
                .toCompletableFuture();
        CompletableFuture<SipFlow> second = connects.open("b", new InetSocketAddress(host, 5062), 120_000, never)
                .toCompletableFuture();
        assertThat(hanging).as("b waits for a's place").hasSize(1);
        connects.fail(hanging.get(0), new InetSocketAddress(host, 5060), "connect_refused", false, "refused", null);
        assertThat(first).isCompletedExceptionally();
        assertThat(hanging).as("b dialled in the place a left").hasSize(2);
        hanging.get(1).complete(null);
        assertThat(second).isCompletedWithValue(null);
    }

    /** An attempt whose deadline passes while it waits for a place of its host fails, never dialled. */
    @Test
    void anAttemptWaitingPastItsDeadlineFailsWithoutBeingDialled() throws Exception {
        List<String> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000, 1,
                (outcome, remote) -> outcomes.add(outcome), "test_connects_total", false);
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        OutboundConnects.Dial never = hanging::add;
        InetAddress host = InetAddress.getLoopbackAddress();
        connects.open("a", new InetSocketAddress(host, 5060), 120_000, never);
        CompletableFuture<SipFlow> late = connects.open("b", new InetSocketAddress(host, 5062), 200, never)
                .toCompletableFuture();
        Throwable error = late.handle((flow, e) -> e).get(5, TimeUnit.SECONDS);
        assertThat(error).isInstanceOf(TransportFailure.class);
        assertThat(((TransportFailure) error).reason()).isEqualTo("busy_host");
        assertThat(outcomes).containsExactly("busy_host");
        // the place, when it frees, is not given to the attempt that gave up
        connects.fail(hanging.get(0), new InetSocketAddress(host, 5060), "connect_refused", false, "refused", null);
        assertThat(hanging).hasSize(1);
        // and the key is free for a new attempt (nothing remembered: it was never tried)
        connects.open("b", new InetSocketAddress(host, 5062), 120_000, never);
        assertThat(hanging).hasSize(2);

        // one that gets its place in time is not failed when its time in line would have ended
        CompletableFuture<SipFlow> inTime = connects.open("c", new InetSocketAddress(host, 5064), 1_500, never)
                .toCompletableFuture();
        connects.fail(hanging.get(1), new InetSocketAddress(host, 5062), "connect_refused", false, "refused", null);
        assertThat(hanging).hasSize(3);
        hanging.get(2).complete(null);
        assertThat(inTime).isCompletedWithValue(null);
        Thread.sleep(1_800);
        assertThat(outcomes).containsExactly("busy_host", "connect_refused", "connect_refused");
    }

    /**
     * An attempt whose place comes with less than {@link OutboundConnects#MIN_TIME_LEFT_MILLIS} of
     * its time left is not dialled (it could only fail, and that failure would be remembered
     * against its device), and the place goes on to the next in the line.
     */
    @Test
    void aPlaceThatComesTooLateIsPassedOn() throws Exception {
        List<String> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 1_000, 1,
                (outcome, remote) -> outcomes.add(outcome), "test_connects_total", false);
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        List<String> dialled = java.util.Collections.synchronizedList(new ArrayList<>());
        InetAddress host = InetAddress.getLoopbackAddress();
        connects.open("a", new InetSocketAddress(host, 5060), 120_000, attempt -> {
            dialled.add("a");
            hanging.add(attempt);
        });
        CompletableFuture<SipFlow> tooLate = connects.open("b", new InetSocketAddress(host, 5062), 700, attempt -> {
            dialled.add("b");
            hanging.add(attempt);
        }).toCompletableFuture();
        CompletableFuture<SipFlow> next = connects.open("c", new InetSocketAddress(host, 5064), 120_000, attempt -> {
            dialled.add("c");
            hanging.add(attempt);
        }).toCompletableFuture();
        Thread.sleep(400); // b has less than 500 ms left (or none, on a slow machine: the same outcome)
        connects.fail(hanging.get(0), new InetSocketAddress(host, 5060), "connect_refused", false, "refused", null);
        assertThat(((TransportFailure) tooLate.handle((flow, e) -> e).get(5, TimeUnit.SECONDS)).reason()).isEqualTo("busy_host");
        assertThat(dialled).containsExactly("a", "c");
        assertThat(next).isNotDone();
        assertThat(outcomes).containsExactlyInAnyOrder("connect_refused", "busy_host");
    }
}
