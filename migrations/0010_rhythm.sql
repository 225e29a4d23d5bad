-- How often each source publishes, learned from its polls (#15,
-- src/poll/rhythm.rs): counts and watched time per hour of the day, as
-- JSON; the keys of the items it showed lately (8 bytes each, little
-- endian), to tell new items from shown ones; and the gaps seen (a window
-- that shared nothing with the last one: items were probably missed).
ALTER TABLE sources ADD COLUMN rhythm TEXT;
ALTER TABLE sources ADD COLUMN seen_keys BLOB;
ALTER TABLE sources ADD COLUMN gaps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN last_gap_at INTEGER;
