-- A claim its taker was sending when it died (or was counted out) is pending again, and the next
-- holder sends it marked as a possible repeat; repeats counts how often that happened to it.
--
-- Whether the channel took the message before its node died is not known: ending the claim there
-- (as V3's code did, outcome 'unknown') lost the DOWN whenever the node died before the call, and
-- sending it again plainly gave a second, unmarked DOWN whenever it died after. Sent again with
-- the same message id (webhooks: body "id" and Idempotency-Key) and "repeat", a receiver can drop
-- the copy, and a person reading it is told it may be one. A message whose sending three nodes in
-- turn died in ends as 'unknown' (repeats stops at 2).
ALTER TABLE monitor_notification_claims ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitor_warning_claims ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;

-- The message's id, the same on each delivery of it (webhooks: body "id" and Idempotency-Key):
-- random, stored with the claim when it is made. Claims made before this version have none (no
-- message carried an id then, so none could match what a receiver saw); a claim still without
-- one gets a random id when it is taken, kept for its later deliveries.
ALTER TABLE monitor_notification_claims ADD COLUMN message_id VARCHAR(64);
ALTER TABLE monitor_warning_claims ADD COLUMN message_id VARCHAR(64);
