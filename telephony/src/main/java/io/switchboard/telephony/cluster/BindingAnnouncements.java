package io.switchboard.telephony.cluster;

import io.switchboard.platform.bus.Bus;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Makes a registration through any node usable by every node at once: each batch of binding
 * changes the store commits ({@link BindingStore#onCommitted}) is announced on the bus as one
 * event, and the other nodes merge it into their location service.
 * <p>
 * Cheap on the REGISTER path: no store read, and one bus event per commit batch however many
 * registrations it holds. Order-safe: the location service merges by version and keeps
 * tombstones of removals, so an event that arrives late or twice cannot bring back a removed
 * binding or replace a newer one. An event missed while a node was cut off from the bus is made
 * up for by the store: a call that finds no binding in memory reads the store first.
 * <p>
 * <b>Refreshes are announced only when the others need them.</b> Most REGISTERs refresh a binding
 * and change nothing but its expiry, CSeq and version. Such a refresh is left out of the
 * announcement while the copy the other nodes hold (the last one this node announced) is still
 * good for at least half of the refreshed binding's lifetime and does not outlive it; a device
 * that refreshes often (every few seconds, as some do to keep a NAT binding open) is then announced
 * about twice per lifetime instead of at every REGISTER, while a device refreshing at half its
 * expiry, as RFC 3261 §10.2.4 clients usually do, is announced every time as before. Anything else
 * a node uses to reach the device (contact, flow, node, Path, Call-ID, q, instance) is always
 * announced. The store always has the refresh: if the device stops refreshing, the other nodes
 * drop their copy up to half a lifetime before it expires, and a call through them finds the
 * binding in the store on a miss.
 */
public final class BindingAnnouncements implements AutoCloseable {
    static final String TOPIC = "telephony.binding.changed";

    /** What is announced: the node that committed it, bindings made or refreshed, and bindings removed. */
    public record Changed(String origin, List<Binding> upserts, List<BindingStore.Removal> removals) {
    }

    private final Bus bus;
    private final LocationService location;
    private final String origin;
    private final Clock clock;
    /**
     * The binding last announced for each AOR and contact made through this node, as the other
     * nodes hold it; written only on the store's writer thread (the one caller of {@link #committed}).
     * A binding leaves it when it is removed by any path (unregistered, expired, account removed).
     */
    private final Map<String, Binding> announced = new HashMap<>();
    private Bus.Subscription subscription;

    public BindingAnnouncements(Bus bus, LocationService location, String origin, Clock clock) {
        this.bus = bus;
        this.location = location;
        this.origin = origin;
        this.clock = clock;
    }

    /** Listens to other nodes and announces this node's commits. */
    public void start(BindingStore store) {
        subscription = bus.subscribe(TOPIC, Changed.class, this::heard);
        store.onCommitted(this::committed);
    }

    /** Announces what a committed batch changed, less the refreshes the other nodes do not need (see the class comment). */
    void committed(BindingStore.Committed committed) {
        long now = clock.millis();
        List<Binding> upserts = new ArrayList<>(committed.upserts().size());
        // in the order the other nodes apply an event: its upserts, then its removals
        for (Binding b : committed.upserts()) {
            String key = key(b.aor(), b.contact());
            Binding known = announced.get(key);
            if (known != null && othersKnowEnough(known, b, now)) {
                continue;
            }
            announced.put(key, b);
            upserts.add(b);
        }
        for (BindingStore.Removal r : committed.removals()) {
            announced.remove(key(r.aor(), r.contact()));
        }
        for (Binding b : committed.unannouncedRemovals()) {
            announced.remove(key(b.aor(), b.contact()));
        }
        if (!upserts.isEmpty() || !committed.removals().isEmpty()) {
            bus.publish(TOPIC, new Changed(origin, upserts, committed.removals()));
        }
    }

    /**
     * True when {@code refreshed} differs from the copy the others hold ({@code known}) only in what
     * a refresh changes, and that copy stays good for at least half of the refreshed lifetime
     * without outliving it (a device that shortened its expiry is announced at once).
     */
    private static boolean othersKnowEnough(Binding known, Binding refreshed, long now) {
        return sameRoute(known, refreshed)
                && known.expiresAtMillis() <= refreshed.expiresAtMillis()
                && known.expiresAtMillis() - now >= (refreshed.expiresAtMillis() - now) / 2;
    }

    /** Equal in everything but expiry, CSeq, registration time and version. */
    private static boolean sameRoute(Binding a, Binding b) {
        return Objects.equals(a.contactHeader(), b.contactHeader()) && Objects.equals(a.callId(), b.callId())
                && a.qValue() == b.qValue() && Objects.equals(a.transport(), b.transport())
                && Objects.equals(a.remoteAddress(), b.remoteAddress()) && a.remotePort() == b.remotePort()
                && Objects.equals(a.localAddress(), b.localAddress()) && a.localPort() == b.localPort()
                && Objects.equals(a.flowId(), b.flowId()) && Objects.equals(a.userAgent(), b.userAgent())
                && Objects.equals(a.instanceId(), b.instanceId()) && a.regId() == b.regId()
                && Objects.equals(a.node(), b.node()) && Objects.equals(a.path(), b.path());
    }

    private static String key(String aor, String contact) {
        return aor + " " + contact;
    }

    private void heard(Changed event) {
        if (origin.equals(event.origin())) {
            return; // our own, delivered locally: already in force
        }
        if (event.upserts() != null) {
            location.merge(event.upserts(), clock.millis());
        }
        if (event.removals() != null) {
            for (BindingStore.Removal r : event.removals()) {
                location.remove(r.aor(), r.contact(), r.at());
            }
        }
    }

    @Override
    public void close() {
        if (subscription != null) {
            subscription.close();
        }
    }
}
