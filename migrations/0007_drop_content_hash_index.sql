-- wiredesk schema, version 7: no index on items.content_hash.
--
-- No query looks items up by their content hash (exact copies are found
-- through `dedup_keys`, which holds the body hash as one of its keys), and
-- the index on it cost a write to a random page of it for every item stored:
-- on a cold start that rewrites most of the index at every commit (#8).

DROP INDEX items_by_content_hash;
