package io.switchboard.monitor.incident;

import java.time.Instant;

/**
 * An incident as stored: a monitor DOWN from {@code openedAt} (its failing streak began at
 * {@code startedAt}) until {@code resolvedAt}.
 *
 * @param reportSource         "template", or "llm:MODEL" when a model rewrote the template's report
 * @param recoveryReportSource the same for the recovery report; null before it was written (and
 *                             for incidents resolved before version 5 of the module's tables)
 * @param downError            the error the DOWN message reported as "What is wrong" (the check that
 *                             crossed the threshold); null for incidents opened before version 8
 */
public record Incident(long id, String monitor, String status, Instant startedAt, Instant openedAt, Instant resolvedAt,
                       int failedChecks, String firstError, String lastError, Instant lastSuccessAt, String report,
                       String reportSource, String recoveryReport, String recoveryReportSource, boolean downNotified,
                       Instant lastNotifiedAt, String downError) {
    public boolean isOpen() {
        return "open".equals(status);
    }
}
