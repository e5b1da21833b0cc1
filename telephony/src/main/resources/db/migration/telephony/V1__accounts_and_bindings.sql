-- Device accounts: passwords are kept only as digest HA1 values (RFC 7616 §3.4.2), one per algorithm,
-- because digest verification needs them and nothing else.
CREATE TABLE sip_accounts (
    username     VARCHAR(64)  NOT NULL,
    domain       VARCHAR(255) NOT NULL,
    ha1_md5      CHAR(32)     NOT NULL,
    ha1_sha256   CHAR(64)     NOT NULL,
    created_at   BIGINT       NOT NULL,
    updated_at   BIGINT       NOT NULL,
    PRIMARY KEY (username, domain)
);

-- One row, bumped in the same transaction as every account change, so that running nodes (and the
-- CLI acting on the same data dir) notice changes by polling one cheap value.
CREATE TABLE sip_account_revision (
    id        INTEGER NOT NULL PRIMARY KEY,
    revision  BIGINT  NOT NULL
);
INSERT INTO sip_account_revision (id, revision) VALUES (1, 0);

-- Registrar bindings (RFC 3261 §10.3), durable so they survive a restart.
CREATE TABLE sip_bindings (
    aor            VARCHAR(320)  NOT NULL,
    contact        VARCHAR(1024) NOT NULL,
    contact_header VARCHAR(2048) NOT NULL,
    call_id        VARCHAR(255)  NOT NULL,
    cseq           BIGINT        NOT NULL,
    q              INTEGER       NOT NULL,
    expires_at     BIGINT        NOT NULL,
    registered_at  BIGINT        NOT NULL,
    transport      VARCHAR(8)    NOT NULL,
    remote_address VARCHAR(64)   NOT NULL,
    remote_port    INTEGER       NOT NULL,
    local_address  VARCHAR(64)   NOT NULL,
    local_port     INTEGER       NOT NULL,
    flow_id        VARCHAR(128)  NOT NULL,
    user_agent     VARCHAR(255),
    instance_id    VARCHAR(255),
    PRIMARY KEY (aor, contact)
);
CREATE INDEX sip_bindings_expires ON sip_bindings (expires_at);
