-- The fastest and slowest latency (ms) of each hour and day, so a percentile read from the
-- histogram's buckets is kept within what was observed (interpolating inside the slowest bucket
-- could read past the slowest check). Aggregates folded before this version have none: their
-- percentiles are read from the buckets alone, as they were.
ALTER TABLE monitor_hourly ADD COLUMN latency_min BIGINT;
ALTER TABLE monitor_hourly ADD COLUMN latency_max BIGINT;
ALTER TABLE monitor_daily ADD COLUMN latency_min BIGINT;
ALTER TABLE monitor_daily ADD COLUMN latency_max BIGINT;
