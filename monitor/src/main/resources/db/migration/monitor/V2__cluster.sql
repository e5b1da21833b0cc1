-- Clustering. At most one open incident per monitor, whatever nodes do: the writes are already
-- fenced by the monitor's lease; this makes a second open incident impossible in the store itself.
--
-- A database from before may already hold several open incidents of one monitor (two nodes that
-- each opened one), and the index could not be built on it. Every open incident but the monitor's
-- newest (latest opened_at, then highest id) is closed first, at the newest's opening time, with
-- a timeline entry saying why. The newest stays open and is never updated here, so the subqueries
-- see the same answer for every row on SQLite (which updates row by row) as on PostgreSQL.
INSERT INTO monitor_incident_events (incident_id, at, seq, kind, detail)
SELECT i.id,
       (SELECT MAX(n.opened_at) FROM monitor_incidents n WHERE n.monitor = i.monitor AND n.status = 'open'),
       i.event_seq + 1,
       'closed',
       'closed: a newer incident of this monitor was open (upgrade to one open incident per monitor)'
FROM monitor_incidents i
WHERE i.status = 'open'
  AND EXISTS (SELECT 1 FROM monitor_incidents n WHERE n.monitor = i.monitor AND n.status = 'open'
              AND (n.opened_at > i.opened_at OR (n.opened_at = i.opened_at AND n.id > i.id)));

UPDATE monitor_incidents
SET resolved_at = (SELECT MAX(n.opened_at) FROM monitor_incidents n
                   WHERE n.monitor = monitor_incidents.monitor AND n.status = 'open'),
    event_seq = event_seq + 1,
    status = 'resolved'
WHERE status = 'open'
  AND EXISTS (SELECT 1 FROM monitor_incidents n WHERE n.monitor = monitor_incidents.monitor AND n.status = 'open'
              AND (n.opened_at > monitor_incidents.opened_at
                   OR (n.opened_at = monitor_incidents.opened_at AND n.id > monitor_incidents.id)));

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
