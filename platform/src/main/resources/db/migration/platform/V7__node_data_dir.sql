-- Which data directory each node's row was written from: a random id the node keeps in that
-- directory (data-dir-id), the directory's canonical path, and the host (a copy of the directory
-- at the same path on another machine is another one). A process that starts under the id of a
-- node whose heartbeat is still within its expiry may take the row only from that node's own data
-- directory (or once that heartbeat went stale): node.lock lets one process hold it at a time,
-- so the one before is gone (a restart right after a kill -9). From anywhere else it is a second
-- node given the same id, and it is refused instead of knocking the live one out of the cluster.
-- NULL: a row written by a node from before these columns (during a rolling upgrade), not checked.
ALTER TABLE platform_cluster_nodes ADD COLUMN data_dir_id VARCHAR(36);
ALTER TABLE platform_cluster_nodes ADD COLUMN data_dir TEXT;
ALTER TABLE platform_cluster_nodes ADD COLUMN host VARCHAR(255);
