alter table test_notes add column author varchar(100);
