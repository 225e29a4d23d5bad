//! What the dedup → store step keeps between polls and hands from one
//! write to the next: the fingerprints of recently stored items (a bounded
//! cache) and the paragraphs each source is known to repeat.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::config::DedupSettings;
use crate::dedup::Fingerprint;
use crate::model::{ItemId, SourceId};

/// What the dedup → store step keeps between polls.
pub struct Merging {
    pub dedup: DedupSettings,
    pub cache: FingerprintCache,
    pub learned: Learned,
}

impl Merging {
    pub fn new(dedup: &DedupSettings) -> Merging {
        Merging {
            dedup: dedup.clone(),
            cache: FingerprintCache::new(CACHE_BYTES),
            learned: Learned::new(dedup.enabled),
        }
    }

    /// A write's view of the fingerprints and learned boilerplate.
    pub fn known(&self) -> Known<'_> {
        Known::new(&self.cache).learning(&self.learned)
    }
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
    pub(super) fresh: HashMap<ItemId, Arc<Fingerprint>>,
    /// Learned boilerplate, handed on like the fingerprints.
    learned_to: Option<&'a Learned>,
    pub(super) learned: Vec<(SourceId, u64)>,
    /// Fingerprints made before the write that did not hold and were
    /// made again.
    pub remade: usize,
    /// Items not stored because their source had sent them before under
    /// another id: (the new identity, the stored item).
    pub repeats: Vec<(String, ItemId)>,
}

impl<'a> Known<'a> {
    /// Nothing written yet, over `cache`.
    pub fn new(cache: &'a FingerprintCache) -> Known<'a> {
        Known {
            cache,
            fresh: HashMap::new(),
            learned_to: None,
            learned: Vec::new(),
            remade: 0,
            repeats: Vec::new(),
        }
    }

    /// Also hands the boilerplate the transaction found to `learned`.
    pub fn learning(mut self, learned: &'a Learned) -> Known<'a> {
        self.learned_to = Some(learned);
        self
    }

    /// The transaction committed: its fingerprints go into the cache, what
    /// it found of boilerplate into the learned paragraphs.
    pub fn committed(self) {
        for (id, fp) in self.fresh {
            self.cache.0.insert(id, fp);
        }
        if let Some(learned) = self.learned_to {
            learned.learn(self.learned);
        }
    }

    pub(super) fn get(&self, id: ItemId) -> Option<Arc<Fingerprint>> {
        self.fresh
            .get(&id)
            .cloned()
            .or_else(|| self.cache.0.get(&id))
    }
}

/// The memory the fingerprint cache may hold: 12 MB, 4 000–8 000 recent
/// items (most of a day of a few hundred busy sources), where nearly all
/// copies are found. An older candidate is fingerprinted again from its
/// stored text.
pub const CACHE_BYTES: u64 = 12 << 20;

/// The paragraphs each source is known to repeat (learned boilerplate), as
/// found by write transactions. What is learned may be forgotten by the
/// store (retention); what the write finds is checked against the store by
/// [`super::store_items`], so a stale answer costs a fingerprint made again,
/// never a different one. With dedup off nothing is learned.
pub struct Learned {
    /// Dedup is on: there is anything to learn.
    on: bool,
    map: Mutex<HashMap<SourceId, HashSet<u64>>>,
}

impl Learned {
    /// Nothing learned yet; `on`: whether dedup is on.
    pub fn new(on: bool) -> Learned {
        Learned {
            on,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// What is known of `source` now; `None` when dedup is off (nothing to
    /// learn, and nothing to fingerprint items against: see
    /// [`super::prepare`]).
    pub fn of(&self, source: &SourceId) -> Option<HashSet<u64>> {
        self.on
            .then(|| self.lock().get(source).cloned().unwrap_or_default())
    }

    fn learn(&self, found: Vec<(SourceId, u64)>) {
        if found.is_empty() {
            return;
        }
        let mut map = self.lock();
        for (source, h) in found {
            map.entry(source).or_default().insert(h);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SourceId, HashSet<u64>>> {
        // Inserting cannot leave the map half-changed: a poisoned lock is
        // still whole.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}
