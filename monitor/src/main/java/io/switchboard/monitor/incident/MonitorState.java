package io.switchboard.monitor.incident;

import io.switchboard.monitor.check.CheckResult;
import io.switchboard.monitor.check.CheckStatus;
import io.switchboard.monitor.definition.MonitorDefinition;
import java.time.Instant;

/**
 * One monitor's running state: counts toward its thresholds and its open incident. Changed only
 * under its own lock ({@code synchronized (state)}), by the monitor's check thread (one at a time)
 * and by the reminder sweep.
 */
final class MonitorState {
    enum Transition { NONE, OPEN, STILL_DOWN, RESOLVE }

    final String name;
    MonitorStatus status = MonitorStatus.UNKNOWN;
    int failures;
    int successes;
    Long lastCheckAt;
    Long lastSuccessAt;
    Long lastFailureAt;
    Long lastLatencyMs;
    String lastError;
    Long statusSince;
    /** The first failed check of the current failing streak. */
    Instant streakStartedAt;
    CheckResult lastFailure;
    OpenIncident incident;

    /** An open incident as the tracker keeps it in memory. */
    static final class OpenIncident {
        final long id;
        final Instant startedAt;
        final Instant openedAt;
        final String firstError;
        final Instant lastSuccessAt;
        int failedChecks;
        String lastError;
        boolean downNotified;
        Instant lastNotifiedAt;
        /** A report or notification for it is being prepared: the sweep leaves it alone meanwhile. */
        boolean announcing;

        OpenIncident(Incident stored) {
            this.id = stored.id();
            this.startedAt = stored.startedAt();
            this.openedAt = stored.openedAt();
            this.firstError = stored.firstError();
            this.lastSuccessAt = stored.lastSuccessAt();
            this.failedChecks = stored.failedChecks();
            this.lastError = stored.lastError();
            this.downNotified = stored.downNotified();
            this.lastNotifiedAt = stored.lastNotifiedAt();
        }
    }

    MonitorState(String name) {
        this.name = name;
    }

    MonitorState(StateSnapshot stored) {
        this.name = stored.monitor();
        this.status = stored.status();
        this.failures = stored.consecutiveFailures();
        this.successes = stored.consecutiveSuccesses();
        this.lastCheckAt = stored.lastCheckAt();
        this.lastSuccessAt = stored.lastSuccessAt();
        this.lastFailureAt = stored.lastFailureAt();
        this.lastLatencyMs = stored.lastLatencyMs();
        this.lastError = stored.lastError();
        this.statusSince = stored.statusSince();
    }

    /** Counts the result toward the thresholds and says what it means for the incident. */
    Transition apply(MonitorDefinition monitor, CheckResult result) {
        long at = result.startedAt().toEpochMilli();
        lastCheckAt = at;
        lastLatencyMs = result.latencyMillis();
        if (result.status().passed()) {
            successes++;
            failures = 0;
            lastSuccessAt = at;
            streakStartedAt = null;
            if (incident != null) {
                if (successes >= monitor.recoveryThreshold()) {
                    setStatus(result.status() == CheckStatus.DEGRADED ? MonitorStatus.DEGRADED : MonitorStatus.UP, at);
                    lastError = result.error();
                    return Transition.RESOLVE;
                }
                return Transition.NONE;
            }
            lastError = result.error();
            setStatus(result.status() == CheckStatus.DEGRADED ? MonitorStatus.DEGRADED : MonitorStatus.UP, at);
            return Transition.NONE;
        }
        failures++;
        successes = 0;
        lastFailureAt = at;
        lastError = result.error();
        lastFailure = result;
        if (streakStartedAt == null) {
            streakStartedAt = result.startedAt();
        }
        if (incident != null) {
            incident.failedChecks++;
            incident.lastError = result.error();
            return Transition.STILL_DOWN;
        }
        if (failures >= monitor.failureThreshold()) {
            setStatus(MonitorStatus.DOWN, at);
            return Transition.OPEN;
        }
        setStatus(MonitorStatus.PENDING, at);
        return Transition.NONE;
    }

    private void setStatus(MonitorStatus next, long at) {
        if (next != status) {
            status = next;
            statusSince = at;
        }
    }

    StateSnapshot snapshot() {
        return new StateSnapshot(name, status, failures, successes, lastCheckAt, lastSuccessAt, lastFailureAt, lastLatencyMs,
                lastError, statusSince);
    }
}
