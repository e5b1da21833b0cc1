-- Cluster membership: one row per node id. The store is the truth about who is in the cluster;
-- bus announcements only make changes known sooner. Every time here (started_at, heartbeat_at,
-- left_at, acquired_at) is epoch milliseconds from the DATABASE's clock, never a node's, so nodes
-- whose clocks disagree still agree on who has expired. incarnation is random per process start: a
-- node restarted under the same id (or a second process wrongly given it) is told apart from the
-- one before. addresses is JSON ({"http": "...", "sip": ["udp:..."]}).
CREATE TABLE platform_cluster_nodes (
    node_id       VARCHAR(64)       NOT NULL PRIMARY KEY,
    incarnation   VARCHAR(36)       NOT NULL,
    addresses     TEXT              NOT NULL,
    version       VARCHAR(64)       NOT NULL,
    started_at    BIGINT            NOT NULL,
    heartbeat_at  BIGINT            NOT NULL,
    left_at       BIGINT,
    load_average  DOUBLE PRECISION
);

-- Named leases for work done exactly once in the cluster (a monitor's checks, a periodic job).
-- A lease is valid while its holder's membership row (same incarnation) is alive: holding costs no
-- writes beyond the holder's heartbeat. fence grows by one at every change of holder; writes made
-- under a lease check (holder, incarnation, fence) in their own transaction, so a holder that lost
-- the lease (paused, partitioned, expired) can no longer write.
CREATE TABLE platform_leases (
    name          VARCHAR(200)      NOT NULL PRIMARY KEY,
    holder        VARCHAR(64),
    incarnation   VARCHAR(36),
    fence         BIGINT            NOT NULL,
    acquired_at   BIGINT            NOT NULL
);
CREATE INDEX platform_leases_holder ON platform_leases (holder);
