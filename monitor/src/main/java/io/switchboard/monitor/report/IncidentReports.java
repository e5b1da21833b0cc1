package io.switchboard.monitor.report;

import java.util.Optional;

/**
 * Writes reports: the template's, rewritten by a model when one is configured. A rewrite that
 * fails in any way leaves the template's report, so a report is always there.
 */
public final class IncidentReports {
    private final ReportRewriter rewriter;

    /** @param rewriter null for template reports only */
    public IncidentReports(ReportRewriter rewriter) {
        this.rewriter = rewriter;
    }

    public Report down(ReportFacts facts) {
        return rewrite(ReportTemplate.down(facts));
    }

    public Report recovered(ReportFacts facts) {
        return rewrite(ReportTemplate.recovered(facts));
    }

    /** Reminders repeat what was said; they are not rewritten. */
    public Report reminder(ReportFacts facts) {
        return ReportTemplate.reminder(facts);
    }

    private Report rewrite(Report template) {
        if (rewriter == null) {
            return template;
        }
        Optional<String> rewritten = rewriter.rewrite(template.text());
        return rewritten.map(text -> new Report(template.subject(), text, "llm:" + rewriter.model())).orElse(template);
    }
}
