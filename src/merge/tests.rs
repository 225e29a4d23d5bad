//! Tests of the dedup → store step through a real store, with invented
//! reports.

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
    paragraphs.push("Tell the Valley Courier newsroom what you think of this article".to_owned());
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
            .write_poll(|tx| store_items(tx, source, &mut ready, now, &merging.dedup, &mut known))
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
    let (dir, store) = crate::store::testing::sources(&["agency", "digest", "herald", "outlet"]);
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
            .write_poll(|tx| store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known))
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
            .write_poll(|tx| store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known))
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
            .write_poll(|tx| store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known))
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
            .write_poll(|tx| store_items(tx, &source, &mut ready, now, &merging.dedup, &mut known))
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
