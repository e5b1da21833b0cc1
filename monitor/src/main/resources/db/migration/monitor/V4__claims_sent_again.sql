-- A claim its taker was sending when it died (or was counted out) is pending again, and the next
-- holder sends it marked as a possible repeat; repeats counts how often that happened to it.
--
-- Whether the channel took the message before its node died is not known: ending the claim there
-- (as V3's code did, outcome 'unknown') lost the DOWN whenever the node died before the call, and
-- sending it again plainly gave a second, unmarked DOWN whenever it died after. Sent again with
-- the same message id (webhooks: body "id" and Idempotency-Key) and "repeat", a receiver can drop
-- the copy, and a person reading it is told it may be one.
ALTER TABLE monitor_notification_claims ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monitor_warning_claims ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
