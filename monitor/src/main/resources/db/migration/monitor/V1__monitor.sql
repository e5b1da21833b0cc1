-- What operators define. Each row keeps the definition as the JSON the monitor file and the API
-- use (validated by the module on every read), so adding a setting needs no migration. revision is
-- monitor_revision's value of the row's last write: a running node reloads only rows newer than
-- the revision it has.
CREATE TABLE monitor_channels (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    type        VARCHAR(16)  NOT NULL,
    definition  TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    revision    BIGINT       NOT NULL DEFAULT 0
);

CREATE TABLE monitor_monitors (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    type        VARCHAR(16)  NOT NULL,
    definition  TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    revision    BIGINT       NOT NULL DEFAULT 0
);

CREATE TABLE monitor_maintenance (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    definition  TEXT         NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    revision    BIGINT       NOT NULL DEFAULT 0
);

-- One row, bumped in the same transaction as every change above, so a running node (and the CLI
-- on the same data dir) notices changes by polling one cheap value.
CREATE TABLE monitor_revision (
    id        INTEGER NOT NULL PRIMARY KEY,
    revision  BIGINT  NOT NULL
);
INSERT INTO monitor_revision (id, revision) VALUES (1, 0);

-- Counters for ids people see (incident 17), allocated in the transaction that uses them.
CREATE TABLE monitor_counters (
    name   VARCHAR(32) NOT NULL PRIMARY KEY,
    value  BIGINT      NOT NULL
);
INSERT INTO monitor_counters (name, value) VALUES ('incident', 0);

-- Raw check results, kept monitor.rawRetention, then folded into monitor_hourly and monitor_daily.
-- Times are epoch milliseconds; latency_bucket is the result's bucket in the latency histogram the
-- aggregates keep, so folding is one GROUP BY.
CREATE TABLE monitor_results (
    monitor         VARCHAR(64)  NOT NULL,
    started_at      BIGINT       NOT NULL,
    status          VARCHAR(8)   NOT NULL,
    latency_ms      BIGINT       NOT NULL,
    latency_bucket  SMALLINT     NOT NULL,
    lateness_ms     BIGINT       NOT NULL,
    error           TEXT,
    details         TEXT
);
-- details (the check's protocol facts as JSON) are kept only where they tell something: see ResultWriter.
CREATE INDEX monitor_results_monitor ON monitor_results (monitor, started_at);
CREATE INDEX monitor_results_time ON monitor_results (started_at);

-- Aggregates per monitor and hour / day (period_start in epoch milliseconds, UTC). histogram is the
-- latency distribution as "bucket:count" pairs; p50/p95 come from it.
CREATE TABLE monitor_hourly (
    monitor       VARCHAR(64)  NOT NULL,
    period_start  BIGINT       NOT NULL,
    checks        BIGINT       NOT NULL,
    up            BIGINT       NOT NULL,
    degraded      BIGINT       NOT NULL,
    down          BIGINT       NOT NULL,
    latency_sum   BIGINT       NOT NULL,
    histogram     TEXT         NOT NULL,
    PRIMARY KEY (monitor, period_start)
);
CREATE INDEX monitor_hourly_time ON monitor_hourly (period_start);

CREATE TABLE monitor_daily (
    monitor       VARCHAR(64)  NOT NULL,
    period_start  BIGINT       NOT NULL,
    checks        BIGINT       NOT NULL,
    up            BIGINT       NOT NULL,
    degraded      BIGINT       NOT NULL,
    down          BIGINT       NOT NULL,
    latency_sum   BIGINT       NOT NULL,
    histogram     TEXT         NOT NULL,
    PRIMARY KEY (monitor, period_start)
);
CREATE INDEX monitor_daily_time ON monitor_daily (period_start);

-- How far raw results have been folded ('hour') and hours folded into days ('day').
CREATE TABLE monitor_fold_progress (
    period        VARCHAR(8)  NOT NULL PRIMARY KEY,
    folded_until  BIGINT      NOT NULL
);

-- Each monitor's running state, so a restarted node keeps counting toward its thresholds.
CREATE TABLE monitor_state (
    monitor                VARCHAR(64)  NOT NULL PRIMARY KEY,
    status                 VARCHAR(8)   NOT NULL,
    consecutive_failures   INTEGER      NOT NULL,
    consecutive_successes  INTEGER      NOT NULL,
    last_check_at          BIGINT,
    last_success_at        BIGINT,
    last_failure_at        BIGINT,
    last_latency_ms        BIGINT,
    last_error             TEXT,
    status_since           BIGINT
);

-- An incident: a monitor DOWN from opened_at (started_at is its first failed check) to resolved_at.
CREATE TABLE monitor_incidents (
    id                BIGINT       NOT NULL PRIMARY KEY,
    monitor           VARCHAR(64)  NOT NULL,
    status            VARCHAR(8)   NOT NULL,
    started_at        BIGINT       NOT NULL,
    opened_at         BIGINT       NOT NULL,
    resolved_at       BIGINT,
    failed_checks     INTEGER      NOT NULL,
    first_error       TEXT,
    last_error        TEXT,
    last_success_at   BIGINT,
    report            TEXT,
    report_source     TEXT,
    recovery_report   TEXT,
    down_notified     INTEGER      NOT NULL DEFAULT 0,
    last_notified_at  BIGINT,
    event_seq         INTEGER      NOT NULL DEFAULT 0
);
CREATE INDEX monitor_incidents_monitor ON monitor_incidents (monitor, opened_at);
CREATE INDEX monitor_incidents_opened ON monitor_incidents (opened_at);

-- What happened during an incident, in order. seq comes from monitor_incidents.event_seq, bumped by
-- an UPDATE of the incident row in the appending transaction (a row lock on PostgreSQL), so
-- concurrent appends to one incident take distinct numbers.
CREATE TABLE monitor_incident_events (
    incident_id  BIGINT       NOT NULL,
    at           BIGINT       NOT NULL,
    seq          INTEGER      NOT NULL,
    kind         VARCHAR(24)  NOT NULL,
    detail       TEXT         NOT NULL,
    PRIMARY KEY (incident_id, seq)
);

-- Every delivery attempt of every notification: sent, failed (with the error) or suppressed.
CREATE TABLE monitor_notifications (
    at           BIGINT       NOT NULL,
    incident_id  BIGINT,
    monitor      VARCHAR(64),
    channel      VARCHAR(64)  NOT NULL,
    channel_type VARCHAR(16)  NOT NULL,
    event        VARCHAR(16)  NOT NULL,
    attempt      INTEGER      NOT NULL,
    outcome      VARCHAR(16)  NOT NULL,
    error        TEXT,
    duration_ms  BIGINT       NOT NULL
);
CREATE INDEX monitor_notifications_time ON monitor_notifications (at);
CREATE INDEX monitor_notifications_incident ON monitor_notifications (incident_id);
