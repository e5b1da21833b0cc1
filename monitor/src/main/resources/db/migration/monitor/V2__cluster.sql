-- Clustering. At most one open incident per monitor, whatever nodes do: the writes are already
-- fenced by the monitor's lease; this makes a second open incident impossible in the store itself.
CREATE UNIQUE INDEX monitor_incidents_one_open ON monitor_incidents (monitor) WHERE status = 'open';

-- Notifications claimed once per incident, channel and event (seq tells reminders apart: the time
-- of the notification each one follows). The lease holder claims before it sends, in the same
-- transaction that checks its lease; sent_at is set once the channel took the message. A claim
-- without sent_at whose fence is older than the monitor's current lease was made by a node that
-- died or lost the monitor before sending: the new holder takes it over and sends it, so a
-- takeover neither loses the message nor sends it twice (unless the old holder died between the
-- channel taking it and sent_at being written).
CREATE TABLE monitor_notification_claims (
    incident_id  BIGINT       NOT NULL,
    channel      VARCHAR(64)  NOT NULL,
    event        VARCHAR(16)  NOT NULL,
    seq          BIGINT       NOT NULL,
    node_id      VARCHAR(64)  NOT NULL,
    fence        BIGINT       NOT NULL,
    claimed_at   BIGINT       NOT NULL,
    sent_at      BIGINT,
    PRIMARY KEY (incident_id, channel, event, seq)
);
