create table test_notes (
    id     bigint       not null primary key,
    body   varchar(200) not null
);
