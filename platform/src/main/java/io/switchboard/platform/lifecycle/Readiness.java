package io.switchboard.platform.lifecycle;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Whether the node should receive new work, as {@code /readyz} reports it to load balancers.
 * Named checks each return a problem text or empty; the node is ready when none reports a
 * problem and it is not draining. Checks run on every {@code /readyz} request, so they must be
 * cheap and bounded (the store's check times out after two seconds).
 */
public final class Readiness {
    private final Map<String, Supplier<Optional<String>>> checks = new LinkedHashMap<>();
    private volatile boolean draining;
    private volatile boolean refusing;

    /**
     * Adds a check. Its problem text appears in {@code /readyz} as {@code "<name>: <problem>"}.
     *
     * @throws IllegalArgumentException if a check with that name exists
     */
    public synchronized void register(String name, Supplier<Optional<String>> check) {
        if (checks.putIfAbsent(name, check) != null) {
            throw new IllegalArgumentException("readiness check \"" + name + "\" is already registered");
        }
    }

    /**
     * From now on the node reports not ready (the first step of a drain); it does not come back.
     * It still serves: balancers need a few health checks to move traffic away.
     */
    public void startDraining() {
        draining = true;
    }

    public boolean isDraining() {
        return draining;
    }

    /**
     * From now on new work is refused (HTTP 503, SIP 503 for new dialogs) while work in flight
     * finishes: the second step of a drain, after the drain delay. Implies draining.
     */
    public void refuseNewWork() {
        draining = true;
        refusing = true;
    }

    public boolean refusesNewWork() {
        return refusing;
    }

    /** The current problems; empty means ready. A check that throws counts as a problem. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        if (draining) {
            problems.add("node: draining (shutting down)");
        }
        List<Map.Entry<String, Supplier<Optional<String>>>> snapshot;
        synchronized (this) {
            snapshot = List.copyOf(checks.entrySet());
        }
        for (Map.Entry<String, Supplier<Optional<String>>> check : snapshot) {
            try {
                check.getValue().get().ifPresent(problem -> problems.add(check.getKey() + ": " + problem));
            } catch (RuntimeException e) {
                problems.add(check.getKey() + ": check failed: " + e);
            }
        }
        return problems;
    }

    public boolean isReady() {
        return problems().isEmpty();
    }
}
