//! The store: the only code that speaks SQL, and the only `rusqlite` user.
//!
//! One method per question the daemon asks, returning model types. The
//! schema lives in `migrations/` as numbered SQL files, applied in order at
//! open inside one transaction and recorded in `PRAGMA user_version`; a
//! database written by a newer wiredesk is refused rather than guessed at.
//!
//! Connections: one writer and one reader, each behind a `std::sync::Mutex`.
//! SQLite allows one writer at a time anyway, and a single writer connection
//! never meets `SQLITE_BUSY` from itself; under WAL the reader sees the last
//! committed state while a poll writes, so serving never waits for a poll.
//! The mutexes are never held across an `.await`: async code goes through
//! [`Store::run`], which moves the blocking call to tokio's blocking pool.

mod checkpoint;
mod feed;
mod migrations;
mod retention;
mod write;

/// For unit tests across the crate.
#[cfg(test)]
pub(crate) mod testing {
    use super::Store;
    use crate::model::{Source, SourceId};

    /// A store in a new temporary folder (kept alive by the first value)
    /// with the sources `agency` and `outlet`: named `AGENCY` and `OUTLET`,
    /// tagged `agency-tag` and `outlet-tag`.
    pub fn agency_and_outlet() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let sources: Vec<Source> = ["agency", "outlet"]
            .iter()
            .map(|id| Source {
                id: SourceId::new(*id),
                name: id.to_uppercase(),
                url: url::Url::parse(&format!("https://{id}.example/feed")).unwrap(),
                interval: std::time::Duration::from_secs(600),
                priority: 0,
                tags: vec![format!("{id}-tag")],
            })
            .collect();
        store.sync_sources(&sources).unwrap();
        (dir, store)
    }
}

pub use retention::{PRUNE_BATCH, PruneSummary};
pub use write::{ExistingItem, PollTx, StoredDates};

pub use feed::{FeedPage, FeedQuery, FeedQueryError, PageKey};

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::model::{
    ContentHash, Enclosure, Item, Source, SourceId, StoredItem, Story, StoryId, Validators,
};

/// What went wrong in the store. The message is for a person; callers branch
/// on the variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {reason}")]
    Open { path: String, reason: String },
    #[error(
        "the database {path} has schema version {found}, newer than this wiredesk knows ({known}); \
         use a newer wiredesk or another database file"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("database migration {version} failed: {reason}")]
    Migration { version: i64, reason: String },
    #[error("database error: {0}")]
    Sql(String),
    #[error("the store's worker failed: {0}")]
    Worker(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(e.to_string())
    }
}

/// What one poll's write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Items new to the store.
    pub new: usize,
    /// Stored items whose fields changed.
    pub updated: usize,
    /// New items that joined a story that already existed.
    pub merged: usize,
    /// Items skipped because retention deleted them before.
    pub tombstoned: usize,
}

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
}

impl SourceState {
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
}

impl PollStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not_modified",
            PollStatus::Unchanged => "unchanged",
            PollStatus::Gone => "gone",
            PollStatus::Error => "error",
        }
    }

    fn failed(self) -> bool {
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
}

/// Sizes, for health and status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub sources: i64,
    pub items: i64,
    pub stories: i64,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    generation: feed::Generation,
    checkpoints: checkpoint::Checkpoints,
    /// The latest arrival time stored (Unix seconds): what is stored next
    /// arrives no earlier (see `PollTx::arrive`).
    arrival: std::sync::atomic::AtomicI64,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let display = path.display().to_string();
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: display.clone(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(StoreError::Open {
                path: display,
                reason: format!("the folder {} does not exist", dir.display()),
            });
        }
        let mut writer = Connection::open(path).map_err(open_err)?;
        // SQLite opens a write-protected file read-only without a word; the
        // first write then failed with "attempt to write a readonly
        // database", naming no file (issue #9). Say which file, at once.
        if writer.is_readonly(rusqlite::MAIN_DB).map_err(open_err)? {
            return Err(StoreError::Open {
                path: display,
                reason: "the file is read-only, and wiredesk must write to it".into(),
            });
        }
        configure(&writer).map_err(open_err)?;
        // The writer's page cache holds a group of polls' changes (see
        // `merge::group`) without spilling them to the WAL before the commit,
        // and the upper levels of the indexes dedup looks candidates up in.
        // With SQLite's default (2 MB) a cold poll of 500 sources spent a
        // third of its time in reads and writes of pages it had just had.
        writer
            .execute_batch("PRAGMA cache_size = -8192;")
            .map_err(open_err)?;
        // Lets retention give pages back (`PRAGMA incremental_vacuum`). It
        // takes effect only on a new, empty database, which is when it runs
        // first.
        writer
            .execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")
            .map_err(open_err)?;
        // WAL is a property of the file: set once, by the writer.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the database could not switch to WAL mode");
        }
        migrations::apply(&mut writer, &display)?;
        let arrival: i64 = writer
            .query_row(
                "SELECT max(coalesce((SELECT max(arrived_at) FROM stories), 0),
                            coalesce((SELECT max(first_seen) FROM items), 0))",
                [],
                |r| r.get(0),
            )
            .map_err(open_err)?;
        let reader = Connection::open(path).map_err(open_err)?;
        configure(&reader).map_err(open_err)?;
        let checkpointer = Connection::open(path).map_err(open_err)?;
        configure(&checkpointer).map_err(open_err)?;
        let checkpoints =
            checkpoint::Checkpoints::start(&mut writer, checkpointer).map_err(open_err)?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                generation: feed::Generation::new(Utc::now()),
                checkpoints,
                arrival: std::sync::atomic::AtomicI64::new(arrival),
            }),
        })
    }

    /// Runs a blocking store call from async code on tokio's blocking pool.
    /// This is the store's one async seam.
    pub async fn run<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Worker(e.to_string()))?
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.inner
            .reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

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
                    url = excluded.url",
            )?;
            for s in sources {
                upsert.execute(params![
                    s.id.as_str(),
                    s.name,
                    s.url.as_str(),
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
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!("{SOURCE_STATE_SELECT} ORDER BY id"))?;
        let rows = stmt.query_map([], source_state)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The recorded poll state of one source.
    pub fn source_state(&self, id: &SourceId) -> Result<Option<SourceState>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(&format!("{SOURCE_STATE_SELECT} WHERE id = ?1"))?;
        Ok(stmt.query_row([id.as_str()], source_state).optional()?)
    }

    /// The `limit` stories that arrived last, newest first, each with all
    /// its copies.
    pub fn latest_stories(&self, limit: usize) -> Result<Vec<Story>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "WITH page AS (
                SELECT id, uid, arrived_at FROM stories
                ORDER BY arrived_at DESC, id DESC LIMIT ?1
             )
             SELECT page.id, page.uid, i.id, i.identity, i.title, i.link, i.published,
                    i.updated, i.author, i.summary, i.content, i.categories, i.enclosures,
                    i.first_seen, s.id, s.name, s.url, s.priority, s.tags, i.changed_at,
                    page.arrived_at
             FROM page
             JOIN items i ON i.story_id = page.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.arrived_at DESC, page.id DESC, i.id",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query([limit])?;
        let mut stories = Vec::new();
        let mut current: Option<(StoryId, String, DateTime<Utc>, Vec<StoredItem>)> = None;
        while let Some(row) = rows.next()? {
            let story_id: StoryId = row.get(0)?;
            let copy = stored_item(row)?;
            match &mut current {
                Some((id, _, _, copies)) if *id == story_id => copies.push(copy),
                _ => {
                    if let Some((id, uid, arrived, copies)) = current.take() {
                        stories.extend(Story::from_copies(id, uid, arrived, copies));
                    }
                    let arrived = from_unix(row.get(20)?);
                    current = Some((story_id, row.get(1)?, arrived, vec![copy]));
                }
            }
        }
        if let Some((id, uid, arrived, copies)) = current {
            stories.extend(Story::from_copies(id, uid, arrived, copies));
        }
        Ok(stories)
    }

    /// The size of the database's main file in bytes (pages × page size;
    /// the WAL is not counted).
    pub fn database_bytes(&self) -> Result<i64, StoreError> {
        let conn = self.reader();
        let bytes = conn.query_row(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        )?;
        Ok(bytes)
    }

    /// How many sources, items and stories are stored (for `/healthz` and
    /// `/metrics`: no count of the boilerplate table, a full scan of over
    /// 100 MB at a million items).
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let conn = self.reader();
        let counts = conn.query_row(
            "SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM items),
                    (SELECT count(*) FROM stories)",
            [],
            |r| {
                Ok(Counts {
                    sources: r.get(0)?,
                    items: r.get(1)?,
                    stories: r.get(2)?,
                })
            },
        )?;
        Ok(counts)
    }

    /// Paragraphs counted for boilerplate learning (rows of its table).
    pub fn boilerplate_rows(&self) -> Result<i64, StoreError> {
        Ok(self
            .reader()
            .query_row("SELECT count(*) FROM dedup_boilerplate", [], |r| r.get(0))?)
    }
}

const SOURCE_STATE_SELECT: &str = "SELECT id, url, name, last_polled_at, last_ok_at, last_status,
        last_error, last_http_status, last_duration_ms, last_bytes, consecutive_failures, etag,
        last_modified, body_hash, next_poll_at, interval_hint, effective_url, moved_to, moved_count
    FROM sources";

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
    })
}

/// Settings every connection needs (`foreign_keys` is per connection).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;",
    )
}

/// Reads the item columns of `latest_stories` and `feed_page` (columns 2
/// to 19: `i.id, i.identity, i.title, i.link, i.published, i.updated,
/// i.author, i.summary, i.content, i.categories, i.enclosures, i.first_seen,
/// s.id, s.name, s.url, s.priority, s.tags, i.changed_at`).
fn stored_item(r: &Row<'_>) -> rusqlite::Result<StoredItem> {
    Ok(StoredItem {
        id: r.get(2)?,
        item: Item {
            identity: r.get(3)?,
            title: r.get(4)?,
            link: r.get(5)?,
            published: r.get::<_, Option<i64>>(6)?.map(from_unix),
            updated: r.get::<_, Option<i64>>(7)?.map(from_unix),
            author: r.get(8)?,
            summary: r.get(9)?,
            content: r.get(10)?,
            categories: from_json(&r.get::<_, String>(11)?),
            enclosures: from_json::<Vec<Enclosure>>(&r.get::<_, String>(12)?),
        },
        first_seen: from_unix(r.get(13)?),
        source_id: SourceId::new(r.get::<_, String>(14)?),
        source_name: r.get(15)?,
        source_url: r.get(16)?,
        source_priority: r.get(17)?,
        source_tags: from_json(&r.get::<_, String>(18)?),
        changed_at: from_unix(r.get(19)?),
    })
}

fn from_unix(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).single().unwrap_or_default()
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

/// Lists stored as JSON; a damaged value reads as empty rather than failing
/// the whole page.
fn from_json<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_default()
}
