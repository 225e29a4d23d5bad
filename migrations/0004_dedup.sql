-- Dedup index (see src/dedup): the keys each item is found by, and the
-- paragraphs each source repeats (learned boilerplate).

-- One row per (key, item): the exact keys (content hash, canonical link,
-- title key), lead anchors and MinHash-LSH band keys of an item, with the
-- item's date so candidates are looked up only inside the dedup window.
-- Keys are u64 hashes stored as INTEGER (the same 64 bits).
CREATE TABLE dedup_keys (
    key      INTEGER NOT NULL,
    item_id  INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (key, item_id)
) WITHOUT ROWID;


-- In how many distinct items of a source a paragraph (hashed, digits masked)
-- appeared at the top or bottom of the text.
CREATE TABLE dedup_boilerplate (
    source_id  TEXT NOT NULL,
    para_hash  INTEGER NOT NULL,
    items      INTEGER NOT NULL,
    PRIMARY KEY (source_id, para_hash)
) WITHOUT ROWID;

-- The normalisation version an item's keys were made with, and the keys
-- themselves (8 bytes each, big-endian), so they can be removed by primary
-- key when the item changes or goes: cheaper than a second index on
-- dedup_keys (item_id), in time and in space.
ALTER TABLE items ADD COLUMN dedup_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN dedup_keys BLOB NOT NULL DEFAULT x'';
