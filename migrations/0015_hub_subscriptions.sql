-- wiredesk schema: wiredesk's own WebSub hub (#16), its subscriptions.
--
-- One row per verified subscription: a callback on a topic (the canonical
-- self URL of a served feed variant). A renewal replaces the lease and the
-- secret; the delivery cursor stays. `cursor_date`/`cursor_id` are the
-- feed position (arrival time, story or item id) of the newest entry the
-- callback was sent, or offered when it subscribed: what a delivery
-- carries is what came after. A failing callback is retried at
-- `next_attempt_at`; `failing_since` says since when it has failed without
-- a success in between (the hub drops it after a while).

CREATE TABLE hub_subscriptions (
    topic            TEXT NOT NULL,
    callback         TEXT NOT NULL,
    secret           TEXT,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    cursor_date      INTEGER NOT NULL,
    cursor_id        INTEGER NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    failing_since    INTEGER,
    next_attempt_at  INTEGER,
    PRIMARY KEY (topic, callback)
) STRICT, WITHOUT ROWID;

CREATE INDEX hub_subscriptions_by_expiry ON hub_subscriptions (expires_at);
