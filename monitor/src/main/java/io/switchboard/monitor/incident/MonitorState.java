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
    /**
     * What a result means beyond the counts. WARN and WARN_END: a passing check started or stopped
     * carrying a warning (a check type's warning threshold, e.g. a certificate within warnDays of
     * expiry), while no incident is open.
     */
    enum Transition { NONE, OPEN, STILL_DOWN, RESOLVE, WARN, WARN_END }

    private static final long HOUR_MILLIS = 3_600_000L;

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
    /** The first failed check of the current failing streak, and its error. */
    Instant streakStartedAt;
    String streakFirstError;
    CheckResult lastFailure;
    OpenIncident incident;
    /** A warning was announced and has not ended. */
    boolean warningActive;
    /** The warning announced, for the message when it ends. */
    String warning;
    /** The monitor was removed: results still arriving for it are dropped, an incident opened meanwhile is closed. */
    boolean removed;
    /** The previous result's status, and the hour (epoch ms) of the last result stored with its details. */
    CheckStatus lastResultStatus;
    long detailsHour = Long.MIN_VALUE;

    /** An open incident as the tracker keeps it in memory. */
    static final class OpenIncident {
        final long id;
        final Instant startedAt;
        final Instant openedAt;
        final String firstError;
        /** What the DOWN message said was wrong; null when not known (opened before V8). */
        String downError;
        final Instant lastSuccessAt;
        int failedChecks;
        String lastError;
        boolean downNotified;
        Instant lastNotifiedAt;
        /** The DOWN report is stored (written once, by whichever node announced first). */
        boolean reported;
        /** A report or notification for it is being prepared: the sweep leaves it alone meanwhile. */
        boolean announcing;
        /** When the sweep may next read the DOWN's stored outcome (see IncidentTracker#timeRemindersFromStore). */
        Instant storeCheckAfter;

        OpenIncident(Incident stored) {
            this.id = stored.id();
            this.startedAt = stored.startedAt();
            this.openedAt = stored.openedAt();
            this.firstError = stored.firstError();
            this.downError = stored.downError();
            this.lastSuccessAt = stored.lastSuccessAt();
            this.failedChecks = stored.failedChecks();
            this.lastError = stored.lastError();
            this.downNotified = stored.downNotified();
            this.lastNotifiedAt = stored.lastNotifiedAt();
            this.reported = stored.report() != null;
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
        // the incident opened at the threshold starts at the streak's first failure, not at the
        // first failure after a restart
        if (stored.consecutiveFailures() > 0) {
            if (streakStillCurrent(stored)) {
                this.streakStartedAt = Instant.ofEpochMilli(stored.streakStartedAt());
                this.streakFirstError = stored.streakFirstError();
            } else if (stored.consecutiveFailures() == 1 && stored.lastFailureAt() != null) {
                this.streakStartedAt = Instant.ofEpochMilli(stored.lastFailureAt());
                this.streakFirstError = stored.lastError();
            }
        }
        // a node restarted while a warning stood does not announce it again (DEGRADED by latency alone
        // is counted as warned too: at worst a warning that starts while restored DEGRADED goes untold)
        this.warningActive = stored.status() == MonitorStatus.DEGRADED;
        this.warning = this.warningActive ? stored.lastError() : null;
    }

    /**
     * Whether the stored streak start belongs to the streak now counted. A node of a version before
     * V7 writes the state without the streak columns, so they keep what a newer node stored last:
     * after such a node saw a success and then a new streak, the stored start is from a streak that
     * already ended. It is trusted only when it lies after the last success and not after the last
     * failure.
     */
    private static boolean streakStillCurrent(StateSnapshot stored) {
        Long start = stored.streakStartedAt();
        return start != null
                && (stored.lastSuccessAt() == null || start > stored.lastSuccessAt())
                && stored.lastFailureAt() != null && start <= stored.lastFailureAt();
    }

    static boolean isWarning(CheckResult result) {
        return result.status() == CheckStatus.DEGRADED && result.details().get(CheckResult.WARNING) != null;
    }

    /**
     * Whether the result's details are worth storing: it is not UP, its status differs from the
     * previous result's, or it is the monitor's first result of the hour. Remembers the decision.
     */
    boolean keepDetails(CheckResult result) {
        long hour = Math.floorDiv(result.startedAt().toEpochMilli(), HOUR_MILLIS);
        boolean keep = result.status() != CheckStatus.UP || result.status() != lastResultStatus || hour != detailsHour;
        lastResultStatus = result.status();
        if (keep) {
            detailsHour = hour;
        }
        return keep;
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
            streakFirstError = null;
            boolean warns = isWarning(result);
            if (incident != null) {
                if (successes >= monitor.recoveryThreshold()) {
                    setStatus(result.status() == CheckStatus.DEGRADED ? MonitorStatus.DEGRADED : MonitorStatus.UP, at);
                    lastError = result.error();
                    // the recovery message says how the check passed, warning included: no separate warning
                    warningActive = warns;
                    warning = warns ? result.error() : null;
                    return Transition.RESOLVE;
                }
                return Transition.NONE;
            }
            lastError = result.error();
            setStatus(result.status() == CheckStatus.DEGRADED ? MonitorStatus.DEGRADED : MonitorStatus.UP, at);
            if (warns && !warningActive) {
                warningActive = true;
                warning = result.error();
                return Transition.WARN;
            }
            if (!warns && warningActive) {
                warningActive = false;
                return Transition.WARN_END;
            }
            return Transition.NONE;
        }
        failures++;
        successes = 0;
        lastFailureAt = at;
        lastError = result.error();
        lastFailure = result;
        if (streakStartedAt == null) {
            streakStartedAt = result.startedAt();
            streakFirstError = result.error();
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

    /**
     * The failing streak that would have opened an incident is dropped: the monitor was paused
     * while its last check ran (IncidentStore.MonitorPaused). Its status is unknown until it is
     * checked after it is resumed, and a failing run then starts its streak afresh, so the
     * incident it opens starts after the pause.
     */
    void forgetStreak(long at) {
        failures = 0;
        streakStartedAt = null;
        streakFirstError = null;
        setStatus(MonitorStatus.UNKNOWN, at);
    }

    private void setStatus(MonitorStatus next, long at) {
        if (next != status) {
            status = next;
            statusSince = at;
        }
    }

    StateSnapshot snapshot() {
        return new StateSnapshot(name, status, failures, successes, lastCheckAt, lastSuccessAt, lastFailureAt, lastLatencyMs,
                lastError, statusSince, streakStartedAt == null ? null : streakStartedAt.toEpochMilli(), streakFirstError);
    }
}
