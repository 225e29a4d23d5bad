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

mod feed;
mod migrations;

pub use feed::{FeedPage, FeedQuery, FeedQueryError, PageKey};

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::model::{
    Candidate, ContentHash, Enclosure, Item, ItemId, NewItem, Source, SourceId, StoredItem, Story,
    StoryId, story_uid,
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
}

/// A source's recorded fetch state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub id: SourceId,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub last_ok_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
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
        configure(&writer).map_err(open_err)?;
        // WAL is a property of the file: set once, by the writer.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "the database could not switch to WAL mode");
        }
        migrations::apply(&mut writer, &display)?;
        let reader = Connection::open(path).map_err(open_err)?;
        configure(&reader).map_err(open_err)?;
        Ok(Store {
            inner: Arc::new(Inner {
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
                generation: feed::Generation::new(Utc::now()),
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
                    name = excluded.name, url = excluded.url,
                    priority = excluded.priority, tags = excluded.tags",
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

    /// The recorded fetch state of every source in the store.
    pub fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, last_polled_at, last_ok_at, last_error, consecutive_failures
             FROM sources ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceState {
                id: SourceId::new(r.get::<_, String>(0)?),
                last_polled_at: r.get::<_, Option<i64>>(1)?.map(from_unix),
                last_ok_at: r.get::<_, Option<i64>>(2)?.map(from_unix),
                last_error: r.get(3)?,
                consecutive_failures: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes the items of one successful poll of `source` in one
    /// transaction: new items are inserted and assigned to a story, changed
    /// items are updated, unchanged items are not written at all.
    ///
    /// `assign` is the dedup decision: given a new item and the stored items
    /// that share its keys, it names the story the item joins, or `None` for
    /// a new story. It runs inside the transaction, so concurrent polls can
    /// never both found a story for the same copy.
    pub fn record_poll_ok<F>(
        &self,
        source: &SourceId,
        now: DateTime<Utc>,
        items: &[NewItem],
        assign: F,
    ) -> Result<WriteSummary, StoreError>
    where
        F: Fn(&NewItem, &[Candidate]) -> Option<StoryId>,
    {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let mut summary = WriteSummary::default();
        for new in items {
            match existing_item(&tx, source, &new.item.identity)? {
                Some(old) if old.matches(new) => {}
                Some(old) => {
                    update_item(&tx, old.id, new, now)?;
                    refresh_story_date(&tx, old.story_id)?;
                    summary.updated += 1;
                }
                None => {
                    let candidates = candidates_for(&tx, &new.content_hash)?;
                    let story = match assign(new, &candidates) {
                        Some(story) => {
                            summary.merged += 1;
                            story
                        }
                        None => insert_story(&tx, source, new, now)?,
                    };
                    insert_item(&tx, source, story, new, now)?;
                    refresh_story_date(&tx, story)?;
                    summary.new += 1;
                }
            }
        }
        tx.execute(
            "UPDATE sources SET last_polled_at = ?2, last_ok_at = ?2, last_status = 'ok',
                    last_error = NULL, consecutive_failures = 0
             WHERE id = ?1",
            params![source.as_str(), now.timestamp()],
        )?;
        tx.commit()?;
        if summary.new + summary.updated > 0 {
            self.bump_generation(now);
        }
        Ok(summary)
    }

    /// Records a failed poll of `source`; its stored items are untouched.
    pub fn record_poll_error(
        &self,
        source: &SourceId,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.writer().execute(
            "UPDATE sources SET last_polled_at = ?2, last_status = 'error', last_error = ?3,
                    consecutive_failures = consecutive_failures + 1
             WHERE id = ?1",
            params![source.as_str(), now.timestamp(), error],
        )?;
        Ok(())
    }

    /// The newest `limit` stories, newest first, each with all its copies.
    pub fn latest_stories(&self, limit: usize) -> Result<Vec<Story>, StoreError> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "WITH page AS (
                SELECT id, uid, sort_date FROM stories
                ORDER BY sort_date DESC, id DESC LIMIT ?1
             )
             SELECT page.id, page.uid, i.id, i.identity, i.title, i.link, i.published,
                    i.updated, i.author, i.summary, i.content, i.categories, i.enclosures,
                    i.first_seen, s.id, s.name, s.url, s.priority, s.tags
             FROM page
             JOIN items i ON i.story_id = page.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.sort_date DESC, page.id DESC, i.id",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query([limit])?;
        let mut stories = Vec::new();
        let mut current: Option<(StoryId, String, Vec<StoredItem>)> = None;
        while let Some(row) = rows.next()? {
            let story_id: StoryId = row.get(0)?;
            let copy = stored_item(row)?;
            match &mut current {
                Some((id, _, copies)) if *id == story_id => copies.push(copy),
                _ => {
                    if let Some((id, uid, copies)) = current.take() {
                        stories.extend(Story::from_copies(id, uid, copies));
                    }
                    current = Some((story_id, row.get(1)?, vec![copy]));
                }
            }
        }
        if let Some((id, uid, copies)) = current {
            stories.extend(Story::from_copies(id, uid, copies));
        }
        Ok(stories)
    }

    /// How many sources, items and stories are stored.
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
}

/// Settings every connection needs (`foreign_keys` is per connection).
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA synchronous = NORMAL;",
    )
}

/// The stored fields of an item, to tell a changed item from an unchanged one.
struct ExistingItem {
    id: ItemId,
    story_id: StoryId,
    content_hash: Vec<u8>,
    title: String,
    link: Option<String>,
    published: Option<i64>,
    updated: Option<i64>,
    author: Option<String>,
    summary: Option<String>,
    content: Option<String>,
    categories: String,
    enclosures: String,
}

impl ExistingItem {
    fn matches(&self, new: &NewItem) -> bool {
        let it = &new.item;
        self.content_hash == new.content_hash
            && self.title == it.title
            && self.link == it.link
            && self.published == it.published.map(|d| d.timestamp())
            && self.updated == it.updated.map(|d| d.timestamp())
            && self.author == it.author
            && self.summary == it.summary
            && self.content == it.content
            && self.categories == to_json(&it.categories)
            && self.enclosures == to_json(&it.enclosures)
    }
}

fn existing_item(
    tx: &Transaction<'_>,
    source: &SourceId,
    identity: &str,
) -> Result<Option<ExistingItem>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, story_id, content_hash, title, link, published, updated, author, summary,
                content, categories, enclosures
         FROM items WHERE source_id = ?1 AND identity = ?2",
    )?;
    let found = stmt
        .query_row(params![source.as_str(), identity], |r| {
            Ok(ExistingItem {
                id: r.get(0)?,
                story_id: r.get(1)?,
                content_hash: r.get(2)?,
                title: r.get(3)?,
                link: r.get(4)?,
                published: r.get(5)?,
                updated: r.get(6)?,
                author: r.get(7)?,
                summary: r.get(8)?,
                content: r.get(9)?,
                categories: r.get(10)?,
                enclosures: r.get(11)?,
            })
        })
        .optional()?;
    Ok(found)
}

fn candidates_for(tx: &Transaction<'_>, hash: &ContentHash) -> Result<Vec<Candidate>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, story_id, source_id, content_hash FROM items
         WHERE content_hash = ?1 ORDER BY id LIMIT 64",
    )?;
    let rows = stmt.query_map([&hash[..]], |r| {
        let bytes: Vec<u8> = r.get(3)?;
        Ok(Candidate {
            item_id: r.get(0)?,
            story_id: r.get(1)?,
            source_id: SourceId::new(r.get::<_, String>(2)?),
            content_hash: bytes.try_into().unwrap_or([0; 32]),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn insert_story(
    tx: &Transaction<'_>,
    source: &SourceId,
    new: &NewItem,
    now: DateTime<Utc>,
) -> Result<StoryId, StoreError> {
    let uid = story_uid(source, &new.item.identity);
    let date = new.item.published.unwrap_or(now).timestamp();
    tx.prepare_cached(
        "INSERT INTO stories (uid, sort_date, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    )?
    .execute(params![uid, date, now.timestamp()])?;
    Ok(tx.last_insert_rowid())
}

fn insert_item(
    tx: &Transaction<'_>,
    source: &SourceId,
    story: StoryId,
    new: &NewItem,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let it = &new.item;
    tx.prepare_cached(
        "INSERT INTO items (source_id, identity, story_id, title, link, published, updated,
                            author, summary, content, categories, enclosures, content_hash,
                            first_seen, changed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        source.as_str(),
        it.identity,
        story,
        it.title,
        it.link,
        it.published.map(|d| d.timestamp()),
        it.updated.map(|d| d.timestamp()),
        it.author,
        it.summary,
        it.content,
        to_json(&it.categories),
        to_json(&it.enclosures),
        &new.content_hash[..],
        now.timestamp(),
    ])?;
    tx.prepare_cached("UPDATE stories SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![story, now.timestamp()])?;
    Ok(())
}

fn update_item(
    tx: &Transaction<'_>,
    id: ItemId,
    new: &NewItem,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let it = &new.item;
    tx.prepare_cached(
        "UPDATE items SET title = ?2, link = ?3, published = ?4, updated = ?5, author = ?6,
                summary = ?7, content = ?8, categories = ?9, enclosures = ?10,
                content_hash = ?11, changed_at = ?12
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        it.title,
        it.link,
        it.published.map(|d| d.timestamp()),
        it.updated.map(|d| d.timestamp()),
        it.author,
        it.summary,
        it.content,
        to_json(&it.categories),
        to_json(&it.enclosures),
        &new.content_hash[..],
        now.timestamp(),
    ])?;
    Ok(())
}

/// A story is dated by its earliest copy, so a late republication never
/// pushes an old story back to the top of the merged feed.
fn refresh_story_date(tx: &Transaction<'_>, story: StoryId) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE stories SET sort_date =
            (SELECT min(coalesce(published, first_seen)) FROM items WHERE story_id = ?1)
         WHERE id = ?1",
    )?
    .execute([story])?;
    Ok(())
}

/// Reads the item columns of `latest_stories` (from column 2 on).
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
