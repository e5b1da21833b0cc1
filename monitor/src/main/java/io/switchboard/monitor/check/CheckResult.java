package io.switchboard.monitor.check;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * One check's outcome.
 *
 * @param error   what is wrong, in words a person without the protocol's vocabulary understands;
 *                null when UP. For DEGRADED, why it is not simply UP.
 * @param worked  the steps that did work, in order ("the name resolved", "the port accepted the
 *                connection"): the "what still works" of an incident report
 * @param details protocol facts for the API and the webhook: status code, redirect chain, timing
 *                phases, certificate dates; plain JSON values. A DEGRADED result that people should be
 *                told about (a check type's warning threshold, e.g. a certificate near expiry) carries
 *                {@link #WARNING} naming the warning.
 */
public record CheckResult(CheckStatus status, Instant startedAt, long latencyMillis, String error, List<String> worked,
                          Map<String, Object> details) {
    /** The details key of a warning: announced once when it starts and once when it ends. */
    public static final String WARNING = "warning";

    public CheckResult {
        worked = List.copyOf(worked);
        details = Map.copyOf(details);
    }

    public static CheckResult down(Instant startedAt, long latencyMillis, String error, List<String> worked,
                                   Map<String, Object> details) {
        return new CheckResult(CheckStatus.DOWN, startedAt, latencyMillis, error, worked, details);
    }
}
