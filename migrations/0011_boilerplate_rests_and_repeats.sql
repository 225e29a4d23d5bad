-- wiredesk schema: boilerplate is learned from different items only, and
-- items a source sends again under new ids are counted on it (#21).
--
-- A paragraph becomes its source's boilerplate once it has appeared at the
-- top or bottom of 5 items whose remaining text differs (title key and other
-- paragraphs): `rests` is a 64-bit set of hashes of those remaining texts,
-- and the count is the number of bits set (src/dedup/wrapper.rs). The counts
-- kept so far counted an item that came back under a new id as one more item,
-- so a feed with rotating ids had its stories learned as boilerplate: those
-- counts are dropped and learning starts again (5 items per source).
DROP TABLE dedup_boilerplate;
CREATE TABLE dedup_boilerplate (
    source_id  TEXT NOT NULL,
    para_hash  INTEGER NOT NULL,
    rests      INTEGER NOT NULL,
    PRIMARY KEY (source_id, para_hash)
) WITHOUT ROWID;

-- Items the source sent again under a new id (recognised by their title and
-- text, not stored again; see src/merge), and when it last did.
ALTER TABLE sources ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN repeated_at INTEGER;
