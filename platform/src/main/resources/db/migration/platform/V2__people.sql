-- People: those who sign in to the API, chat and the console (devices have SIP accounts instead).
-- Only a salted Argon2id hash of the password is kept (PHC string format).
-- Plain SQL that runs on SQLite and PostgreSQL alike; times are epoch milliseconds.
create table platform_people (
    id             varchar(36)  not null primary key,
    username       varchar(32)  not null unique,
    display_name   varchar(100),
    password_hash  varchar(200) not null,
    is_admin       smallint     not null default 0,
    -- Bumped when the password changes or the person signs out everywhere: access tokens
    -- carry the version they were issued under and are refused once it moved on.
    token_version  integer      not null default 0,
    created_at     bigint       not null
);

-- Refresh tokens, rotated on every use (RFC 9700 §4.14.2): a used token presented again means
-- it leaked, and the whole family is revoked. Only the SHA-256 of a token is kept. A token is good
-- only while the person's token_version is the one it was issued under.
create table platform_refresh_tokens (
    token_hash     varchar(64) not null primary key,
    person_id      varchar(36) not null references platform_people (id) on delete cascade,
    family_id      varchar(36) not null,
    token_version  integer     not null,
    created_at     bigint      not null,
    expires_at     bigint      not null,
    used_at        bigint
);
create index platform_refresh_tokens_family on platform_refresh_tokens (family_id);
create index platform_refresh_tokens_person on platform_refresh_tokens (person_id);

-- Secrets every node of a cluster must share, such as the key that signs access tokens.
create table platform_secrets (
    name        varchar(64)  not null primary key,
    value       varchar(200) not null,
    created_at  bigint       not null
);
