-- wiredesk schema, version 13: items a source's keep/block rules held back (#18).
--
-- A blocked item is stored here, not in `items`: no query that serves
-- stories, pages, search or tags can show it, and dedup never meets it as
-- a candidate. Its identity is kept so that the next poll does not count
-- it again; its title and link say what was held back. Retention deletes
-- a row with the stories of its age. A rules change applies to items
-- stored from then on: an item stored here stays here, until retention.

CREATE TABLE blocked_items (
    source_id   TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    identity    TEXT NOT NULL,
    title       TEXT NOT NULL,
    link        TEXT,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (source_id, identity)
) STRICT, WITHOUT ROWID;

CREATE INDEX blocked_items_by_age ON blocked_items (first_seen);
