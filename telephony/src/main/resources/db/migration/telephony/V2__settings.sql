-- Settings the node records for the tools that share its store: the default domain a running node
-- serves, so `switchboard account add` without --domain uses the realm the node will challenge with.
CREATE TABLE sip_settings (
    name   VARCHAR(64)   NOT NULL PRIMARY KEY,
    value  VARCHAR(1024) NOT NULL
);
