-- wiredesk schema: learned boilerplate goes with the items it came from
-- (#21). The table was never pruned (about 135 bytes per item, for ever).
--
-- `seen_at` is the arrival (items.first_seen) of the last item that showed
-- the paragraph. Retention deletes the rows seen before the oldest item
-- still stored: every item that taught them is gone. Rows kept so far have
-- no date and go at the next retention run (the counts start again, as
-- after 0011).
ALTER TABLE dedup_boilerplate ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
