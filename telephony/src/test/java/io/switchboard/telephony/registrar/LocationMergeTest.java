package io.switchboard.telephony.registrar;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bindings made through other nodes arrive announced on the bus or read from the store, in any
 * order and possibly twice: the newer registration wins, and a removal is not undone by an older
 * copy arriving after it.
 */
class LocationMergeTest {
    static final String AOR = "sip:bob@intercom.test";
    static final long NOW = 1_000_000_000L;
    final LocationService location = new LocationService();

    static Binding binding(String contact, long version, String instance, int regId, String node) {
        return new Binding(AOR, contact, "<" + contact + ">", "call-1", 1, 1000, version + 600_000, version, "TCP",
                "127.0.0.1", 40000, "127.0.0.1", 5060, "tcp:flow-" + contact, null, instance, regId, node,
                "sip:127.0.0.1:5060;transport=tcp", version);
    }

    private List<Binding> bindings() {
        return location.lookup(AOR, NOW);
    }

    @Test
    void theNewerRegistrationOfAContactWinsWhateverTheOrderOfArrival() {
        Binding older = binding("sip:bob@10.0.0.1:5060", NOW - 2000, null, 0, "a");
        Binding newer = binding("sip:bob@10.0.0.1:5060", NOW - 1000, null, 0, "b");
        assertThat(location.merge(List.of(newer), NOW)).isEqualTo(1);
        assertThat(location.merge(List.of(older), NOW)).isZero();
        assertThat(bindings()).containsExactly(newer);
        assertThat(location.merge(List.of(newer), NOW)).isZero(); // announced twice
        assertThat(location.size()).isEqualTo(1);
    }

    @Test
    void aRemovalIsNotUndoneByAnOlderCopyArrivingLater() {
        Binding made = binding("sip:bob@10.0.0.1:5060", NOW - 2000, null, 0, "a");
        location.remove(AOR, made.contact(), NOW - 1000); // heard before the announcement that made it
        assertThat(location.merge(List.of(made), NOW)).isZero();
        assertThat(bindings()).isEmpty();

        Binding again = binding("sip:bob@10.0.0.1:5060", NOW - 500, null, 0, "b");
        assertThat(location.merge(List.of(again), NOW)).isEqualTo(1); // registered again after the removal
        location.remove(AOR, again.contact(), NOW - 1000); // a late removal older than that registration
        assertThat(bindings()).containsExactly(again);
    }

    @Test
    void aLocalRemovalKeepsAStoreReadFromBringingTheBindingBack() {
        Binding stored = binding("sip:bob@10.0.0.1:5060", NOW - 2000, null, 0, "a");
        location.merge(List.of(stored), NOW);
        location.update(AOR, current -> List.of());
        location.removed(List.of(stored), NOW - 100);
        // the store still has the row until the delete commits
        assertThat(location.merge(List.of(stored), NOW)).isZero();
        assertThat(bindings()).isEmpty();
        location.forgetOldRemovals(NOW + LocationService.TOMBSTONE_MILLIS);
        assertThat(location.merge(List.of(stored), NOW)).isEqualTo(1);
    }

    @Test
    void aNewerBindingOfTheSameDeviceFlowReplacesTheOldOneWhateverItsContact() {
        String instance = "<urn:uuid:00000000-0000-0000-0000-000000000001>";
        Binding throughA = binding("sip:bob@127.0.0.1:40001;transport=tcp", NOW - 2000, instance, 1, "a");
        Binding otherFlow = binding("sip:bob@127.0.0.1:40002;transport=tcp", NOW - 2000, instance, 2, "a");
        Binding throughB = binding("sip:bob@127.0.0.1:40003;transport=tcp", NOW - 1000, instance, 1, "b");
        location.merge(List.of(throughA, otherFlow), NOW);
        location.merge(List.of(throughB), NOW);
        assertThat(bindings()).containsExactlyInAnyOrder(otherFlow, throughB); // RFC 5626: reg-id 2 is another flow
        assertThat(location.merge(List.of(throughA), NOW)).isZero();
    }

    /** RFC 5626 §6, RFC 5627: the same instance, both without reg-id, is the same device (a restart through another node). */
    @Test
    void aNewerBindingOfTheSameInstanceWithoutRegIdReplacesTheOldOne() {
        String instance = "<urn:uuid:00000000-0000-0000-0000-000000000002>";
        Binding before = binding("sip:bob@127.0.0.1:40001;transport=tcp", NOW - 2000, instance, 0, "a");
        Binding withRegId = binding("sip:bob@127.0.0.1:40002;transport=tcp", NOW - 2000, instance, 1, "a");
        Binding restarted = binding("sip:bob@127.0.0.1:40003;transport=tcp", NOW - 1000, instance, 0, "b");
        location.merge(List.of(before, withRegId), NOW);
        location.merge(List.of(restarted), NOW);
        assertThat(bindings()).containsExactlyInAnyOrder(withRegId, restarted);
        assertThat(location.merge(List.of(before), NOW)).isZero();
    }

    @Test
    void removingABindingThatLookedExpiredKeepsARefreshMadeElsewhere() {
        Binding stale = binding("sip:bob@10.0.0.1:5060", NOW - 700_000, null, 0, "a"); // expired 100 s ago
        Binding refreshed = binding("sip:bob@10.0.0.1:5060", NOW - 200_000, null, 0, "a");
        location.removed(List.of(stale), NOW);
        assertThat(location.merge(List.of(refreshed), NOW)).isEqualTo(1);
        location.remove(AOR, refreshed.contact(), stale.version()); // the same, announced by the node that swept it
        assertThat(bindings()).containsExactly(refreshed);
    }

    @Test
    void expiredBindingsAreNotTaken() {
        Binding expired = binding("sip:bob@10.0.0.1:5060", NOW - 700_000, null, 0, "a");
        assertThat(location.merge(List.of(expired), NOW)).isZero();
        assertThat(location.size()).isZero();
    }
}
