create table test_tags (
    note_id  bigint      not null references test_notes (id),
    tag      varchar(50) not null,
    primary key (note_id, tag)
);
