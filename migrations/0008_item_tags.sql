-- wiredesk schema, version 8: the categories of each item, indexed.
--
-- `tag=` matched an item's categories by reading its row and its JSON list,
-- story by story, newest first: at a million items a tag few items carry
-- took 4.4-4.8 s (#8). One row per (lower-cased category, item), kept by
-- triggers on every path that writes items (insert, update, retention,
-- source removal), so a rare tag's items are found by this index and only
-- a common one is walked. `lower` is SQLite's (ASCII), as the filter's is.

CREATE TABLE item_tags (
    tag      TEXT NOT NULL,
    item_id  INTEGER NOT NULL,
    PRIMARY KEY (tag, item_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO item_tags (tag, item_id)
    SELECT lower(c.value), i.id FROM items i, json_each(i.categories) c
    WHERE c.type = 'text';

CREATE TRIGGER item_tags_after_insert AFTER INSERT ON items
WHEN new.categories <> '[]' BEGIN
    INSERT OR IGNORE INTO item_tags (tag, item_id)
        SELECT lower(value), new.id FROM json_each(new.categories) WHERE type = 'text';
END;

CREATE TRIGGER item_tags_after_update AFTER UPDATE OF categories ON items
WHEN new.categories IS NOT old.categories BEGIN
    DELETE FROM item_tags WHERE item_id = old.id
        AND tag IN (SELECT lower(value) FROM json_each(old.categories) WHERE type = 'text');
    INSERT OR IGNORE INTO item_tags (tag, item_id)
        SELECT lower(value), new.id FROM json_each(new.categories) WHERE type = 'text';
END;

CREATE TRIGGER item_tags_after_delete AFTER DELETE ON items
WHEN old.categories <> '[]' BEGIN
    DELETE FROM item_tags WHERE item_id = old.id
        AND tag IN (SELECT lower(value) FROM json_each(old.categories) WHERE type = 'text');
END;
