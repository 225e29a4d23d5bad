-- wiredesk schema, version 1: sources, items and the stories they belong to.
-- Times are Unix seconds (UTC). Migrations are append-only: never edit a
-- numbered file once it has shipped; add the next one.

CREATE TABLE sources (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    url                   TEXT NOT NULL,
    priority              INTEGER NOT NULL DEFAULT 0,
    tags                  TEXT NOT NULL DEFAULT '[]',   -- JSON array of strings
    -- fetch state, written after every poll
    last_polled_at        INTEGER,
    last_ok_at            INTEGER,
    last_status           TEXT,                          -- 'ok' or 'error'
    last_error            TEXT,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A story is what the merged feed shows once. `uid` is derived from the
-- item that founded it and is the entry id served to readers: it never
-- changes, whichever copy is shown.
CREATE TABLE stories (
    id          INTEGER PRIMARY KEY,
    uid         TEXT NOT NULL UNIQUE,
    -- the date the merged feed sorts by: the earliest date of its copies
    sort_date   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX stories_by_date ON stories (sort_date DESC, id DESC);

CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    source_id     TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    identity      TEXT NOT NULL,            -- per-source identity computed by ingest
    story_id      INTEGER NOT NULL REFERENCES stories (id),
    title         TEXT NOT NULL,
    link          TEXT,
    published     INTEGER,
    updated       INTEGER,
    author        TEXT,
    summary       TEXT,                     -- sanitised HTML
    content       TEXT,                     -- sanitised HTML
    categories    TEXT NOT NULL DEFAULT '[]',
    enclosures    TEXT NOT NULL DEFAULT '[]',
    content_hash  BLOB NOT NULL,            -- hash of the normalised text (see dedup)
    first_seen    INTEGER NOT NULL,
    changed_at    INTEGER NOT NULL,
    UNIQUE (source_id, identity)
) STRICT;

CREATE INDEX items_by_story ON items (story_id);
CREATE INDEX items_by_content_hash ON items (content_hash);
