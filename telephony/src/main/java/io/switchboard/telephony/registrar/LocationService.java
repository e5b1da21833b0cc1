package io.switchboard.telephony.registrar;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * The location service (RFC 3261 §10.2): which contacts each address of record is reachable at.
 * In memory for lookups on I/O threads; {@link BindingStore} makes it durable.
 * <p>
 * Each AOR's bindings are an immutable list replaced under that AOR's map entry
 * ({@link ConcurrentHashMap#compute}), so updates to one AOR are serialized while different AORs
 * proceed in parallel, and readers never lock.
 * <p>
 * In a cluster, bindings made through other nodes come in two ways: announced on the bus, and read
 * from the store (at start, and when a call finds none here). Both are {@linkplain #merge merged}
 * by version: a binding replaces one of the same contact only if it was made later, and a removal
 * leaves a tombstone (its time, kept {@link #TOMBSTONE_MILLIS}), so an announcement or a store read
 * that arrives after the removal cannot bring the removed binding back.
 */
public final class LocationService {
    /** How long a removal is remembered against late announcements and reads (far above any bus or store delay). */
    static final long TOMBSTONE_MILLIS = 10 * 60_000;

    private final ConcurrentHashMap<String, List<Binding>> byAor = new ConcurrentHashMap<>();
    /** "aor contact" of removed bindings to the time they were removed. */
    private final ConcurrentHashMap<String, Long> tombstones = new ConcurrentHashMap<>();
    private final AtomicInteger count = new AtomicInteger();

    /** Current bindings of an AOR that have not expired, highest q first. */
    public List<Binding> lookup(String aor, long nowMillis) {
        List<Binding> bindings = byAor.get(aor);
        if (bindings == null) {
            return List.of();
        }
        List<Binding> live = new ArrayList<>(bindings.size());
        for (Binding b : bindings) {
            if (!b.isExpired(nowMillis)) {
                live.add(b);
            }
        }
        live.sort(Comparator.comparingInt(Binding::qValue).reversed());
        return live;
    }

    /**
     * Replaces an AOR's bindings with what {@code update} computes from the current ones, atomically
     * for that AOR. Returns the new list.
     */
    public List<Binding> update(String aor, Function<List<Binding>, List<Binding>> update) {
        Object[] result = new Object[1];
        byAor.compute(aor, (key, current) -> {
            List<Binding> before = current == null ? List.of() : current;
            List<Binding> after = List.copyOf(update.apply(before));
            count.addAndGet(after.size() - before.size());
            result[0] = after;
            return after.isEmpty() ? null : after;
        });
        @SuppressWarnings("unchecked")
        List<Binding> after = (List<Binding>) result[0];
        return after;
    }

    /**
     * Live bindings with this contact URI, whatever their AOR: how an in-dialog request addressed to
     * a device's contact finds the flow the device registered over. A scan; used only when the
     * Record-Route flow token is missing or its connection closed.
     */
    public List<Binding> byContact(String contact, long nowMillis) {
        List<Binding> found = new ArrayList<>(1);
        for (List<Binding> bindings : byAor.values()) {
            for (Binding b : bindings) {
                if (b.contact().equals(contact) && !b.isExpired(nowMillis)) {
                    found.add(b);
                }
            }
        }
        return found;
    }

    /**
     * Removes every binding of an AOR (its account was removed) and returns them, so the store can
     * forget them too. Serialized with registrations of that AOR like {@link #update}.
     */
    public List<Binding> removeAll(String aor) {
        List<Binding> removed = new ArrayList<>();
        update(aor, current -> {
            removed.addAll(current);
            return List.of();
        });
        return removed;
    }

    /**
     * Remembers that these bindings were removed at {@code at}, so an older copy of them (announced
     * late, or read from the store before their delete committed) is not merged back; for one that
     * had expired, only that registration ({@link Binding#removalBound}).
     */
    public void removed(List<Binding> removed, long at) {
        for (Binding b : removed) {
            tombstones.merge(b.aor() + " " + b.contact(), b.removalBound(at), Math::max);
        }
    }

    /**
     * Takes in bindings made elsewhere (another node's announcement, a store read): each replaces
     * the binding of the same contact if it is newer, and any binding of the same device flow
     * (RFC 5626 §6: same instance and reg-id) older than it; one removed after it was made, or
     * expired, is ignored. Returns how many were taken.
     */
    public int merge(Collection<Binding> bindings, long nowMillis) {
        int taken = 0;
        for (Binding b : bindings) {
            if (b.isExpired(nowMillis)) {
                continue;
            }
            boolean[] took = new boolean[1];
            update(b.aor(), current -> {
                Long removedAt = tombstones.get(b.aor() + " " + b.contact());
                if (removedAt != null && removedAt >= b.version()) {
                    return current;
                }
                List<Binding> next = new ArrayList<>(current.size() + 1);
                for (Binding existing : current) {
                    // two contacts of one REGISTER (same Call-ID, CSeq and time) never replace
                    // each other, whatever their instance: a dual-stack device registers both at once
                    boolean same = existing.contact().equals(b.contact())
                            || existing.sameFlowAs(b) && !sameRegistration(existing, b);
                    if (same && existing.version() >= b.version()) {
                        return current; // what we hold is as new or newer
                    }
                    if (!same) {
                        next.add(existing);
                    }
                }
                next.add(b);
                took[0] = true;
                return next;
            });
            if (took[0]) {
                taken++;
            }
        }
        return taken;
    }

    private static boolean sameRegistration(Binding a, Binding b) {
        return a.version() == b.version() && a.cseq() == b.cseq() && a.callId().equals(b.callId());
    }

    /** Another node removed a binding at {@code at}: gone here too unless made again after that. */
    public void remove(String aor, String contact, long at) {
        tombstones.merge(aor + " " + contact, at, Math::max);
        update(aor, current -> {
            List<Binding> next = new ArrayList<>(current);
            next.removeIf(b -> b.contact().equals(contact) && b.version() <= at);
            return next.size() == current.size() ? current : next;
        });
    }

    /** Forgets removals older than {@link #TOMBSTONE_MILLIS} (called by the expiry sweep). */
    public void forgetOldRemovals(long nowMillis) {
        tombstones.values().removeIf(at -> at < nowMillis - TOMBSTONE_MILLIS);
    }

    /** Loads bindings read from the store at start. */
    public void load(Collection<Binding> bindings) {
        for (Binding b : bindings) {
            update(b.aor(), current -> {
                List<Binding> next = new ArrayList<>(current);
                next.removeIf(existing -> existing.contact().equals(b.contact()));
                next.add(b);
                return next;
            });
        }
    }

    /** Removes expired bindings and returns them, so the store can forget them too. */
    public List<Binding> removeExpired(long nowMillis) {
        List<Binding> expired = new ArrayList<>();
        for (Map.Entry<String, List<Binding>> entry : byAor.entrySet()) {
            boolean any = false;
            for (Binding b : entry.getValue()) {
                if (b.isExpired(nowMillis)) {
                    any = true;
                    break;
                }
            }
            if (any) {
                update(entry.getKey(), current -> {
                    List<Binding> next = new ArrayList<>(current.size());
                    for (Binding b : current) {
                        if (b.isExpired(nowMillis)) {
                            expired.add(b);
                        } else {
                            next.add(b);
                        }
                    }
                    return next;
                });
            }
        }
        return expired;
    }

    /** Registered contacts across all AORs (including any that expired since the last sweep). */
    public int size() {
        return count.get();
    }

    public List<Binding> all() {
        List<Binding> all = new ArrayList<>(count.get());
        byAor.values().forEach(all::addAll);
        return all;
    }
}
