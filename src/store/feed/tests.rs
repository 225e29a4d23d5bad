use super::plan::*;
use super::sql::*;
use super::*;
use crate::model::Item;
use chrono::TimeZone;
use rusqlite::Connection;
use std::time::Duration;

fn store() -> (tempfile::TempDir, Store) {
    crate::store::testing::agency_and_outlet()
}

fn new_item(n: u32, title: &str) -> Item {
    let new = NewItem {
        item: Item {
            identity: format!("id-{n}"),
            title: title.into(),
            link: Some(format!("https://x.example/{n}")),
            published: Some(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, n).unwrap()),
            updated: None,
            author: None,
            summary: None,
            content: Some(format!("<p>{title} body</p>")),
            categories: vec!["Politics".into()],
            enclosures: vec![],
        },
    };
    new.item
}

struct NewItem {
    item: Item,
}

/// Stores `items` as one poll of `source`: new items found a story each,
/// changed ones are updated, unchanged ones are left alone.
fn write(store: &Store, source: &str, items: &[Item]) {
    let source = SourceId::new(source);
    let now = Utc::now();
    store
        .write_poll(|tx| {
            for it in items {
                match tx.existing_item(&source, &it.identity)? {
                    Some(old) if old.matches(it, &[]) => {}
                    Some(old) => tx.update_item(old.id, it, &[], 0, now)?,
                    None => {
                        let story = tx.insert_story(&source, &it.identity, now)?;
                        tx.insert_item(&source, story, it, &[], 0, &[], now)?;
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_write_that_changes_nothing_keeps_the_generation() {
    let (_dir, store) = store();
    let g0 = store.generation();
    write(&store, "agency", &[new_item(1, "One")]);
    let g1 = store.generation();
    assert!(g1 > g0);
    write(&store, "agency", &[new_item(1, "One")]);
    assert_eq!(store.generation(), g1);
}

#[test]
fn a_clock_that_steps_back_never_puts_new_stories_under_old_ones() {
    let (_dir, store) = store();
    let agency = SourceId::new("agency");
    let t = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
    let put = |n: u32, now: DateTime<Utc>| {
        let it = new_item(n, &format!("T{n}"));
        store
            .write_poll(|tx| {
                let story = tx.insert_story(&agency, &it.identity, now)?;
                tx.insert_item(&agency, story, &it, &[], 0, &[], now)?;
                Ok(())
            })
            .unwrap();
    };
    put(1, t);
    put(2, t - chrono::Duration::hours(1));
    let page = store.feed_page(&FeedQuery::default()).unwrap();
    let shown: Vec<(String, DateTime<Utc>)> = page
        .stories
        .iter()
        .map(|s| (s.chosen.item.title.clone(), s.arrived))
        .collect();
    assert_eq!(shown, [("T2".to_owned(), t), ("T1".to_owned(), t)]);
    // The same after a restart: the latest arrival is read back.
    drop(store);
    let store = Store::open(&_dir.path().join("t.db")).unwrap();
    store
        .write_poll(|tx| {
            let it = new_item(3, "T3");
            let now = t - chrono::Duration::hours(2);
            let story = tx.insert_story(&agency, &it.identity, now)?;
            tx.insert_item(&agency, story, &it, &[], 0, &[], now)?;
            Ok(())
        })
        .unwrap();
    let page = store.feed_page(&FeedQuery::default()).unwrap();
    assert_eq!(page.stories[0].chosen.item.title, "T3");
    assert_eq!(page.stories[0].arrived, t);
}

#[test]
fn pages_follow_each_other_without_overlap() {
    let (_dir, store) = store();
    let items: Vec<Item> = (1..=5).map(|n| new_item(n, &format!("T{n}"))).collect();
    write(&store, "agency", &items);
    let mut query = FeedQuery {
        limit: 2,
        ..FeedQuery::default()
    };
    let mut titles = Vec::new();
    loop {
        let page = store.feed_page(&query).unwrap();
        titles.extend(page.stories.iter().map(|s| s.chosen.item.title.clone()));
        match page.next {
            Some(key) => query.after = Some(key),
            None => break,
        }
    }
    assert_eq!(titles, ["T5", "T4", "T3", "T2", "T1"]);
}

#[test]
fn search_tag_and_source_filters_narrow_the_page() {
    let (_dir, store) = store();
    write(&store, "agency", &[new_item(1, "Harbour strike ends")]);
    write(&store, "outlet", &[new_item(2, "Election results")]);
    let titles = |q: FeedQuery| -> Vec<String> {
        store
            .feed_page(&q)
            .unwrap()
            .stories
            .into_iter()
            .map(|s| s.chosen.item.title)
            .collect()
    };
    let search = FeedQuery {
        search: Some("strike".into()),
        ..FeedQuery::default()
    };
    assert_eq!(titles(search), ["Harbour strike ends"]);
    let tag = FeedQuery {
        tag: Some("OUTLET-TAG".into()),
        ..FeedQuery::default()
    };
    assert_eq!(titles(tag), ["Election results"]);
    let category = FeedQuery {
        tag: Some("politics".into()),
        copies: true,
        ..FeedQuery::default()
    };
    assert_eq!(titles(category).len(), 2);
    let source = FeedQuery {
        sources: vec![SourceId::new("agency")],
        ..FeedQuery::default()
    };
    assert_eq!(titles(source), ["Harbour strike ends"]);
}

#[test]
fn search_finds_what_items_say_now() {
    let (dir, store) = store();
    write(
        &store,
        "agency",
        &[
            new_item(1, "Harbour strike ends"),
            new_item(2, "Ferry delayed"),
        ],
    );
    // Changed in a later poll.
    write(&store, "agency", &[new_item(1, "Harbour strike continues")]);
    // Written and changed again in one transaction.
    write(
        &store,
        "outlet",
        &[new_item(3, "Bridge closed"), new_item(3, "Bridge reopened")],
    );
    let found = |words: &str| -> Vec<String> {
        let q = FeedQuery {
            search: Some(words.into()),
            ..FeedQuery::default()
        };
        let page = store.feed_page(&q).unwrap();
        page.stories
            .into_iter()
            .map(|s| s.chosen.item.title)
            .collect()
    };
    assert_eq!(found("continues"), ["Harbour strike continues"]);
    assert!(found("ends").is_empty());
    assert_eq!(found("reopened"), ["Bridge reopened"]);
    assert!(found("closed").is_empty());
    assert_eq!(found("ferry"), ["Ferry delayed"]);
    let conn = Connection::open(dir.path().join("t.db")).unwrap();
    conn.execute_batch("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
        .unwrap();
}

#[test]
fn only_items_stored_as_they_are_count_as_unchanged() {
    let (_dir, store) = store();
    let agency = SourceId::new("agency");
    write(&store, "agency", &[new_item(1, "One"), new_item(2, "Two")]);
    let polled = [
        new_item(1, "One"),
        new_item(2, "Two, corrected"),
        new_item(3, "Three"),
    ];
    let same = store.unchanged_items(&agency, &polled, 0).unwrap();
    assert_eq!(same, ["id-1".to_owned()].into_iter().collect());
    // Stored under another normalisation: fingerprinted again.
    assert!(
        store
            .unchanged_items(&agency, &polled, 1)
            .unwrap()
            .is_empty()
    );
    // Another source's item of the same identity is not this one.
    let outlet = SourceId::new("outlet");
    assert!(
        store
            .unchanged_items(&outlet, &polled, 0)
            .unwrap()
            .is_empty()
    );
}

/// (item id, page date, page id) of every row of `query` with these
/// plans (at most 100), and of those after its third entry.
type Rows = Vec<(i64, i64, i64)>;
fn whole_and_after_third(conn: &Connection, query: &mut FeedQuery, plans: Plans) -> (Rows, Rows) {
    let rows = |query: &FeedQuery| -> Rows {
        let (sql, values) = page_sql(query, plans);
        let mut stmt = conn.prepare(&sql).unwrap();
        stmt.query_map(params_from_iter(values), |r| {
            Ok((r.get(2)?, r.get(19)?, r.get(20)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    query.limit = 100;
    query.after = None;
    let all = rows(query);
    let third = all.get(2).map_or(PageKey { date: 0, id: 0 }, |r| PageKey {
        date: r.1,
        id: r.2,
    });
    query.after = Some(third);
    (all, rows(query))
}

#[test]
fn both_search_plans_give_the_same_pages() {
    let (_dir, store) = store();
    let items: Vec<Item> = (1..=30)
        .map(|n| {
            let title = if n % 3 == 0 {
                "Harbour strike talks"
            } else {
                "Election count"
            };
            new_item(n, &format!("{title} {n}"))
        })
        .collect();
    write(&store, "agency", &items[..15]);
    write(&store, "outlet", &items[15..]);
    let conn = store.reader().unwrap();
    for (search, copies) in [
        ("strike", false),
        ("strike", true),
        ("count", false),
        ("body", true),
    ] {
        let mut query = FeedQuery {
            search: Some(search.into()),
            copies,
            ..FeedQuery::default()
        };
        let pages: Vec<_> = [SearchPlan::Matches, SearchPlan::Sieve, SearchPlan::Walk]
            .into_iter()
            .map(|search| {
                let plans = Plans {
                    search,
                    ..Plans::WALK
                };
                whole_and_after_third(&conn, &mut query, plans)
            })
            .collect();
        assert!(pages[0].0.len() > 3, "{search}");
        assert_eq!(pages[0], pages[1], "{search}, copies {copies}: sieve");
        assert_eq!(pages[0], pages[2], "{search}, copies {copies}: walk");
    }
    // The words match 10 items, a third of the newest stories; the
    // sample is taken only from `sample_from` matches.
    let (matches, sample) = measure(&conn, "strike", false, 10).unwrap();
    assert_eq!((matches, sample.map(|s| s.matched)), (10, Some(10)));
    let (matches, sample) = measure(&conn, "strike", false, 11).unwrap();
    assert_eq!((matches, sample.map(|s| s.matched)), (10, None));
}

#[test]
fn a_walk_is_taken_only_when_the_sample_says_it_fills_the_page_in_budget() {
    let sample = |matched, ms| {
        Some(Sample {
            matched,
            took: Duration::from_millis(ms),
        })
    };
    // (matches, sample, page size, plan), with sieve_from 100; a
    // sample is taken from 1000 matches.
    let cases = [
        // Few matches: mapped, whatever else.
        (99, sample(32, 0), 50, SearchPlan::Matches),
        // Between: sieved; the sample is not taken there.
        (500, None, 50, SearchPlan::Sieve),
        // Many: 51 stories at 3 ms per 32 probes, every one matching.
        (1000, sample(32, 3), 50, SearchPlan::Walk),
        // A quarter matching at 3 ms: 51 × 3 / 8 = 19 ms, still a walk;
        (1000, sample(8, 3), 50, SearchPlan::Walk),
        // at 9 ms per sample (costly probes), 57 ms: sieved.
        (1000, sample(8, 9), 50, SearchPlan::Sieve),
        // None of the newest stories matching: a walk could go on for ever.
        (1000, sample(0, 0), 50, SearchPlan::Sieve),
        // A longer page needs a longer walk.
        (1000, sample(32, 3), 500, SearchPlan::Sieve),
    ];
    for (matches, sample, limit, plan) in cases {
        assert_eq!(
            choose_plan(matches, 100, sample, limit),
            plan,
            "{matches} matches, {sample:?}, limit {limit}"
        );
    }
}

#[test]
fn both_source_plans_give_the_same_pages() {
    let (_dir, store) = store();
    let items: Vec<Item> = (1..=30)
        .map(|n| new_item(n, &format!("Harbour strike talks {n}")))
        .collect();
    // The outlet carries every third report (in stories of its own:
    // `write` does not merge).
    write(&store, "agency", &items);
    let copies: Vec<Item> = items.iter().step_by(3).cloned().collect();
    write(&store, "outlet", &copies);
    let conn = store.reader().unwrap();
    for (sources, search) in [
        (vec!["outlet"], None),
        (vec!["agency"], None),
        (vec!["agency", "outlet"], None),
        (vec!["outlet"], Some("strike")),
    ] {
        let mut query = FeedQuery {
            sources: sources.iter().map(|s| SourceId::new(*s)).collect(),
            search: search.map(str::to_owned),
            ..FeedQuery::default()
        };
        let pages: Vec<_> = [FilterPlan::Map, FilterPlan::Walk]
            .into_iter()
            .map(|sources| {
                let plans = Plans {
                    sources,
                    ..Plans::WALK
                };
                whole_and_after_third(&conn, &mut query, plans)
            })
            .collect();
        assert!(pages[0].0.len() > 3, "{sources:?}");
        assert_eq!(pages[0], pages[1], "{sources:?} {search:?}");
    }
    // Few items: mapped.
    let outlet = [SourceId::new("outlet")];
    assert_eq!(
        source_plan(&conn, stored_items(&conn).unwrap(), &outlet).unwrap(),
        FilterPlan::Map
    );
}

#[test]
fn both_tag_plans_give_the_same_pages() {
    let (_dir, store) = store();
    let items: Vec<Item> = (1..=30)
        .map(|n| {
            let mut item = new_item(n, &format!("Harbour strike talks {n}"));
            item.categories = match n % 3 {
                0 => vec!["Harbour".into(), "Politics".into()],
                1 => vec!["politics".into()],
                _ => vec![],
            };
            item
        })
        .collect();
    write(&store, "agency", &items[..20]);
    write(&store, "outlet", &items[20..]);
    let conn = store.reader().unwrap();
    for (tag, copies, some) in [
        ("harbour", false, true),
        ("HARBOUR", true, true),
        ("Politics", false, true),
        ("outlet-tag", false, true),
        ("OUTLET-TAG", true, true),
        ("nosuch", false, false),
    ] {
        let mut query = FeedQuery {
            tag: Some(tag.into()),
            copies,
            ..FeedQuery::default()
        };
        let pages: Vec<_> = [FilterPlan::Map, FilterPlan::Walk]
            .into_iter()
            .map(|tag| {
                let plans = Plans { tag, ..Plans::WALK };
                whole_and_after_third(&conn, &mut query, plans)
            })
            .collect();
        assert_eq!(pages[0].0.len() > 3, some, "{tag}");
        assert_eq!(pages[0], pages[1], "{tag}, copies {copies}");
    }
    assert_eq!(
        tag_plan(&conn, stored_items(&conn).unwrap(), "harbour").unwrap(),
        FilterPlan::Map
    );
}

#[test]
fn item_tags_follow_the_items_categories() {
    let (dir, store) = store();
    let mut item = new_item(1, "Harbour strike");
    item.categories = vec!["Harbour".into(), "harbour".into(), "Ferry".into()];
    write(&store, "agency", std::slice::from_ref(&item));
    let tags = |store: &Store| -> Vec<String> {
        let conn = store.reader().unwrap();
        let mut stmt = conn
            .prepare("SELECT tag FROM item_tags ORDER BY tag")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(tags(&store), ["ferry", "harbour"]);
    item.categories = vec!["Budget".into()];
    item.title = "Harbour strike ends".into();
    write(&store, "agency", std::slice::from_ref(&item));
    assert_eq!(tags(&store), ["budget"]);
    let conn = Connection::open(dir.path().join("t.db")).unwrap();
    conn.execute_batch("DELETE FROM items").unwrap();
    assert!(tags(&store).is_empty());
}

#[test]
fn a_common_word_the_newest_stories_lack_is_sieved_not_walked() {
    let (_dir, store) = store();
    // The ten oldest items say "strike", the forty newest do not.
    let items: Vec<Item> = (1..=50)
        .map(|n| {
            let title = if n <= 10 {
                "Harbour strike"
            } else {
                "Election count"
            };
            new_item(n, &format!("{title} {n}"))
        })
        .collect();
    write(&store, "agency", &items);
    let conn = store.reader().unwrap();
    for copies in [false, true] {
        // Of the 32 newest stories (or items), none says "strike", all
        // say "count".
        let sampled = |search| {
            let (matches, sample) = measure(&conn, search, copies, 10).unwrap();
            (matches, sample.map(|s| s.matched))
        };
        assert_eq!(sampled("strike"), (10, Some(0)), "copies {copies}");
        assert_eq!(sampled("count"), (10, Some(32)), "copies {copies}");
        let (matches, sample) = measure(&conn, "strike", copies, 10).unwrap();
        assert_eq!(
            choose_plan(matches, 5, sample, 50),
            SearchPlan::Sieve,
            "copies {copies}"
        );
    }
    drop(conn);
    let page = store
        .feed_page(&FeedQuery {
            search: Some("strike".into()),
            limit: 3,
            ..FeedQuery::default()
        })
        .unwrap();
    let titles: Vec<&str> = page
        .stories
        .iter()
        .map(|s| s.chosen.item.title.as_str())
        .collect();
    assert_eq!(
        titles,
        ["Harbour strike 10", "Harbour strike 9", "Harbour strike 8"]
    );
}

#[test]
fn a_malformed_search_is_a_bad_search_not_a_store_failure() {
    let (_dir, store) = store();
    for bad in ["\"unclosed", "AND AND", "nosuchcolumn: x", "(a"] {
        let e = store
            .feed_page(&FeedQuery {
                search: Some(bad.into()),
                ..FeedQuery::default()
            })
            .unwrap_err();
        assert!(matches!(e, FeedQueryError::BadSearch(_)), "{bad}: {e}");
    }
}

#[test]
fn only_a_near_group_counts_as_near() {
    assert!(has_near("NEAR(port strike, 5)"));
    assert!(has_near("title:x AND NEAR (a b)"));
    assert!(!has_near("nearby port"));
    assert!(!has_near("Near East"));
    assert!(!has_near("LINEAR(x)"));
    assert!(!has_near("NEARLY"));
}

#[test]
fn a_page_past_its_budget_is_stopped_and_the_reader_is_fine_after() {
    let (_dir, store) = store();
    let items: Vec<Item> = (1..=40)
        .map(|n| new_item(n, &format!("Harbour strike day {n}")))
        .collect();
    write(&store, "agency", &items);
    let query = FeedQuery {
        search: Some("NEAR(h* s* d* b*, 50)".into()),
        ..FeedQuery::default()
    };
    let e = store
        .feed_page_within(&query, Duration::ZERO)
        .expect_err("no time at all");
    assert!(matches!(e, FeedQueryError::TooSlow(_)), "{e}");
    // Every reader of the pool reads whole pages again.
    for _ in 0..crate::store::READERS {
        assert_eq!(store.feed_page(&query).unwrap().stories.len(), 40);
    }
}
