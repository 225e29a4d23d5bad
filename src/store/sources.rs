//! The sources table: the configured sources as recorded, and how each
//! one's polls went (written by the poll's own transaction, read by the
//! desk, `/sources.json` and the poller at start).

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{PollTx, Store, StoreError, StoreErrorKind, from_unix, to_json};
use crate::model::{ContentHash, Source, SourceId, Validators};

/// A source's recorded poll state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub id: SourceId,
    /// The configured URL.
    pub url: String,
    pub name: String,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_ok_at: Option<DateTime<Utc>>,
    /// How the last poll ended (see [`PollStatus`]), `None` before the first.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    pub last_http_status: Option<u16>,
    pub last_duration_ms: Option<u64>,
    pub last_bytes: Option<u64>,
    pub consecutive_failures: u32,
    pub validators: Validators,
    pub body_hash: Option<ContentHash>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub interval_hint: Option<std::time::Duration>,
    /// Polled instead of `url` after a permanent redirect.
    pub effective_url: Option<String>,
    pub moved_to: Option<String>,
    pub moved_count: u32,
    /// What its polls have taught about when it publishes (the poller's
    /// `Rhythm`, kept as it wrote it), `None` before the first answer.
    pub rhythm: Option<StoredRhythm>,
    /// Polls whose window shared nothing with the last one (items were
    /// probably missed), and when the last one was.
    pub gaps: u32,
    pub last_gap_at: Option<DateTime<Utc>>,
}

/// A source's rhythm as the store keeps it: the poller's own JSON, and the
/// keys of the items it showed lately.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredRhythm {
    pub json: String,
    pub keys: Vec<u64>,
}

impl SourceState {
    /// The state of a source the store does not know yet: never polled.
    pub fn blank(source: &Source) -> SourceState {
        SourceState {
            id: source.id.clone(),
            url: crate::model::redacted_url(&source.url),
            name: source.name.clone(),
            last_polled_at: None,
            last_ok_at: None,
            last_status: None,
            last_error: None,
            last_http_status: None,
            last_duration_ms: None,
            last_bytes: None,
            consecutive_failures: 0,
            validators: Validators::default(),
            body_hash: None,
            next_poll_at: None,
            interval_hint: None,
            effective_url: None,
            moved_to: None,
            moved_count: 0,
            rhythm: None,
            gaps: 0,
            last_gap_at: None,
        }
    }

    /// The status to show for the source: how its last poll ended, `new`
    /// before the first, or `removed` when the config no longer lists it
    /// (`configured` is false).
    pub fn shown_status(&self, configured: bool) -> String {
        match (configured, &self.last_status) {
            (false, _) => "removed".to_owned(),
            (true, Some(status)) => status.clone(),
            (true, None) => "new".to_owned(),
        }
    }
}

/// Items a source sent again under new ids, recognised by their content and
/// not stored again (see `merge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeats {
    pub items: u64,
    pub last_at: Option<DateTime<Utc>>,
}

/// How a poll ended, as recorded on the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// A new body, parsed and stored.
    Ok,
    /// `304 Not Modified`: nothing parsed or written.
    NotModified,
    /// The same body as last time: nothing parsed or written.
    Unchanged,
    /// `410 Gone`.
    Gone,
    /// Any other failure.
    Error,
    /// This machine ran out of something the poll needed (descriptors,
    /// memory, disk): shown on the source, never counted against it (#20).
    Local,
}

impl PollStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not_modified",
            PollStatus::Unchanged => "unchanged",
            PollStatus::Gone => "gone",
            PollStatus::Error => "error",
            PollStatus::Local => "local_error",
        }
    }

    /// The poll did not get the source's feed.
    fn failed(self) -> bool {
        matches!(
            self,
            PollStatus::Gone | PollStatus::Error | PollStatus::Local
        )
    }

    /// The poll failed through the source's fault, and counts towards its
    /// backoff.
    fn counts_against(self) -> bool {
        matches!(self, PollStatus::Gone | PollStatus::Error)
    }
}

/// What one poll recorded on its source, written with its items in one
/// transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRecord {
    pub at: DateTime<Utc>,
    pub status: PollStatus,
    pub error: Option<String>,
    pub http_status: Option<u16>,
    pub duration_ms: u64,
    pub bytes: Option<u64>,
    pub next_poll_at: DateTime<Utc>,
    /// Replaces the stored validators when `Some`.
    pub validators: Option<Validators>,
    /// Replaces the stored body hash when `Some`.
    pub body_hash: Option<ContentHash>,
    /// Replaces the stored interval hint when `Some`.
    pub interval_hint: Option<std::time::Duration>,
    /// The redirect bookkeeping after this poll.
    pub effective_url: Option<String>,
    pub moved_to: Option<String>,
    pub moved_count: u32,
    /// Replaces the stored rhythm when `Some`.
    pub rhythm: Option<StoredRhythm>,
    /// This poll found a gap.
    pub gap: bool,
}

impl Store {
    /// Makes the `sources` table match the configured sources' names, URLs,
    /// priorities and tags. Sources no longer configured keep their rows and
    /// items.
    pub fn sync_sources(&self, sources: &[Source]) -> Result<(), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO sources (id, name, url, priority, tags) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET
                    name = excluded.name, priority = excluded.priority, tags = excluded.tags,
                    -- a new URL in the config starts afresh: no validators,
                    -- no redirect bookkeeping, due at once
                    etag = iif(url = excluded.url, etag, NULL),
                    last_modified = iif(url = excluded.url, last_modified, NULL),
                    body_hash = iif(url = excluded.url, body_hash, NULL),
                    effective_url = iif(url = excluded.url, effective_url, NULL),
                    moved_to = iif(url = excluded.url, moved_to, NULL),
                    moved_count = iif(url = excluded.url, moved_count, 0),
                    next_poll_at = iif(url = excluded.url, next_poll_at, NULL),
                    rhythm = iif(url = excluded.url, rhythm, NULL),
                    seen_keys = iif(url = excluded.url, seen_keys, NULL),
                    url = excluded.url",
            )?;
            for s in sources {
                upsert.execute(params![
                    s.id.as_str(),
                    s.name,
                    // As pages and the CLI show it: a password in the URL
                    // never reaches the database (#18).
                    crate::model::redacted_url(&s.url),
                    s.priority,
                    to_json(&s.tags),
                ])?;
            }
        }
        tx.commit()?;
        self.bump_generation(Utc::now());
        Ok(())
    }

    /// The recorded poll state of every source in the store, by id.
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!("{SOURCE_STATE_SELECT} ORDER BY id"))?;
        let rows = stmt.query_map([], source_state)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The recorded poll state of one source.
    pub fn source_state(&self, id: &SourceId) -> Result<Option<SourceState>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!("{SOURCE_STATE_SELECT} WHERE id = ?1"))?;
        Ok(stmt.query_row([id.as_str()], source_state).optional()?)
    }

    /// Records on `source` that its poll at `at` could not be stored for a
    /// reason of this machine's (a full disk): the operator sees it where
    /// they look (`sources`, /sources.json, the status page), and the
    /// source is not counted as failing. A one-row update: when the disk
    /// has no room even for that, the store's reserve (`reserve.rs`) is
    /// given back and it is tried once more; when even that fails, the
    /// caller logs it.
    pub fn record_local_error(
        &self,
        source: &SourceId,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let conn = self.writer();
        let record = || {
            conn.prepare_cached(
                "UPDATE sources SET last_polled_at = ?2, last_status = 'local_error',
                    last_error = ?3
                 WHERE id = ?1",
            )?
            .execute(params![source.as_str(), at.timestamp(), reason])
            .map_err(StoreError::from)
        };
        match record() {
            Err(e) if e.kind() == StoreErrorKind::Full && self.inner.reserve.release() => record()?,
            other => other?,
        };
        self.bump_generation(at);
        Ok(())
    }

    /// How many items each source's keep/block rules hold back, for the
    /// sources with any (#18).
    pub fn blocked_counts(&self) -> Result<Vec<(SourceId, u64)>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT source_id, count(*) FROM blocked_items GROUP BY source_id ORDER BY source_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                SourceId::new(r.get::<_, String>(0)?),
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The sources that sent items again under new ids (ids that churn,
    /// #21): how many such items, and when last, by source id.
    pub fn repeats(&self) -> Result<Vec<(SourceId, Repeats)>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, repeats, repeated_at FROM sources WHERE repeats > 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                SourceId::new(r.get::<_, String>(0)?),
                Repeats {
                    items: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    last_at: r.get::<_, Option<i64>>(2)?.map(from_unix),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl PollTx<'_> {
    /// Records how the poll of `source` went.
    pub fn record_poll_state(
        &self,
        source: &SourceId,
        record: &PollRecord,
    ) -> Result<(), StoreError> {
        let failed = record.status.failed();
        let validators = record.validators.as_ref();
        self.tx
            .prepare_cached(
                "UPDATE sources SET
                    last_polled_at = ?2,
                    last_ok_at = iif(?3, last_ok_at, ?2),
                    last_status = ?4,
                    last_error = ?5,
                    last_http_status = ?6,
                    last_duration_ms = ?7,
                    last_bytes = ?8,
                    consecutive_failures = iif(?21, consecutive_failures + 1,
                        iif(?3, consecutive_failures, 0)),
                    next_poll_at = ?9,
                    etag = iif(?10, ?11, etag),
                    last_modified = iif(?10, ?12, last_modified),
                    body_hash = coalesce(?13, body_hash),
                    interval_hint = coalesce(?14, interval_hint),
                    effective_url = ?15,
                    moved_to = ?16,
                    moved_count = ?17,
                    rhythm = coalesce(?18, rhythm),
                    seen_keys = iif(?18 IS NULL, seen_keys, ?19),
                    gaps = gaps + ?20,
                    last_gap_at = iif(?20, ?2, last_gap_at)
                 WHERE id = ?1",
            )?
            .execute(params![
                source.as_str(),
                record.at.timestamp(),
                failed,
                record.status.as_str(),
                record.error,
                record.http_status,
                i64::try_from(record.duration_ms).unwrap_or(i64::MAX),
                record.bytes.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
                record.next_poll_at.timestamp(),
                validators.is_some(),
                validators.and_then(|v| v.etag.as_deref()),
                validators.and_then(|v| v.last_modified.as_deref()),
                record.body_hash.as_ref().map(|h| &h[..]),
                record
                    .interval_hint
                    .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
                record.effective_url,
                record.moved_to,
                record.moved_count,
                record.rhythm.as_ref().map(|r| r.json.as_str()),
                record.rhythm.as_ref().map(|r| keys_blob(&r.keys)),
                record.gap,
                record.status.counts_against(),
            ])?;
        Ok(())
    }
}

const SOURCE_STATE_SELECT: &str = "SELECT id, url, name, last_polled_at, last_ok_at, last_status,
        last_error, last_http_status, last_duration_ms, last_bytes, consecutive_failures, etag,
        last_modified, body_hash, next_poll_at, interval_hint, effective_url, moved_to, moved_count,
        rhythm, seen_keys, gaps, last_gap_at
    FROM sources";

/// The keys as the store keeps them: 8 bytes each, little endian.
fn keys_blob(keys: &[u64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_le_bytes()).collect()
}

fn keys_from_blob(blob: &[u8]) -> Vec<u64> {
    blob.chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect()
}

fn source_state(r: &Row<'_>) -> rusqlite::Result<SourceState> {
    let hash: Option<Vec<u8>> = r.get(13)?;
    Ok(SourceState {
        id: SourceId::new(r.get::<_, String>(0)?),
        url: r.get(1)?,
        name: r.get(2)?,
        last_polled_at: r.get::<_, Option<i64>>(3)?.map(from_unix),
        last_ok_at: r.get::<_, Option<i64>>(4)?.map(from_unix),
        last_status: r.get(5)?,
        last_error: r.get(6)?,
        last_http_status: r.get(7)?,
        last_duration_ms: r
            .get::<_, Option<i64>>(8)?
            .and_then(|v| u64::try_from(v).ok()),
        last_bytes: r
            .get::<_, Option<i64>>(9)?
            .and_then(|v| u64::try_from(v).ok()),
        consecutive_failures: r.get(10)?,
        validators: Validators {
            etag: r.get(11)?,
            last_modified: r.get(12)?,
        },
        body_hash: hash.and_then(|h| h.try_into().ok()),
        next_poll_at: r.get::<_, Option<i64>>(14)?.map(from_unix),
        interval_hint: r
            .get::<_, Option<i64>>(15)?
            .and_then(|s| u64::try_from(s).ok())
            .map(std::time::Duration::from_secs),
        effective_url: r.get(16)?,
        moved_to: r.get(17)?,
        moved_count: r.get(18)?,
        rhythm: r.get::<_, Option<String>>(19)?.map(|json| StoredRhythm {
            json,
            keys: r
                .get::<_, Option<Vec<u8>>>(20)
                .ok()
                .flatten()
                .map(|b| keys_from_blob(&b))
                .unwrap_or_default(),
        }),
        gaps: r.get(21)?,
        last_gap_at: r.get::<_, Option<i64>>(22)?.map(from_unix),
    })
}
