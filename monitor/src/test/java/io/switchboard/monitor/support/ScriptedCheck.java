package io.switchboard.monitor.support;

import io.switchboard.monitor.check.Check;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A check whose outcome the test sets per monitor: passing, failing with a given error (or a
 * sequence of errors, the last repeating), passing with a warning, or held until released.
 */
public final class ScriptedCheck implements Check {
    private final Map<String, ConcurrentLinkedQueue<String>> failing = new ConcurrentHashMap<>();
    private final Map<String, String> warning = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> held = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    /** Fails with these errors in turn; the last one repeats. */
    public void fail(String monitor, String... errors) {
        failing.put(monitor, new ConcurrentLinkedQueue<>(List.of(errors)));
    }

    public void pass(String monitor) {
        failing.remove(monitor);
        warning.remove(monitor);
    }

    /** Passes DEGRADED with a warning, as a certificate near expiry does. */
    public void warn(String monitor, String text) {
        failing.remove(monitor);
        warning.put(monitor, text);
    }

    /** Checks of the monitor wait (up to a minute) until {@link #release}. */
    public void hold(String monitor) {
        held.put(monitor, new CountDownLatch(1));
    }

    public void release(String monitor) {
        CountDownLatch latch = held.remove(monitor);
        if (latch != null) {
            latch.countDown();
        }
    }

    public int runs(String monitor) {
        return runs.computeIfAbsent(monitor, m -> new AtomicInteger()).get();
    }

    public int inFlight(String monitor) {
        return inFlight.computeIfAbsent(monitor, m -> new AtomicInteger()).get();
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) throws InterruptedException {
        runs.computeIfAbsent(monitor.name(), m -> new AtomicInteger()).incrementAndGet();
        AtomicInteger running = inFlight.computeIfAbsent(monitor.name(), m -> new AtomicInteger());
        running.incrementAndGet();
        try {
            CountDownLatch latch = held.get(monitor.name());
            if (latch != null) {
                latch.await(60, TimeUnit.SECONDS);
            }
            ConcurrentLinkedQueue<String> errors = failing.get(monitor.name());
            if (errors != null) {
                String error = errors.size() > 1 ? errors.poll() : errors.peek();
                if (error != null) {
                    return CheckResult.down(Instant.now(), 3, error, List.of("the name resolved"), Map.of());
                }
            }
            String warns = warning.get(monitor.name());
            if (warns != null) {
                return new CheckResult(CheckStatus.DEGRADED, Instant.now(), 2, warns, List.of("the certificate chain is trusted"),
                        Map.of(CheckResult.WARNING, "certificate-expiry", "notAfter", "2030-01-01T00:00:00Z"));
            }
            return new CheckResult(CheckStatus.UP, Instant.now(), 2, null, List.of(), Map.of("status", 200));
        } finally {
            running.decrementAndGet();
        }
    }
}
