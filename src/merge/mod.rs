//! The dedup → store step of a poll: each new item is fingerprinted, the
//! stored items that share its keys inside the window are compared with it,
//! and it joins the best-matching story or founds its own. It runs inside
//! the poll's write transaction, so two polls can never both found a story
//! for the same copy. [`group`] writes the polls that wait together, in one
//! transaction.
//!
//! Polling calls this step (`poll` → [`prepare`] → [`group::Writes`] →
//! [`store_items`]); so do `wiredesk explain` (the fingerprints), the
//! examples and the micro-benchmarks, which is why it is a module of its
//! own and not part of `poll`.
//!
//! A new item's fingerprint is made before the transaction, where polls run
//! in parallel ([`prepare`]), against the paragraphs its source was known to
//! repeat (learned boilerplate, [`Learned`]). Inside the transaction it is
//! used only if the stored counts still give the same answer for every
//! paragraph it asked about, and made again otherwise: the result is the
//! same as fingerprinting inside the transaction, which is the only place
//! that sees every earlier item's counts.
//!
//! Candidates' fingerprints come from a bounded in-memory cache filled as
//! items are stored, else they are re-fingerprinted from their stored
//! (sanitised) HTML. They are not stored: a fingerprint is 2–3 KB and would
//! break the 1 KB-per-item budget of the dedup index; re-fingerprinting
//! costs ~75 µs per candidate (see `examples/dedup_eval.rs`).
//!
//! Files: this one writes (`store_items`, `choose_story`); `prepare.rs`
//! fingerprints before the write; `known.rs` holds what is kept between
//! writes (the fingerprint cache, learned boilerplate); `group.rs` is group
//! commit; `rekey.rs` re-keys stored items after the normalisation changed;
//! `tests.rs` runs them through a real store.

pub mod group;
mod known;
mod prepare;
mod rekey;

pub use known::{CACHE_BYTES, FingerprintCache, Known, Learned, Merging};
use prepare::write_order;
pub use prepare::{Ready, prepare};
pub use rekey::{REKEY_BATCH, Rekeyed, rekey_batch};

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::DedupSettings;
use crate::dedup::{self, BoilerplateStats, DedupInput, Fingerprint, Verdict};
use crate::model::{Candidate, Item, SourceId, StoryId};
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
    items: &mut [Ready],
    now: DateTime<Utc>,
    settings: &DedupSettings,
    known: &mut Known<'_>,
) -> Result<WriteSummary, StoreError> {
    items.sort_by(|a, b| write_order(&a.item, now).cmp(&write_order(&b.item, now)));
    if !settings.enabled {
        return store_plain(tx, source, items, now);
    }
    let mut summary = WriteSummary::default();
    let mut repeats = 0usize;
    for Ready { item, print } in items.iter_mut() {
        let item = &*item;
        let at = item.published.unwrap_or(now);
        let existing = tx.existing_item(source, &item.identity)?;
        if existing.is_none() && tx.is_tombstoned(source, &item.identity)? {
            summary.tombstoned += 1;
            continue;
        }
        // An item stored as it is now, under this normalisation, keeps the
        // hash and keys it was given when it came: nothing to fingerprint.
        if let Some(old) = &existing
            && old.dedup_version == dedup::NORMALISATION_VERSION
            && old.same_fields(item)
        {
            continue;
        }
        let fp = fingerprint_in_write(tx, source, item, print.take(), at, known);
        match existing {
            Some(old) => {
                let hash = content_hash(&fp);
                if old.matches(item, &hash) {
                    continue;
                }
                tx.update_item(old.id, item, &hash, fp.version, now)?;
                tx.set_keys(old.id, &fp.index_keys(), at.timestamp())?;
                summary.updated += 1;
                known.fresh.insert(old.id, Arc::new(fp));
            }
            None => match store_new(tx, source, item, &fp, now, settings, known)? {
                Stored::Repeat(of) => {
                    repeats += 1;
                    known.repeats.push((item.identity.clone(), of));
                }
                Stored::New { id, merged } => {
                    summary.new += 1;
                    summary.merged += usize::from(merged);
                    known.fresh.insert(id, Arc::new(fp));
                }
            },
        }
    }
    if repeats > 0 {
        // Ids that change on every poll (a session or a time in the guid):
        // the source's state shows it, and the items are not stored again.
        tracing::info!(
            source = %source,
            repeats,
            "items sent again under new ids: recognised by their content"
        );
        tx.count_repeats(source, repeats, now)?;
    }
    Ok(summary)
}

/// The fingerprint of `item` in the write: the one made before it
/// (`print`) if the stored counts still give the answers it assumed, else
/// made again; what it found of boilerplate goes into `known`.
fn fingerprint_in_write(
    tx: &PollTx<'_>,
    source: &SourceId,
    item: &Item,
    print: Option<prepare::Prepared>,
    at: DateTime<Utc>,
    known: &mut Known<'_>,
) -> Fingerprint {
    let stats = Recording::new(TxStats(tx));
    let fp = match print {
        Some(print) if print.holds(source, &stats) => print.fp,
        Some(_) => {
            known.remade += 1;
            fingerprint_item(source, item, at.timestamp(), &stats)
        }
        None => fingerprint_item(source, item, at.timestamp(), &stats),
    };
    known.learned.extend(
        stats
            .boilerplate
            .take()
            .into_iter()
            .map(|h| (source.clone(), h)),
    );
    fp
}

/// [`store_items`] with dedup off: each new item is a story of its own,
/// stored with no fingerprint, content hash or keys (dedup version 0, so
/// that turning dedup on again fingerprints and indexes an item when its
/// source sends it next), and nothing is learned. An updated item loses
/// the keys it had: they describe its old text.
fn store_plain(
    tx: &PollTx<'_>,
    source: &SourceId,
    items: &[Ready],
    now: DateTime<Utc>,
) -> Result<WriteSummary, StoreError> {
    let mut summary = WriteSummary::default();
    for Ready { item, .. } in items {
        match tx.existing_item(source, &item.identity)? {
            Some(old) if old.same_fields(item) => {}
            Some(old) => {
                tx.update_item(old.id, item, &[], 0, now)?;
                tx.set_keys(old.id, &[], item.published.unwrap_or(now).timestamp())?;
                summary.updated += 1;
            }
            None if tx.is_tombstoned(source, &item.identity)? => summary.tombstoned += 1,
            None => {
                let story = tx.insert_story(source, &item.identity, now)?;
                tx.insert_item(source, story, item, &[], 0, &[], now)?;
                summary.new += 1;
            }
        }
    }
    Ok(summary)
}

/// What became of an item new to its source.
enum Stored {
    /// Stored, as a copy of a story (`merged`) or as a story of its own.
    New {
        id: crate::model::ItemId,
        merged: bool,
    },
    /// Not stored: the source sent this stored item under another id.
    Repeat(crate::model::ItemId),
}

/// What the stored items say of a new one.
enum Found {
    /// This stored item of the same source, under another id.
    Repeat(crate::model::ItemId),
    /// A copy of this story, and of these others, which become one with it.
    Copy(StoryId, Verdict, Vec<StoryId>),
    /// Nothing: a story of its own.
    New,
}

/// Stores `item`, new to `source`, as a copy of the story it matches or
/// as a story of its own, unless it is an item the source sent before
/// under another id.
fn store_new(
    tx: &PollTx<'_>,
    source: &SourceId,
    item: &Item,
    fp: &Fingerprint,
    now: DateTime<Utc>,
    settings: &DedupSettings,
    known: &Known<'_>,
) -> Result<Stored, StoreError> {
    let keys = fp.index_keys();
    let hash = content_hash(fp);
    let found = choose_story(tx, source, fp, &keys, settings, known)?;
    let (story, merged) = match found {
        Found::Repeat(of) => return Ok(Stored::Repeat(of)),
        Found::Copy(story, verdict, others) => {
            if !others.is_empty() {
                tracing::debug!(source = %source, item = %item.identity, story, ?others, "stories joined by a copy of each");
                tx.join_stories(story, &others, now)?;
            }
            tracing::debug!(
                source = %source,
                item = %item.identity,
                story,
                rule = ?verdict.rule,
                "copy of a stored story"
            );
            (story, true)
        }
        Found::New => (tx.insert_story(source, &item.identity, now)?, false),
    };
    let id = tx.insert_item(source, story, item, &hash, fp.version, &keys, now)?;
    let seen: Vec<(u64, u64)> = fp
        .boilerplate_observations()
        .iter()
        .map(|o| (o.paragraph, o.rest_bit()))
        .collect();
    tx.observe_boilerplate(source, &seen)?;
    Ok(Stored::New { id, merged })
}

/// Answers from `inner`, noting the paragraphs it calls boilerplate.
struct Recording<S> {
    inner: S,
    boilerplate: RefCell<Vec<u64>>,
}

impl<S> Recording<S> {
    fn new(inner: S) -> Recording<S> {
        Recording {
            inner,
            boilerplate: RefCell::new(Vec::new()),
        }
    }
}

impl<S: BoilerplateStats> BoilerplateStats for Recording<S> {
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32 {
        let n = self.inner.distinct_items(source, paragraph_hash);
        if n >= dedup::BOILERPLATE_MIN_ITEMS {
            self.boilerplate.borrow_mut().push(paragraph_hash);
        }
        n
    }
}

/// The story a new item of `source` with fingerprint `fp` joins, if any,
/// or that it is an item the source sent before under another id.
fn choose_story(
    tx: &PollTx<'_>,
    source: &SourceId,
    fp: &Fingerprint,
    keys: &[u64],
    settings: &DedupSettings,
    known: &Known<'_>,
) -> Result<Found, StoreError> {
    let window = settings.thresholds.window_secs;
    let candidates = tx.candidates(
        keys,
        fp.published.saturating_sub(window),
        fp.published.saturating_add(window),
    )?;
    let stats = TxStats(tx);
    let mut fingerprints: Vec<(StoryId, Arc<Fingerprint>)> = Vec::with_capacity(candidates.len());
    for (item, story, of) in candidates {
        // The stored text is read only when the fingerprint is not cached.
        let stored = match known.get(item) {
            Some(fp) => fp,
            None => match tx.candidate(item)? {
                Some(c) => Arc::new(fingerprint_candidate(&c, &stats)),
                None => continue,
            },
        };
        if of == *source && dedup::same_item(fp, &stored) {
            return Ok(Found::Repeat(item));
        }
        fingerprints.push((story, stored));
    }
    let mut copies = dedup::copies_of(
        fp,
        fingerprints.iter().map(|(story, f)| (*story, f.as_ref())),
        &settings.thresholds,
    )
    .into_iter();
    // The oldest story keeps its id (the one readers have had longest).
    Ok(match copies.next() {
        Some((story, verdict)) => Found::Copy(story, verdict, copies.map(|(s, _)| s).collect()),
        None => Found::New,
    })
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

#[cfg(test)]
mod tests;
