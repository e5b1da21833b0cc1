-- Bumped in the same transaction as every change that ends sessions (password set, signed out
-- everywhere, person removed). Nodes poll it and forget what they cached of token versions when
-- it moves, so a revocation reaches every node within a poll, without a query per request.
create table platform_people_revision (
    id        integer not null primary key,
    revision  bigint  not null
);
insert into platform_people_revision (id, revision) values (1, 0);
