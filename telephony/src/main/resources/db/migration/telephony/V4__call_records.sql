-- Call history: one row per call the proxy forwarded (an initial INVITE), written when the call
-- starts (so a crash mid-call still leaves a record), when it is answered and when it ends.
-- Times are epoch milliseconds; duration_ms is answer to end. Free text (URIs, Call-IDs) is TEXT:
-- no length a peer could exceed and make a row unwritable.
CREATE TABLE call_records (
    id           VARCHAR(36)  NOT NULL PRIMARY KEY,
    call_id      TEXT         NOT NULL,
    caller       TEXT,
    callee       TEXT,
    dialed       TEXT,
    devices_rung TEXT         NOT NULL,
    answered_by  TEXT,
    started_at   BIGINT       NOT NULL,
    ringing_at   BIGINT,
    answered_at  BIGINT,
    ended_at     BIGINT,
    duration_ms  BIGINT,
    status       VARCHAR(16)  NOT NULL,
    final_code   INTEGER,
    ended_by     VARCHAR(16),
    node         VARCHAR(255) NOT NULL
);
-- History is read newest first by (started_at, id) pages.
CREATE INDEX call_records_started ON call_records (started_at, id);
-- Calls still open, found at start to mark those a previous run of the node left unfinished.
CREATE INDEX call_records_open ON call_records (node) WHERE ended_at IS NULL;
