package io.switchboard.monitor.report;

import io.switchboard.monitor.definition.CheckType;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;

/**
 * What a report says, gathered when it is written.
 *
 * @param since         the first failed check of the streak
 * @param whatIsWrong   the last failed check's error, in plain words
 * @param stillWorks    the steps of the last failed check that did work
 * @param otherChecks   how other monitors of the same host fare, e.g. "shop-dns (dns check) is up"
 * @param resolvedAt    when it recovered, for a recovery report; else null
 * @param recoveredWith how the passing check went, e.g. "answered in 12 ms"; for a recovery report
 * @param whyOpened     for a recovery report, what the DOWN message said was wrong (the error of
 *                      the check that crossed the threshold): what was wrong is that, not a blip
 *                      just before it passed; null when not known
 * @param pausedFor     for a recovery report, how long of the outage the monitor was paused (not
 *                      checked); zero when it was not
 */
public record ReportFacts(String monitor, CheckType type, String target, Duration interval, Instant since,
                          int failedChecks, String whatIsWrong, List<String> stillWorks, Instant lastSuccess,
                          List<String> otherChecks, Instant now, Instant resolvedAt, String recoveredWith, ZoneId zone,
                          String whyOpened, Duration pausedFor) {
    public ReportFacts {
        stillWorks = List.copyOf(stillWorks);
        otherChecks = List.copyOf(otherChecks);
        pausedFor = pausedFor == null ? Duration.ZERO : pausedFor;
    }

    public ReportFacts(String monitor, CheckType type, String target, Duration interval, Instant since, int failedChecks,
                       String whatIsWrong, List<String> stillWorks, Instant lastSuccess, List<String> otherChecks, Instant now,
                       Instant resolvedAt, String recoveredWith, ZoneId zone, String whyOpened) {
        this(monitor, type, target, interval, since, failedChecks, whatIsWrong, stillWorks, lastSuccess, otherChecks, now,
                resolvedAt, recoveredWith, zone, whyOpened, Duration.ZERO);
    }

    public ReportFacts(String monitor, CheckType type, String target, Duration interval, Instant since, int failedChecks,
                       String whatIsWrong, List<String> stillWorks, Instant lastSuccess, List<String> otherChecks, Instant now,
                       Instant resolvedAt, String recoveredWith, ZoneId zone) {
        this(monitor, type, target, interval, since, failedChecks, whatIsWrong, stillWorks, lastSuccess, otherChecks, now,
                resolvedAt, recoveredWith, zone, null);
    }
}
