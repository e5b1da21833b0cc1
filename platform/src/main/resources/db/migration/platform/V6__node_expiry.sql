-- Each node's own heartbeat interval and expiry, written by the node with every heartbeat. Whether
-- a node is alive is judged by ITS stored expiry against the database's clock, so nodes configured
-- with different cluster.expiry values still agree on who is alive. NULL: a row written by a node
-- from before these columns (during a rolling upgrade); readers then fall back to their own expiry.
ALTER TABLE platform_cluster_nodes ADD COLUMN heartbeat_ms BIGINT;
ALTER TABLE platform_cluster_nodes ADD COLUMN expiry_ms BIGINT;
