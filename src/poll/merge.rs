//! The dedup → store step of a poll: each new item is fingerprinted, the
//! stored items that share its keys inside the window are compared with it,
//! and it joins the best-matching story or founds its own. It runs inside
//! the poll's write transaction, so two polls can never both found a story
//! for the same copy.
//!
//! Candidates' fingerprints come from a bounded in-memory cache filled as
//! items are stored, else they are re-fingerprinted from their stored
//! (sanitised) HTML. They are not stored: a fingerprint is ~1.7 KB and would
//! break the 1 KB-per-item budget of the dedup index; re-fingerprinting
//! costs ~75 µs per candidate (see `examples/dedup_eval.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::DedupSettings;
use crate::dedup::{self, BoilerplateStats, DedupInput, Fingerprint, Verdict};
use crate::model::{Candidate, Item, ItemId, SourceId, StoryId};
use crate::store::{PollTx, StoreError, WriteSummary};

/// Stores the items of one poll of `source`, merging copies into stories.
///
/// Items are taken oldest first (then by identity), so the grouping does not
/// depend on the order a feed lists them in.
///
/// The fingerprints of the items written go into `known`, for the items
/// after them in the same transaction; [`Known::committed`] hands them to
/// the cache once the transaction has committed.
pub fn store_items(
    tx: &PollTx<'_>,
    source: &SourceId,
    items: &mut [Item],
    now: DateTime<Utc>,
    settings: &DedupSettings,
    known: &mut Known<'_>,
) -> Result<WriteSummary, StoreError> {
    items.sort_by(|a, b| {
        (a.published.unwrap_or(now), &a.identity).cmp(&(b.published.unwrap_or(now), &b.identity))
    });
    let mut summary = WriteSummary::default();
    for item in items.iter() {
        let at = item.published.unwrap_or(now);
        let existing = tx.existing_item(source, &item.identity)?;
        if existing.is_none() && tx.is_tombstoned(source, &item.identity)? {
            summary.tombstoned += 1;
            continue;
        }
        let fp = fingerprint_item(source, item, at.timestamp(), &TxStats(tx));
        let keys = fp.index_keys();
        let hash = content_hash(&fp);
        match existing {
            Some(old) if old.matches(item, &hash) => {}
            Some(old) => {
                tx.update_item(old.id, item, &hash, fp.version, now)?;
                tx.set_keys(old.id, &keys, at.timestamp(), true)?;
                tx.refresh_story_date(old.story_id)?;
                summary.updated += 1;
                known.fresh.insert(old.id, Arc::new(fp));
            }
            None => {
                let story = if settings.enabled {
                    choose_story(tx, &fp, &keys, settings, known)?
                } else {
                    None
                };
                let story = match story {
                    Some((story, verdict)) => {
                        tracing::debug!(
                            source = %source,
                            item = %item.identity,
                            story,
                            rule = ?verdict.rule,
                            "copy of a stored story"
                        );
                        summary.merged += 1;
                        story
                    }
                    None => tx.insert_story(source, &item.identity, at, now)?,
                };
                let id = tx.insert_item(source, story, item, &hash, fp.version, now)?;
                tx.set_keys(id, &keys, at.timestamp(), false)?;
                tx.observe_boilerplate(source, fp.boilerplate_observations())?;
                tx.story_gained_copy(story, at)?;
                summary.new += 1;
                known.fresh.insert(id, Arc::new(fp));
            }
        }
    }
    Ok(summary)
}

/// Fingerprints of recently stored items, by item id, so that candidates
/// need not be re-fingerprinted. Bounded by the memory it holds.
pub struct FingerprintCache(quick_cache::sync::Cache<ItemId, Arc<Fingerprint>, ByMemory>);

/// Weighs a cached fingerprint by the memory it holds.
#[derive(Clone)]
struct ByMemory;

impl quick_cache::Weighter<ItemId, Arc<Fingerprint>> for ByMemory {
    fn weight(&self, _: &ItemId, fp: &Arc<Fingerprint>) -> u64 {
        // The entry's own bookkeeping, roughly, besides the fingerprint.
        fp.memory_bytes() as u64 + 48
    }
}

impl FingerprintCache {
    /// A cache of fingerprints holding at most `bytes` of memory.
    pub fn new(bytes: u64) -> FingerprintCache {
        let bytes = bytes.max(1);
        // A fingerprint of a typical news story holds 2–3 KB.
        let estimated = usize::try_from(bytes / 2500).unwrap_or(usize::MAX).max(1);
        FingerprintCache(quick_cache::sync::Cache::with_weighter(
            estimated, bytes, ByMemory,
        ))
    }
}

/// The fingerprints one write transaction can use: the cache's, and those
/// of the items the transaction itself wrote. The latter reach the cache
/// only through [`Known::committed`], after the commit: a rolled-back item
/// id may be given to another item.
pub struct Known<'a> {
    cache: &'a FingerprintCache,
    fresh: HashMap<ItemId, Arc<Fingerprint>>,
}

impl<'a> Known<'a> {
    /// Nothing written yet, over `cache`.
    pub fn new(cache: &'a FingerprintCache) -> Known<'a> {
        Known {
            cache,
            fresh: HashMap::new(),
        }
    }

    /// The transaction committed: its fingerprints go into the cache.
    pub fn committed(self) {
        for (id, fp) in self.fresh {
            self.cache.0.insert(id, fp);
        }
    }

    fn get(&self, id: ItemId) -> Option<Arc<Fingerprint>> {
        self.fresh
            .get(&id)
            .cloned()
            .or_else(|| self.cache.0.get(&id))
    }
}

/// The memory the fingerprint cache may hold: 16 MB, 5 000–10 000 recent
/// items (a day of a few hundred busy sources), where nearly all copies are
/// found. An older candidate is fingerprinted again from its stored text.
pub const CACHE_BYTES: u64 = 16 << 20;

/// The story a new item with fingerprint `fp` joins, if any.
fn choose_story(
    tx: &PollTx<'_>,
    fp: &Fingerprint,
    keys: &[u64],
    settings: &DedupSettings,
    known: &Known<'_>,
) -> Result<Option<(StoryId, Verdict)>, StoreError> {
    let window = settings.thresholds.window_secs;
    let candidates = tx.candidates(
        keys,
        fp.published.saturating_sub(window),
        fp.published.saturating_add(window),
    )?;
    let stats = TxStats(tx);
    let mut fingerprints: Vec<(StoryId, Arc<Fingerprint>)> = Vec::with_capacity(candidates.len());
    for (item, story) in candidates {
        // The stored text is read only when the fingerprint is not cached.
        let fp = match known.get(item) {
            Some(fp) => fp,
            None => match tx.candidate(item)? {
                Some(c) => Arc::new(fingerprint_candidate(&c, &stats)),
                None => continue,
            },
        };
        fingerprints.push((story, fp));
    }
    Ok(dedup::assign(
        fp,
        fingerprints.iter().map(|(story, f)| (*story, f.as_ref())),
        &settings.thresholds,
    ))
}

/// The fingerprint of a new item dated `at` (Unix seconds).
pub fn fingerprint_item(
    source: &SourceId,
    item: &Item,
    at: i64,
    stats: &impl BoilerplateStats,
) -> Fingerprint {
    dedup::fingerprint(
        &DedupInput {
            source: source.as_str(),
            title: &item.title,
            link: item.link.as_deref(),
            published: at,
            summary_html: item.summary.as_deref().unwrap_or(""),
            content_html: item.content.as_deref().unwrap_or(""),
        },
        stats,
    )
}

/// The fingerprint of a stored item.
pub fn fingerprint_candidate(c: &Candidate, stats: &impl BoilerplateStats) -> Fingerprint {
    dedup::fingerprint(
        &DedupInput {
            source: c.source_id.as_str(),
            title: &c.title,
            link: c.link.as_deref(),
            published: c.date,
            summary_html: c.summary.as_deref().unwrap_or(""),
            content_html: c.content.as_deref().unwrap_or(""),
        },
        stats,
    )
}

/// The exact content hash stored on the item: dedup's versioned hash of the
/// normalised body, big-endian; empty for an empty body.
fn content_hash(fp: &Fingerprint) -> Vec<u8> {
    fp.body_hash
        .map(|h| h.to_be_bytes().to_vec())
        .unwrap_or_default()
}

/// Boilerplate counts read through the open transaction.
struct TxStats<'a, 'c>(&'a PollTx<'c>);

impl BoilerplateStats for TxStats<'_, '_> {
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32 {
        // A failed read only means a paragraph is not yet known as
        // boilerplate; the write itself reports any real database error.
        self.0
            .boilerplate_count(source, paragraph_hash)
            .unwrap_or(0)
    }
}

/// Boilerplate counts read through any lookup (e.g. the store's reader).
pub struct StatsFn<F>(pub F);

impl<F: Fn(&str, u64) -> u32> BoilerplateStats for StatsFn<F> {
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32 {
        (self.0)(source, paragraph_hash)
    }
}
