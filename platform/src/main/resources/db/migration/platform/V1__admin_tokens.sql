-- Admin API tokens. Only the SHA-256 of a token is kept; the token itself is shown once.
-- Plain SQL that runs on SQLite and PostgreSQL alike.
create table platform_admin_tokens (
    token_hash  varchar(64)  not null primary key,
    label       varchar(200) not null,
    created_at  bigint       not null
);
