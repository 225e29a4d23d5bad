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

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{Store, StoreError, from_unix, stored_item};
use crate::model::{SourceId, StoredItem, Story, StoryId};

/// A counter bumped by every write that changes what the feed serves, and
/// the time of that write. It lives in memory only: a restart begins a new
/// count, which `serve` treats as "may have changed".
#[derive(Debug)]
pub(super) struct Generation {
    value: AtomicU64,
    changed_at: AtomicI64,
}

impl Generation {
    pub(super) fn new(now: DateTime<Utc>) -> Generation {
        Generation {
            value: AtomicU64::new(0),
            changed_at: AtomicI64::new(now.timestamp()),
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
    /// An FTS5 query over the title, summary and content of every copy.
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
        g.value.fetch_add(1, Ordering::AcqRel);
    }

    /// One page of the merged feed (or of every copy, with `query.copies`).
    pub fn feed_page(&self, query: &FeedQuery) -> Result<FeedPage, FeedQueryError> {
        let conn = self.reader()?;
        let maps_sources = !query.copies && !query.sources.is_empty();
        // Every plan weighs its count against the size of the store.
        let stored = if query.search.is_some() || maps_sources || query.tag.is_some() {
            stored_items(&conn)?
        } else {
            0.0
        };
        let plan = match &query.search {
            Some(search) => {
                check_search(&conn, search)?;
                search_plan(&conn, stored, search, query.copies, query.limit)?
            }
            None => SearchPlan::Matches,
        };
        let sources = if maps_sources {
            source_plan(&conn, stored, &query.sources)?
        } else {
            FilterPlan::Walk
        };
        let tag = match &query.tag {
            Some(tag) => tag_plan(&conn, stored, tag)?,
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
            let key = PageKey {
                date: row.get(20)?,
                id: row.get(21)?,
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
        Err(rusqlite::Error::SqliteFailure(_, Some(message))) => {
            Err(FeedQueryError::BadSearch(message))
        }
        Err(e) => Err(FeedQueryError::BadSearch(e.to_string())),
    }
}

/// How a search is evaluated; all three give the same page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchPlan {
    /// Every match is found in the index, then mapped to its story, then
    /// sorted: cheap when the words are rare. Mapping a match reads its
    /// item row (~3.5 µs at a million items).
    Matches,
    /// The matches are gathered once into a set; stories (or items) are
    /// walked newest first, and each is kept if one of its item ids is in
    /// the set: no item row is read. Cheap in between: the set costs
    /// ~0.2 µs a match, the walk ~1 µs a story.
    Sieve,
    /// Stories (or items) are walked newest first and each is probed in
    /// the index: cheap when the words are so common that the page fills
    /// after a few probes (~130 µs each), before a set of every match could
    /// be gathered. Mapping a million matches to their stories took 1.7 s
    /// (#8).
    Walk,
}

/// The plan for `search`, by how many items it matches and, when that is
/// many, by what walking would cost, measured on the newest stories (or
/// items, with `copies`).
///
/// Measured on a store of a million items (#8, `examples/store_bench.rs`):
/// - below √(17 × items) matches (~4 000 there) mapping each is cheapest;
/// - above that the sieve costs ~0.25 µs a match, more for several words:
///   a word in 4 % of the items took 143 ms mapped and 25 ms sieved, one in
///   12 % 67 ms walked and 21 ms sieved;
/// - a walk costs 80–330 µs a story probed (more for longer posting
///   lists and for several words), and pays only when the newest stories
///   match densely: a word in 98 % of the items took 160 ms sieved and
///   6.5 ms walked, one in 33 % 80 and 15 ms; but a word in 25 % of the
///   items that the newest stories seldom carry took 104 ms walked and
///   47 ms sieved. So from 100 × √items matches (~100 000 there) the
///   newest [`SAMPLE`] stories are probed (a few ms) and the search walks
///   if that sample says the page would fill within [`WALK_BUDGET`].
///
/// Only a plain search walks: each probe evaluates the query again, and a
/// prefix (`n*`), `NEAR` or a long list of words costs too much to evaluate
/// once per story (160 `n*` took 33 s on 3 000 items). Such a search is
/// sieved when it matches many items.
fn search_plan(
    conn: &Connection,
    stored: f64,
    search: &str,
    copies: bool,
    limit: usize,
) -> Result<SearchPlan, FeedQueryError> {
    let plain = !search.contains('*')
        && !search.to_ascii_uppercase().contains("NEAR")
        && search.split_whitespace().count() <= 8;
    let sieve_from = ((17.0 * stored).sqrt() as i64).max(500);
    let sample_from = if plain {
        ((100.0 * stored.sqrt()) as i64).max(sieve_from)
    } else {
        i64::MAX
    };
    let (matches, sample) = measure(conn, search, copies, sample_from)?;
    Ok(choose_plan(matches, sieve_from, sample, limit))
}

/// About how many items are stored (the highest item id), which the plans
/// weigh their counts against.
fn stored_items(conn: &Connection) -> Result<f64, FeedQueryError> {
    let stored: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM items", [], |r| r.get(0))?;
    Ok(stored as f64)
}

/// How many of the newest stories (or items) are probed to decide whether
/// to walk.
const SAMPLE: i64 = 32;

/// The longest a walk may be expected to take; a sieve past
/// 100 × √items matches costs about this or more.
const WALK_BUDGET: Duration = Duration::from_millis(25);

/// How many items `search` matches, counted up to `sample_from`, and when
/// it reaches that, the sample of the newest stories (or items).
fn measure(
    conn: &Connection,
    search: &str,
    copies: bool,
    sample_from: i64,
) -> Result<(i64, Option<Sample>), FeedQueryError> {
    let matches: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH ?1 LIMIT ?2)",
        )?
        .query_row(rusqlite::params![search, sample_from], |r| r.get(0))?;
    if matches < sample_from {
        return Ok((matches, None));
    }
    let sql = if copies {
        "SELECT count(*) FROM (SELECT i.id FROM items i
                               ORDER BY i.first_seen DESC, i.id DESC
                               LIMIT ?2) s
         WHERE EXISTS (SELECT 1 FROM items_fts WHERE items_fts.rowid = s.id AND items_fts MATCH ?1)"
    } else {
        "SELECT count(*) FROM (SELECT st.id FROM stories st
                               ORDER BY st.arrived_at DESC, st.id DESC LIMIT ?2) s
         WHERE EXISTS (SELECT 1 FROM items f CROSS JOIN items_fts ON items_fts.rowid = f.id
                       WHERE f.story_id = s.id AND items_fts MATCH ?1)"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let started = Instant::now();
    let dense: i64 = stmt.query_row(rusqlite::params![search, SAMPLE], |r| r.get(0))?;
    let sample = Sample {
        matched: dense,
        took: started.elapsed(),
    };
    Ok((matches, Some(sample)))
}

/// What probing the newest [`SAMPLE`] stories found.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// How many of them match.
    matched: i64,
    /// How long probing them took.
    took: Duration,
}

/// The plan for a search that matches `matches` items (counted up to
/// where the sample is taken), given the sample of the newest stories when
/// it was taken. A walk is expected to probe `SAMPLE × (limit + 1) / matched`
/// stories at the sample's cost each.
fn choose_plan(matches: i64, sieve_from: i64, sample: Option<Sample>, limit: usize) -> SearchPlan {
    if matches < sieve_from {
        return SearchPlan::Matches;
    }
    match sample {
        Some(sample) if sample.matched > 0 => {
            let wanted = u32::try_from(limit.saturating_add(1)).unwrap_or(u32::MAX);
            let matched = u32::try_from(sample.matched).unwrap_or(u32::MAX);
            let walk = sample.took.saturating_mul(wanted) / matched;
            if walk <= WALK_BUDGET {
                SearchPlan::Walk
            } else {
                SearchPlan::Sieve
            }
        }
        _ => SearchPlan::Sieve,
    }
}

/// How a page is limited to the stories (or items) with a copy from the
/// chosen sources (`source=`), or carrying a tag (`tag=`: a tag of the
/// item's source, or one of its categories); both plans give the same page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterPlan {
    /// The items that pass are found by an index (the `(source, identity)`
    /// key, `item_tags`) and mapped to their stories, which are then
    /// sorted: cheap when few items pass. Walking for the 100 items of one
    /// source among a million took 2–6 s, reading an item row per story
    /// walked; mapping them, 1 ms; a tag few items carry, 4.4–4.8 s (#8).
    Map,
    /// Stories (or items) are walked newest first, each kept if a copy
    /// passes: cheap when many items pass, as the page fills fast.
    Walk,
}

/// The plans for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plans {
    search: SearchPlan,
    sources: FilterPlan,
    tag: FilterPlan,
}

impl Plans {
    /// Walking for every filter, mapping every search match.
    #[cfg(test)]
    const WALK: Plans = Plans {
        search: SearchPlan::Matches,
        sources: FilterPlan::Walk,
        tag: FilterPlan::Walk,
    };
}

/// Maps when fewer items pass than √(73 × items): where the plans cost
/// about the same (measured on a store of a million items: ~3.5 µs to map
/// an item, ~5 µs to check a story walked; ~8 500 items there). `count`
/// counts the items that pass, up to its second parameter, in an index.
fn filter_plan(
    conn: &Connection,
    stored: f64,
    count: &str,
    value: &str,
) -> Result<FilterPlan, FeedQueryError> {
    let map_below = ((73.0 * stored).sqrt() as i64).max(1000);
    let passing: i64 = conn
        .prepare_cached(count)?
        .query_row(rusqlite::params![value, map_below], |r| r.get(0))?;
    Ok(if passing < map_below {
        FilterPlan::Map
    } else {
        FilterPlan::Walk
    })
}

fn source_plan(
    conn: &Connection,
    stored: f64,
    sources: &[SourceId],
) -> Result<FilterPlan, FeedQueryError> {
    filter_plan(
        conn,
        stored,
        "SELECT count(*) FROM (SELECT 1 FROM items
                               WHERE source_id IN (SELECT value FROM json_each(?1)) LIMIT ?2)",
        &source_list(sources),
    )
}

/// `sources` as the JSON array the SQL reads with `json_each`.
fn source_list(sources: &[SourceId]) -> String {
    serde_json::to_string(&sources.iter().map(SourceId::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

fn tag_plan(conn: &Connection, stored: f64, tag: &str) -> Result<FilterPlan, FeedQueryError> {
    filter_plan(
        conn,
        stored,
        "SELECT count(*) FROM (SELECT 1 FROM item_tags WHERE tag = lower(?1)
                               UNION ALL
                               SELECT 1 FROM items WHERE source_id IN
                                   (SELECT fs.id FROM sources fs, json_each(fs.tags) t
                                    WHERE lower(t.value) = lower(?1))
                               LIMIT ?2)",
        tag,
    )
}

/// The SQL and its parameters for one page. The text depends only on which
/// filters are set (so at most a few dozen statements are cached); values
/// are always bound, never spliced in.
fn page_sql(query: &FeedQuery, plans: Plans) -> (String, Vec<Value>) {
    let plan = plans.search;
    let mut filters: Vec<&str> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let sources = || Value::Text(source_list(&query.sources));
    if query.copies {
        if let Some(key) = query.after {
            filters.push("(i.first_seen, i.id) < (?, ?)");
            values.extend([Value::Integer(key.date), Value::Integer(key.id)]);
        }
        if let Some(since) = query.since {
            filters.push("i.first_seen >= ?");
            values.push(Value::Integer(since.timestamp()));
        }
        if !query.sources.is_empty() {
            filters.push("i.source_id IN (SELECT value FROM json_each(?))");
            values.push(sources());
        }
        if let Some(tag) = &query.tag {
            filters.push(match plans.tag {
                FilterPlan::Map => {
                    "i.id IN (SELECT item_id FROM item_tags WHERE tag = lower(?)
                              UNION ALL
                              SELECT f.id FROM items f WHERE f.source_id IN
                                  (SELECT fs.id FROM sources fs, json_each(fs.tags) t
                                   WHERE lower(t.value) = lower(?)))"
                }
                FilterPlan::Walk => {
                    "(EXISTS (SELECT 1 FROM sources fs, json_each(fs.tags) t
                              WHERE fs.id = i.source_id AND lower(t.value) = lower(?))
                      OR EXISTS (SELECT 1 FROM json_each(i.categories) c
                                 WHERE lower(c.value) = lower(?)))"
                }
            });
            values.extend([Value::Text(tag.clone()), Value::Text(tag.clone())]);
        }
        if let Some(search) = &query.search {
            filters.push(match plan {
                SearchPlan::Matches => "i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)",
                // `+` keeps SQLite from looking each match up in the walk:
                // the set is gathered once and each item tested against it.
                SearchPlan::Sieve => "+i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)",
                SearchPlan::Walk => {
                    "EXISTS (SELECT 1 FROM items_fts WHERE items_fts.rowid = i.id AND items_fts MATCH ?)"
                }
            });
            values.push(Value::Text(search.clone()));
        }
    } else {
        if let Some(key) = query.after {
            filters.push("(st.arrived_at, st.id) < (?, ?)");
            values.extend([Value::Integer(key.date), Value::Integer(key.id)]);
        }
        if let Some(since) = query.since {
            filters.push("st.arrived_at >= ?");
            values.push(Value::Integer(since.timestamp()));
        }
        if !query.sources.is_empty() {
            filters.push(match plans.sources {
                FilterPlan::Map => {
                    "st.id IN (SELECT f.story_id FROM items f
                               WHERE f.source_id IN (SELECT value FROM json_each(?)))"
                }
                FilterPlan::Walk => {
                    "EXISTS (SELECT 1 FROM items f WHERE f.story_id = st.id
                             AND f.source_id IN (SELECT value FROM json_each(?)))"
                }
            });
            values.push(sources());
        }
        if let Some(tag) = &query.tag {
            filters.push(match plans.tag {
                FilterPlan::Map => {
                    "st.id IN (SELECT f.story_id FROM items f WHERE f.id IN
                                   (SELECT item_id FROM item_tags WHERE tag = lower(?))
                               UNION ALL
                               SELECT f.story_id FROM items f WHERE f.source_id IN
                                   (SELECT fs.id FROM sources fs, json_each(fs.tags) t
                                    WHERE lower(t.value) = lower(?)))"
                }
                FilterPlan::Walk => {
                    "EXISTS (SELECT 1 FROM items f JOIN sources fs ON fs.id = f.source_id
                             WHERE f.story_id = st.id
                             AND (EXISTS (SELECT 1 FROM json_each(fs.tags) t
                                          WHERE lower(t.value) = lower(?))
                                  OR EXISTS (SELECT 1 FROM json_each(f.categories) c
                                             WHERE lower(c.value) = lower(?))))"
                }
            });
            values.extend([Value::Text(tag.clone()), Value::Text(tag.clone())]);
        }
        if let Some(search) = &query.search {
            filters.push(match plan {
                SearchPlan::Matches => {
                    "st.id IN (SELECT f.story_id FROM items f WHERE f.id IN
                               (SELECT rowid FROM items_fts WHERE items_fts MATCH ?))"
                }
                // `+` keeps SQLite from seeking every match within each
                // story (6 s at a million items): the set of matches is
                // gathered once and each of the story's item ids tested.
                SearchPlan::Sieve => {
                    "EXISTS (SELECT 1 FROM items f WHERE f.story_id = st.id AND +f.id IN
                             (SELECT rowid FROM items_fts WHERE items_fts MATCH ?))"
                }
                // CROSS JOIN keeps the story's items outermost: otherwise
                // SQLite runs the whole search once per story.
                SearchPlan::Walk => {
                    "EXISTS (SELECT 1 FROM items f CROSS JOIN items_fts ON items_fts.rowid = f.id
                             WHERE f.story_id = st.id AND items_fts MATCH ?)"
                }
            });
            values.push(Value::Text(search.clone()));
        }
    }
    let filter = if filters.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", filters.join(" AND "))
    };
    // One more than asked, to know whether there is a next page.
    let limit = i64::try_from(query.limit.max(1))
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1);
    values.push(Value::Integer(limit));
    let columns = "i.id, i.identity, i.title, i.link, i.published, i.updated, i.author,
                   i.summary, i.content, i.categories, i.enclosures, i.first_seen,
                   s.id, s.name, s.url, s.priority, s.tags, i.changed_at";
    let sql = if query.copies {
        format!(
            "WITH page AS (
                SELECT i.id, i.first_seen AS d FROM items i
                {filter}
                ORDER BY i.first_seen DESC, i.id DESC LIMIT ?
             )
             SELECT st.id, st.uid, {columns}, page.d, page.id
             FROM page
             JOIN items i ON i.id = page.id
             JOIN stories st ON st.id = i.story_id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.d DESC, page.id DESC"
        )
    } else {
        format!(
            "WITH page AS (
                SELECT st.id, st.uid, st.arrived_at FROM stories st
                {filter}
                ORDER BY st.arrived_at DESC, st.id DESC LIMIT ?
             )
             SELECT page.id, page.uid, {columns}, page.arrived_at, page.id
             FROM page
             JOIN items i ON i.story_id = page.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.arrived_at DESC, page.id DESC, i.id"
        )
    };
    (sql, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Item;
    use chrono::TimeZone;

    fn store() -> (tempfile::TempDir, Store) {
        crate::store::testing::agency_and_outlet()
    }

    fn new_item(n: u32, title: &str) -> Item {
        let new = NewItem {
            item: Item {
                identity: format!("id-{n}"),
                title: title.into(),
                link: Some(format!("https://x.example/{n}")),
                published: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, n).unwrap()),
                updated: None,
                author: None,
                summary: None,
                content: Some(format!("<p>{title} body</p>")),
                categories: vec!["Politics".into()],
                enclosures: vec![],
            },
        };
        new.item
    }

    struct NewItem {
        item: Item,
    }

    /// Stores `items` as one poll of `source`: new items found a story each,
    /// changed ones are updated, unchanged ones are left alone.
    fn write(store: &Store, source: &str, items: &[Item]) {
        let source = SourceId::new(source);
        let now = Utc::now();
        store
            .write_poll(|tx| {
                for it in items {
                    match tx.existing_item(&source, &it.identity)? {
                        Some(old) if old.matches(it, &[]) => {}
                        Some(old) => tx.update_item(old.id, it, &[], 0, now)?,
                        None => {
                            let story = tx.insert_story(&source, &it.identity, now)?;
                            tx.insert_item(&source, story, it, &[], 0, &[], now)?;
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn a_write_that_changes_nothing_keeps_the_generation() {
        let (_dir, store) = store();
        let g0 = store.generation();
        write(&store, "agency", &[new_item(1, "One")]);
        let g1 = store.generation();
        assert!(g1 > g0);
        write(&store, "agency", &[new_item(1, "One")]);
        assert_eq!(store.generation(), g1);
    }

    #[test]
    fn a_clock_that_steps_back_never_puts_new_stories_under_old_ones() {
        let (_dir, store) = store();
        let agency = SourceId::new("agency");
        let t = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        let put = |n: u32, now: DateTime<Utc>| {
            let it = new_item(n, &format!("T{n}"));
            store
                .write_poll(|tx| {
                    let story = tx.insert_story(&agency, &it.identity, now)?;
                    tx.insert_item(&agency, story, &it, &[], 0, &[], now)?;
                    Ok(())
                })
                .unwrap();
        };
        put(1, t);
        put(2, t - chrono::Duration::hours(1));
        let page = store.feed_page(&FeedQuery::default()).unwrap();
        let shown: Vec<(String, DateTime<Utc>)> = page
            .stories
            .iter()
            .map(|s| (s.chosen.item.title.clone(), s.arrived))
            .collect();
        assert_eq!(shown, [("T2".to_owned(), t), ("T1".to_owned(), t)]);
        // The same after a restart: the latest arrival is read back.
        drop(store);
        let store = Store::open(&_dir.path().join("t.db")).unwrap();
        store
            .write_poll(|tx| {
                let it = new_item(3, "T3");
                let now = t - chrono::Duration::hours(2);
                let story = tx.insert_story(&agency, &it.identity, now)?;
                tx.insert_item(&agency, story, &it, &[], 0, &[], now)?;
                Ok(())
            })
            .unwrap();
        let page = store.feed_page(&FeedQuery::default()).unwrap();
        assert_eq!(page.stories[0].chosen.item.title, "T3");
        assert_eq!(page.stories[0].arrived, t);
    }

    #[test]
    fn pages_follow_each_other_without_overlap() {
        let (_dir, store) = store();
        let items: Vec<Item> = (1..=5).map(|n| new_item(n, &format!("T{n}"))).collect();
        write(&store, "agency", &items);
        let mut query = FeedQuery {
            limit: 2,
            ..FeedQuery::default()
        };
        let mut titles = Vec::new();
        loop {
            let page = store.feed_page(&query).unwrap();
            titles.extend(page.stories.iter().map(|s| s.chosen.item.title.clone()));
            match page.next {
                Some(key) => query.after = Some(key),
                None => break,
            }
        }
        assert_eq!(titles, ["T5", "T4", "T3", "T2", "T1"]);
    }

    #[test]
    fn search_tag_and_source_filters_narrow_the_page() {
        let (_dir, store) = store();
        write(&store, "agency", &[new_item(1, "Harbour strike ends")]);
        write(&store, "outlet", &[new_item(2, "Election results")]);
        let titles = |q: FeedQuery| -> Vec<String> {
            store
                .feed_page(&q)
                .unwrap()
                .stories
                .into_iter()
                .map(|s| s.chosen.item.title)
                .collect()
        };
        let search = FeedQuery {
            search: Some("strike".into()),
            ..FeedQuery::default()
        };
        assert_eq!(titles(search), ["Harbour strike ends"]);
        let tag = FeedQuery {
            tag: Some("OUTLET-TAG".into()),
            ..FeedQuery::default()
        };
        assert_eq!(titles(tag), ["Election results"]);
        let category = FeedQuery {
            tag: Some("politics".into()),
            copies: true,
            ..FeedQuery::default()
        };
        assert_eq!(titles(category).len(), 2);
        let source = FeedQuery {
            sources: vec![SourceId::new("agency")],
            ..FeedQuery::default()
        };
        assert_eq!(titles(source), ["Harbour strike ends"]);
    }

    #[test]
    fn search_finds_what_items_say_now() {
        let (dir, store) = store();
        write(
            &store,
            "agency",
            &[
                new_item(1, "Harbour strike ends"),
                new_item(2, "Ferry delayed"),
            ],
        );
        // Changed in a later poll.
        write(&store, "agency", &[new_item(1, "Harbour strike continues")]);
        // Written and changed again in one transaction.
        write(
            &store,
            "outlet",
            &[new_item(3, "Bridge closed"), new_item(3, "Bridge reopened")],
        );
        let found = |words: &str| -> Vec<String> {
            let q = FeedQuery {
                search: Some(words.into()),
                ..FeedQuery::default()
            };
            let page = store.feed_page(&q).unwrap();
            page.stories
                .into_iter()
                .map(|s| s.chosen.item.title)
                .collect()
        };
        assert_eq!(found("continues"), ["Harbour strike continues"]);
        assert!(found("ends").is_empty());
        assert_eq!(found("reopened"), ["Bridge reopened"]);
        assert!(found("closed").is_empty());
        assert_eq!(found("ferry"), ["Ferry delayed"]);
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
            .unwrap();
    }

    #[test]
    fn only_items_stored_as_they_are_count_as_unchanged() {
        let (_dir, store) = store();
        let agency = SourceId::new("agency");
        write(&store, "agency", &[new_item(1, "One"), new_item(2, "Two")]);
        let polled = [
            new_item(1, "One"),
            new_item(2, "Two, corrected"),
            new_item(3, "Three"),
        ];
        let same = store.unchanged_items(&agency, &polled, 0).unwrap();
        assert_eq!(same, ["id-1".to_owned()].into_iter().collect());
        // Stored under another normalisation: fingerprinted again.
        assert!(
            store
                .unchanged_items(&agency, &polled, 1)
                .unwrap()
                .is_empty()
        );
        // Another source's item of the same identity is not this one.
        let outlet = SourceId::new("outlet");
        assert!(
            store
                .unchanged_items(&outlet, &polled, 0)
                .unwrap()
                .is_empty()
        );
    }

    /// (item id, page date, page id) of every row of `query` with these
    /// plans (at most 100), and of those after its third entry.
    type Rows = Vec<(i64, i64, i64)>;
    fn whole_and_after_third(
        conn: &Connection,
        query: &mut FeedQuery,
        plans: Plans,
    ) -> (Rows, Rows) {
        let rows = |query: &FeedQuery| -> Rows {
            let (sql, values) = page_sql(query, plans);
            let mut stmt = conn.prepare(&sql).unwrap();
            stmt.query_map(params_from_iter(values), |r| {
                Ok((r.get(2)?, r.get(19)?, r.get(20)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        query.limit = 100;
        query.after = None;
        let all = rows(query);
        let third = all.get(2).map_or(PageKey { date: 0, id: 0 }, |r| PageKey {
            date: r.1,
            id: r.2,
        });
        query.after = Some(third);
        (all, rows(query))
    }

    #[test]
    fn both_search_plans_give_the_same_pages() {
        let (_dir, store) = store();
        let items: Vec<Item> = (1..=30)
            .map(|n| {
                let title = if n % 3 == 0 {
                    "Harbour strike talks"
                } else {
                    "Election count"
                };
                new_item(n, &format!("{title} {n}"))
            })
            .collect();
        write(&store, "agency", &items[..15]);
        write(&store, "outlet", &items[15..]);
        let conn = store.reader().unwrap();
        for (search, copies) in [
            ("strike", false),
            ("strike", true),
            ("count", false),
            ("body", true),
        ] {
            let mut query = FeedQuery {
                search: Some(search.into()),
                copies,
                ..FeedQuery::default()
            };
            let pages: Vec<_> = [SearchPlan::Matches, SearchPlan::Sieve, SearchPlan::Walk]
                .into_iter()
                .map(|search| {
                    let plans = Plans {
                        search,
                        ..Plans::WALK
                    };
                    whole_and_after_third(&conn, &mut query, plans)
                })
                .collect();
            assert!(pages[0].0.len() > 3, "{search}");
            assert_eq!(pages[0], pages[1], "{search}, copies {copies}: sieve");
            assert_eq!(pages[0], pages[2], "{search}, copies {copies}: walk");
        }
        // The words match 10 items, a third of the newest stories; the
        // sample is taken only from `sample_from` matches.
        let (matches, sample) = measure(&conn, "strike", false, 10).unwrap();
        assert_eq!((matches, sample.map(|s| s.matched)), (10, Some(10)));
        let (matches, sample) = measure(&conn, "strike", false, 11).unwrap();
        assert_eq!((matches, sample.map(|s| s.matched)), (10, None));
    }

    #[test]
    fn a_walk_is_taken_only_when_the_sample_says_it_fills_the_page_in_budget() {
        let sample = |matched, ms| {
            Some(Sample {
                matched,
                took: Duration::from_millis(ms),
            })
        };
        // (matches, sample, page size, plan), with sieve_from 100; a
        // sample is taken from 1000 matches.
        let cases = [
            // Few matches: mapped, whatever else.
            (99, sample(32, 0), 50, SearchPlan::Matches),
            // Between: sieved; the sample is not taken there.
            (500, None, 50, SearchPlan::Sieve),
            // Many: 51 stories at 3 ms per 32 probes, every one matching.
            (1000, sample(32, 3), 50, SearchPlan::Walk),
            // A quarter matching at 3 ms: 51 × 3 / 8 = 19 ms, still a walk;
            (1000, sample(8, 3), 50, SearchPlan::Walk),
            // at 9 ms per sample (costly probes), 57 ms: sieved.
            (1000, sample(8, 9), 50, SearchPlan::Sieve),
            // None of the newest stories matching: a walk could go on for ever.
            (1000, sample(0, 0), 50, SearchPlan::Sieve),
            // A longer page needs a longer walk.
            (1000, sample(32, 3), 500, SearchPlan::Sieve),
        ];
        for (matches, sample, limit, plan) in cases {
            assert_eq!(
                choose_plan(matches, 100, sample, limit),
                plan,
                "{matches} matches, {sample:?}, limit {limit}"
            );
        }
    }

    #[test]
    fn both_source_plans_give_the_same_pages() {
        let (_dir, store) = store();
        let items: Vec<Item> = (1..=30)
            .map(|n| new_item(n, &format!("Harbour strike talks {n}")))
            .collect();
        // The outlet carries every third report (in stories of its own:
        // `write` does not merge).
        write(&store, "agency", &items);
        let copies: Vec<Item> = items.iter().step_by(3).cloned().collect();
        write(&store, "outlet", &copies);
        let conn = store.reader().unwrap();
        for (sources, search) in [
            (vec!["outlet"], None),
            (vec!["agency"], None),
            (vec!["agency", "outlet"], None),
            (vec!["outlet"], Some("strike")),
        ] {
            let mut query = FeedQuery {
                sources: sources.iter().map(|s| SourceId::new(*s)).collect(),
                search: search.map(str::to_owned),
                ..FeedQuery::default()
            };
            let pages: Vec<_> = [FilterPlan::Map, FilterPlan::Walk]
                .into_iter()
                .map(|sources| {
                    let plans = Plans {
                        sources,
                        ..Plans::WALK
                    };
                    whole_and_after_third(&conn, &mut query, plans)
                })
                .collect();
            assert!(pages[0].0.len() > 3, "{sources:?}");
            assert_eq!(pages[0], pages[1], "{sources:?} {search:?}");
        }
        // Few items: mapped.
        let outlet = [SourceId::new("outlet")];
        assert_eq!(
            source_plan(&conn, stored_items(&conn).unwrap(), &outlet).unwrap(),
            FilterPlan::Map
        );
    }

    #[test]
    fn both_tag_plans_give_the_same_pages() {
        let (_dir, store) = store();
        let items: Vec<Item> = (1..=30)
            .map(|n| {
                let mut item = new_item(n, &format!("Harbour strike talks {n}"));
                item.categories = match n % 3 {
                    0 => vec!["Harbour".into(), "Politics".into()],
                    1 => vec!["politics".into()],
                    _ => vec![],
                };
                item
            })
            .collect();
        write(&store, "agency", &items[..20]);
        write(&store, "outlet", &items[20..]);
        let conn = store.reader().unwrap();
        for (tag, copies, some) in [
            ("harbour", false, true),
            ("HARBOUR", true, true),
            ("Politics", false, true),
            ("outlet-tag", false, true),
            ("OUTLET-TAG", true, true),
            ("nosuch", false, false),
        ] {
            let mut query = FeedQuery {
                tag: Some(tag.into()),
                copies,
                ..FeedQuery::default()
            };
            let pages: Vec<_> = [FilterPlan::Map, FilterPlan::Walk]
                .into_iter()
                .map(|tag| {
                    let plans = Plans { tag, ..Plans::WALK };
                    whole_and_after_third(&conn, &mut query, plans)
                })
                .collect();
            assert_eq!(pages[0].0.len() > 3, some, "{tag}");
            assert_eq!(pages[0], pages[1], "{tag}, copies {copies}");
        }
        assert_eq!(
            tag_plan(&conn, stored_items(&conn).unwrap(), "harbour").unwrap(),
            FilterPlan::Map
        );
    }

    #[test]
    fn item_tags_follow_the_items_categories() {
        let (dir, store) = store();
        let mut item = new_item(1, "Harbour strike");
        item.categories = vec!["Harbour".into(), "harbour".into(), "Ferry".into()];
        write(&store, "agency", std::slice::from_ref(&item));
        let tags = |store: &Store| -> Vec<String> {
            let conn = store.reader().unwrap();
            let mut stmt = conn
                .prepare("SELECT tag FROM item_tags ORDER BY tag")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(tags(&store), ["ferry", "harbour"]);
        item.categories = vec!["Budget".into()];
        item.title = "Harbour strike ends".into();
        write(&store, "agency", std::slice::from_ref(&item));
        assert_eq!(tags(&store), ["budget"]);
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch("DELETE FROM items").unwrap();
        assert!(tags(&store).is_empty());
    }

    #[test]
    fn a_common_word_the_newest_stories_lack_is_sieved_not_walked() {
        let (_dir, store) = store();
        // The ten oldest items say "strike", the forty newest do not.
        let items: Vec<Item> = (1..=50)
            .map(|n| {
                let title = if n <= 10 {
                    "Harbour strike"
                } else {
                    "Election count"
                };
                new_item(n, &format!("{title} {n}"))
            })
            .collect();
        write(&store, "agency", &items);
        let conn = store.reader().unwrap();
        for copies in [false, true] {
            // Of the 32 newest stories (or items), none says "strike", all
            // say "count".
            let sampled = |search| {
                let (matches, sample) = measure(&conn, search, copies, 10).unwrap();
                (matches, sample.map(|s| s.matched))
            };
            assert_eq!(sampled("strike"), (10, Some(0)), "copies {copies}");
            assert_eq!(sampled("count"), (10, Some(32)), "copies {copies}");
            let (matches, sample) = measure(&conn, "strike", copies, 10).unwrap();
            assert_eq!(
                choose_plan(matches, 5, sample, 50),
                SearchPlan::Sieve,
                "copies {copies}"
            );
        }
        drop(conn);
        let page = store
            .feed_page(&FeedQuery {
                search: Some("strike".into()),
                limit: 3,
                ..FeedQuery::default()
            })
            .unwrap();
        let titles: Vec<&str> = page
            .stories
            .iter()
            .map(|s| s.chosen.item.title.as_str())
            .collect();
        assert_eq!(
            titles,
            ["Harbour strike 10", "Harbour strike 9", "Harbour strike 8"]
        );
    }

    #[test]
    fn a_malformed_search_is_a_bad_search_not_a_store_failure() {
        let (_dir, store) = store();
        for bad in ["\"unclosed", "AND AND", "nosuchcolumn: x", "(a"] {
            let e = store
                .feed_page(&FeedQuery {
                    search: Some(bad.into()),
                    ..FeedQuery::default()
                })
                .unwrap_err();
            assert!(matches!(e, FeedQueryError::BadSearch(_)), "{bad}: {e}");
        }
    }
}
