//! The store: the only code that speaks SQL, and the only `rusqlite` user.
//!
//! One method per question the daemon asks, returning model types. The
//! schema lives in `migrations/` as numbered SQL files, applied in order at
//! open inside one transaction and recorded in `PRAGMA user_version`; a
//! database written by a newer wiredesk is refused rather than guessed at.
//!
//! # Map
//!
//! | file | job | methods |
//! |---|---|---|
//! | `mod.rs` | opening, connections, errors | [`Store::open`], [`Store::run`] |
//! | `write.rs` | writing one poll: a transaction dedup asks and writes through | [`Store::write_poll`]; on [`PollTx`]: `existing_item`, `is_tombstoned`, `candidates`, `candidate`, `boilerplate_count`, `observe_boilerplate`, `count_repeats`, `insert_blocked`, `insert_story`, `insert_item`, `update_item`, `set_keys`, `stale_items`, `set_content_hash` |
//! | `sources.rs` | the sources table and each source's poll record | [`Store::sync_sources`], [`Store::source_states`], [`Store::source_state`], [`Store::repeats`], [`Store::blocked_counts`]; `PollTx::record_poll_state` |
//! | `feed/` | reading pages of the merged feed: types and `feed_page` (`mod.rs`), the cost-based plans (`plan.rs`), the SQL, one function per filter (`sql.rs`) | [`Store::feed_page`], [`Store::generation`], [`Store::last_change`], [`Store::changes`] |
//! | `items.rs` | reading items and stories outside a write, and the row mapper pages share | [`Store::latest_stories`], [`Store::counts`], [`Store::database_bytes`], [`Store::boilerplate_rows`], [`Store::dedup_item`], [`Store::unchanged_items`], [`Store::stored_dates`], [`Store::boilerplate_count`], [`Store::story_of_identity`], [`Store::dedup_index_bytes`] |
//! | `desk.rs` | the desk page's questions (#19): items per source, arrivals per hour, the most-copied stories | [`Store::source_activity`], [`Store::arrivals_per_hour`], [`Store::most_copied`] |
//! | `hub.rs` | wiredesk's own WebSub hub (#16): subscriptions, leases, delivery cursors | [`Store::hub_subscribe`], [`Store::hub_subscription`], [`Store::hub_counts`], [`Store::hub_subscriptions`], [`Store::hub_unsubscribe`], [`Store::hub_expire`], [`Store::hub_record_delivery`] |
//! | `retention.rs` | old stories go, tombstones stay, learned boilerplate goes with its items | [`Store::prune`], [`Store::is_tombstoned`], [`Store::learned_paragraphs`] |
//! | `websub.rs` | subscriptions to publishers' WebSub hubs (#16): what the subscriber decided, the pushes counted | [`Store::websub_subscriptions`], [`Store::websub_subscription`], [`Store::websub_by_token`], [`Store::websub_live_until`], [`Store::websub_save`], [`Store::websub_pushed`], [`Store::websub_forget`] |
//! | `readers.rs`, `checkpoint.rs`, `reserve.rs` | the pool of reader connections; WAL checkpoints off the writer; disk space held back for a full disk | — |
//! | `migrations.rs` | the schema's versions | — |
//!
//! # Connections
//!
//! One writer behind a `std::sync::Mutex`, and a pool of reader connections
//! (four, `readers::READERS`). SQLite allows one writer at a time anyway, and a
//! single writer connection never meets `SQLITE_BUSY` from itself; under WAL
//! each reader sees the last committed state while a poll writes, so serving
//! never waits for a poll, and one slow read never waits for another. No
//! connection is held across an `.await`: async code goes through
//! [`Store::run`], which moves the blocking call to tokio's blocking pool;
//! a search goes through [`Store::run_search`], which lets at most
//! `readers::SEARCHES` (half the readers) run at once.
//!
//! # A second backend
//!
//! The seam is this module's public surface: `Store`'s methods and
//! [`PollTx`]'s, which take and return model types and never SQL, rows or
//! `rusqlite` types. A PostgreSQL backend (#22) implements the same methods
//! in a sibling module, and `Store` becomes an enum over the two backends,
//! each method a `match` that forwards. An enum rather than a trait object:
//! `write_poll` takes a closure over the transaction, which a `dyn` trait
//! cannot (generic methods are not object-safe), the set of backends is
//! closed, and one concrete `Store` keeps every caller as it is.

mod checkpoint;
mod desk;
mod feed;
mod hub;
mod items;
mod lock;
mod migrations;
mod readers;
mod reserve;
mod retention;
mod sources;
mod websub;
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
        sources(&["agency", "outlet"])
    }

    /// A store in a new temporary folder with the sources `ids`, each named
    /// and tagged as [`agency_and_outlet`]'s are.
    pub fn sources(ids: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let sources: Vec<Source> = ids
            .iter()
            .map(|id| Source {
                id: SourceId::new(*id),
                name: id.to_uppercase(),
                url: url::Url::parse(&format!("https://{id}.example/feed")).unwrap(),
                interval: std::time::Duration::from_secs(600),
                priority: 0,
                fixed_interval: false,
                headers: Default::default(),
                rules: Default::default(),
                websub: true,
                tags: vec![format!("{id}-tag")],
            })
            .collect();
        store.sync_sources(&sources).unwrap();
        (dir, store)
    }
}

pub use retention::{PRUNE_BATCH, PruneSummary};
pub use write::{ExistingItem, PollTx, StoredDates};

pub use desk::{HourlyArrivals, SourceActivity};
pub use feed::{DEFAULT_PAGE, FeedPage, FeedQuery, FeedQueryError, PageKey};
pub use hub::{HubLimit, HubSubscription};
pub use items::Counts;
pub use lock::WriterLock;

use items::stored_item;
pub(crate) use items::{ITEM_COLUMN_COUNT, ITEM_COLUMNS};
pub use readers::{READERS, SEARCHES};
pub use sources::{PollRecord, PollStatus, Repeats, SourceState, StoredRhythm};
pub use websub::{Phase, Subscription};

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;

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
    /// Another wiredesk holds the database's writer lock ([`WriterLock`]).
    #[error(
        "the database {path} is in use by {holder}: one wiredesk writes to a database at a \
         time; stop the other first (`wiredesk poll` does not run beside a running daemon)"
    )]
    InUse { path: String, holder: String },
    /// SQLite failed a statement; [`StoreError::kind`] tells the usual
    /// causes apart.
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    /// Every search slot ([`SEARCHES`]) stayed taken for a query's budget.
    #[error(
        "every search slot stayed busy for {} s: too many searches at once",
        feed::QUERY_BUDGET.as_secs()
    )]
    SearchesBusy,
    /// Every reader connection stayed busy for the pool's checkout time.
    #[error("no reader connection came free: {0}")]
    NoReader(String),
    #[error("the store's worker failed: {0}")]
    Worker(String),
    /// The store broke a rule of its own (a bug, not the database).
    #[error("store error: {0}")]
    Internal(String),
}

/// What kind of failure a [`StoreError`] is, for a caller that acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The disk or the file system's quota is full: nothing was written.
    Full,
    /// Another process held the database past the busy timeout.
    Busy,
    /// The database file is read-only to this process.
    ReadOnly,
    /// The file is not a database, or is damaged.
    Corrupt,
    /// Anything else.
    Other,
}

impl StoreError {
    pub fn kind(&self) -> StoreErrorKind {
        use rusqlite::ErrorCode as C;
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => match e.code {
                C::DiskFull => StoreErrorKind::Full,
                C::DatabaseBusy | C::DatabaseLocked => StoreErrorKind::Busy,
                C::ReadOnly => StoreErrorKind::ReadOnly,
                C::DatabaseCorrupt | C::NotADatabase => StoreErrorKind::Corrupt,
                _ => StoreErrorKind::Other,
            },
            StoreError::NoReader(_) => StoreErrorKind::Busy,
            _ => StoreErrorKind::Other,
        }
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
    /// New items the source's keep/block rules held back (#18).
    pub blocked: usize,
}

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Connection>,
    readers: readers::Readers,
    generation: feed::Generation,
    checkpoints: checkpoint::Checkpoints,
    /// The latest arrival time stored (Unix seconds): what is stored next
    /// arrives no earlier (see `PollTx::arrive`).
    arrival: std::sync::atomic::AtomicI64,
    /// Learned boilerplate rows at the last retention run; -1 before it.
    learned: std::sync::atomic::AtomicI64,
    /// Disk space held back to record a full disk on a source.
    reserve: reserve::Reserve,
    /// The search slots ([`Store::run_search`]).
    searches: Arc<tokio::sync::Semaphore>,
}

impl Drop for Inner {
    /// The last handle is gone (a clean exit, the end of `wiredesk poll`):
    /// the WAL is folded into the database and emptied, so the database
    /// file alone is complete (a copy of `wiredesk.db` without its `-wal`
    /// held stale data, #20). A failure only leaves the WAL as it was,
    /// which the next open reads.
    fn drop(&mut self) {
        let writer = self.writer.get_mut().unwrap_or_else(|p| p.into_inner());
        let done = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        });
        match done {
            Ok(0) => {}
            Ok(_) => tracing::debug!("the WAL could not be emptied at close: a reader was busy"),
            Err(e) => tracing::debug!(error = %e, "no checkpoint at close"),
        }
    }
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
        let readers = readers::open(path)?;
        let checkpointer = Connection::open(path).map_err(open_err)?;
        configure(&checkpointer).map_err(open_err)?;
        let checkpoints =
            checkpoint::Checkpoints::start(&mut writer, checkpointer).map_err(open_err)?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                readers,
                generation: feed::Generation::new(Utc::now()),
                checkpoints,
                arrival: std::sync::atomic::AtomicI64::new(arrival),
                learned: std::sync::atomic::AtomicI64::new(-1),
                reserve: reserve::Reserve::new(path),
                searches: Arc::new(tokio::sync::Semaphore::new(readers::SEARCHES)),
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

    /// [`Store::run`] for a read whose cost the reader chooses (a search,
    /// `q=`): at most [`SEARCHES`] run at once, waiting here, on the async
    /// side, for a slot. A slot comes free within a query's budget, or the
    /// read is refused ([`StoreError::SearchesBusy`]).
    pub async fn run_search<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let slot = self.inner.searches.clone().acquire_owned();
        let slot = match tokio::time::timeout(feed::QUERY_BUDGET, slot).await {
            Ok(Ok(slot)) => slot,
            // Timed out, or closed (never: the store does not close it).
            Ok(Err(_)) | Err(_) => return Err(StoreError::SearchesBusy),
        };
        self.run(move |store| {
            let _slot = slot;
            f(store)
        })
        .await
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.inner
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A reader connection from the pool, waiting for one to be free.
    fn reader(&self) -> Result<readers::Reader, StoreError> {
        self.inner
            .readers
            .get()
            .map_err(|e| StoreError::NoReader(e.to_string()))
    }
}

/// Settings every connection needs (`foreign_keys` is per connection).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;",
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: std::ffi::c_int) -> StoreError {
        StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            None,
        ))
    }

    #[test]
    fn closing_the_store_leaves_the_database_file_complete() {
        let (dir, store) = testing::agency_and_outlet();
        let wal = dir.path().join("t.db-wal");
        assert!(
            wal.metadata().unwrap().len() > 0,
            "the sources were written"
        );
        drop(store);
        assert_eq!(wal.metadata().map(|m| m.len()).unwrap_or(0), 0);
        let copy = dir.path().join("copy.db");
        std::fs::copy(dir.path().join("t.db"), &copy).unwrap();
        let copied = Store::open(&copy).unwrap();
        assert_eq!(
            copied.counts().unwrap().sources,
            2,
            "the file alone has it all"
        );
    }

    /// SQLite's VM instructions for adding copy `n` of `story`: its
    /// candidate look-up under `keys`, then its insert, as a poll's write
    /// does.
    fn steps_to_add_a_copy(store: &Store, story: i64, n: usize, keys: &[u64]) -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        let steps = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&steps);
        store
            .writer()
            .progress_handler(
                1,
                Some(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                    false
                }),
            )
            .unwrap();
        let source = crate::model::SourceId::new("agency");
        let item = crate::model::Item {
            identity: format!("copy-{n}"),
            title: "Harbour reopens".into(),
            link: Some(format!("https://agency.example/{n}")),
            published: Some(Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()),
            updated: None,
            author: None,
            summary: None,
            content: Some("<p>The harbour reopened on Friday.</p>".into()),
            categories: vec![],
            enclosures: vec![],
        };
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
        store
            .write_poll(|tx| {
                let found = tx.candidates(keys, 0, i64::MAX)?;
                assert!(found.len() <= write::MAX_CANDIDATES);
                tx.insert_item(&source, story, &item, &[], 1, keys, at)
            })
            .unwrap();
        store
            .writer()
            .progress_handler(1, None::<fn() -> bool>)
            .unwrap();
        steps.load(Ordering::Relaxed)
    }

    #[test]
    fn a_copy_costs_the_same_whether_its_story_has_20_copies_or_600() {
        // #20: every copy was indexed, so each new one's candidate look-up
        // walked all the story's copies, and the writer went quadratic.
        let (_dir, store) = testing::sources(&["agency"]);
        let keys: Vec<u64> = (1..=16).collect();
        let at = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
        let source = crate::model::SourceId::new("agency");
        let story = store
            .write_poll(|tx| tx.insert_story(&source, "copy-0", at))
            .unwrap();
        for n in 1..20 {
            steps_to_add_a_copy(&store, story, n, &keys);
        }
        let small = steps_to_add_a_copy(&store, story, 20, &keys);
        for n in 21..600 {
            steps_to_add_a_copy(&store, story, n, &keys);
        }
        let large = steps_to_add_a_copy(&store, story, 600, &keys);
        assert!(
            large < small * 3 / 2,
            "copy 600 took {large} SQLite steps, copy 20 took {small}"
        );
        // The story has all its copies, served and counted.
        assert_eq!(store.counts().unwrap().items, 600);
    }

    #[test]
    fn a_caller_can_tell_a_full_disk_from_a_busy_database() {
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_FULL).kind(),
            StoreErrorKind::Full
        );
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_BUSY).kind(),
            StoreErrorKind::Busy
        );
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_READONLY).kind(),
            StoreErrorKind::ReadOnly
        );
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_NOTADB).kind(),
            StoreErrorKind::Corrupt
        );
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_ERROR).kind(),
            StoreErrorKind::Other
        );
        // The message a person reads is SQLite's, as before.
        assert!(
            failure(rusqlite::ffi::SQLITE_FULL)
                .to_string()
                .starts_with("database error: ")
        );
    }
}
