//! Fingerprints made before the write, where polls run in parallel: the
//! items of one poll in the order the write stores them, each with the
//! fingerprint it would get there if the source's boilerplate counts are
//! what the poll assumed (checked by [`super::store_items`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::{StatsFn, fingerprint_item};
use crate::dedup::{self, BoilerplateStats, Fingerprint};
use crate::model::{Item, SourceId};

/// An item on its way to the store, with its fingerprint when it was made
/// before the write ([`prepare`]).
pub struct Ready {
    pub item: Item,
    pub(super) print: Option<Prepared>,
}

impl From<Item> for Ready {
    /// An item to fingerprint inside the write.
    fn from(item: Item) -> Ready {
        Ready { item, print: None }
    }
}

/// A fingerprint made before the write, and the answer it assumed for each
/// paragraph it asked about (is it the source's boilerplate?).
pub(super) struct Prepared {
    pub(super) fp: Fingerprint,
    assumed: Vec<bool>,
}

impl Prepared {
    /// Whether the counts in `stats` give every answer the fingerprint
    /// assumed, so that it is the fingerprint `stats` would give.
    pub(super) fn holds(&self, source: &SourceId, stats: &impl BoilerplateStats) -> bool {
        // The paragraphs a fingerprint asks about are exactly its
        // observations (the body's edge paragraphs).
        let asked = self.fp.boilerplate_observations();
        asked.len() == self.assumed.len()
            && asked.iter().zip(&self.assumed).all(|(o, &assumed)| {
                (stats.distinct_items(source.as_str(), o.paragraph) >= dedup::BOILERPLATE_MIN_ITEMS)
                    == assumed
            })
    }
}

/// Fingerprints the items of one poll of `source`, outside the write,
/// taking `boilerplate` as the paragraphs the source is known to repeat
/// ([`super::Learned::of`]; `None` when dedup is off: the items are not
/// fingerprinted at all, and the write stores them as they are).
/// `now` dates the items that carry no date, as [`super::store_items`] does. The
/// items named in `unchanged` (stored as they are, see
/// [`crate::store::Store::unchanged_items`]) are not fingerprinted: the
/// write leaves them alone (and fingerprints one that changed meanwhile).
/// The items come back in the order the write stores them.
///
/// The write stores the items oldest first, and each new item counts its
/// edge paragraphs for the source, so a paragraph the poll's own items
/// repeat becomes boilerplate part-way through the poll (a new source's
/// first poll learns its wrapper so). The items are fingerprinted in that
/// order and the poll's own counts taken into account, from zero for a
/// paragraph not yet known: on a new source the write then finds every
/// fingerprint holds, where it made again all those after the wrapper was
/// learned (#8: 4 % of a cold poll's CPU, on the writer). A paragraph that
/// was counted before but not yet learned is found by the write's check.
pub fn prepare(
    source: &SourceId,
    mut items: Vec<Item>,
    now: DateTime<Utc>,
    boilerplate: &Option<HashSet<u64>>,
    unchanged: &HashSet<String>,
) -> Vec<Ready> {
    items.sort_by(|a, b| write_order(a, now).cmp(&write_order(b, now)));
    let Some(boilerplate) = boilerplate else {
        return items.into_iter().map(Ready::from).collect();
    };
    // Per paragraph, the set of remaining texts seen with it (see
    // `dedup::BOILERPLATE_MIN_ITEMS`), as the write records it.
    let counted: RefCell<HashMap<u64, u64>> = RefCell::new(HashMap::new());
    let is_boilerplate = |h: u64| {
        boilerplate.contains(&h)
            || counted
                .borrow()
                .get(&h)
                .map_or(0, |rests| rests.count_ones())
                >= dedup::BOILERPLATE_MIN_ITEMS
    };
    let stats = StatsFn(|_: &str, h: u64| {
        if is_boilerplate(h) {
            dedup::BOILERPLATE_MIN_ITEMS
        } else {
            0
        }
    });
    items
        .into_iter()
        .map(|item| {
            if unchanged.contains(&item.identity) {
                return Ready::from(item);
            }
            let at = item.published.unwrap_or(now).timestamp();
            let fp = fingerprint_item(source, &item, at, &stats);
            let observed = fp.boilerplate_observations();
            let assumed = observed
                .iter()
                .map(|o| is_boilerplate(o.paragraph))
                .collect();
            let mut counted = counted.borrow_mut();
            for o in observed {
                *counted.entry(o.paragraph).or_default() |= o.rest_bit();
            }
            Ready {
                item,
                print: Some(Prepared { fp, assumed }),
            }
        })
        .collect()
}

/// The order [`super::store_items`] writes the items of a poll in: oldest first
/// (undated items at `now`), then by identity.
pub(super) fn write_order(item: &Item, now: DateTime<Utc>) -> (DateTime<Utc>, &str) {
    (item.published.unwrap_or(now), item.identity.as_str())
}
