-- The error the DOWN message reported as "What is wrong": the check that crossed the failure
-- threshold (for a DOWN held back by a maintenance window, the failure before it went out), not
-- the streak's first failure (first_error) nor the latest (last_error, updated as checks go on). The recovery message's "What was wrong" repeats it, so people read the same
-- cause twice. Incidents opened before this version have none: their recovery falls back to
-- first_error, as it did.
ALTER TABLE monitor_incidents ADD COLUMN down_error TEXT;
