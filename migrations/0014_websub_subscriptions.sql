-- wiredesk schema, version 14: subscriptions to publishers' WebSub hubs
-- (#16, the subscriber side), so that they survive a restart.
--
-- One row per source at most: a source is subscribed to one hub for one
-- topic. `token` is the secret last segment of the callback URL, `secret`
-- the hub.secret pushes are signed with; both random, never shown. The
-- row of a source removed from the config stays while its unsubscription
-- is verified, and is deleted after. Times are Unix seconds.

CREATE TABLE websub_subscriptions (
    source_id       TEXT PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    hub             TEXT NOT NULL,
    topic           TEXT NOT NULL,
    token           TEXT NOT NULL UNIQUE,
    secret          TEXT NOT NULL,
    -- 'subscribing', 'subscribed', 'unsubscribing', 'denied', 'failed'
    phase           TEXT NOT NULL,
    requested_at    INTEGER NOT NULL,
    verified_at     INTEGER,
    lease_until     INTEGER,
    retry_at        INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_push_at    INTEGER,
    pushes          INTEGER NOT NULL DEFAULT 0,
    bad_signatures  INTEGER NOT NULL DEFAULT 0
) STRICT;
