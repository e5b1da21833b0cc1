-- When the current failing streak began, and its first error: the incident opened at the failure
-- threshold starts there ("Since:", the first_failure entry). Kept in memory only before this
-- version, so a restart between the first failure and the threshold dated the incident from the
-- failure after the restart.
ALTER TABLE monitor_state ADD COLUMN streak_started_at BIGINT;
ALTER TABLE monitor_state ADD COLUMN streak_first_error TEXT;
-- Streaks in progress when upgrading: the oldest failed result since the last success, while the
-- results are still there; one failure in a row is the last failure itself.
UPDATE monitor_state SET
    streak_started_at = (SELECT MIN(r.started_at) FROM monitor_results r WHERE r.monitor = monitor_state.monitor
        AND r.status = 'down' AND r.started_at > COALESCE(monitor_state.last_success_at, -1)),
    streak_first_error = (SELECT r.error FROM monitor_results r WHERE r.monitor = monitor_state.monitor
        AND r.status = 'down' AND r.started_at > COALESCE(monitor_state.last_success_at, -1)
        ORDER BY r.started_at LIMIT 1)
WHERE consecutive_failures > 0;
UPDATE monitor_state SET streak_started_at = last_failure_at, streak_first_error = last_error
WHERE consecutive_failures = 1 AND streak_started_at IS NULL;
