-- Poll state per source (see src/poll): validators for conditional GET, the
-- persisted schedule, backoff, permanent redirects and the last fetch's
-- figures.

ALTER TABLE sources ADD COLUMN etag TEXT;
ALTER TABLE sources ADD COLUMN last_modified TEXT;
-- SHA-256 of the last body parsed: an identical body is not parsed again
ALTER TABLE sources ADD COLUMN body_hash BLOB;
-- when the source is next due (Unix seconds); NULL: at once
ALTER TABLE sources ADD COLUMN next_poll_at INTEGER;
ALTER TABLE sources ADD COLUMN last_http_status INTEGER;
ALTER TABLE sources ADD COLUMN last_duration_ms INTEGER;
ALTER TABLE sources ADD COLUMN last_bytes INTEGER;
-- 'ok', 'not_modified', 'unchanged', 'error', 'gone' (in last_status)
-- the URL polled instead of the configured one after a permanent redirect
ALTER TABLE sources ADD COLUMN effective_url TEXT;
-- a permanent redirect seen but not yet trusted, and how often in a row
ALTER TABLE sources ADD COLUMN moved_to TEXT;
ALTER TABLE sources ADD COLUMN moved_count INTEGER NOT NULL DEFAULT 0;
-- the interval the feed itself asks for (RSS ttl, sy:updatePeriod), seconds
ALTER TABLE sources ADD COLUMN interval_hint INTEGER;
