//! Re-keying stored items when the dedup normalisation has changed
//! ([`dedup::NORMALISATION_VERSION`] is part of every key): until then a
//! stored item is not found as a candidate by the keys of new items, and a
//! new copy of it founds a story of its own.
//!
//! An item its source sends again is re-keyed by [`super::store_items`].
//! The others (most of the window: feeds list only their latest items) are
//! re-keyed here, newest first, in small batches, each its own write
//! transaction, so polls write between them. It runs once at start and
//! stops when no item is left; items stored with dedup off are indexed too.

use crate::dedup;
use crate::model::ItemId;
use crate::store::{PollTx, StoreError};

use super::{TxStats, content_hash, fingerprint_candidate};

/// Items re-keyed per transaction: about 15 ms of fingerprinting, so a poll
/// waits that long at most.
pub const REKEY_BATCH: usize = 200;

/// What one batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rekeyed {
    /// Items re-keyed.
    pub items: usize,
    /// Where the next batch starts (ids below this one), `None` when no
    /// stale item is left.
    pub next: Option<ItemId>,
}

/// Re-keys up to [`REKEY_BATCH`] stale items with ids below `below` (all
/// when `None`), newest first.
pub fn rekey_batch(tx: &PollTx<'_>, below: Option<ItemId>) -> Result<Rekeyed, StoreError> {
    let ids = tx.stale_items(
        dedup::NORMALISATION_VERSION,
        below.unwrap_or(ItemId::MAX),
        REKEY_BATCH,
    )?;
    let stats = TxStats(tx);
    let mut items = 0;
    for &id in &ids {
        let Some(stored) = tx.candidate(id)? else {
            continue;
        };
        let fp = fingerprint_candidate(&stored, &stats);
        tx.set_content_hash(id, &content_hash(&fp), fp.version)?;
        tx.set_keys(id, &fp.index_keys(), stored.date)?;
        items += 1;
    }
    let next = if ids.len() < REKEY_BATCH {
        None
    } else {
        ids.last().copied()
    };
    Ok(Rekeyed { items, next })
}
