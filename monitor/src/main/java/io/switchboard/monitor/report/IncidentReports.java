package io.switchboard.monitor.report;

import java.util.Optional;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes reports: the template's, rewritten by a model when one is configured. A rewrite that
 * fails in any way leaves the template's report, so a report is always there. At most
 * {@code maxRewrites} rewrites run at once (each holds a connection and waits up to the model's
 * timeout); a report asked for while all are busy, as in a mass outage, is the template's at once.
 */
public final class IncidentReports {
    private static final Logger log = LoggerFactory.getLogger(IncidentReports.class);

    private final ReportRewriter rewriter;
    private final Semaphore rewrites;

    /** Template reports only. */
    public IncidentReports() {
        this(null, 1);
    }

    /** @param rewriter null for template reports only */
    public IncidentReports(ReportRewriter rewriter, int maxRewrites) {
        this.rewriter = rewriter;
        this.rewrites = new Semaphore(maxRewrites);
    }

    public Report down(ReportFacts facts) {
        return rewrite(ReportTemplate.down(facts), facts.monitor());
    }

    public Report recovered(ReportFacts facts) {
        return rewrite(ReportTemplate.recovered(facts), facts.monitor());
    }

    /** Reminders repeat what was said; they are not rewritten. */
    public Report reminder(ReportFacts facts) {
        return ReportTemplate.reminder(facts);
    }

    private Report rewrite(Report template, String monitor) {
        if (rewriter == null) {
            return template;
        }
        if (!rewrites.tryAcquire()) {
            log.info("report rewrite skipped: all rewrites are busy; the template's report is used");
            return template;
        }
        try {
            Optional<String> rewritten = rewriter.rewrite(template.text(), monitor);
            return rewritten.map(text -> new Report(template.subject(), text, "llm:" + rewriter.model())).orElse(template);
        } finally {
            rewrites.release();
        }
    }
}
