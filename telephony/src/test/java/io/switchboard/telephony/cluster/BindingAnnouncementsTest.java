package io.switchboard.telephony.cluster;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.switchboard.platform.bus.LocalBus;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

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
        Binding first = registered(NOW - 100_000, 300, 1, "tcp:f1");
        commit(first); // new: announced, good until NOW + 200 s
        Binding early = registered(NOW, 300, 2, "tcp:f1"); // the others' copy has 200 s of 300 left
        commit(early);
        assertThat(announcedUpserts()).containsExactly(first);

        now.set(NOW + 60_000);
        Binding later = registered(NOW + 60_000, 300, 3, "tcp:f1");
        commit(later);
        // decided against the copy the others hold (first, 140 s left: under half of 300), not
        // against the refresh left out (which would still have 240 s)
        assertThat(announcedUpserts()).containsExactly(first, later);
        now.set(NOW + 61_000);
        commit(registered(NOW + 61_000, 300, 4, "tcp:f1"));
        assertThat(announcedUpserts()).containsExactly(first, later);
    }

    @Test
    void aRefreshAtHalfTheLifetimeIsAnnouncedEveryTime() {
        Binding first = registered(NOW - 150_001, 300, 1, "tcp:f1");
        commit(first);
        Binding refreshed = registered(NOW, 300, 2, "tcp:f1");
        commit(refreshed);
        assertThat(announcedUpserts()).containsExactly(first, refreshed);
    }

    @Test
    void anythingButTheExpiryChangedIsAnnouncedAtOnce() {
        commit(registered(NOW - 1000, 300, 1, "tcp:f1"));
        Binding otherFlow = registered(NOW, 300, 2, "tcp:f2"); // reconnected: a new flow
        commit(otherFlow);
        assertThat(announcedUpserts()).endsWith(otherFlow);
        Binding shorter = registered(NOW, 60, 3, "tcp:f2"); // the others' copy would outlive it
        commit(shorter);
        assertThat(announcedUpserts()).endsWith(shorter).hasSize(3);
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
    void aBatchOfOnlyLeftOutRefreshesSendsNoEvent() {
        commit(registered(NOW - 1000, 300, 1, "tcp:f1"));
        heard.clear();
        commit(registered(NOW, 300, 2, "tcp:f1"));
        assertThat(heard).isEmpty();
    }
}
