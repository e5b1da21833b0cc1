package io.switchboard.monitor.report;

/**
 * A report ready to send.
 *
 * @param subject one line: what happened to which monitor
 * @param text    the report in plain words
 * @param source  "template", or "llm:MODEL" when a model rewrote it
 */
public record Report(String subject, String text, String source) {
}
