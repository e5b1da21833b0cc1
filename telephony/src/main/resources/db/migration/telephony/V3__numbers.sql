-- Numbers: what people dial (a flat, an extension, a ring group). A call to a number rings every
-- binding of every member account. A number lives in a domain and never equals an account's
-- username there, so a dialed name means one thing.
CREATE TABLE sip_numbers (
    number      VARCHAR(32)  NOT NULL,
    domain      VARCHAR(255) NOT NULL,
    label       VARCHAR(255),
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL,
    PRIMARY KEY (number, domain)
);

-- Members are accounts of the number's domain; removing the number or the account removes the row.
CREATE TABLE sip_number_members (
    number    VARCHAR(32)  NOT NULL,
    domain    VARCHAR(255) NOT NULL,
    username  VARCHAR(64)  NOT NULL,
    PRIMARY KEY (number, domain, username),
    FOREIGN KEY (number, domain) REFERENCES sip_numbers (number, domain) ON DELETE CASCADE,
    FOREIGN KEY (username, domain) REFERENCES sip_accounts (username, domain) ON DELETE CASCADE
);
CREATE INDEX sip_number_members_account ON sip_number_members (username, domain);

-- Bumped in the same transaction as every number change, like sip_account_revision.
CREATE TABLE sip_number_revision (
    id        INTEGER NOT NULL PRIMARY KEY,
    revision  BIGINT  NOT NULL
);
INSERT INTO sip_number_revision (id, revision) VALUES (1, 0);
