-- wiredesk schema, version 9: the merged feed in arrival order (#14).
--
-- The merged feed listed stories by their own date (the earliest date of
-- their copies). Feed readers fetch only its first page, so a story that
-- arrived carrying an older date (an agency copy dated at its filing time,
-- a source back from an outage, a new source's backlog) was stored and
-- never delivered. Stories are now listed by when this instance first
-- stored them, newest first, and `since=` means "arrived at or after".
--
-- `arrived_at` is never earlier than an arrival stored before it (the
-- writer holds it at the latest one if the clock steps back), so the order
-- by (arrived_at, id) is the order the stories were stored in.

ALTER TABLE stories ADD COLUMN arrived_at INTEGER NOT NULL DEFAULT 0;

-- Stories already stored arrived with their first copy.
UPDATE stories SET arrived_at = coalesce(
    (SELECT min(first_seen) FROM items WHERE items.story_id = stories.id),
    created_at);

CREATE INDEX stories_by_arrival ON stories (arrived_at DESC, id DESC);

-- The story date the feed sorted by has no reader left.
DROP INDEX stories_by_date;
ALTER TABLE stories DROP COLUMN sort_date;

-- `copies=all` lists items by when they were first stored, too.
DROP INDEX items_by_date;
CREATE INDEX items_by_arrival ON items (first_seen DESC, id DESC);
