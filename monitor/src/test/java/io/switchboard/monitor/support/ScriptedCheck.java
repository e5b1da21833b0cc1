package io.switchboard.monitor.support;

import io.switchboard.monitor.check.Check;
import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** A check whose outcome the test sets per monitor: passing, or failing with a given error. */
public final class ScriptedCheck implements Check {
    private final Map<String, String> failing = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();

    public void fail(String monitor, String error) {
        failing.put(monitor, error);
    }

    public void pass(String monitor) {
        failing.remove(monitor);
    }

    public int runs(String monitor) {
        return runs.computeIfAbsent(monitor, m -> new AtomicInteger()).get();
    }

    @Override
    public CheckResult run(MonitorDefinition monitor) {
        runs.computeIfAbsent(monitor.name(), m -> new AtomicInteger()).incrementAndGet();
        String error = failing.get(monitor.name());
        if (error != null) {
            return CheckResult.down(Instant.now(), 3, error, List.of("the name resolved"), Map.of());
        }
        return new CheckResult(CheckStatus.UP, Instant.now(), 2, null, List.of(), Map.of("status", 200));
    }
}
