package io.switchboard.telephony.registrar;

import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Several nodes commit changes to the same bindings, in any order: the store keeps the later
 * registration, a removal deletes only what was made before it, and a binding removed because it
 * looked expired on one node survives when another node refreshed it. Each committed batch is
 * announced once, removals with the bound they were made with.
 */
class BindingStoreOrderTest {
    static final String AOR = "sip:bob@intercom.test";
    static final String CONTACT = "sip:bob@10.0.0.1:5060";
    static final long NOW = System.currentTimeMillis();
    @TempDir
    Path dir;
    Store store;
    BindingStore bindings;
    final List<BindingStore.Committed> announced = new CopyOnWriteArrayList<>();

    Store open() throws Exception {
        return Store.open(StoreSettings.sqliteIn(dir));
    }

    @BeforeEach
    void start() throws Exception {
        store = open();
        store.migrate("telephony");
        bindings = new BindingStore(store.jdbi(), 1000);
        bindings.onCommitted(announced::add);
        bindings.start();
    }

    @AfterEach
    void stop() throws Exception {
        bindings.close();
        store.close();
    }

    static Binding made(long version, String node) {
        return new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-" + node, 1, 1000, version + 600_000, version, "UDP",
                "10.0.0.1", 5060, "127.0.0.1", 5060, "udp:x>10.0.0.1:5060", null, null, 0, node,
                "sip:127.0.0.1:5060;transport=tcp", version);
    }

    private void commit(List<Binding> upserts, List<Binding> removals, long at, boolean announce) throws Exception {
        bindings.submit(upserts, removals, at, announce).get(10, TimeUnit.SECONDS);
    }

    private List<Binding> stored() {
        return bindings.load(AOR, NOW);
    }

    @Test
    void aLateCommitOfAnOlderRegistrationDoesNotOverwriteANewerOne() throws Exception {
        commit(List.of(made(NOW - 1000, "b")), List.of(), NOW, true);
        commit(List.of(made(NOW - 2000, "a")), List.of(), NOW, true);
        assertThat(stored()).extracting(Binding::node).containsExactly("b");
    }

    @Test
    void aRemovalDeletesOnlyWhatWasRegisteredBeforeIt() throws Exception {
        commit(List.of(made(NOW - 1000, "b")), List.of(), NOW, true);
        commit(List.of(), List.of(made(NOW - 3000, "a")), NOW - 2000, true); // unregistered before B's registration
        assertThat(stored()).hasSize(1);
        commit(List.of(), List.of(made(NOW - 1000, "b")), NOW, true);
        assertThat(stored()).isEmpty();
    }

    @Test
    void aBindingThatLookedExpiredHereSurvivesItsRefreshThroughAnotherNode() throws Exception {
        Binding refreshed = made(NOW - 1000, "a");
        commit(List.of(refreshed), List.of(), NOW, true);
        Binding staleCopy = made(NOW - 700_000, "a"); // expired 100 s ago, as this node last heard of it
        commit(List.of(), List.of(staleCopy), NOW, true);
        assertThat(stored()).containsExactly(refreshed);
        BindingStore.Committed last = announced.get(announced.size() - 1);
        assertThat(last.removals()).containsExactly(new BindingStore.Removal(AOR, CONTACT, NOW - 700_000));
    }

    @Test
    void eachCommittedBatchIsAnnouncedOnceAndExpiryIsNotAnnounced() throws Exception {
        commit(List.of(made(NOW - 1000, "a")), List.of(), NOW, true);
        assertThat(announced).hasSize(1);
        assertThat(announced.get(0).upserts()).extracting(Binding::node).containsExactly("a");
        bindings.submit(List.of(), List.of(made(NOW - 1000, "a"))).get(10, TimeUnit.SECONDS);
        // the expiry reaches the listener only as a removal it may forget, nothing to announce
        assertThat(announced).hasSize(2);
        assertThat(announced.get(1).upserts()).isEmpty();
        assertThat(announced.get(1).removals()).isEmpty();
        assertThat(announced.get(1).unannouncedRemovals()).extracting(Binding::node).containsExactly("a");
        assertThat(stored()).isEmpty();
    }

    /**
     * Two nodes' writers commit batches that touch the same 300 bindings, listed in opposite
     * orders (each node's expiry sweep removes every expired binding in its own map's order). On
     * PostgreSQL, rows locked in those orders would deadlock and one batch would fail; the writer
     * takes rows in (AOR, contact) order, so both commit.
     */
    @Test
    void twoNodesCommittingTheSameBindingsInOppositeOrdersBothCommit() throws Exception {
        BindingStore other = new BindingStore(store.jdbi(), 1000);
        other.start();
        try {
            List<Binding> forward = new java.util.ArrayList<>();
            for (int i = 0; i < 300; i++) {
                Binding b = made(NOW - 5000, "a");
                forward.add(new Binding("sip:flat" + i + "@intercom.test", b.contact(), b.contactHeader(), b.callId(),
                        b.cseq(), b.qValue(), b.expiresAtMillis(), b.registeredAtMillis(), b.transport(), b.remoteAddress(),
                        b.remotePort(), b.localAddress(), b.localPort(), b.flowId(), b.userAgent(), b.instanceId(),
                        b.regId(), b.node(), b.path(), b.version()));
            }
            List<Binding> backward = new java.util.ArrayList<>(forward);
            java.util.Collections.reverse(backward);
            for (int round = 0; round < 10; round++) {
                commit(forward, List.of(), NOW, false);
                List<io.switchboard.platform.store.Simultaneously.Outcome<Object>> sweeps =
                        io.switchboard.platform.store.Simultaneously.run(List.of(
                                () -> bindings.submit(forward.subList(0, 150), forward, NOW, false).get(10, TimeUnit.SECONDS),
                                () -> other.submit(backward.subList(0, 150), backward, NOW, false).get(10, TimeUnit.SECONDS)));
                assertThat(sweeps).as("round %d", round).allSatisfy(sweep -> assertThat(sweep.failure()).isNull());
            }
        } finally {
            other.close();
        }
    }
}
