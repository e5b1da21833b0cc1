-- Which wrote the recovery report, as report_source does for the DOWN's: "template", or
-- "llm:MODEL" when a model rewrote it. Incidents resolved before this version have none.
ALTER TABLE monitor_incidents ADD COLUMN recovery_report_source TEXT;
