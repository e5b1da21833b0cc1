-- When people were first told of an incident: a DOWN or reminder went out to a channel (its claim
-- ended 'sent'). down_notified says only that telling began (claims were made), which is also true
-- of a DOWN a maintenance window held back, one that failed on every channel, and an incident
-- with no channel at all; and the claims themselves are pruned long before the incident, so they
-- cannot answer it later. Written once, when the first such claim ends sent.
ALTER TABLE monitor_incidents ADD COLUMN told_at BIGINT;
UPDATE monitor_incidents SET told_at = (
    SELECT MIN(c.sent_at) FROM monitor_notification_claims c
    WHERE c.incident_id = monitor_incidents.id AND c.event IN ('down', 'reminder') AND c.outcome = 'sent')
WHERE EXISTS (SELECT 1 FROM monitor_notification_claims c
    WHERE c.incident_id = monitor_incidents.id AND c.event IN ('down', 'reminder') AND c.outcome = 'sent');
-- Incidents whose claims were pruned before this version: their mark is all that is known, but
-- for those that had no channel (their timeline says "nobody to tell", and the mark was set all
-- the same).
UPDATE monitor_incidents SET told_at = COALESCE(last_notified_at, opened_at)
WHERE told_at IS NULL AND down_notified = 1
  AND NOT EXISTS (SELECT 1 FROM monitor_notification_claims c WHERE c.incident_id = monitor_incidents.id)
  AND NOT EXISTS (SELECT 1 FROM monitor_incident_events e
                  WHERE e.incident_id = monitor_incidents.id AND e.detail LIKE 'nobody to tell%');
