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

    /** At most so many attempts under way to one host, whatever the port; another host still gets its own. */
    @Test
    void attemptsUnderWayToOneHostAreCapped() throws Exception {
        // the attempts' deadlines report from another thread: synchronized, and long enough not to fall in the test
        List<String> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        OutboundConnects connects = new OutboundConnects("TCP", Duration.ofSeconds(30), 64, 2,
                (outcome, remote) -> outcomes.add(outcome), "test_connects_total", false);
        List<CompletableFuture<SipFlow>> hanging = new ArrayList<>();
        OutboundConnects.Dial never = hanging::add;
        InetAddress host = InetAddress.getLoopbackAddress();
        connects.open("a", new InetSocketAddress(host, 5060), 120_000, never);
        connects.open("b", new InetSocketAddress(host, 5062), 120_000, never);
        CompletableFuture<SipFlow> third = connects.open("c", new InetSocketAddress(host, 5064), 120_000, never)
                .toCompletableFuture();
        assertThat(third).isCompletedExceptionally();
        assertThat(hanging).hasSize(2);
        assertThat(outcomes).containsExactly("busy_host");
        connects.open("d", new InetSocketAddress(InetAddress.getByName("192.0.2.1"), 5060), 120_000, never);
        assertThat(hanging).as("another host").hasSize(3);
        // one ends: the host has a place again
        connects.fail(hanging.get(0), new InetSocketAddress(host, 5060), "connect_refused", false, "refused", null);
        connects.open("c", new InetSocketAddress(host, 5064), 120_000, never);
        assertThat(hanging).hasSize(4);
    }
}
