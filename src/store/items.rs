//! Reading items and stories outside a write: the CLI's latest
//! stories, counts and sizes, and the questions the poll and the CLI ask
//! about stored items. The row mapper every page shares ([`stored_item`])
//! is here, beside its column list.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::write::{StoredDates, boilerplate_count, candidate, existing_item};
use super::{Store, StoreError, from_json, from_unix};
use crate::model::{Candidate, Enclosure, Item, ItemId, SourceId, StoredItem, Story, StoryId};

/// Sizes, for health and status output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub sources: i64,
    pub items: i64,
    pub stories: i64,
}

impl Store {
    /// The `limit` stories that arrived last, newest first, each with all
    /// its copies.
    pub fn latest_stories(&self, limit: usize) -> Result<Vec<Story>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "WITH page AS (
                SELECT id, uid, arrived_at FROM stories
                ORDER BY arrived_at DESC, id DESC LIMIT ?1
             )
             SELECT page.id, page.uid, {ITEM_COLUMNS}, page.arrived_at
             FROM page
             JOIN items i ON i.story_id = page.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.arrived_at DESC, page.id DESC, i.id"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query([limit])?;
        collect_stories(rows)
    }

    /// The size of the database's main file in bytes (pages × page size;
    /// the WAL is not counted).
    pub fn database_bytes(&self) -> Result<i64, StoreError> {
        let conn = self.reader()?;
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
        let conn = self.reader()?;
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
            .reader()?
            .query_row("SELECT count(*) FROM dedup_boilerplate", [], |r| r.get(0))?)
    }
    /// A stored item as dedup sees it, for `wiredesk explain`.
    pub fn dedup_item(&self, id: ItemId) -> Result<Option<Candidate>, StoreError> {
        candidate(&*self.reader()?, id)
    }

    /// Which of `items` of `source` are stored with the same fields under
    /// dedup normalisation `version`, read outside a write (by identity).
    pub fn unchanged_items(
        &self,
        source: &SourceId,
        items: &[Item],
        version: u32,
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let conn = self.reader()?;
        let mut same = std::collections::HashSet::new();
        for item in items {
            if let Some(old) = existing_item(&conn, source, &item.identity)?
                && old.dedup_version == version
                && old.same_fields(item)
            {
                same.insert(item.identity.clone());
            }
        }
        Ok(same)
    }

    /// The `published` and `updated` dates stored on the item `identity`
    /// of `source`, if it is stored.
    pub fn stored_dates(
        &self,
        source: &SourceId,
        identity: &str,
    ) -> Result<Option<StoredDates>, StoreError> {
        let conn = self.reader()?;
        Ok(
            existing_item(&conn, source, identity)?.map(|old| StoredDates {
                published: old.published.map(super::from_unix),
                updated: old.updated.map(super::from_unix),
            }),
        )
    }

    /// [`super::PollTx::boilerplate_count`], outside a write.
    pub fn boilerplate_count(&self, source: &str, para_hash: u64) -> Result<u32, StoreError> {
        boilerplate_count(&*self.reader()?, source, para_hash)
    }

    /// The story the item `identity` of `source` belongs to.
    pub fn story_of_identity(
        &self,
        source: &SourceId,
        identity: &str,
    ) -> Result<Option<StoryId>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn
            .prepare_cached("SELECT story_id FROM items WHERE source_id = ?1 AND identity = ?2")?;
        Ok(stmt
            .query_row(params![source.as_str(), identity], |r| r.get(0))
            .optional()?)
    }

    /// Bytes the dedup index takes on disk (its tables and indexes), from
    /// SQLite's `dbstat`.
    pub fn dedup_index_bytes(&self) -> Result<i64, StoreError> {
        let conn = self.reader()?;
        Ok(conn.query_row(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'dedup%'",
            [],
            |r| r.get(0),
        )?)
    }
}

/// The columns of an item and its source that [`stored_item`] reads, in
/// its order, from the query's third column on (`i` the item, `s` its
/// source); the first two are the story's id and uid.
pub(crate) const ITEM_COLUMNS: &str = "i.id, i.identity, i.title, i.link, i.published, i.updated,
    i.author, i.summary, i.content, i.categories, i.enclosures, i.first_seen,
    s.id, s.name, s.url, s.priority, s.tags, i.changed_at";

/// How many columns [`ITEM_COLUMNS`] names: a query's columns after them
/// start at `2 + ITEM_COLUMN_COUNT`.
pub(crate) const ITEM_COLUMN_COUNT: usize = 18;

/// Stories from rows of (story id, uid, [`ITEM_COLUMNS`], arrived_at),
/// one row per copy, a story's copies next to each other; in row order.
pub(super) fn collect_stories(mut rows: rusqlite::Rows<'_>) -> Result<Vec<Story>, StoreError> {
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
                let arrived = from_unix(row.get(2 + ITEM_COLUMN_COUNT)?);
                current = Some((story_id, row.get(1)?, arrived, vec![copy]));
            }
        }
    }
    if let Some((id, uid, arrived, copies)) = current {
        stories.extend(Story::from_copies(id, uid, arrived, copies));
    }
    Ok(stories)
}

/// Reads [`ITEM_COLUMNS`] (from column 2 on).
pub(super) fn stored_item(r: &Row<'_>) -> rusqlite::Result<StoredItem> {
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
