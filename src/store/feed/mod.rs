//! The questions `serve` asks: one page of the merged feed (or of every
//! copy), filtered and keyset-paged, and the generation counter that tells
//! whether anything served can have changed.
//!
//! The feed is in arrival order: newest-stored first, whatever date a story
//! carries (#14). Feed readers fetch only the first page, so a story that
//! arrives with an old date must still land on it, or it is never
//! delivered. Arrival times never go back (the writer holds them at the
//! latest stored if the clock steps back), and a copy joining a story does
//! not move it, so a story's place never changes once stored.
//!
//! Paging is keyset on (arrival, id), newest first, never `OFFSET`: a page
//! ends at a [`PageKey`], and the next page is everything that arrived
//! before it. Stories that arrive while a reader walks the pages land
//! before the first page, so a walk returns every story stored when it
//! began exactly once.

mod plan;
mod sql;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params_from_iter};

use super::{Store, StoreError, from_unix, stored_item};
use crate::model::{SourceId, StoredItem, Story, StoryId};
use plan::{FilterPlan, Plans, SearchPlan, search_plan, source_plan, stored_items, tag_plan};
use sql::page_sql;

/// A counter bumped by every write that changes what the feed serves, and
/// the time of that write. It lives in memory only: a restart begins a new
/// count, which `serve` treats as "may have changed".
#[derive(Debug)]
pub(super) struct Generation {
    value: AtomicU64,
    changed_at: AtomicI64,
    /// Told the new value at every bump, for those who wait for a change
    /// (the hub's distribution) rather than read the counter when asked.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Generation {
    pub(super) fn new(now: DateTime<Utc>) -> Generation {
        Generation {
            value: AtomicU64::new(0),
            changed_at: AtomicI64::new(now.timestamp()),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }
}

/// A position in the feed's order (newest first): a page ends at one, and
/// the next page starts strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// Unix seconds: when the story (or, with `copies`, the item) arrived.
    pub date: i64,
    /// The story id, or the item id with `copies`.
    pub id: i64,
}

/// What a reader asked for. Validated by `serve` before it gets here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedQuery {
    /// Entries per page (at least 1).
    pub limit: usize,
    /// Only stories with a copy from one of these sources (none: all).
    pub sources: Vec<SourceId>,
    /// Only stories with a copy whose source tags or categories hold this
    /// tag (ASCII case-insensitive).
    pub tag: Option<String>,
    /// An FTS5 query over the title, summary and content of every copy (a
    /// word with punctuation inside is read as a phrase, see
    /// `sql::fts_expression`).
    pub search: Option<String>,
    /// Only stories (or items, with `copies`) that arrived at or after
    /// this time, whatever date they carry.
    pub since: Option<DateTime<Utc>>,
    /// Every item on its own, not merged into stories.
    pub copies: bool,
    /// Start strictly after this position.
    pub after: Option<PageKey>,
}

/// Stories on a page unless a reader asks for another number. Feed
/// readers fetch only the first page, so it is how many new stories a
/// reader can miss none of between two fetches (#14): 100 keeps a reader
/// that refreshes hourly complete at 100 new stories an hour. Twice the
/// former 50 costs twice the bytes and render time of a changed page
/// (bench/README.md, "Page size"); a 304 costs the same.
pub const DEFAULT_PAGE: usize = 100;

impl Default for FeedQuery {
    fn default() -> Self {
        FeedQuery {
            limit: DEFAULT_PAGE,
            sources: Vec::new(),
            tag: None,
            search: None,
            since: None,
            copies: false,
            after: None,
        }
    }
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// Newest-arrived first. With `copies`, each "story" holds one item as its
    /// chosen copy and no others (its id and uid are the story's it belongs to).
    pub stories: Vec<Story>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageKey>,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeedQueryError {
    /// The search is not a valid FTS5 query; the message says why.
    #[error("{0}")]
    BadSearch(String),
    /// Reading the page took longer than its budget and was stopped.
    #[error("the query ran longer than {} s and was stopped", .0.as_secs_f32())]
    TooSlow(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for FeedQueryError {
    fn from(e: rusqlite::Error) -> Self {
        FeedQueryError::Store(e.into())
    }
}

impl Store {
    /// The generation of what is served: it changes after every write that
    /// can change a feed, and only then. Reading it never touches the database.
    pub fn generation(&self) -> u64 {
        self.inner.generation.value.load(Ordering::Acquire)
    }

    /// When the served data last changed (or the store was opened).
    pub fn last_change(&self) -> DateTime<Utc> {
        from_unix(self.inner.generation.changed_at.load(Ordering::Acquire))
    }

    /// Records that what is served changed at `now`. The time is stored
    /// before the counter is bumped, so a reader that sees the new
    /// generation also sees its time.
    pub(super) fn bump_generation(&self, now: DateTime<Utc>) {
        let g = &self.inner.generation;
        g.changed_at.fetch_max(now.timestamp(), Ordering::AcqRel);
        let value = g.value.fetch_add(1, Ordering::AcqRel) + 1;
        g.changes.send_replace(value);
    }

    /// A receiver that wakes after each change of what is served (each
    /// bump of [`Store::generation`]); cheap, never touches the database.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.generation.changes.subscribe()
    }

    /// One page of the merged feed (or of every copy, with `query.copies`),
    /// read within [`QUERY_BUDGET`].
    pub fn feed_page(&self, query: &FeedQuery) -> Result<FeedPage, FeedQueryError> {
        self.feed_page_within(query, QUERY_BUDGET)
    }

    /// [`Store::feed_page`], cut off once it has run for `budget`: SQLite
    /// asks a progress handler every few thousand steps of its program, and
    /// the handler stops the query past the deadline.
    pub(crate) fn feed_page_within(
        &self,
        query: &FeedQuery,
        budget: Duration,
    ) -> Result<FeedPage, FeedQueryError> {
        let mut conn = self.reader()?;
        let deadline = Instant::now() + budget;
        conn.progress_handler(PROGRESS_STEPS, Some(move || Instant::now() > deadline))
            .map_err(StoreError::from)?;
        let page = read_page(&conn, query);
        // The connection goes back to the pool: a read without a page's
        // budget must not be cut off by this one's.
        conn.progress_handler(0, None::<fn() -> bool>)
            .map_err(StoreError::from)?;
        page.map_err(|e| {
            if interrupted(&e) {
                FeedQueryError::TooSlow(budget)
            } else {
                e
            }
        })
    }
}

/// How long reading one page may take: the slowest search measured on a
/// store of a million items took 52 ms, a hostile one (`NEAR` of a dozen
/// prefixes) seconds, holding a reader connection all along (#20).
pub const QUERY_BUDGET: Duration = Duration::from_secs(2);

/// Steps of SQLite's program between two looks at the clock (some µs).
const PROGRESS_STEPS: std::ffi::c_int = 1_000;

/// Whether `e` is a query stopped by the progress handler.
fn interrupted(e: &FeedQueryError) -> bool {
    matches!(
        e,
        FeedQueryError::Store(StoreError::Sql(rusqlite::Error::SqliteFailure(f, _)))
            if f.code == rusqlite::ErrorCode::OperationInterrupted
    )
}

/// Reads one page on `conn`.
fn read_page(conn: &Connection, query: &FeedQuery) -> Result<FeedPage, FeedQueryError> {
    let rewritten;
    let query = match query.search.as_deref().map(sql::fts_expression) {
        Some(std::borrow::Cow::Owned(expression)) => {
            rewritten = FeedQuery {
                search: Some(expression),
                ..query.clone()
            };
            &rewritten
        }
        _ => query,
    };
    let maps_sources = !query.copies && !query.sources.is_empty();
    // Every plan weighs its count against the size of the store.
    let stored = if query.search.is_some() || maps_sources || query.tag.is_some() {
        stored_items(conn)?
    } else {
        0.0
    };
    let plan = match &query.search {
        Some(search) => {
            check_search(conn, search)?;
            search_plan(conn, stored, search, query.copies, query.limit)?
        }
        None => SearchPlan::Matches,
    };
    let sources = if maps_sources {
        source_plan(conn, stored, &query.sources)?
    } else {
        FilterPlan::Walk
    };
    let tag = match &query.tag {
        Some(tag) => tag_plan(conn, stored, tag)?,
        None => FilterPlan::Walk,
    };
    let plans = Plans {
        search: plan,
        sources,
        tag,
    };
    let (sql, values) = page_sql(query, plans);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(values))?;
    // (story id, uid, key, copies) in page order.
    let mut groups: Vec<(StoryId, String, PageKey, Vec<StoredItem>)> = Vec::new();
    while let Some(row) = rows.next()? {
        let at = 2 + super::ITEM_COLUMN_COUNT;
        let key = PageKey {
            date: row.get(at)?,
            id: row.get(at + 1)?,
        };
        let copy = stored_item(row)?;
        match groups.last_mut() {
            Some((_, _, last, copies)) if *last == key => copies.push(copy),
            _ => groups.push((row.get(0)?, row.get(1)?, key, vec![copy])),
        }
    }
    let limit = query.limit.max(1);
    let next = if groups.len() > limit {
        groups.truncate(limit);
        groups.last().map(|(_, _, key, _)| *key)
    } else {
        None
    };
    let stories = groups
        .into_iter()
        .filter_map(|(id, uid, key, copies)| {
            Story::from_copies(id, uid, super::from_unix(key.date), copies)
        })
        .collect();
    Ok(FeedPage { stories, next })
}

/// Runs `search` against the index alone, so that a malformed query is told
/// apart from any other failure and answered with SQLite's reason.
fn check_search(conn: &Connection, search: &str) -> Result<(), FeedQueryError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH ?1 LIMIT 1)",
        )
        .map_err(FeedQueryError::from)?;
    match stmt.query_row([search], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(f, m))
            if f.code == rusqlite::ErrorCode::OperationInterrupted =>
        {
            Err(rusqlite::Error::SqliteFailure(f, m).into())
        }
        Err(rusqlite::Error::SqliteFailure(_, Some(message))) => {
            Err(FeedQueryError::BadSearch(message))
        }
        Err(e) => Err(FeedQueryError::BadSearch(e.to_string())),
    }
}
