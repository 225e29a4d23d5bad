-- wiredesk schema, version 6: the full-text index is written once per write
-- transaction (src/store/write.rs), no longer by a trigger per item.
--
-- Why: once a transaction has written to an FTS5 table, every later
-- statement of it that may need a statement journal (any INSERT into
-- `items`, with its UNIQUE and foreign keys) makes FTS5 flush its pending
-- terms to a new index segment first. With the triggers, a poll of 40 items
-- wrote ~80 tiny segments and merged them again; flushing and merging took
-- ~12 % of a cold poll's time and most of its disk writes (perf, 500 sources
-- x 40 items). Now the items a transaction wrote are indexed by one
-- statement just before it commits: one segment per transaction.
--
-- Deleting an item still unindexes it through the trigger: retention deletes
-- in batches, one statement each.

DROP TRIGGER items_fts_after_insert;
DROP TRIGGER items_fts_after_update;
