package io.switchboard.server.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13 part 6: three node processes on one PostgreSQL database and one RabbitMQ exchange
 * behind a real HAProxy, under mixed load through the balancer — chat senders and streams, SIP
 * phones over TCP registering and calling each other, 200 HTTP monitors — lose a node to
 * {@code kill -9}, then another to SIGTERM, then get both back.
 *
 * <p>What must hold: no acknowledged chat message lost or stored twice, and every stream, having
 * reconnected through the balancer and resumed from its last sequence number, ends with every
 * acknowledged message once and in order; every phone whose node went away re-registers through a
 * survivor, and calls reach it there (and, once the phones are spread over the restarted cluster,
 * every phone is reached from any node); the drained node exits 0; every monitor keeps its interval (no silence over interval
 * + 10 s).
 *
 * <p>Two groups of assertions need features of issue 13 that are built separately; each is behind
 * a constant below, to be set {@code true} when its feature is merged. While a constant is false
 * the test still runs that part of the load and prints what it observed, so switching it on is a
 * change of one word, not new code.
 */
class ClusterFailoverTest {
    /**
     * Issue 13 part 3 (SIP across nodes: a binding made through node A used by every node, calls
     * routed through the node that holds the device's flow). Until then a call between two phones
     * whose connections landed on different nodes gets 480, so calls to re-registered devices are
     * not asserted.
     */
    static final boolean SIP_ACROSS_NODES = true;
    /**
     * Issue 13 part 2 (monitor checks spread over live nodes under leases). Until then every node
     * runs every check: each monitor is checked once per interval per node, and an outage is
     * notified by every node.
     */
    static final boolean MONITOR_CHECKS_ONCE = true;

    static final int PORT_BASE = 23000;
    static final Duration MONITOR_INTERVAL = Duration.ofSeconds(5);
    /** Small heaps and the C1 compiler only: three nodes, HAProxy and the load share two cores. */
    static final List<String> NODE_JVM = List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");

    @TempDir
    Path dir;

    @Test
    void killingOneNodeAndDrainingAnotherUnderLoadLosesNothing() throws Exception {
        ClusterUnderTest.HAPROXY.assumeAvailable();
        try (ClusterUnderTest cluster = new ClusterUnderTest(dir, 3, PORT_BASE, Map.of(), NODE_JVM);
             MonitorLoad monitors = new MonitorLoad(MONITOR_INTERVAL);
             ChatLoad chat = new ChatLoad("http://127.0.0.1:" + cluster.httpFrontendPort());
             SipLoad sip = new SipLoad(cluster.sipFrontendPort(), 12)) {
            cluster.start(Duration.ofSeconds(120));
            monitors.create(cluster.baseUrl(), cluster.adminToken(), 200);
            chat.setUp(4, 6);
            sip.register(Duration.ofSeconds(30));
            monitors.awaitAllChecked(Duration.ofSeconds(60));

            chat.startSending(Duration.ofMillis(100), 5000);
            sip.startCalling(Duration.ofMillis(300));
            Thread.sleep(MONITOR_INTERVAL.toMillis()); // load running on every node before the first loss
            long windowStart = System.nanoTime();

            // 1. kill -9: the node's connections are reset; clients go to the survivors
            long killed = System.nanoTime();
            cluster.node(1).kill();
            // round robin put some phones on the killed node: they come back through the survivors
            List<ClusterPhone> movedByKill = sip.awaitMovedAndRegistered(killed, Duration.ofSeconds(30));
            List<String> callsAfterKill = sip.callEach(movedByKill);

            // 2. SIGTERM: the node drains (readiness off, HAProxy takes it out) and exits 0
            long terminated = System.nanoTime();
            int exit = cluster.node(2).terminate(Duration.ofSeconds(60));
            assertThat(exit).as(cluster.node(2).text()).isZero();
            List<ClusterPhone> movedByDrain = sip.awaitMovedAndRegistered(terminated, Duration.ofSeconds(30));
            List<String> callsAfterDrain = sip.callEach(movedByDrain);

            // 3. both come back (same ports, same data directories) and HAProxy takes them in again
            cluster.node(1).start();
            cluster.node(2).start();
            cluster.node(1).awaitReady(Duration.ofSeconds(120));
            cluster.node(2).awaitReady(Duration.ofSeconds(120));
            Thread.sleep(MONITOR_INTERVAL.toMillis()); // the load goes on over the whole cluster again
            // the phones all sit on the one node that never went away: new connections spread them
            // over the three again, and every phone is called from its neighbour, through any node
            sip.spreadAgain(Duration.ofSeconds(30));
            List<String> callsAfterRestart = sip.callEach(sip.phones());
            long windowEnd = System.nanoTime();

            chat.stopSending();
            sip.stopCalling();
            chat.awaitReadersCaughtUp(Duration.ofSeconds(60));

            String context = "\n" + cluster.logTails(30);
            List<ChatLoad.Acked> acked = chat.acked();
            assertThat(acked.size()).as("acknowledged messages (send failures: %d)%s", chat.sendFailures(), context)
                    .isGreaterThan(100);
            assertThat(chat.verify()).as("streams against the acknowledged messages" + context).isEmpty();
            assertThat(chat.reconnects()).as("streams reconnected through the balancer").isPositive();

            MonitorLoad.Gap gap = monitors.longestGap(windowStart, windowEnd);
            double perInterval = monitors.mostChecksPerInterval(windowStart, windowEnd);
            List<com.fasterxml.jackson.databind.JsonNode> downCopies = monitors.notifications("monitor.down", MonitorLoad.OUTAGE);
            // a node killed while sending the DOWN leaves it to the next holder, which sends it again
            // marked as a repeat under the same id: what a receiver keeps is one DOWN per id
            long downs = downCopies.stream().map(n -> n.path("id").asText()).distinct().count();
            List<com.fasterxml.jackson.databind.JsonNode> unmarkedCopies = downCopies.stream()
                    .filter(n -> !n.path("repeat").asBoolean()).toList();
            List<SipLoad.CallRecord> calls = sip.calls();
            long answered = calls.stream().filter(SipLoad.CallRecord::succeeded).count();
            System.out.printf("ClusterFailoverTest: %d messages acknowledged, %d send retries, %d stream reconnects;"
                            + " %d background calls, %d answered; calls to phones moved by the kill: %s; by the drain: %s;"
                            + " after the restart, over three nodes: %s;"
                            + " longest monitor gap %.1f s (%s); most checks per interval %.2f; DOWN messages %d (%d deliveries)%n",
                    acked.size(), chat.sendFailures(), chat.reconnects(), calls.size(), answered, callsAfterKill,
                    callsAfterDrain, callsAfterRestart, gap.seconds(), gap.monitor(), perInterval, downs, downCopies.size());

            assertThat(gap.seconds()).as("longest silence of a monitor (interval %s)", MONITOR_INTERVAL)
                    .isLessThanOrEqualTo(MONITOR_INTERVAL.toSeconds() + 10.0);
            if (SIP_ACROSS_NODES) {
                assertThat(callsAfterKill).as("calls to phones re-registered after the kill").isEmpty();
                assertThat(callsAfterDrain).as("calls to phones re-registered after the drain").isEmpty();
                assertThat(callsAfterRestart).as("calls between phones spread over the restarted cluster").isEmpty();
            }
            if (MONITOR_CHECKS_ONCE) {
                assertThat(perInterval).as("checks of one monitor per interval, cluster-wide").isLessThanOrEqualTo(1.5);
                assertThat(downs).as("DOWN messages (distinct ids) for one outage spanning the kill: %s",
                        monitors.allNotifications()).isEqualTo(1);
                // one node died while the DOWN may have been under way: at most one copy more, and it says so
                assertThat(downCopies).as("DOWN deliveries").hasSizeBetween(1, 2);
                assertThat(unmarkedCopies).as("DOWN deliveries not marked as a repeat: %s", monitors.allNotifications())
                        .hasSizeLessThanOrEqualTo(1);
            }
        }
    }
}
