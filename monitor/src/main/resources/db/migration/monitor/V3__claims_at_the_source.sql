-- Notification claims made where the duty to notify arises, and taken only when a message goes out.
--
-- A claim row is now written in the transaction that creates the duty: the DOWN claims (one per
-- channel of the monitor) in the one that opens the incident, the recovery claims in the one that
-- resolves it (only for channels whose DOWN was tried; a DOWN never taken is cancelled there). So a node that dies between the two leaves a pending claim, never a lost message.
--
-- A claim is pending (sending_at and sent_at NULL), being sent (sending_at set by the node named in
-- node_id/incarnation, in a transaction that checks that node's lease of the monitor, right before
-- the channel is called) or done (sent_at set, outcome sent, failed, cancelled, suppressed, or unknown: the node could not store
-- how its own delivery ended, and its sweep ended the claim later). The lease holder
-- sends pending claims of its monitors, at takeover and periodically; a claim being sent by a node
-- that is no longer alive is pending again (the one case that may send twice: the node died after
-- the channel took the message and before sent_at was written). A message queued on a node that
-- then hands the monitor over is refused when it comes to be sent (the lease no longer holds), and
-- the new holder sends it: once.
ALTER TABLE monitor_notification_claims ADD COLUMN incarnation VARCHAR(36);
ALTER TABLE monitor_notification_claims ADD COLUMN sending_at BIGINT;
ALTER TABLE monitor_notification_claims ADD COLUMN outcome VARCHAR(16);
UPDATE monitor_notification_claims SET outcome = 'sent' WHERE sent_at IS NOT NULL;
-- Before this version a claim got sent_at only when its channel took the message: a claim left
-- without it was a delivery that failed for good, or one a node died during, and nobody would
-- ever send it. Left as it is it would now read as pending and the holder would send it, maybe
-- long after (a recovery from hours ago, an old reminder). Each is ended as failed, at its claim
-- time, except the DOWN of an incident still open: sending that one now is what the holder
-- would do for an open incident whose DOWN went nowhere.
UPDATE monitor_notification_claims SET sent_at = claimed_at, outcome = 'failed'
WHERE sent_at IS NULL
  AND NOT (event = 'down' AND incident_id IN (SELECT id FROM monitor_incidents WHERE status = 'open'));
CREATE INDEX monitor_notification_claims_unsent ON monitor_notification_claims (incident_id) WHERE sent_at IS NULL;

-- Warnings (a passing check's warning threshold, e.g. a certificate near expiry) and their ends,
-- claimed per monitor and channel: seq counts the monitor's warning messages to that channel. A
-- warning is claimed only when the channel's latest claim is not a warning already (and an end
-- only after a warning), under the monitor's lease, so however the monitor moves between nodes
-- each start and end is announced once. subject and text are the message itself, so the node
-- that takes over a pending claim sends what was meant.
CREATE TABLE monitor_warning_claims (
    monitor      VARCHAR(64)  NOT NULL,
    channel      VARCHAR(64)  NOT NULL,
    seq          BIGINT       NOT NULL,
    event        VARCHAR(16)  NOT NULL,
    status       VARCHAR(8)   NOT NULL,
    subject      TEXT         NOT NULL,
    text         TEXT         NOT NULL,
    node_id      VARCHAR(64)  NOT NULL,
    incarnation  VARCHAR(36),
    fence        BIGINT       NOT NULL,
    claimed_at   BIGINT       NOT NULL,
    sending_at   BIGINT,
    sent_at      BIGINT,
    outcome      VARCHAR(16),
    PRIMARY KEY (monitor, channel, seq)
);
CREATE INDEX monitor_warning_claims_unsent ON monitor_warning_claims (monitor) WHERE sent_at IS NULL;
