package io.switchboard.telephony.cluster;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.Bus;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.platform.config.StoreSettings;
import io.switchboard.platform.store.Store;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a node announces of its committed registrations: every new or changed binding and every
 * removal, but a refresh that changes only the expiry only when the copy the other nodes hold
 * would otherwise be good for less than half of the new lifetime.
 */
class BindingAnnouncementsTest {
    static final String AOR = "sip:alice@intercom.test";
    static final String CONTACT = "sip:alice@10.0.0.7:5060";
    static final long NOW = 1_000_000_000L;

    final LocalBus bus = new LocalBus(new SimpleMeterRegistry());
    final List<BindingAnnouncements.Changed> heard = new CopyOnWriteArrayList<>();
    final AtomicLong now = new AtomicLong(NOW);
    final BindingAnnouncements announcements = new BindingAnnouncements(bus, new LocationService(), "node-a",
            new Clock() {
                @Override
                public ZoneId getZone() {
                    return ZoneOffset.UTC;
                }

                @Override
                public Clock withZone(ZoneId zone) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public Instant instant() {
                    return Instant.ofEpochMilli(now.get());
                }
            });

    BindingAnnouncementsTest() {
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, heard::add);
    }

    /** The binding as a REGISTER at {@code at} with {@code expires} seconds makes it, through {@code flow}. */
    static Binding registered(long at, int expires, long cseq, String flow) {
        return new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", cseq, 1000, at + expires * 1000L, at, "TCP",
                "10.0.0.7", 40000, "127.0.0.1", 5060, flow, "Yealink", null, 0, "node-a",
                "sip:127.0.0.1:5070;transport=tcp", at);
    }

    private void commit(Binding... upserts) {
        announcements.committed(new BindingStore.Committed(List.of(upserts), List.of()));
    }

    private List<Binding> announcedUpserts() {
        return heard.stream().flatMap(c -> c.upserts().stream()).toList();
    }

    @Test
    void aFrequentRefreshIsAnnouncedOnlyWhenTheOthersCopyWouldRunShort() {
        Binding first = registered(NOW - 30_000, 300, 1, "tcp:f1");
        commit(first); // new: announced, good until NOW + 270 s
        Binding early = registered(NOW, 300, 2, "tcp:f1"); // the others' copy has 270 s of 300 left
        commit(early);
        assertThat(announcedUpserts()).containsExactly(first);

        now.set(NOW + 50_000);
        Binding later = registered(NOW + 50_000, 300, 3, "tcp:f1");
        commit(later);
        // decided against the copy the others hold (first, 220 s left: under three quarters of
        // 300), not against the refresh left out (which would still have 250 s)
        assertThat(announcedUpserts()).containsExactly(first, later);
        now.set(NOW + 51_000);
        commit(registered(NOW + 51_000, 300, 4, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(first, later);
    }

    @Test
    void aRefreshIsLeftOutOnlyWhileTheOthersCopyHasThreeQuartersOfTheNewLifetimeLeft() {
        Binding first = registered(NOW - 75_000, 300, 1, "tcp:f1"); // 225 s left: exactly three quarters
        commit(first);
        commit(registered(NOW, 300, 2, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(first);
        now.set(NOW + 1);
        Binding justUnder = registered(NOW + 1, 300, 3, "tcp:f1");
        commit(justUnder);
        assertThat(announcedUpserts()).containsExactly(first, justUnder);
        // a phone refreshing at half its expiry (RFC 3261 §10.2.4 clients) is announced every time
        now.set(NOW + 150_001);
        Binding atHalf = registered(NOW + 150_001, 300, 4, "tcp:f1");
        commit(atHalf);
        assertThat(announcedUpserts()).containsExactly(first, justUnder, atHalf);
    }

    @Test
    void anythingButTheExpiryChangedIsAnnouncedAtOnce() {
        Binding first = registered(NOW - 1000, 300, 1, "tcp:f1");
        commit(first);
        Binding otherFlow = registered(NOW, 300, 2, "tcp:f2"); // reconnected: a new flow
        commit(otherFlow);
        Binding otherNode = new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 3, 1000, NOW + 300_000, NOW, "TCP",
                "10.0.0.7", 40000, "127.0.0.1", 5062, "tcp:f2", "Yealink", null, 0, "node-c",
                "sip:127.0.0.1:5072;transport=tcp", NOW);
        commit(otherNode);
        Binding otherCallId = new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-2", 1, 1000, NOW + 300_000, NOW, "TCP",
                "10.0.0.7", 40000, "127.0.0.1", 5062, "tcp:f2", "Yealink", null, 0, "node-c",
                "sip:127.0.0.1:5072;transport=tcp", NOW);
        commit(otherCallId);
        Binding shorter = new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-2", 2, 1000, NOW + 60_000, NOW, "TCP",
                "10.0.0.7", 40000, "127.0.0.1", 5062, "tcp:f2", "Yealink", null, 0, "node-c",
                "sip:127.0.0.1:5072;transport=tcp", NOW); // the others' copy would outlive it
        commit(shorter);
        assertThat(announcedUpserts()).containsExactly(first, otherFlow, otherNode, otherCallId, shorter);
    }

    @Test
    void aDeviceBackFromAnotherNodeIsAnnouncedAgain() {
        LocationService atC = new LocationService();
        BindingAnnouncements nodeC = new BindingAnnouncements(bus, atC, "node-c",
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC));
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, nodeC::heard);
        bus.subscribe(BindingAnnouncements.TOPIC, BindingAnnouncements.Changed.class, announcements::heard);
        Binding atA = registered(NOW - 1000, 300, 1, "udp:f1");
        commit(atA);
        Binding movedToC = new Binding(AOR, CONTACT, "<" + CONTACT + ">", "call-1", 2, 1000, NOW + 299_500, NOW - 500, "UDP",
                "10.0.0.7", 40000, "127.0.0.1", 5062, "udp:g1", "Yealink", null, 0, "node-c",
                "sip:127.0.0.1:5072;transport=tcp", NOW - 500);
        nodeC.committed(new BindingStore.Committed(List.of(movedToC), List.of()));
        // back through A over the same NAT mapping: field for field what A announced before
        Binding backAtA = registered(NOW, 300, 3, "udp:f1");
        commit(backAtA);
        assertThat(announcedUpserts()).containsExactly(atA, movedToC, backAtA);
        assertThat(atC.lookup(AOR, NOW)).containsExactly(backAtA);
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
        LocationService location = new LocationService();
        BindingAnnouncements withStore = new BindingAnnouncements(reconnecting, location, "node-a",
                Clock.fixed(Instant.ofEpochMilli(NOW), ZoneOffset.UTC));
        try (Store store = Store.open(StoreSettings.sqliteIn(dir))) {
            store.migrate("telephony");
            BindingStore bindings = new BindingStore(store.jdbi(), 100);
            bindings.start();
            try {
                withStore.start(bindings);
                Binding mine = registered(NOW - 1000, 300, 1, "tcp:f1");
                bindings.submit(List.of(mine), List.of(), NOW, true).get(10, TimeUnit.SECONDS);
                // made through node B while this node was cut off: in the store, never heard of here
                Binding elsewhere = new Binding("sip:bob@intercom.test", "sip:bob@10.0.0.9:5060", "<sip:bob@10.0.0.9:5060>",
                        "call-b", 1, 1000, NOW + 300_000, NOW - 500, "TCP", "10.0.0.9", 40001, "127.0.0.1", 5062,
                        "tcp:g1", null, null, 0, "node-b", "sip:127.0.0.1:5072;transport=tcp", NOW - 500);
                bindings.submit(List.of(elsewhere), List.of()).get(10, TimeUnit.SECONDS);
                assertThat(location.lookup("sip:bob@intercom.test", NOW)).isEmpty();

                reconnectionListeners.forEach(Runnable::run);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (location.lookup("sip:bob@intercom.test", NOW).isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(location.lookup("sip:bob@intercom.test", NOW)).containsExactly(elsewhere);

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
