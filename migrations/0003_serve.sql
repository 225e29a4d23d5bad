-- wiredesk schema, version 3: what serving the merged feed needs.
--
-- Full-text search over every item's title, summary and content (FTS5,
-- compiled into the bundled SQLite). The index is an external-content table
-- over `items`: it stores only the index, not a second copy of the text, and
-- the triggers below keep it in step with every insert, update and delete.
-- The text is sanitised HTML, so tag and attribute names are indexed too;
-- searches use words of the text and rarely meet them.

CREATE VIRTUAL TABLE items_fts USING fts5 (
    title, summary, content,
    content = 'items', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER items_fts_after_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, title, summary, content)
    VALUES (new.id, new.title, new.summary, new.content);
END;

CREATE TRIGGER items_fts_after_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
END;

CREATE TRIGGER items_fts_after_update AFTER UPDATE OF title, summary, content ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, summary, content)
    VALUES ('delete', old.id, old.title, old.summary, old.content);
    INSERT INTO items_fts (rowid, title, summary, content)
    VALUES (new.id, new.title, new.summary, new.content);
END;

-- Merge index segments less eagerly: each poll commits a small segment, and
-- with the default (4) most of the cost of storing an item went to merging
-- them (measured with callgrind on examples/dedup_eval.rs: FTS5 flush and
-- merge took ~40 % of the instructions of the dedup → store step). 16 keeps
-- queries fast (a few more segments to read) and roughly halves that cost.
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);

-- Items already stored before this migration.
INSERT INTO items_fts (items_fts) VALUES ('rebuild');

-- `copies=all` pages through items by their own date (published, else first
-- seen), newest first: keyset paging needs an index in that order.
CREATE INDEX items_by_date ON items (coalesce(published, first_seen) DESC, id DESC);
