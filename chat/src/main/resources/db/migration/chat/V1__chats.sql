-- Chats, their members and their messages. Plain SQL that runs on SQLite and PostgreSQL alike;
-- times are epoch milliseconds. Person ids are the platform's (platform_people.id), kept without
-- a foreign key: a removed person's messages stay, shown under their id.

create table chat_chats (
    id                varchar(36)  not null primary key,
    kind              varchar(10)  not null,            -- 'direct' (two people) or 'group'
    title             varchar(200),
    -- For a direct chat the two person ids, sorted and joined: one dialogue per pair of people.
    direct_key        varchar(80)  unique,
    created_by        varchar(36)  not null,
    created_at        bigint       not null,
    -- The sequence number of the newest message: messages are numbered 1, 2, 3... per chat.
    last_seq          bigint       not null default 0,
    -- Counts every change in the chat (message, deletion, receipt), so that a client can ask
    -- for the changes it missed, not only the messages.
    rev               bigint       not null default 0,
    last_activity_at  bigint       not null,
    idempotency_key   varchar(200),
    request_hash      varchar(64)
);
-- Partial indexes (both databases have them): most rows have no key, and an index entry per row
-- would be written with every new chat for nothing.
create unique index chat_chats_idempotency on chat_chats (created_by, idempotency_key) where idempotency_key is not null;

create table chat_members (
    chat_id        varchar(36) not null references chat_chats (id) on delete cascade,
    person_id      varchar(36) not null,
    joined_at      bigint      not null,
    last_read_seq  bigint      not null default 0,
    read_rev       bigint      not null default 0,
    primary key (chat_id, person_id)
);
create index chat_members_person on chat_members (person_id);

create table chat_messages (
    chat_id          varchar(36)  not null references chat_chats (id) on delete cascade,
    seq              bigint       not null,
    -- A random UUID, kept without an index of its own: an index over random keys would touch a
    -- random page with every message, and nothing looks messages up by id.
    id               varchar(36)  not null,
    sender_id        varchar(36)  not null,
    body             text,                               -- null once deleted (a tombstone)
    created_at       bigint       not null,
    rev              bigint       not null,
    deleted_at       bigint,
    deleted_rev      bigint,
    idempotency_key  varchar(200),
    request_hash     varchar(64),
    primary key (chat_id, seq)
);
-- Partial: only messages sent with a key, and only deleted messages, have entries. Every index
-- is written with every message, and the message path is the hot one.
create unique index chat_messages_idempotency on chat_messages (sender_id, idempotency_key)
    where idempotency_key is not null;
create index chat_messages_deleted on chat_messages (chat_id, deleted_rev) where deleted_rev is not null;
