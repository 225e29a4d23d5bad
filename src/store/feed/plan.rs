//! How a page is read: the plan for each filter, chosen by what it would
//! cost on this store (how many items pass, measured on the indexes).

use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::FeedQueryError;
use crate::model::SourceId;

/// How a search is evaluated; all three give the same page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SearchPlan {
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
pub(super) fn search_plan(
    conn: &Connection,
    stored: f64,
    search: &str,
    copies: bool,
    limit: usize,
) -> Result<SearchPlan, FeedQueryError> {
    let plain =
        !search.contains('*') && !has_near(search) && search.split_whitespace().count() <= 8;
    let sieve_from = ((17.0 * stored).sqrt() as i64).max(500);
    let sample_from = if plain {
        ((100.0 * stored.sqrt()) as i64).max(sieve_from)
    } else {
        i64::MAX
    };
    let (matches, sample) = measure(conn, search, copies, sample_from)?;
    Ok(choose_plan(matches, sieve_from, sample, limit))
}

/// Whether `search` uses FTS5's `NEAR(…)` group: the keyword is upper case
/// (FTS5's operators are case-sensitive) and followed by a parenthesis. A
/// word that merely contains "near" ("nearby", "Near East") is plain.
pub(super) fn has_near(search: &str) -> bool {
    search.match_indices("NEAR").any(|(at, _)| {
        let before = search[..at].chars().next_back();
        let after = search[at + 4..].trim_start();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with('(')
    })
}

/// About how many items are stored (the highest item id), which the plans
/// weigh their counts against.
pub(super) fn stored_items(conn: &Connection) -> Result<f64, FeedQueryError> {
    let stored: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM items", [], |r| r.get(0))?;
    Ok(stored as f64)
}

/// How many of the newest stories (or items) are probed to decide whether
/// to walk.
pub(super) const SAMPLE: i64 = 32;

/// The longest a walk may be expected to take; a sieve past
/// 100 × √items matches costs about this or more.
pub(super) const WALK_BUDGET: Duration = Duration::from_millis(25);

/// How many items `search` matches, counted up to `sample_from`, and when
/// it reaches that, the sample of the newest stories (or items).
pub(super) fn measure(
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
pub(super) struct Sample {
    /// How many of them match.
    pub matched: i64,
    /// How long probing them took.
    pub took: Duration,
}

/// The plan for a search that matches `matches` items (counted up to
/// where the sample is taken), given the sample of the newest stories when
/// it was taken. A walk is expected to probe `SAMPLE × (limit + 1) / matched`
/// stories at the sample's cost each.
pub(super) fn choose_plan(
    matches: i64,
    sieve_from: i64,
    sample: Option<Sample>,
    limit: usize,
) -> SearchPlan {
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
pub(super) enum FilterPlan {
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
pub(super) struct Plans {
    pub search: SearchPlan,
    pub sources: FilterPlan,
    pub tag: FilterPlan,
}

impl Plans {
    /// Walking for every filter, mapping every search match.
    #[cfg(test)]
    pub const WALK: Plans = Plans {
        search: SearchPlan::Matches,
        sources: FilterPlan::Walk,
        tag: FilterPlan::Walk,
    };
}

/// Maps when fewer items pass than √(73 × items): where the plans cost
/// about the same (measured on a store of a million items: ~3.5 µs to map
/// an item, ~5 µs to check a story walked; ~8 500 items there). `count`
/// counts the items that pass, up to its second parameter, in an index.
pub(super) fn filter_plan(
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

pub(super) fn source_plan(
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
pub(super) fn source_list(sources: &[SourceId]) -> String {
    serde_json::to_string(&sources.iter().map(SourceId::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

pub(super) fn tag_plan(
    conn: &Connection,
    stored: f64,
    tag: &str,
) -> Result<FilterPlan, FeedQueryError> {
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
