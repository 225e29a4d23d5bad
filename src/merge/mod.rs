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
//! commit; `rekey.rs` re-keys stored items after the normalisation changed.

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
        let stats = Recording::new(TxStats(tx));
        let fp = match print.take() {
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
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashSet;

    const WORDS: &[&str] = &[
        "harbour", "council", "ferry", "strike", "budget", "minister", "river", "flood", "school",
        "railway", "hospital", "election", "market", "bridge", "festival", "court", "museum",
        "airport", "police", "farmers", "storm", "tunnel", "library", "stadium",
    ];

    /// Invented report number `n`: six paragraphs of its own words.
    fn report(n: usize) -> Vec<String> {
        (0..6)
            .map(|p| {
                let words: Vec<&str> = (0..30)
                    .map(|k| WORDS[(n * 7 + p * 13 + k * k * 3 + k * n) % WORDS.len()])
                    .collect();
                format!("Report {n} part {p}: {}.", words.join(" "))
            })
            .collect()
    }

    fn item(n: usize, paragraphs: &[String], minutes: i64) -> Item {
        let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
        Item {
            identity: format!("item-{n}"),
            title: format!("Report number {n} on the harbour council budget"),
            link: None,
            published: Some(
                Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap()
                    + chrono::Duration::minutes(minutes),
            ),
            updated: None,
            author: None,
            summary: None,
            content: Some(body),
            categories: vec![],
            enclosures: vec![],
        }
    }

    /// The outlet's copy of report `n`: the same text inside the outlet's
    /// own lines, which it repeats on every item.
    fn wrapped(n: usize) -> Item {
        let mut paragraphs = vec![
            "Subscribers of the Valley Courier read this first in the morning briefing".to_owned(),
        ];
        paragraphs.extend(report(n));
        paragraphs
            .push("Tell the Valley Courier newsroom what you think of this article".to_owned());
        item(n, &paragraphs, n as i64)
    }

    /// Stores three polls (an agency's reports, then the outlet's wrapped
    /// copies in two polls) and returns each item's story and content hash
    /// (agency first, in report order), how many paragraphs the outlet
    /// was learned to repeat, and how many prepared fingerprints the writes
    /// made again.
    fn run(prepared: bool) -> (Vec<(i64, Vec<u8>)>, usize, usize) {
        let (dir, store) = crate::store::testing::agency_and_outlet();
        let merging = Merging::new(&DedupSettings {
            enabled: true,
            thresholds: dedup::Thresholds::default(),
        });
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let agency = SourceId::new("agency");
        let outlet = SourceId::new("outlet");
        let polls: Vec<(&SourceId, Vec<Item>)> = vec![
            (
                &agency,
                (0..16).map(|n| item(n, &report(n), n as i64)).collect(),
            ),
            (&outlet, (0..8).map(wrapped).collect()),
            (&outlet, (8..16).map(wrapped).collect()),
        ];
        let mut remade = 0;
        for (source, items) in polls {
            let mut ready: Vec<Ready> = if prepared {
                prepare(
                    source,
                    items,
                    now,
                    &merging.learned.of(source),
                    &HashSet::new(),
                )
            } else {
                items.into_iter().map(Ready::from).collect()
            };
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    store_items(tx, source, &mut ready, now, &merging.dedup, &mut known)
                })
                .unwrap();
            remade += known.remade;
            known.committed();
        }
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT story_id, content_hash FROM items
                 ORDER BY source_id, CAST(substr(identity, 6) AS INTEGER)",
            )
            .unwrap();
        let stored = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        (
            stored,
            merging.learned.of(&outlet).unwrap_or_default().len(),
            remade,
        )
    }

    /// The stories of `polls` written in the given order, as sorted sets
    /// of `source:identity` copies.
    fn stories_in_order(polls: &[(&str, Item)]) -> Vec<Vec<String>> {
        let (dir, store) =
            crate::store::testing::sources(&["agency", "digest", "herald", "outlet"]);
        let merging = Merging::new(&DedupSettings {
            enabled: true,
            thresholds: dedup::Thresholds::default(),
        });
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        for (source, item) in polls {
            let source = SourceId::new(*source);
            let mut ready = vec![Ready::from(item.clone())];
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known)
                })
                .unwrap();
            known.committed();
        }
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT group_concat(copy, ' ') FROM
                 (SELECT story_id, source_id || ':' || identity AS copy FROM items
                  ORDER BY copy)
                 GROUP BY story_id",
            )
            .unwrap();
        let mut stories: Vec<Vec<String>> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|s| s.unwrap().split(' ').map(str::to_owned).collect())
            .collect();
        stories.sort();
        stories
    }

    #[test]
    fn the_stories_do_not_depend_on_the_order_polls_arrive_in() {
        // #21: a teaser (the report's first two paragraphs) and a shortened
        // copy (all but the first) are each a copy of the full report, not
        // of each other.
        // When both came before the report, it joined one of them and the
        // other stayed a story of its own.
        let full = report(3);
        let mut teaser = item(3, &full[..2], 0);
        teaser.title = "In brief: the harbour strike".into();
        let mut shortened = item(3, &full[1..], 0);
        shortened.title = "Harbour strike, the details".into();
        let polls = [
            ("agency", item(3, &full, 0)),
            ("digest", teaser),
            ("outlet", shortened),
        ];
        let one = vec![vec![
            "agency:item-3".to_owned(),
            "digest:item-3".to_owned(),
            "outlet:item-3".to_owned(),
        ]];
        for order in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let arrived: Vec<(&str, Item)> = order.iter().map(|&i| polls[i].clone()).collect();
            assert_eq!(stories_in_order(&arrived), one, "{order:?}");
        }
    }

    /// Three reports with four copies each (the report, a teaser, a
    /// shortened copy and a wrapped one, each from its own source), and two
    /// reports with none, as one poll each.
    fn copies_of_three_reports() -> Vec<(&'static str, Item)> {
        let mut polls = Vec::new();
        for n in [3, 7, 11] {
            let full = report(n);
            let mut teaser = item(n, &full[..2], 0);
            teaser.title = format!("In brief: harbour report {n}");
            let mut shortened = item(n, &full[1..], 0);
            shortened.title = format!("The details of harbour report {n}");
            polls.push(("agency", item(n, &full, 0)));
            polls.push(("digest", teaser));
            polls.push(("outlet", shortened));
            polls.push(("herald", wrapped(n)));
        }
        let singles = [
            (
                "Ferry timetable cut for the winter",
                [
                    "The island ferry will sail twice a day instead of four times from December, the operator announced on Monday.",
                    "Commuters who work on the mainland said the change would force many of them to stay in town during the week.",
                    "The operator blamed rising fuel prices and a shortage of qualified deckhands for the reduced timetable.",
                ],
            ),
            (
                "Museum reopens after a year of repairs",
                [
                    "The city museum reopened its doors on Saturday after a year of repairs to its leaking glass roof and old wiring.",
                    "Visitors queued around the square to see the restored whaling collection and a new gallery of local photography.",
                    "Entry will be free for residents until the end of January, the director told the opening ceremony.",
                ],
            ),
        ];
        for (n, (title, text)) in singles.into_iter().enumerate() {
            let paragraphs: Vec<String> = text.iter().map(|p| (*p).to_owned()).collect();
            let mut single = item(100 + n, &paragraphs, 0);
            single.title = title.into();
            polls.push(("agency", single));
        }
        polls
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(16))]

        /// #21: the same items in any arrival order give the same stories.
        #[test]
        fn any_order_of_the_polls_gives_the_same_stories(
            order in proptest::strategy::Strategy::prop_shuffle(
                proptest::prelude::Just((0..14).collect::<Vec<usize>>())
            )
        ) {
            let polls = copies_of_three_reports();
            let arrived: Vec<(&str, Item)> = order.iter().map(|&i| polls[i].clone()).collect();
            let stories = stories_in_order(&arrived);
            let sizes: Vec<usize> = stories.iter().map(Vec::len).collect();
            proptest::prop_assert_eq!(stories, stories_in_order(&polls));
            let mut sorted = sizes;
            sorted.sort_unstable();
            proptest::prop_assert_eq!(sorted, vec![1, 1, 4, 4, 4]);
        }
    }

    #[test]
    fn learned_boilerplate_goes_with_the_items_that_showed_it() {
        // #21: the table was never pruned. The outlet's items (and the
        // wrapper lines they taught) are 100 days old; the agency's reports
        // of other stories, with their own recurring lines, are new.
        let (dir, store) = crate::store::testing::agency_and_outlet();
        let merging = Merging::new(&DedupSettings {
            enabled: true,
            thresholds: dedup::Thresholds::default(),
        });
        let t0 = Utc.with_ymd_and_hms(2026, 8, 1, 12, 0, 0).unwrap();
        let later = t0 + chrono::Duration::days(100);
        let polls = [
            (SourceId::new("outlet"), (0..8).map(wrapped).collect(), t0),
            (
                SourceId::new("agency"),
                (8..16)
                    .map(|n| {
                        let mut paragraphs = report(n);
                        paragraphs.push("Northwind agency desk, all rights reserved.".into());
                        let mut it = item(n, &paragraphs, 0);
                        it.published = Some(later);
                        it
                    })
                    .collect::<Vec<_>>(),
                later,
            ),
        ];
        for (source, items, now) in polls {
            let mut ready: Vec<Ready> = items.into_iter().map(Ready::from).collect();
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known)
                })
                .unwrap();
            known.committed();
        }
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let rows = |source: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM dedup_boilerplate WHERE source_id = ?1",
                [source],
                |r| r.get(0),
            )
            .unwrap()
        };
        let (outlet, agency) = (rows("outlet"), rows("agency"));
        assert!(outlet > 0 && agency > 0);
        assert_eq!(store.learned_paragraphs(), None);
        let done = store
            .prune(later, std::time::Duration::from_secs(90 * 86_400), None)
            .unwrap();
        assert_eq!(done.items, 8);
        assert_eq!((rows("outlet"), rows("agency")), (0, agency));
        assert_eq!(
            (done.learned_forgotten, done.learned_kept),
            (
                usize::try_from(outlet).unwrap(),
                usize::try_from(agency).unwrap()
            )
        );
        assert_eq!(store.learned_paragraphs(), Some(agency));
    }

    #[test]
    fn items_keyed_under_older_rules_are_found_again_once_re_keyed() {
        // After an upgrade that changes the normalisation, the stored items'
        // keys are another version's: a new copy does not find them until
        // they are re-keyed.
        let (dir, store) = crate::store::testing::agency_and_outlet();
        let merging = Merging::new(&DedupSettings {
            enabled: true,
            thresholds: dedup::Thresholds::default(),
        });
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let write = |source: &str, items: Vec<Item>| {
            let source = SourceId::new(source);
            let mut ready: Vec<Ready> = items.into_iter().map(Ready::from).collect();
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known)
                })
                .unwrap();
        };
        write(
            "agency",
            (0..8).map(|n| item(n, &report(n), n as i64)).collect(),
        );
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        conn.execute_batch(
            "DELETE FROM dedup_keys; UPDATE items SET dedup_version = 1, dedup_keys = x'';",
        )
        .unwrap();
        let stories = |conn: &rusqlite::Connection| -> i64 {
            conn.query_row("SELECT count(*) FROM stories", [], |r| r.get(0))
                .unwrap()
        };
        write("outlet", vec![wrapped(0)]);
        assert_eq!(stories(&conn), 9, "not found before re-keying");
        let done = store.write_poll(|tx| rekey_batch(tx, None)).unwrap();
        assert_eq!(
            done,
            Rekeyed {
                items: 8,
                next: None
            }
        );
        let stale: i64 = conn
            .query_row(
                "SELECT count(*) FROM items WHERE dedup_version <> ?1",
                [dedup::NORMALISATION_VERSION],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stale, 0);
        write("outlet", vec![wrapped(1)]);
        assert_eq!(stories(&conn), 9, "the copy joined its report");
        // Nothing is left to do.
        let again = store.write_poll(|tx| rekey_batch(tx, None)).unwrap();
        assert_eq!(
            again,
            Rekeyed {
                items: 0,
                next: None
            }
        );
    }

    #[test]
    fn with_dedup_off_nothing_is_fingerprinted_indexed_or_learned() {
        let (dir, store) = crate::store::testing::agency_and_outlet();
        let off = DedupSettings {
            enabled: false,
            thresholds: dedup::Thresholds::default(),
        };
        let merging = Merging::new(&off);
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let polls = [
            (
                SourceId::new("agency"),
                (0..8)
                    .map(|n| item(n, &report(n), n as i64))
                    .collect::<Vec<_>>(),
            ),
            (SourceId::new("outlet"), (0..8).map(wrapped).collect()),
        ];
        for (source, items) in polls {
            let learned = merging.learned.of(&source);
            assert_eq!(learned, None);
            let mut ready = prepare(&source, items, now, &learned, &HashSet::new());
            assert!(ready.iter().all(|r| r.print.is_none()), "fingerprinted");
            let mut known = merging.known();
            let summary = store
                .write_poll(|tx| {
                    store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known)
                })
                .unwrap();
            assert_eq!((summary.new, summary.merged), (8, 0));
            assert!(known.fresh.is_empty());
            known.committed();
        }
        let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
        let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(count("SELECT count(*) FROM dedup_keys"), 0);
        assert_eq!(count("SELECT count(*) FROM dedup_boilerplate"), 0);
        assert_eq!(count("SELECT count(*) FROM stories"), 16);
        assert_eq!(
            count("SELECT count(*) FROM items WHERE dedup_version = 0 AND dedup_keys = x''"),
            16
        );
    }

    #[test]
    fn fingerprints_made_before_the_write_give_the_stories_made_inside_it() {
        let (inside, _, _) = run(false);
        let (before, learned, remade) = run(true);
        assert_eq!(before.len(), 32);
        assert_eq!(before, inside);
        // Every wrapped copy joined its report's story; the copies stored
        // once the outlet's lines were known as boilerplate have the
        // report's exact content hash.
        let (reports, copies) = inside.split_at(16);
        assert!(reports.iter().zip(copies).all(|(r, c)| r.0 == c.0));
        assert!(
            reports[10..]
                .iter()
                .zip(&copies[10..])
                .all(|(r, c)| r.1 == c.1)
        );
        // The outlet's two lines were learned as its boilerplate, so its
        // second poll's fingerprints were made against them; in its first
        // poll, the lines became boilerplate from the sixth copy on, and
        // the copies were fingerprinted before the write knowing that: none
        // was made again.
        assert_eq!(learned, 2);
        assert_eq!(remade, 0);
    }
}
