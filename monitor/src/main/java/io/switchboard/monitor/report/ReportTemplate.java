package io.switchboard.monitor.report;

import io.switchboard.monitor.definition.DurationText;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The deterministic incident reports: the same facts always give the same words. Each report
 * answers, in order: what is wrong, since when, how many checks failed, what still works, and
 * when it last worked, in sentences that need no knowledge of the protocol.
 */
public final class ReportTemplate {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss z", Locale.ENGLISH);

    private ReportTemplate() {
    }

    public static Report down(ReportFacts f) {
        List<String> lines = new ArrayList<>();
        lines.add(f.monitor() + " is DOWN.");
        lines.add("What is wrong: " + sentence(f.whatIsWrong()));
        // one failed check is no row (failureThreshold 1)
        lines.add("Since: " + time(f, f.since()) + " (" + ago(f, f.since()) + "); "
                + (f.failedChecks() == 1 ? "1 check failed" : f.failedChecks() + " checks in a row failed")
                + ", checked every " + DurationText.spoken(f.interval()) + ".");
        lines.add("What still works: " + stillWorks(f));
        lines.add("Last success: " + (f.lastSuccess() == null ? "none recorded." : time(f, f.lastSuccess()) + "."));
        lines.add("Checked: " + what(f) + ".");
        return new Report(f.monitor() + " is DOWN: " + shorten(f.whatIsWrong()), String.join("\n", lines), "template");
    }

    public static Report reminder(ReportFacts f) {
        List<String> lines = new ArrayList<>();
        lines.add(f.monitor() + " is still DOWN, for " + DurationText.spoken(Duration.between(f.since(), f.now())) + " now.");
        lines.add("What is wrong: " + sentence(f.whatIsWrong()));
        lines.add("Since: " + time(f, f.since()) + "; " + checks(f.failedChecks()) + " failed so far.");
        lines.add("What still works: " + stillWorks(f));
        lines.add("Last success: " + (f.lastSuccess() == null ? "none recorded." : time(f, f.lastSuccess()) + "."));
        lines.add("Checked: " + what(f) + ".");
        return new Report(f.monitor() + " is still DOWN (" + DurationText.spoken(Duration.between(f.since(), f.now())) + ")",
                String.join("\n", lines), "template");
    }

    public static Report recovered(ReportFacts f) {
        Duration down = Duration.between(f.since(), f.resolvedAt());
        List<String> lines = new ArrayList<>();
        lines.add(f.monitor() + " is UP again" + (f.recoveredWith() == null ? "." : ": " + f.recoveredWith() + "."));
        // paused time is in "down for" (the incident stayed open) but was not checked: said so
        String paused = f.pausedFor().isZero() ? "" : " (paused, not checked, for " + DurationText.spoken(f.pausedFor()) + " of it)";
        lines.add("It was down for " + DurationText.spoken(down) + paused + ", from " + time(f, f.since()) + " to "
                + time(f, f.resolvedAt()) + "; " + checks(f.failedChecks()) + " failed.");
        // why it went down, which is what people were told; the last failure too when it differs
        // (a short blip, say, while the service restarted to fix it)
        if (f.whyOpened() == null || f.whyOpened().equals(f.whatIsWrong()) || f.whatIsWrong() == null) {
            lines.add("What was wrong: " + sentence(f.whyOpened() != null ? f.whyOpened() : f.whatIsWrong()));
        } else {
            lines.add("What was wrong: " + sentence(f.whyOpened()));
            lines.add("The last failed check: " + sentence(f.whatIsWrong()));
        }
        lines.add("Checked: " + what(f) + ".");
        return new Report(f.monitor() + " is UP again after " + DurationText.spoken(down) + paused, String.join("\n", lines),
                "template");
    }

    /**
     * A passing check that needs attention (e.g. a certificate within warnDays of expiry): sent once
     * when the warning starts. {@code whatIsWrong} is the warning.
     */
    public static Report warning(ReportFacts f) {
        List<String> lines = new ArrayList<>();
        lines.add(f.monitor() + " works, but needs attention.");
        lines.add("What needs attention: " + sentence(f.whatIsWrong()));
        lines.add("Since: " + time(f, f.since()) + ".");
        if (!f.stillWorks().isEmpty()) {
            lines.add("What works: " + sentence(String.join("; ", f.stillWorks())));
        }
        lines.add("Checked: " + what(f) + ".");
        lines.add("This is said once; another message follows when the warning is over.");
        return new Report(f.monitor() + " needs attention: " + shorten(f.whatIsWrong()), String.join("\n", lines), "template");
    }

    /** The warning is over. {@code whatIsWrong} is the warning that was; {@code stillWorks} how the check went now. */
    public static Report warningEnded(ReportFacts f) {
        List<String> lines = new ArrayList<>();
        lines.add(f.monitor() + " no longer needs attention.");
        lines.add("The warning was: " + sentence(f.whatIsWrong()));
        if (!f.stillWorks().isEmpty()) {
            lines.add("Now: " + sentence(String.join("; ", f.stillWorks())));
        }
        lines.add("Checked: " + what(f) + ".");
        return new Report(f.monitor() + ": the warning is over", String.join("\n", lines), "template");
    }

    private static String stillWorks(ReportFacts f) {
        List<String> works = new ArrayList<>(f.stillWorks());
        works.addAll(f.otherChecks());
        if (works.isEmpty()) {
            return "nothing could be confirmed: the very first step of the check failed.";
        }
        return sentence(String.join("; ", works));
    }

    private static String what(ReportFacts f) {
        return switch (f.type()) {
            case HTTP -> "the web address " + f.target();
            case DNS -> "the DNS name " + f.target();
            case TLS -> "the certificate of " + f.target();
            case TCP -> "the network port " + f.target();
            case SIP -> "the SIP device " + f.target();
        } + " (" + f.type().wireName() + " check)";
    }

    /**
     * A message written at {@code at} and sent later (a warning held back by a maintenance window):
     * says when what it tells was so.
     */
    public static String asOf(String text, Instant at, java.time.ZoneId zone) {
        return text + "\nAs of " + TIME.format(at.atZone(zone)) + ".";
    }

    private static String checks(int n) {
        return n == 1 ? "1 check" : n + " checks";
    }

    private static String time(ReportFacts f, Instant at) {
        return TIME.format(at.atZone(f.zone()));
    }

    private static String ago(ReportFacts f, Instant at) {
        Duration d = Duration.between(at, f.now());
        return d.toMillis() < 1000 ? "just now" : DurationText.spoken(d) + " ago";
    }

    /**
     * Capitalised and ending with a full stop. A first word that is a name or an address
     * ("walk.test", "10.0.0.5:5060") keeps its case: "Walk.test" names nothing.
     */
    static String sentence(String text) {
        if (text == null || text.isBlank()) {
            return "unknown.";
        }
        String t = text.strip();
        // the first word as a word: what ends it ("timeout:", "refused,") and apostrophes ("couldn't") aside
        String firstWord = t.split("\\s", 2)[0].replaceAll("[,:;.!?]+$", "");
        if (firstWord.chars().allMatch(c -> Character.isLetter(c) || c == '\'' || c == '\u2019')) {
            t = Character.toUpperCase(t.charAt(0)) + t.substring(1);
        }
        return t.endsWith(".") ? t : t + ".";
    }

    private static String shorten(String text) {
        if (text == null) {
            return "check failed";
        }
        return text.length() <= 120 ? text : text.substring(0, 117) + "...";
    }
}
