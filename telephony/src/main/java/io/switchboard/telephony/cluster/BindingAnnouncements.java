package io.switchboard.telephony.cluster;

import io.switchboard.platform.bus.Bus;
import io.switchboard.telephony.registrar.Binding;
import io.switchboard.telephony.registrar.BindingStore;
import io.switchboard.telephony.registrar.LocationService;

import java.time.Clock;
import java.util.List;

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
        store.onCommitted(committed -> bus.publish(TOPIC, new Changed(origin, committed.upserts(), committed.removals())));
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
