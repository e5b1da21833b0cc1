-- Sign-ins whose access tokens are refused before they expire: a refresh token of the sign-in was
-- used twice (RFC 9700 §4.14.2), or it signed out. An access token names its sign-in (claim "sid"),
-- so a row needs to outlive only the access tokens of that sign-in: expires_at is the revocation
-- time plus the access token lifetime. Nodes load the rows at start and when the people revision
-- moves (it is bumped in the same transaction), and hear of new ones on the bus.
create table platform_revoked_sessions (
    session_id  varchar(36) not null primary key,
    revoked_at  bigint      not null,
    expires_at  bigint      not null
);
create index platform_revoked_sessions_expiry on platform_revoked_sessions (expires_at);

-- Sign-in lockouts an operator cleared. The brakes on guessing live in each node's memory; the CLI
-- cannot reach it, so it leaves a row here with the people revision it bumped, and each node clears
-- the user's counters when it sees the revision move past what it knew.
create table platform_sign_in_unlocks (
    username     varchar(32) not null,
    revision     bigint      not null,
    unlocked_at  bigint      not null
);
create index platform_sign_in_unlocks_revision on platform_sign_in_unlocks (revision);
