-- Bindings in a cluster (RFC 3327 Path, RFC 5626 flows): which node holds the flow a device
-- registered over and at which node-to-node SIP URI that node is reached, so any node can route a
-- call through it; the version (the registering node's clock at the REGISTER) orders announcements
-- of the same binding from different nodes; reg-id with +sip.instance identifies a device's flow
-- (RFC 5626 §4.2) so a re-registration through another node replaces the old binding.
ALTER TABLE sip_bindings ADD COLUMN node_id VARCHAR(128);
ALTER TABLE sip_bindings ADD COLUMN node_path VARCHAR(300);
ALTER TABLE sip_bindings ADD COLUMN reg_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sip_bindings ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
