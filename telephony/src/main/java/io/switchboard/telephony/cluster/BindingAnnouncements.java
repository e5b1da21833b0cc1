package io.switchboard.telephony.cluster;

import io.switchboard.platform.bus.Bus;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;

import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes a registration through any node usable by every node at once: each batch of binding
 * changes the store commits ({@link BindingStore#onCommitted}) is announced on the bus as one
 * event, and the other nodes merge it into their location service.
 * <p>
 * Cheap on the REGISTER path: no store read, and one bus event per commit batch however many
 * registrations it holds. Order-safe: the location service merges by version and keeps
 * tombstones of removals, so an event that arrives late or twice cannot bring back a removed
 * binding or replace a newer one. Events missed while a node was cut off from the bus are made
 * up for by the store: each time the bus (re)connects the node reads the live bindings, and a call
 * that finds no binding in memory reads the store first.
 * <p>
 * <b>Refreshes are announced only when the others need them.</b> Most REGISTERs refresh a binding
 * and change nothing but its expiry, CSeq and version. Such a refresh is left out of the
 * announcement while the copy the other nodes hold (the last one this node announced) is still
 * good for at least three quarters of the refreshed binding's lifetime and does not outlive it; a
 * device that refreshes often (every few seconds, as some do to keep a NAT binding open) is then
 * announced about four times per lifetime instead of at every REGISTER, while a device refreshing
 * at half its expiry, as RFC 3261 §10.2.4 clients usually do, is announced every time as before.
 * Anything else a node uses to reach the device (contact, flow, node, Path, Call-ID, q, instance)
 * is always announced, and so is a binding after another node announced that contact or device
 * (see {@link #heard}). The store always has the refresh: if the device stops refreshing, the other nodes drop their
 * copy up to a quarter lifetime before it expires, and a call through them finds the binding in
 * the store on a miss.
 */
public final class BindingAnnouncements implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BindingAnnouncements.class);
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
     * nodes hold it, by AOR. Added to and read on the store's writer thread (the one caller of
     * {@link #committed}); a binding leaves it when it is removed by any path (unregistered,
     * expired, account removed), or, on the bus thread, when another node announces that contact
     * or the same device flow (the device moved there: the others' copy is now that node's).
     */
    private final Map<String, Map<String, Binding>> announced = new ConcurrentHashMap<>();
    /** Set when the bus reconnected: this node's last announcements may be lost, so the writer thread forgets them. */
    private final AtomicBoolean announcedMayBeLost = new AtomicBoolean();
    /** Reads the store after a reconnection: one read at a time, and at most one more waiting (it covers any later reconnection). */
    private final ThreadPoolExecutor catchUps = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1),
            Thread.ofVirtual().name("binding-catch-up").factory(), new ThreadPoolExecutor.DiscardPolicy());
    private Bus.Subscription subscription;
    private Bus.Subscription reconnection;

    private record Contact(String aor, String contact) {
    }

    public BindingAnnouncements(Bus bus, LocationService location, String origin, Clock clock) {
        this.bus = bus;
        this.location = location;
        this.origin = origin;
        this.clock = clock;
    }

    /**
     * Listens to other nodes and announces this node's commits. Whenever the bus (re)connects, what
     * may have been lost meanwhile is made up for both ways: this node announces every binding
     * again at its next refresh, and reads the store's live bindings into its own memory.
     */
    public void start(BindingStore store) {
        subscription = bus.subscribe(TOPIC, Changed.class, this::heard);
        store.onCommitted(this::committed);
        reconnection = bus.onReconnected(() -> {
            announcedMayBeLost.set(true);
            catchUps.execute(() -> catchUp(store));
        });
    }

    private void catchUp(BindingStore store) {
        try {
            long now = clock.millis();
            int taken = location.merge(store.loadLive(now), now);
            if (taken > 0) {
                log.info("{} registrations this node did not hold were read from the store once the bus (re)connected", taken);
            }
        } catch (RuntimeException e) {
            // calls still read the store on a miss, and the refreshes are announced again
            log.warn("reading registrations from the store after the bus reconnected failed: {}", e.toString());
        }
    }

    /** Announces what a committed batch changed, less the refreshes the other nodes do not need (see the class comment). */
    void committed(BindingStore.Committed committed) {
        if (announcedMayBeLost.getAndSet(false)) {
            announced.clear();
        }
        long now = clock.millis();
        // A binding removed in this batch is gone on the other nodes once they apply the event
        // (upserts first, then removals), even if it is made again in the same batch: announce
        // such a binding in full and remember nothing of it.
        Set<Contact> removedNow = new HashSet<>();
        committed.removals().forEach(r -> removedNow.add(new Contact(r.aor(), r.contact())));
        committed.unannouncedRemovals().forEach(b -> removedNow.add(new Contact(b.aor(), b.contact())));
        List<Binding> upserts = new ArrayList<>(committed.upserts().size());
        for (Binding b : committed.upserts()) {
            Map<String, Binding> ofAor = announced.get(b.aor());
            Binding known = ofAor == null ? null : ofAor.get(b.contact());
            if (known != null && !removedNow.contains(new Contact(b.aor(), b.contact())) && othersKnowEnough(known, b, now)) {
                continue;
            }
            announced.computeIfAbsent(b.aor(), a -> new ConcurrentHashMap<>()).put(b.contact(), b);
            upserts.add(b);
            // Another node's newer binding of this device, heard (and forgotten here) while this
            // batch was committing, makes what the others hold that node's: remember nothing.
            // heard() merges before it forgets and this checks after it puts, so one of the two sees it.
            if (newerElsewhere(b, now)) {
                forget(b.aor(), b.contact(), null);
            }
        }
        removedNow.forEach(removed -> forget(removed.aor(), removed.contact(), null));
        if (!upserts.isEmpty() || !committed.removals().isEmpty()) {
            bus.publish(TOPIC, new Changed(origin, upserts, committed.removals()));
        }
    }

    /** Forgets what was announced of a contact, and of any binding of the same device flow as {@code flowOf}. */
    private void forget(String aor, String contact, Binding flowOf) {
        announced.computeIfPresent(aor, (a, ofAor) -> {
            ofAor.remove(contact);
            if (flowOf != null) {
                ofAor.values().removeIf(b -> b.sameFlowAs(flowOf));
            }
            return ofAor.isEmpty() ? null : ofAor;
        });
    }

    /**
     * True when {@code refreshed} differs from the copy the others hold ({@code known}) only in what
     * a refresh changes, and that copy stays good for at least three quarters of the refreshed
     * lifetime without outliving it (a device that shortened its expiry is announced at once).
     * Three quarters, not a half: a device refreshing at most every half lifetime has a refresh
     * announced while the copy it replaces still has at least half a lifetime left, so the others'
     * copy is at most half a lifetime old and expires at most a quarter lifetime early (a device
     * refreshing less often is announced every time).
     */
    private static boolean othersKnowEnough(Binding known, Binding refreshed, long now) {
        long lifetime = refreshed.expiresAtMillis() - now;
        return sameRoute(known, refreshed)
                && known.expiresAtMillis() <= refreshed.expiresAtMillis()
                && known.expiresAtMillis() - now >= lifetime - lifetime / 4;
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

    /**
     * Takes in another node's announcement. A binding it names (made or removed) that this node
     * made again since (the device came back here before that node's event arrived, or this
     * node's writer left the refresh out in the moment the event came) is announced again at once,
     * so the other nodes do not keep routing to the node the device left, or lack the binding.
     */
    void heard(Changed event) {
        if (origin.equals(event.origin())) {
            return; // our own, delivered locally: already in force
        }
        long now = clock.millis();
        List<Binding> newerHere = new ArrayList<>();
        if (event.upserts() != null) {
            location.merge(event.upserts(), now);
            for (Binding theirs : event.upserts()) {
                forget(theirs.aor(), theirs.contact(), theirs);
                addMadeHereSince(newerHere, theirs.aor(), theirs.version(), now,
                        mine -> mine.contact().equals(theirs.contact()) || mine.sameFlowAs(theirs));
            }
        }
        if (event.removals() != null) {
            for (BindingStore.Removal r : event.removals()) {
                location.remove(r.aor(), r.contact(), r.at());
                forget(r.aor(), r.contact(), null);
                // made here again after that node removed it: the others remove their copy now
                addMadeHereSince(newerHere, r.aor(), r.at(), now, mine -> mine.contact().equals(r.contact()));
            }
        }
        if (!newerHere.isEmpty()) {
            bus.publish(TOPIC, new Changed(origin, newerHere, List.of()));
        }
    }

    /** Adds to {@code into} the bindings of {@code aor} this node made later than {@code since} that {@code names} picks. */
    private void addMadeHereSince(List<Binding> into, String aor, long since, long now, Predicate<Binding> names) {
        for (Binding mine : location.lookup(aor, now)) {
            if (origin.equals(mine.node()) && mine.version() > since && names.test(mine) && !into.contains(mine)) {
                into.add(mine);
            }
        }
    }

    /** True when this node holds another node's binding of {@code b}'s contact or device, or a newer one. */
    private boolean newerElsewhere(Binding b, long now) {
        for (Binding held : location.lookup(b.aor(), now)) {
            if ((held.contact().equals(b.contact()) || held.sameFlowAs(b))
                    && (!origin.equals(held.node()) || held.version() > b.version())) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() {
        if (subscription != null) {
            subscription.close();
        }
        if (reconnection != null) {
            reconnection.close();
        }
        catchUps.shutdownNow();
    }
}
