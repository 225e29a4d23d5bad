-- Retention (see Store::prune): the identities of deleted items, so that a
-- feed that still lists an old item does not bring it back as new.

CREATE TABLE tombstones (
    source_id   TEXT NOT NULL,
    identity    TEXT NOT NULL,
    deleted_at  INTEGER NOT NULL,
    PRIMARY KEY (source_id, identity)
) WITHOUT ROWID;

CREATE INDEX tombstones_by_age ON tombstones (deleted_at);

-- Retention deletes the oldest stories first.
CREATE INDEX stories_by_update ON stories (updated_at, id);
