//! Writing one poll: a transaction through which the dedup step asks its
//! questions (is this item stored? which stored items share its keys? how
//! often has this source repeated a paragraph?) and writes its answers. It
//! all commits together or not at all: a poll cut off half-way leaves
//! nothing half-written.

use std::sync::LazyLock;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Store, StoreError, to_json};
use crate::model::{Candidate, Item, ItemId, SourceId, StoryId, story_uid};

/// The most candidates one lookup returns: a story has a handful of copies,
/// and a key shared by more items than this is too common to tell anything.
pub const MAX_CANDIDATES: usize = 64;

/// Most copies of one story indexed for dedup; a copy beyond them is
/// stored, served and named, but not indexed, so a new item meets at most
/// this many members of a story among its candidates. Every copy used to
/// be indexed: a story read by thousands of sources made each new copy's
/// candidate look-up walk all of them, and the writer quadratic (#20:
/// 5,000 sources of one story, 41 s a poll at ~2,500 copies). The first
/// copies indexed are the story's earliest, which hold its variants (the
/// wire original, the outlets' wrappers, a truncated summary); the
/// development set's stories have at most a few copies, so its
/// precision and recall do not move. A source that repeats a copy beyond
/// these under a new id is then seen as one more copy of the story, not
/// as a repeat.
pub const MAX_INDEXED_COPIES: usize = 16;

/// The most keys one INSERT writes.
const KEYS_PER_INSERT: usize = 32;

/// An open write transaction for one poll.
pub struct PollTx<'c> {
    pub(super) tx: Transaction<'c>,
    /// Whether an item was written: what the merged feed serves changed.
    changed: std::cell::Cell<bool>,
    /// Full-text index work, done just before the commit (migration 6).
    fts: std::cell::RefCell<FtsPending>,
    /// The latest arrival time (Unix seconds) stored so far, this
    /// transaction's included: no story or item arrives before it.
    arrival: std::cell::Cell<i64>,
}

/// What the full-text index must learn before the transaction commits.
#[derive(Default)]
struct FtsPending {
    /// Items inserted or updated: indexed with their stored text.
    index: std::collections::BTreeSet<ItemId>,
    /// Items updated: their old text, as the index has it, to unindex.
    unindex: Vec<(ItemId, String, Option<String>, Option<String>)>,
}

/// The dates stored on an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredDates {
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// The stored fields of an item, to tell a changed item from an unchanged one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingItem {
    pub id: ItemId,
    pub story_id: StoryId,
    content_hash: Vec<u8>,
    title: String,
    link: Option<String>,
    pub(super) published: Option<i64>,
    pub(super) updated: Option<i64>,
    author: Option<String>,
    summary: Option<String>,
    content: Option<String>,
    categories: String,
    enclosures: String,
    /// The dedup normalisation its hash and keys were made with.
    pub dedup_version: u32,
}

impl ExistingItem {
    /// Whether `item`, with `content_hash`, is what is stored.
    pub fn matches(&self, item: &Item, content_hash: &[u8]) -> bool {
        self.content_hash == content_hash && self.same_fields(item)
    }

    /// Whether `item`'s fields are those stored (its content hash aside).
    pub fn same_fields(&self, item: &Item) -> bool {
        self.title == item.title
            && self.link == item.link
            && self.published == item.published.map(|d| d.timestamp())
            && self.updated == item.updated.map(|d| d.timestamp())
            && self.author == item.author
            && self.summary == item.summary
            && self.content == item.content
            && self.categories == to_json(&item.categories)
            && self.enclosures == to_json(&item.enclosures)
    }
}

impl Store {
    /// Runs `f` in one write transaction, committed when `f` returns `Ok`
    /// and rolled back otherwise.
    pub fn write_poll<R>(
        &self,
        f: impl FnOnce(&mut PollTx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.writer();
        let (result, changed) = {
            let mut tx = PollTx {
                tx: conn.transaction()?,
                changed: std::cell::Cell::new(false),
                fts: std::cell::RefCell::new(FtsPending::default()),
                arrival: std::cell::Cell::new(self.inner.arrival.load(Ordering::Acquire)),
            };
            let result = f(&mut tx)?;
            tx.update_fts()?;
            let changed = tx.changed.get();
            let arrival = tx.arrival.get();
            tx.tx.commit()?;
            // Only the writer moves it, under the writer's lock.
            self.inner.arrival.fetch_max(arrival, Ordering::AcqRel);
            (result, changed)
        };
        self.inner.checkpoints.after_commit(&conn);
        self.inner.reserve.hold();
        if changed {
            self.bump_generation(Utc::now());
        }
        Ok(result)
    }
}

impl PollTx<'_> {
    /// Brings the full-text index in step with the items this transaction
    /// wrote, in as few statements as can be: FTS5 writes an index segment
    /// before each statement that follows one that touched it.
    fn update_fts(&self) -> Result<(), StoreError> {
        let pending = self.fts.take();
        for (id, title, summary, content) in &pending.unindex {
            self.tx
                .prepare_cached(
                    "INSERT INTO items_fts (items_fts, rowid, title, summary, content)
                     VALUES ('delete', ?1, ?2, ?3, ?4)",
                )?
                .execute(params![id, title, summary, content])?;
        }
        if !pending.index.is_empty() {
            let ids = to_json(&pending.index);
            self.tx
                .prepare_cached(
                    "INSERT INTO items_fts (rowid, title, summary, content)
                     SELECT id, title, summary, content FROM items
                     WHERE id IN (SELECT value FROM json_each(?1))",
                )?
                .execute([ids])?;
        }
        Ok(())
    }

    /// The stored item of `source` with `identity`, if any.
    pub fn existing_item(
        &self,
        source: &SourceId,
        identity: &str,
    ) -> Result<Option<ExistingItem>, StoreError> {
        existing_item(&self.tx, source, identity)
    }

    /// Stores `item` of `source` as blocked by its rules (#18): never
    /// served nor merged. Whether it was new (a blocked item sent again is
    /// not counted twice).
    pub fn insert_blocked(
        &self,
        source: &SourceId,
        item: &crate::model::Item,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO blocked_items (source_id, identity, title, link, first_seen)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )?;
        let added = stmt.execute(params![
            source.as_str(),
            item.identity,
            item.title,
            item.link,
            now.timestamp()
        ])?;
        Ok(added > 0)
    }

    /// Whether retention deleted `identity` of `source` (a feed that still
    /// lists an old item must not bring it back).
    pub fn is_tombstoned(&self, source: &SourceId, identity: &str) -> Result<bool, StoreError> {
        super::retention::is_tombstoned(&self.tx, source, identity)
    }

    /// The stored items indexed under any of the first 32 of `keys` and dated
    /// between `from` and `to` (Unix seconds), as (item, its story, its
    /// source): at most [`MAX_CANDIDATES`], those sharing the most keys first.
    pub fn candidates(
        &self,
        keys: &[u64],
        from: i64,
        to: i64,
    ) -> Result<Vec<(ItemId, StoryId, SourceId)>, StoreError> {
        // One statement for all keys (SQLite still seeks once per key, but
        // the statement runs once), ranked by how many keys each item
        // shares, so a key common to many items cannot crowd out the real
        // copies. A fingerprint has at most KEYS_PER_INSERT keys; unused
        // places repeat the first key.
        let Some(&first) = keys.first() else {
            return Ok(Vec::new());
        };
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT k.item_id, i.story_id, i.source_id, count(*) AS shared
                 FROM dedup_keys k JOIN items i ON i.id = k.item_id
                 WHERE k.key IN ({}) AND k.at BETWEEN ?1 AND ?2
                 GROUP BY k.item_id ORDER BY shared DESC, k.item_id LIMIT {MAX_CANDIDATES}",
                (3..3 + KEYS_PER_INSERT)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
        // The text is made once: the writer asks for every new item (#8).
        let mut stmt = self.tx.prepare_cached(&SQL)?;
        stmt.raw_bind_parameter(1, from)?;
        stmt.raw_bind_parameter(2, to)?;
        for i in 0..KEYS_PER_INSERT {
            let key = keys.get(i).copied().unwrap_or(first);
            stmt.raw_bind_parameter(3 + i, key as i64)?;
        }
        let mut found = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            found.push((
                row.get(0)?,
                row.get(1)?,
                SourceId::new(row.get::<_, String>(2)?),
            ));
        }
        Ok(found)
    }

    /// A stored item as dedup sees it (to fingerprint it again).
    pub fn candidate(&self, id: ItemId) -> Result<Option<Candidate>, StoreError> {
        candidate(&self.tx, id)
    }

    /// In how many items of `source` with different remaining texts a
    /// paragraph with this hash was seen (see `dedup`'s boilerplate
    /// learning): the bits set in its recorded set.
    pub fn boilerplate_count(&self, source: &str, para_hash: u64) -> Result<u32, StoreError> {
        boilerplate_count(&self.tx, source, para_hash)
    }

    /// Records the item of `source` stored last: for each (paragraph hash,
    /// bit of the item's remaining text), the bit is added to the
    /// paragraph's set, dated at the item's arrival (retention forgets a
    /// paragraph once every item that showed it is gone).
    pub fn observe_boilerplate(
        &self,
        source: &SourceId,
        seen: &[(u64, u64)],
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO dedup_boilerplate (source_id, para_hash, rests, seen_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source_id, para_hash) DO UPDATE SET
                rests = rests | excluded.rests, seen_at = excluded.seen_at",
        )?;
        // The arrival given to the item just stored (its first_seen).
        let at = self.arrival.get();
        for &(hash, bit) in seen {
            stmt.execute(params![source.as_str(), hash as i64, bit as i64, at])?;
        }
        Ok(())
    }

    /// Counts `n` items that `source` sent again under new ids, seen `now`.
    pub fn count_repeats(
        &self,
        source: &SourceId,
        n: usize,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "UPDATE sources SET repeats = repeats + ?2, repeated_at = ?3 WHERE id = ?1",
            )?
            .execute(params![
                source.as_str(),
                i64::try_from(n).unwrap_or(i64::MAX),
                now.timestamp()
            ])?;
        Ok(())
    }

    /// The time something stored now arrives at: `now`, or the latest
    /// arrival stored before if the clock has stepped back behind it, so
    /// that arrival order is the order things were stored in (the merged
    /// feed's order, #14).
    fn arrive(&self, now: DateTime<Utc>) -> i64 {
        let at = now.timestamp().max(self.arrival.get());
        self.arrival.set(at);
        at
    }

    /// Founds a story for the item `identity` of `source`, arriving `now`.
    pub fn insert_story(
        &self,
        source: &SourceId,
        identity: &str,
        now: DateTime<Utc>,
    ) -> Result<StoryId, StoreError> {
        let arrived = self.arrive(now);
        self.tx
            .prepare_cached(
                "INSERT INTO stories (uid, arrived_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?3)",
            )?
            .execute(params![
                story_uid(source, identity),
                arrived,
                now.timestamp()
            ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Stores a new item of `source` as a copy of `story`, indexed under
    /// `keys` for dedup. The story keeps its place in the merged feed (its
    /// arrival) and its id: a copy joining it is not a new story.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_item(
        &self,
        source: &SourceId,
        story: StoryId,
        item: &Item,
        content_hash: &[u8],
        dedup_version: u32,
        keys: &[u64],
        now: DateTime<Utc>,
    ) -> Result<ItemId, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO items (source_id, identity, story_id, title, link, published, updated,
                                author, summary, content, categories, enclosures, content_hash,
                                first_seen, changed_at, dedup_version, dedup_keys)
             VALUES (:source, :identity, :story, :title, :link, :published, :updated, :author,
                     :summary, :content, :categories, :enclosures, :content_hash, :arrived, :now,
                     :dedup_version, :dedup_keys)",
        )?;
        bind(&mut stmt, ":arrived", self.arrive(now))?;
        bind(&mut stmt, ":source", source.as_str())?;
        bind(&mut stmt, ":identity", &item.identity)?;
        bind(&mut stmt, ":story", story)?;
        let keys = if self.indexed_copies(story, None)? >= MAX_INDEXED_COPIES {
            &[][..]
        } else {
            keys
        };
        bind(&mut stmt, ":dedup_keys", key_list(keys))?;
        bind_item_fields(&mut stmt, item, content_hash, dedup_version, now)?;
        stmt.raw_execute()?;
        let id = self.tx.last_insert_rowid();
        self.changed.set(true);
        self.fts.borrow_mut().index.insert(id);
        let date = item.published.unwrap_or(now).timestamp();
        self.insert_keys(id, keys, date)?;
        self.tx
            .prepare_cached("UPDATE stories SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![story, now.timestamp()])?;
        Ok(id)
    }

    /// Makes stories `others` one with `story`: their items become its
    /// copies and they go (a new item was a copy of each). `story` keeps its
    /// id and its place in the merged feed.
    pub fn join_stories(
        &self,
        story: StoryId,
        others: &[StoryId],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut move_items = self
            .tx
            .prepare_cached("UPDATE items SET story_id = ?1 WHERE story_id = ?2")?;
        let mut delete = self
            .tx
            .prepare_cached("DELETE FROM stories WHERE id = ?1")?;
        for &other in others.iter().filter(|&&o| o != story) {
            move_items.execute(params![story, other])?;
            delete.execute([other])?;
        }
        self.tx
            .prepare_cached("UPDATE stories SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![story, now.timestamp()])?;
        self.changed.set(true);
        Ok(())
    }

    /// Replaces the stored fields of item `id`; its story does not change.
    pub fn update_item(
        &self,
        id: ItemId,
        item: &Item,
        content_hash: &[u8],
        dedup_version: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "UPDATE items SET title = :title, link = :link, published = :published,
                updated = :updated, author = :author, summary = :summary, content = :content,
                categories = :categories, enclosures = :enclosures,
                content_hash = :content_hash, changed_at = :now, dedup_version = :dedup_version
             WHERE id = :id",
        )?;
        // The index still has the text from before this transaction, unless
        // this transaction already wrote the item.
        if !self.fts.borrow().index.contains(&id) {
            let old = self
                .tx
                .prepare_cached("SELECT title, summary, content FROM items WHERE id = ?1")?
                .query_row([id], |r| Ok((id, r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let mut fts = self.fts.borrow_mut();
            fts.unindex.extend(old);
            fts.index.insert(id);
        }
        bind(&mut stmt, ":id", id)?;
        bind_item_fields(&mut stmt, item, content_hash, dedup_version, now)?;
        stmt.raw_execute()?;
        self.changed.set(true);
        Ok(())
    }

    /// Up to `limit` items with ids below `below` whose content hash and
    /// keys were not made under dedup normalisation `version` (older rules,
    /// or stored with dedup off), newest first: those to re-key.
    pub fn stale_items(
        &self,
        version: u32,
        below: ItemId,
        limit: usize,
    ) -> Result<Vec<ItemId>, StoreError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id FROM items WHERE id < ?1 AND dedup_version <> ?2 ORDER BY id DESC LIMIT ?3",
        )?;
        let ids = stmt
            .query_map(
                params![below, version, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )?
            .collect::<Result<Vec<ItemId>, _>>()?;
        Ok(ids)
    }

    /// Gives stored item `id` the content hash made under dedup
    /// normalisation `version` (its fields are unchanged: re-keyed, not
    /// updated).
    pub fn set_content_hash(
        &self,
        id: ItemId,
        content_hash: &[u8],
        version: u32,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE items SET content_hash = ?2, dedup_version = ?3 WHERE id = ?1")?
            .execute(params![id, content_hash, version])?;
        Ok(())
    }

    /// Indexes stored item `id` under exactly `keys`, dated `at` (Unix
    /// seconds), in place of the keys it had.
    ///
    /// A copy of a story that already has [`MAX_INDEXED_COPIES`] other
    /// copies indexed is left out of the index (and its old keys go).
    pub fn set_keys(&self, id: ItemId, keys: &[u64], at: i64) -> Result<(), StoreError> {
        let (story, old): (StoryId, Vec<u8>) = self
            .tx
            .prepare_cached("SELECT story_id, dedup_keys FROM items WHERE id = ?1")?
            .query_row([id], |r| Ok((r.get(0)?, r.get::<_, Option<Vec<u8>>>(1)?)))
            .optional()?
            .map(|(story, keys)| (story, keys.unwrap_or_default()))
            .unwrap_or_default();
        let keys = if self.indexed_copies(story, Some(id))? >= MAX_INDEXED_COPIES {
            &[][..]
        } else {
            keys
        };
        if !old.is_empty() {
            let mut delete = self
                .tx
                .prepare_cached("DELETE FROM dedup_keys WHERE key = ?1 AND item_id = ?2")?;
            for key in old.chunks_exact(8) {
                let key = i64::from_be_bytes(key.try_into().unwrap_or_default());
                delete.execute(params![key, id])?;
            }
        }
        self.insert_keys(id, keys, at)?;
        self.tx
            .prepare_cached("UPDATE items SET dedup_keys = ?2 WHERE id = ?1")?
            .execute(params![id, key_list(keys)])?;
        Ok(())
    }

    /// How many copies of `story` other than `except` are indexed for
    /// dedup, counted up to [`MAX_INDEXED_COPIES`] (so the count costs the
    /// same for a story of ten copies and one of ten thousand).
    fn indexed_copies(&self, story: StoryId, except: Option<ItemId>) -> Result<usize, StoreError> {
        let n: i64 = self
            .tx
            .prepare_cached(&format!(
                "SELECT count(*) FROM (
                    SELECT 1 FROM items
                    WHERE story_id = ?1 AND id IS NOT ?2 AND length(dedup_keys) > 0
                    LIMIT {MAX_INDEXED_COPIES})"
            ))?
            .query_row(params![story, except], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Adds the rows of `dedup_keys` for item `id`.
    fn insert_keys(&self, id: ItemId, keys: &[u64], at: i64) -> Result<(), StoreError> {
        // One statement for all of an item's keys (about 16): a single
        // execution costs much less than one per row.
        // The statement for n keys, its text made once for each n.
        static SQL: LazyLock<Vec<String>> = LazyLock::new(|| {
            (0..=KEYS_PER_INSERT)
                .map(|n| {
                    let rows = (0..n)
                        .map(|i| format!("(?{}, ?1, ?2)", i + 3))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("INSERT OR IGNORE INTO dedup_keys (key, item_id, at) VALUES {rows}")
                })
                .collect()
        });
        for chunk in keys.chunks(KEYS_PER_INSERT) {
            // `chunks` gives 1 to KEYS_PER_INSERT keys.
            let sql = SQL.get(chunk.len()).ok_or_else(|| {
                StoreError::Internal(format!("{} keys in one insert", chunk.len()))
            })?;
            let mut insert = self.tx.prepare_cached(sql)?;
            insert.raw_bind_parameter(1, id)?;
            insert.raw_bind_parameter(2, at)?;
            for (i, key) in chunk.iter().enumerate() {
                insert.raw_bind_parameter(i + 3, *key as i64)?;
            }
            insert.raw_execute()?;
        }
        Ok(())
    }
}

/// A stored item as dedup sees it.
pub(super) fn candidate(conn: &Connection, id: ItemId) -> Result<Option<Candidate>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, story_id, source_id, title, link, published, first_seen, summary, content
         FROM items WHERE id = ?1",
    )?;
    let found = stmt
        .query_row([id], |r| {
            Ok(Candidate {
                item_id: r.get(0)?,
                story_id: r.get(1)?,
                source_id: SourceId::new(r.get::<_, String>(2)?),
                title: r.get(3)?,
                link: r.get(4)?,
                date: r.get::<_, Option<i64>>(5)?.unwrap_or(r.get(6)?),
                summary: r.get(7)?,
                content: r.get(8)?,
            })
        })
        .optional()?;
    Ok(found)
}

pub(super) fn boilerplate_count(
    conn: &Connection,
    source: &str,
    para_hash: u64,
) -> Result<u32, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rests FROM dedup_boilerplate WHERE source_id = ?1 AND para_hash = ?2",
    )?;
    let rests: Option<i64> = stmt
        .query_row(params![source, para_hash as i64], |r| r.get(0))
        .optional()?;
    Ok(rests.map_or(0, |r| r.count_ones()))
}

/// Binds the named parameter `name` of `stmt`.
fn bind(
    stmt: &mut rusqlite::Statement<'_>,
    name: &str,
    value: impl rusqlite::ToSql,
) -> Result<(), StoreError> {
    let index = stmt
        .parameter_index(name)?
        .ok_or_else(|| StoreError::Internal(format!("no parameter {name}")))?;
    stmt.raw_bind_parameter(index, value)?;
    Ok(())
}

/// Binds the stored fields of an item, the same for an insert and an update.
pub(super) fn existing_item(
    conn: &Connection,
    source: &SourceId,
    identity: &str,
) -> Result<Option<ExistingItem>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, story_id, content_hash, title, link, published, updated, author, summary,
                content, categories, enclosures, dedup_version
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
                dedup_version: r.get(12)?,
            })
        })
        .optional()?;
    Ok(found)
}

/// An item's dedup keys as stored on it (to remove them when it changes).
fn key_list(keys: &[u64]) -> Vec<u8> {
    keys.iter().flat_map(|k| k.to_be_bytes()).collect()
}

fn bind_item_fields(
    stmt: &mut rusqlite::Statement<'_>,
    item: &Item,
    content_hash: &[u8],
    dedup_version: u32,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    bind(stmt, ":title", &item.title)?;
    bind(stmt, ":link", &item.link)?;
    bind(stmt, ":published", item.published.map(|d| d.timestamp()))?;
    bind(stmt, ":updated", item.updated.map(|d| d.timestamp()))?;
    bind(stmt, ":author", &item.author)?;
    bind(stmt, ":summary", &item.summary)?;
    bind(stmt, ":content", &item.content)?;
    bind(stmt, ":categories", to_json(&item.categories))?;
    bind(stmt, ":enclosures", to_json(&item.enclosures))?;
    bind(stmt, ":content_hash", content_hash)?;
    bind(stmt, ":now", now.timestamp())?;
    bind(stmt, ":dedup_version", dedup_version)?;
    Ok(())
}
