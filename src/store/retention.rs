//! Retention: old stories go, in small batches, and leave tombstones.
//!
//! A story goes once no copy has joined it for `keep`; with `max_items`, the
//! stories that have been quiet longest also go until the store is under the
//! cap. Each deleted item leaves a tombstone (source, identity), so a feed
//! that still lists it does not bring it back as new; tombstones expire
//! after another `keep`. Each batch is its own short transaction, so polls
//! and serving never wait long. Space is given back with an incremental
//! vacuum and a WAL checkpoint.

use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Store, StoreError};
use crate::model::{SourceId, StoryId};

/// Stories deleted per transaction.
pub const PRUNE_BATCH: usize = 200;

/// What one retention run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneSummary {
    pub stories: usize,
    pub items: usize,
    /// Tombstones older than `keep` removed.
    pub tombstones_expired: usize,
    /// Learned boilerplate paragraphs forgotten: every item that showed
    /// them is gone.
    pub learned_forgotten: usize,
    /// Learned boilerplate paragraphs kept (rows of its table).
    pub learned_kept: usize,
}

impl Store {
    /// Deletes the stories no copy has joined for `keep`, then, if
    /// `max_items` is set, the quietest stories until at most `max_items`
    /// items are left; expires old tombstones; gives space back.
    pub fn prune(
        &self,
        now: DateTime<Utc>,
        keep: Duration,
        max_items: Option<u64>,
    ) -> Result<PruneSummary, StoreError> {
        let cutoff = now.timestamp() - i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        let mut summary = PruneSummary::default();
        self.prune_quiet(now, cutoff, &mut summary)?;
        if let Some(max) = max_items {
            self.prune_to(now, max, &mut summary)?;
        }
        (summary.learned_forgotten, summary.learned_kept) = self.forget_learned()?;
        summary.tombstones_expired = self.tidy(cutoff, summary.stories > 0)?;
        if summary.stories > 0 {
            self.bump_generation(now);
        }
        Ok(summary)
    }

    /// Deletes the stories no copy has joined since `cutoff`, a batch at a
    /// time.
    fn prune_quiet(
        &self,
        now: DateTime<Utc>,
        cutoff: i64,
        summary: &mut PruneSummary,
    ) -> Result<(), StoreError> {
        loop {
            let (stories, items) = self.prune_batch(now, |tx| {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM stories WHERE updated_at < ?1 ORDER BY updated_at, id LIMIT ?2",
                )?;
                let ids = stmt
                    .query_map(params![cutoff, PRUNE_BATCH as i64], |r| r.get(0))?
                    .collect::<Result<Vec<StoryId>, _>>()?;
                Ok(ids)
            })?;
            summary.stories += stories;
            summary.items += items;
            if stories < PRUNE_BATCH {
                return Ok(());
            }
        }
    }

    /// Deletes the quietest stories until at most `max` items are left.
    fn prune_to(
        &self,
        now: DateTime<Utc>,
        max: u64,
        summary: &mut PruneSummary,
    ) -> Result<(), StoreError> {
        loop {
            let (stories, items) = self.prune_batch(now, |tx| over_the_cap(tx, max))?;
            summary.stories += stories;
            summary.items += items;
            if stories == 0 {
                return Ok(());
            }
        }
    }

    /// Deletes the learned boilerplate rows last seen before the oldest item
    /// still stored (all of them when none is), one source per
    /// transaction (each deletes by its primary key's prefix, so a poll
    /// never waits for the whole table); returns how many went and how many
    /// are kept, and keeps the latter for [`Store::learned_paragraphs`].
    fn forget_learned(&self) -> Result<(usize, usize), StoreError> {
        let sources: Vec<String> = {
            let conn = self.writer();
            let mut stmt = conn.prepare_cached("SELECT id FROM sources ORDER BY id")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let (mut forgotten, mut kept) = (0usize, 0usize);
        for source in &sources {
            let conn = self.writer();
            // items_by_arrival gives the oldest arrival at once.
            let oldest: Option<i64> =
                conn.query_row("SELECT min(first_seen) FROM items", [], |r| r.get(0))?;
            forgotten += conn
                .prepare_cached(
                    "DELETE FROM dedup_boilerplate WHERE source_id = ?1 AND seen_at < ?2",
                )?
                .execute(params![source, oldest.unwrap_or(i64::MAX)])?;
            let n: i64 = conn
                .prepare_cached("SELECT count(*) FROM dedup_boilerplate WHERE source_id = ?1")?
                .query_row([source], |r| r.get(0))?;
            kept += usize::try_from(n).unwrap_or(0);
        }
        self.inner
            .learned
            .store(i64::try_from(kept).unwrap_or(i64::MAX), Ordering::Relaxed);
        Ok((forgotten, kept))
    }

    /// Learned boilerplate paragraphs (rows of its table) as counted by the
    /// last retention run; `None` before the first (counting them at a
    /// scrape would read the whole table).
    pub fn learned_paragraphs(&self) -> Option<i64> {
        let n = self.inner.learned.load(Ordering::Relaxed);
        (n >= 0).then_some(n)
    }

    /// After a prune: folds some of the full-text index's delete markers
    /// away (when stories went), expires tombstones older than `cutoff`
    /// (how many), gives freed pages back and folds the WAL back in.
    fn tidy(&self, cutoff: i64, deleted: bool) -> Result<usize, StoreError> {
        let conn = self.writer();
        if deleted {
            // Deleting from the full-text index leaves delete markers in
            // it; a bounded merge folds some of them away each run
            // (an 'optimize' would rewrite the whole index).
            conn.execute(
                "INSERT INTO items_fts (items_fts, rank) VALUES ('merge', 500)",
                [],
            )?;
        }
        let expired = conn.execute("DELETE FROM tombstones WHERE deleted_at < ?1", [cutoff])?;
        conn.execute("DELETE FROM blocked_items WHERE first_seen < ?1", [cutoff])?;
        // Give freed pages back to the file system (a no-op for a
        // database created before incremental vacuum was switched on),
        // and fold the WAL back into the database.
        // SQLite frees one page per step of this pragma: step it to the end.
        let mut vacuum = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut steps = vacuum.query([])?;
        while steps.next()?.is_some() {}
        drop(steps);
        drop(vacuum);
        let _: (i64, i64, i64) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        Ok(expired)
    }

    /// Deletes the stories `pick` chooses, in one transaction; returns how
    /// many stories and items went.
    fn prune_batch(
        &self,
        now: DateTime<Utc>,
        pick: impl FnOnce(&Transaction<'_>) -> Result<Vec<StoryId>, StoreError>,
    ) -> Result<(usize, usize), StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        let stories = pick(&tx)?;
        let mut items = 0;
        for story in &stories {
            items += delete_story(&tx, *story, now)?;
        }
        tx.commit()?;
        Ok((stories.len(), items))
    }

    /// Whether `identity` of `source` was deleted by retention.
    pub fn is_tombstoned(&self, source: &SourceId, identity: &str) -> Result<bool, StoreError> {
        is_tombstoned(&*self.reader()?, source, identity)
    }
}

/// The next batch of stories to delete to bring the store to `max` items:
/// whole stories go, oldest first; the last batch may take a story more
/// than needed. None when the store is at or under the cap.
fn over_the_cap(tx: &Transaction<'_>, max: u64) -> Result<Vec<StoryId>, StoreError> {
    let count: i64 = tx.query_row("SELECT count(*) FROM items", [], |r| r.get(0))?;
    let over = u64::try_from(count).unwrap_or(0).saturating_sub(max);
    if over == 0 {
        return Ok(Vec::new());
    }
    let mut stmt = tx.prepare_cached("SELECT id FROM stories ORDER BY updated_at, id LIMIT ?1")?;
    let mut per_story = tx.prepare_cached("SELECT count(*) FROM items WHERE story_id = ?1")?;
    let mut ids = Vec::new();
    let mut covered = 0u64;
    for id in stmt.query_map([PRUNE_BATCH as i64], |r| r.get::<_, StoryId>(0))? {
        let id = id?;
        let n: i64 = per_story.query_row([id], |r| r.get(0))?;
        ids.push(id);
        covered += u64::try_from(n).unwrap_or(0);
        if covered >= over {
            break;
        }
    }
    Ok(ids)
}

/// Deletes a story, its items, their dedup keys; leaves tombstones.
fn delete_story(
    tx: &Transaction<'_>,
    story: StoryId,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO tombstones (source_id, identity, deleted_at)
         SELECT source_id, identity, ?2 FROM items WHERE story_id = ?1",
    )?
    .execute(params![story, now.timestamp()])?;
    let mut keys = tx.prepare_cached("SELECT id, dedup_keys FROM items WHERE story_id = ?1")?;
    let mut delete_key =
        tx.prepare_cached("DELETE FROM dedup_keys WHERE key = ?1 AND item_id = ?2")?;
    let rows = keys
        .query_map([story], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (id, blob) in &rows {
        for key in blob.chunks_exact(8) {
            let key = i64::from_be_bytes(key.try_into().unwrap_or_default());
            delete_key.execute(params![key, id])?;
        }
    }
    let items = tx
        .prepare_cached("DELETE FROM items WHERE story_id = ?1")?
        .execute([story])?;
    tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
        .execute([story])?;
    Ok(items)
}

pub(super) fn is_tombstoned(
    conn: &rusqlite::Connection,
    source: &SourceId,
    identity: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM tombstones WHERE source_id = ?1 AND identity = ?2")?
        .query_row(params![source.as_str(), identity], |_| Ok(()))
        .optional()?
        .is_some())
}
