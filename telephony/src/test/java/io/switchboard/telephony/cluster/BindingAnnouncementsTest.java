package io.switchboard.telephony.cluster;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.platform.testing.MutableClock;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a node announces of its committed registrations: every new or changed binding and every
 * removal, but a refresh that changes only the expiry only when the copy the other nodes hold
 * would otherwise be good for less than three quarters of the new lifetime.
 */
class BindingAnnouncementsTest {
    static final String AOR = "sip:alice@intercom.test";
    static final String CONTACT = "sip:alice@10.0.0.7:5060";
    static final long NOW = 1_000_000_000L;

    final LocalBus bus = new LocalBus(new SimpleMeterRegistry());
    final List<BindingAnnouncements.Changed> heard = new CopyOnWriteArrayList<>();
    final MutableClock clock = new MutableClock(Instant.ofEpochMilli(NOW));
    final LocationService location = new LocationService();
    final BindingAnnouncements announcements = new BindingAnnouncements(bus, location, "node-a", clock);

    BindingAnnouncementsTest() {
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, heard::add);
    }

    /** The binding a REGISTER through node A at {@code at} with {@code expires} seconds makes, over {@code flow}. */
    static Binding registered(long at, int expires, long cseq, String flow) {
        return new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", cseq, 1000, at + expires * 1000L, at, "TCP",
                "10.0.0.7", 40000, "127.0.0.1", 5060, flow, "Yealink", null, 0, "node-a",
                "sip:127.0.0.1:5070;transport=tcp", at);
    }

    /** The same binding registered through node C at {@code at}. */
    static Binding throughC(long at, String contact) {
        return new Binding(AOR, contact, "<" + contact + ">", "call-1", 2, 1000, at + 300_000, at, "UDP",
                "10.0.0.7", 40000, "127.0.0.1", 5062, "udp:g1", "Yealink", null, 0, "node-c",
                "sip:127.0.0.1:5072;transport=tcp", at);
    }

    private void commit(Binding... upserts) {
        location.merge(List.of(upserts), clock.millis()); // the registrar holds it before it is committed
        announcements.committed(new BindingStore.Committed(List.of(upserts), List.of()));
    }

    private void at(long millis) {
        clock.set(Instant.ofEpochMilli(millis));
    }

    private List<Binding> announcedUpserts() {
        return heard.stream().flatMap(c -> c.upserts().stream()).toList();
    }

    @Test
    void aFrequentRefreshIsAnnouncedOnlyWhenTheOthersCopyWouldRunShort() {
        Binding first = registered(NOW - 30_000, 300, 1, "tcp:f1");
        commit(first); // new: announced, good until NOW + 270 s
        commit(registered(NOW, 300, 2, "tcp:f1")); // the others' copy has 270 s of 300 left
        assertThat(announcedUpserts()).containsExactly(first);

        at(NOW + 50_000);
        Binding later = registered(NOW + 50_000, 300, 3, "tcp:f1");
        commit(later);
        // decided against the copy the others hold (first, 220 s left: under three quarters of
        // 300), not against the refresh left out (which would still have 250 s)
        assertThat(announcedUpserts()).containsExactly(first, later);
        at(NOW + 51_000);
        commit(registered(NOW + 51_000, 300, 4, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(first, later);
    }

    @Test
    void aRefreshIsLeftOutOnlyWhileTheOthersCopyHasThreeQuartersOfTheNewLifetimeLeft() {
        Binding first = registered(NOW - 75_000, 300, 1, "tcp:f1"); // 225 s left: exactly three quarters
        commit(first);
        commit(registered(NOW, 300, 2, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(first);
        at(NOW + 1);
        Binding justUnder = registered(NOW + 1, 300, 3, "tcp:f1");
        commit(justUnder);
        assertThat(announcedUpserts()).containsExactly(first, justUnder);
        // a phone refreshing at half its expiry (RFC 3261 §10.2.4 clients) is announced every time
        at(NOW + 150_001);
        Binding atHalf = registered(NOW + 150_001, 300, 4, "tcp:f1");
        commit(atHalf);
        assertThat(announcedUpserts()).containsExactly(first, justUnder, atHalf);
    }

    /** A refresh at NOW that differs from {@link #registered} in one thing the other nodes use. */
    static Stream<Binding> refreshesThatChangeSomething() {
        long exp = NOW + 300_000;
        return Stream.of(
                new Binding(AOR, CONTACT, "<" + CONTACT + ">;+sip.instance=\"x\"", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-2", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 500, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TLS", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.8", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40001, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.2", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5061, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f2", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Linphone", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", "<urn:uuid:1>", 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 1, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-b", "sip:127.0.0.1:5070;transport=tcp", NOW),
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, exp, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5071;transport=tcp", NOW),
                // the others' copy would outlive a shorter registration
                new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, NOW + 60_000, NOW, "TCP", "10.0.0.7", 40000, "127.0.0.1", 5060, "tcp:f1", "Yealink", null, 0, "node-a", "sip:127.0.0.1:5070;transport=tcp", NOW));
    }

    @ParameterizedTest
    @MethodSource("refreshesThatChangeSomething")
    void aRefreshThatChangesAnythingButTheExpiryIsAnnouncedAtOnce(Binding changed) {
        Binding first = registered(NOW - 1000, 300, 1, "tcp:f1");
        commit(first);
        commit(changed);
        assertThat(announcedUpserts()).containsExactly(first, changed);
    }

    @Test
    void aDeviceBackFromAnotherNodeIsAnnouncedAgain() {
        LocationService atC = new LocationService();
        BindingAnnouncements nodeC = new BindingAnnouncements(bus, atC, "node-c", clock);
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, nodeC::heard);
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, announcements::heard);
        Binding atA = registered(NOW - 1000, 300, 1, "udp:f1");
        commit(atA);
        Binding movedToC = throughC(NOW - 500, CONTACT);
        nodeC.committed(new BindingStore.Committed(List.of(movedToC), List.of()));
        // back through A over the same NAT mapping: field for field what A announced before
        Binding backAtA = registered(NOW, 300, 3, "udp:f1");
        commit(backAtA);
        assertThat(announcedUpserts()).containsExactly(atA, movedToC, backAtA);
        assertThat(atC.lookup(AOR, NOW)).containsExactly(backAtA);
    }

    @Test
    void aDeviceBackBeforeTheOtherNodesEventArrivedIsAnnouncedWhenItDoes() {
        Binding atA = registered(NOW - 1000, 300, 1, "udp:f1");
        commit(atA);
        Binding backAtA = registered(NOW, 300, 3, "udp:f1");
        commit(backAtA); // left out: C's announcement of the device has not reached this node yet
        assertThat(announcedUpserts()).containsExactly(atA);
        announcements.heard(new BindingAnnouncements.Changed("node-c", List.of(throughC(NOW - 500, CONTACT)), List.of()));
        assertThat(announcedUpserts()).containsExactly(atA, backAtA);
        assertThat(location.lookup(AOR, NOW)).containsExactly(backAtA);
    }

    @Test
    void aDeviceMadeHereAgainAfterAnotherNodeRemovedItIsAnnouncedWhenTheRemovalArrives() {
        Binding atA = registered(NOW - 1000, 300, 1, "udp:f1");
        commit(atA);
        Binding again = registered(NOW, 300, 3, "udp:f1");
        commit(again); // left out: C's removal of the contact (at NOW - 500) has not arrived yet
        announcements.heard(new BindingAnnouncements.Changed("node-c", List.of(),
                List.of(new BindingStore.Removal(AOR, CONTACT, NOW - 500))));
        assertThat(announcedUpserts()).containsExactly(atA, again);
    }

    @Test
    void aBatchCommittingWhileAnotherNodesNewerBindingArrivesRemembersNothing() {
        commit(registered(NOW - 1000, 300, 1, "udp:f1"));
        // C's newer binding of the device arrives (merged, this node's entry forgotten) while
        // this node's older refresh of it is being committed
        announcements.heard(new BindingAnnouncements.Changed("node-c", List.of(throughC(NOW, CONTACT)), List.of()));
        announcements.committed(new BindingStore.Committed(List.of(registered(NOW - 100, 300, 2, "udp:f1")), List.of()));
        at(NOW + 1000);
        Binding back = registered(NOW + 1000, 300, 3, "udp:f1"); // back here: C's copy is what the others hold
        commit(back);
        assertThat(announcedUpserts()).endsWith(back);
    }

    @Test
    void anAddressWithDevicesOnTwoNodesStillHasItsRefreshesLeftOut() {
        Binding desk = registered(NOW - 1000, 300, 1, "tcp:f1");
        commit(desk);
        announcements.heard(new BindingAnnouncements.Changed("node-c",
                List.of(throughC(NOW - 500, "sip:alice@10.0.0.9:5060")), List.of()));
        commit(registered(NOW, 300, 2, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(desk);
        // the other node unregistered this very contact: what it holds is no longer this node's copy
        announcements.heard(new BindingAnnouncements.Changed("node-c", List.of(),
                List.of(new BindingStore.Removal(AOR, CONTACT, NOW - 1))));
        Binding after = registered(NOW, 300, 3, "tcp:f1");
        commit(after);
        assertThat(announcedUpserts()).endsWith(after);
    }

    @Test
    void aBindingRemovedByAnyPathIsAnnouncedAfreshWhenItComesBack() {
        Binding first = registered(NOW - 1000, 300, 1, "tcp:f1");
        commit(first);
        announcements.committed(new BindingStore.Committed(List.of(), List.of(new BindingStore.Removal(AOR, CONTACT, NOW))));
        Binding again = registered(NOW, 300, 2, "tcp:f1");
        commit(again);
        // removed without an announcement (expired here, or its account was removed)
        announcements.committed(new BindingStore.Committed(List.of(), List.of(), List.of(again)));
        Binding third = registered(NOW, 300, 3, "tcp:f1");
        commit(third);
        assertThat(announcedUpserts()).containsExactly(first, again, third);
        assertThat(heard).hasSize(4); // the unannounced removal sent nothing
    }

    @Test
    void aBindingRemovedAndMadeAgainInOneBatchIsAnnouncedInFull() {
        Binding first = registered(NOW - 1000, 300, 1, "tcp:f1");
        commit(first);
        Binding again = registered(NOW, 300, 2, "tcp:f1");
        announcements.committed(new BindingStore.Committed(List.of(again),
                List.of(new BindingStore.Removal(AOR, CONTACT, NOW - 1))));
        assertThat(announcedUpserts()).containsExactly(first, again);
        Binding next = registered(NOW, 300, 3, "tcp:f1");
        commit(next); // nothing was remembered of it: announced again
        assertThat(announcedUpserts()).containsExactly(first, again, next);
    }

    @Test
    void afterTheBusReconnectsEveryBindingIsAnnouncedAgainAndTheStoreIsRead(@TempDir Path dir) throws Exception {
        List<Runnable> reconnectionListeners = new CopyOnWriteArrayList<>();
        Bus reconnecting = new Bus() {
            @Override
            public void publish(String topic, Object event) {
                bus.publish(topic, event);
            }

            @Override
            public <T> Subscription subscribe(String topic, Class<T> type, Consumer<T> handler) {
                return bus.subscribe(topic, type, handler);
            }

            @Override
            public Subscription onReconnected(Runnable listener) {
                reconnectionListeners.add(listener);
                return () -> reconnectionListeners.remove(listener);
            }

            @Override
            public <R> CompletableFuture<R> request(String topic, Object message, Class<R> replyType, Duration timeout) {
                return bus.request(topic, message, replyType, timeout);
            }

            @Override
            public <Q> Subscription respond(String topic, Class<Q> type, Function<Q, ?> handler) {
                return bus.respond(topic, type, handler);
            }
        };
        LocationService here = new LocationService();
        BindingAnnouncements withStore = new BindingAnnouncements(reconnecting, here, "node-a", clock);
        try (Store store = Store.open(StoreSettings.sqliteIn(dir))) {
            store.migrate("telephony");
            BindingStore bindings = new BindingStore(store.jdbi(), 100);
            bindings.start();
            try {
                withStore.start(bindings);
                Binding mine = registered(NOW - 1000, 300, 1, "tcp:f1");
                bindings.submit(List.of(mine), List.of(), NOW, true).get(10, TimeUnit.SECONDS);
                // made through node C while this node was cut off: in the store, never heard of here
                Binding elsewhere = throughC(NOW - 500, "sip:alice@10.0.0.9:5060");
                bindings.submit(List.of(elsewhere), List.of()).get(10, TimeUnit.SECONDS);
                assertThat(here.lookup(AOR, NOW)).isEmpty();

                reconnectionListeners.forEach(Runnable::run);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (here.lookup(AOR, NOW).size() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(here.lookup(AOR, NOW)).containsExactlyInAnyOrder(mine, elsewhere);

                // this node's own announcement may have been lost with the connection: the next
                // refresh goes out, although the copy announced before would still be good enough
                Binding refreshed = registered(NOW, 300, 2, "tcp:f1");
                bindings.submit(List.of(refreshed), List.of(), NOW, true).get(10, TimeUnit.SECONDS);
                assertThat(announcedUpserts()).containsExactly(mine, refreshed);
                bindings.submit(List.of(registered(NOW, 300, 3, "tcp:f1")), List.of(), NOW, true).get(10, TimeUnit.SECONDS);
                assertThat(announcedUpserts()).containsExactly(mine, refreshed);
            } finally {
                withStore.close();
                bindings.close();
            }
        }
    }

    @Test
    void aBatchOfOnlyLeftOutRefreshesSendsNoEvent() {
        commit(registered(NOW - 1000, 300, 1, "tcp:f1"));
        heard.clear();
        commit(registered(NOW, 300, 2, "tcp:f1"));
        assertThat(heard).isEmpty();
    }
}
