package io.switchboard.telephony.calls;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.cluster.ClusterView;
import io.switchboard.platform.cluster.NodeRecord;
import io.switchboard.platform.cluster.NodeState;
import io.switchboard.platform.cluster.RendezvousHash;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Node b closes the call records node a left open when a died, as the cluster view tells it. */
class DeadNodeCallsTest {
    private static final String A = "node-a";
    private static final String B = "node-b";

    @TempDir
    Path dir;
    final MutableClock clock = new MutableClock(Instant.parse("2030-01-01T08:00:00Z"));
    Store store;
    CallRecordStore recordsOfA;
    CallRecordStore recordsOfB;
    CallTracker trackerOfA;
    CallTracker trackerOfB;
    DeadNodeCalls deaths;

    @BeforeEach
    void start() {
        store = Store.open(StoreSettings.sqliteIn(dir));
        store.migrate("telephony");
        recordsOfA = new CallRecordStore(store.jdbi(), 1_000);
        recordsOfB = new CallRecordStore(store.jdbi(), 1_000);
        trackerOfA = new CallTracker(recordsOfA, new CallMetrics(new SimpleMeterRegistry()), clock, A, Duration.ofHours(1));
        trackerOfB = new CallTracker(recordsOfB, new CallMetrics(new SimpleMeterRegistry()), clock, B, Duration.ofHours(1));
        trackerOfA.start();
        trackerOfB.start();
        deaths = new DeadNodeCalls(trackerOfB, clock);
    }

    @AfterEach
    void stop() {
        trackerOfA.close();
        trackerOfB.close();
        store.close();
    }

    private static NodeRecord node(String id, NodeState state, boolean self) {
        return new NodeRecord(id, id + "-1", state, Map.of(), "test", Instant.EPOCH, 0, null, self);
    }

    /** The view as node b sees it: b alive, and the others in the given states. */
    private static ClusterView viewOfB(NodeRecord... others) {
        List<NodeRecord> nodes = new ArrayList<>(List.of(others));
        nodes.add(node(B, NodeState.ALIVE, true));
        return new ClusterView(B, nodes, true);
    }

    /** An answered call and a ringing one through node a, and an answered one through b, all stored. */
    private List<ActiveCall> callsOnBothNodes() {
        ActiveCall answered = trackerOfA.started("call-1", "t1", "sip:alice@example.test", "sip:bob@example.test", "bob",
                List.of("sip:bob@192.0.2.10"));
        trackerOfA.answered(answered, "sip:bob@192.0.2.10");
        ActiveCall ringing = trackerOfA.started("call-2", "t2", "sip:carol@example.test", "sip:bob@example.test", "bob",
                List.of("sip:bob@192.0.2.10"));
        ActiveCall onB = trackerOfB.started("call-3", "t3", "sip:dave@example.test", "sip:bob@example.test", "bob",
                List.of("sip:bob@192.0.2.11"));
        trackerOfB.answered(onB, "sip:bob@192.0.2.11");
        awaitStatus(answered, "answered");
        awaitStatus(ringing, "ringing");
        awaitStatus(onB, "answered");
        clock.advance(Duration.ofSeconds(30)); // the calls go on a while before anything dies
        return List.of(answered, ringing, onB);
    }

    private void awaitStatus(ActiveCall call, String status) {
        await().atMost(Duration.ofSeconds(10))
                .until(() -> recordsOfB.find(call.id()).map(r -> r.status().equals(status)).orElse(false));
    }

    private String status(ActiveCall call) {
        return recordsOfB.find(call.id()).orElseThrow().status();
    }

    @Test
    void theOwnerClosesTheOpenCallsOfANodeAsSoonAsTheViewCountsItDead() {
        List<ActiveCall> calls = callsOnBothNodes();
        deaths.accept(viewOfB(node(A, NodeState.ALIVE, false)));
        clock.advance(Duration.ofSeconds(7));

        deaths.accept(viewOfB(node(A, NodeState.DEAD, false)));

        awaitStatus(calls.get(0), "interrupted");
        awaitStatus(calls.get(1), "interrupted");
        CallRecord record = recordsOfB.find(calls.get(0).id()).orElseThrow();
        assertThat(record.endedBy()).isEqualTo("node");
        assertThat(record.endedAt()).isEqualTo(clock.instant());
        assertThat(status(calls.get(2))).as("b's own call").isEqualTo("answered");
    }

    @Test
    void aNodeFoundDeadInTheFirstViewHasItsCallsClosedOnce() throws Exception {
        List<ActiveCall> calls = callsOnBothNodes();
        deaths.accept(viewOfB(node(A, NodeState.DEAD, false)));
        awaitStatus(calls.get(0), "interrupted");

        // a's next run, under the same id: its calls are its own until the view counts it dead again
        ActiveCall later = trackerOfA.started("call-4", "t4", "sip:erin@example.test", "sip:bob@example.test", "bob",
                List.of("sip:bob@192.0.2.10"));
        awaitStatus(later, "ringing");
        clock.advance(Duration.ofSeconds(1));
        deaths.accept(viewOfB(node(A, NodeState.DEAD, false)));
        deaths.accept(viewOfB(node(A, NodeState.ALIVE, false)));
        trackerOfB.awaitQueuedWork(Duration.ofSeconds(10)); // what b queued has run
        assertThat(status(later)).isEqualTo("ringing");
    }

    @Test
    void aNodeThatLeftGracefullyIsLeftAlone() throws Exception {
        List<ActiveCall> calls = callsOnBothNodes();
        deaths.accept(viewOfB(node(A, NodeState.ALIVE, false)));
        deaths.accept(viewOfB(node(A, NodeState.LEFT, false)));

        trackerOfB.awaitQueuedWork(Duration.ofSeconds(10)); // what b queued has run
        assertThat(status(calls.get(0))).isEqualTo("answered");
        assertThat(status(calls.get(1))).isEqualTo("ringing");
    }

    @Test
    void onlyTheOwnerOfTheDeadNodesKeyClosesItsCallsAndAnotherTakesOverWhenItDies() throws Exception {
        // a third live node that owns "calls-of:node-a" rather than b
        String other = null;
        for (int i = 0; other == null; i++) {
            String candidate = "node-c" + i;
            if (RendezvousHash.owner(DeadNodeCalls.KEY_PREFIX + A, Set.of(B, candidate)).orElseThrow().equals(candidate)) {
                other = candidate;
            }
        }
        List<ActiveCall> calls = callsOnBothNodes();
        deaths.accept(viewOfB(node(A, NodeState.ALIVE, false), node(other, NodeState.ALIVE, false)));
        deaths.accept(viewOfB(node(A, NodeState.DEAD, false), node(other, NodeState.ALIVE, false)));

        trackerOfB.awaitQueuedWork(Duration.ofSeconds(10)); // what b queued has run
        assertThat(status(calls.get(0))).isEqualTo("answered");
        assertThat(status(calls.get(1))).isEqualTo("ringing");

        // the owner dies too: b is now the only live node, owns the key and closes both nodes' calls
        deaths.accept(viewOfB(node(A, NodeState.DEAD, false), node(other, NodeState.DEAD, false)));
        awaitStatus(calls.get(0), "interrupted");
    }
}
