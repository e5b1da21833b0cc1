-- The index on expires_at goes. Every refresh of a registration moves the row's entry in it, which
-- made it the costliest part of storing a REGISTER: on SQLite each commit wrote one more page per
-- refreshed binding to the WAL, and on PostgreSQL an indexed column that changes keeps an update
-- from being a heap-only (HOT) one, so every refresh also wrote an entry into the primary key's
-- index. Nothing reads by it on the hot path: bindings are read by address (the primary key), and
-- only a node's start (and a bus reconnection) reads all live ones, which is nearly the whole table.
DROP INDEX IF EXISTS sip_bindings_expires;
