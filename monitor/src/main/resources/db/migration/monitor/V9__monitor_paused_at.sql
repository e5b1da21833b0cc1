-- When a monitor was paused, for its state's "since" while paused (it showed when the status
-- before the pause began). Monitors paused before this version get the time their definition was
-- last written, which is when they were paused unless they were edited while paused.
ALTER TABLE monitor_monitors ADD COLUMN paused_at BIGINT;
UPDATE monitor_monitors SET paused_at = updated_at WHERE definition LIKE '%"paused":true%';
