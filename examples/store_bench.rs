//! Times the store's answers on a filled database, in-process: how long it
//! takes to open, the merged feed's first page, `q=` searches, and the
//! dedup → store step for new items. `bench/scale.sh` runs it on a store of
//! ~10 000 and one of ~1 000 000 items, so each cost can be told as a ratio.
//!
//! ```text
//! cargo run --release --example store_bench -- DB [--runs 5] [--search WORD]...
//!     [--feeds DIR] [--jsonl FILE.jsonl]
//! ```
//!
//! - open: `Store::open` on the existing file (schema check, WAL, two
//!   connections), median of `--runs`.
//! - page: `Store::feed_page` for the first page of 50 stories (the HTTP page
//!   cache is not involved). The first call on a fresh store (statement
//!   prepared, SQLite's page cache empty) is reported beside the median of
//!   the next `--runs`.
//! - search: the same page with `search = WORD`, for each `--search`.
//! - write: new items through `merge::store_items`, the daemon's own
//!   dedup → store step, one call per poll of one source, every poll of a run
//!   in one write transaction that is then rolled back, so the store is left
//!   as it was and every run sees the same store. Each run starts with an
//!   empty fingerprint cache (as after a restart): a candidate is
//!   re-fingerprinted from its stored text. Thread CPU time of the whole
//!   run (the clock moves in scheduler ticks, too coarse for one poll),
//!   excluding the full-text indexing and the commit that a real poll does
//!   after this step; wall time beside it. The baseline in the same run:
//!   the same items stored without dedup (each its own story), also rolled
//!   back; the difference is what dedup costs. Beside it, untimed: how many
//!   stored candidates each new item's keys find inside the window (each
//!   one is read and re-fingerprinted).
//!   - `--feeds DIR`: the feed files listed in `DIR/urls.txt` (as written by
//!     `bench/gen_corpus.py`), parsed by `ingest::parse`; file k is written as
//!     a poll of the k-th source of the store (by id), with fresh identities.
//!     With `gen_corpus.py --sources N+K --only-from N`, a quarter of them are
//!     copies of stories the store already holds.
//!   - `--jsonl FILE`: items in the dedup development set's format (the file
//!     is read, never copied), their dates shifted so the newest is the
//!     store's newest story, outlet k written as the k-th source of the store.
//!
//! Every figure is also printed as a line `RESULT name value` for scripts.

// A measuring tool run by hand: a bad file or a failed write ends it with
// the reason, which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use wiredesk::config::DedupSettings;
use wiredesk::dedup::Thresholds;
use wiredesk::ingest::{self, FetchedBody, Limits};
use wiredesk::merge;
use wiredesk::model::{Item, SourceId};
use wiredesk::store::{FeedQuery, Store, StoreError, WriteSummary};

/// What the write closures return to roll their transaction back.
const ROLLBACK: &str = "store_bench: rolled back on purpose";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(db) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: store_bench DB [--runs N] [--search WORD]... [--feeds DIR] [--jsonl FILE]"
        );
        std::process::exit(2);
    };
    let db = PathBuf::from(db);
    let opt = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let searches: Vec<String> = args
        .windows(2)
        .filter(|w| w[0] == "--search")
        .map(|w| w[1].clone())
        .collect();
    let runs: usize = opt("--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    assert!(db.is_file(), "{} is not a database file", db.display());

    // Open.
    let open_ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            let store = Store::open(&db).expect("open the store");
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            drop(store);
            ms
        })
        .collect();
    result("open_ms", median(&open_ms));

    // Size.
    let store = Store::open(&db).expect("open the store");
    let counts = store.counts().expect("count");
    let main_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    let wal_bytes = std::fs::metadata(wal_path(&db))
        .map(|m| m.len())
        .unwrap_or(0);
    let items = counts.items.max(1) as f64;
    println!(
        "{}: {} sources, {} items, {} stories; {:.1} MB (+ {:.1} MB of WAL)",
        db.display(),
        counts.sources,
        counts.items,
        counts.stories,
        main_bytes as f64 / 1e6,
        wal_bytes as f64 / 1e6
    );
    result("items", counts.items as f64);
    result("stories", counts.stories as f64);
    result("sources", counts.sources as f64);
    result("db_bytes", main_bytes as f64);
    result("db_bytes_per_item", main_bytes as f64 / items);
    if let Ok(bytes) = store.dedup_index_bytes() {
        result("dedup_index_bytes_per_item", bytes as f64 / items);
    }

    // Pages, each on a fresh store so the first call is a cold one.
    let page = |name: &str, search: Option<&str>| {
        let store = Store::open(&db).expect("open the store");
        let query = FeedQuery {
            limit: 50,
            search: search.map(str::to_owned),
            ..FeedQuery::default()
        };
        let time = || {
            let t0 = Instant::now();
            let page = store.feed_page(&query).expect("read a page");
            (t0.elapsed().as_secs_f64() * 1e3, page)
        };
        let (first, page) = time();
        let rest: Vec<f64> = (0..runs).map(|_| time().0).collect();
        let copies: usize = page.stories.iter().map(|s| 1 + s.others.len()).sum();
        println!(
            "{name}: {} stories ({copies} copies) in {first:.2} ms first, {:.2} ms median of {runs} (min {:.2}, max {:.2})",
            page.stories.len(),
            median(&rest),
            rest.iter().copied().fold(f64::INFINITY, f64::min),
            rest.iter().copied().fold(0.0, f64::max),
        );
        result(&format!("{name}_first_ms"), first);
        result(&format!("{name}_ms"), median(&rest));
        result(&format!("{name}_stories"), page.stories.len() as f64);
    };
    page("page", None);
    for word in &searches {
        page(&format!("search_{word}"), Some(word));
    }

    // Writes.
    let sources: Vec<SourceId> = store
        .source_states()
        .expect("read the sources")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(!sources.is_empty(), "the store has no sources");
    let newest = store
        .feed_page(&FeedQuery {
            limit: 1,
            ..FeedQuery::default()
        })
        .expect("read the newest story")
        .stories
        .first()
        .and_then(|s| s.chosen.item.published.or(Some(s.chosen.first_seen)))
        .unwrap_or_else(Utc::now);
    if let Some(dir) = opt("--feeds") {
        let polls = feed_polls(Path::new(&dir), &sources);
        write_bench(&store, "feeds", &polls, runs);
    }
    if let Some(file) = opt("--jsonl") {
        let polls = jsonl_polls(Path::new(&file), &sources, newest);
        write_bench(&store, "jsonl", &polls, runs);
    }
}

/// One poll: a source and the items it brings.
struct Poll {
    source: SourceId,
    items: Vec<Item>,
}

/// Times the dedup → store step and the no-dedup baseline on `polls`: one
/// warm-up run, then `runs` runs, each rolled back.
fn write_bench(store: &Store, name: &str, polls: &[Poll], runs: usize) {
    let n: usize = polls.iter().map(|p| p.items.len()).sum();
    let settings = DedupSettings {
        enabled: true,
        thresholds: Thresholds::default(),
    };
    let now = Utc::now();
    let mut dedup_us = Vec::new();
    let mut base_us = Vec::new();
    let mut wall_us = Vec::new();
    let mut first = None;
    let mut summary = WriteSummary::default();
    for run in 0..=runs {
        let merging = merge::Merging::new(&settings);
        let mut sum = WriteSummary::default();
        // One interval per run: the thread CPU clock read here moves in
        // scheduler ticks (4 ms), too coarse for one poll.
        let mut cpu = 0.0;
        let mut wall = 0.0;
        rolled_back(store.write_poll(|tx| {
            let mut known = merging.known();
            let (c0, t0) = (thread_cpu_secs(), Instant::now());
            for poll in polls {
                // As a poll does: fingerprints made before the write (here
                // inside it, on the same thread, and counted), then the write.
                let (source, items) = (&poll.source, poll.items.clone());
                let learned = merging.learned.of(source);
                let mut items = merge::prepare(source, items, now, &learned, &Default::default());
                let s = merge::store_items(tx, source, &mut items, now, &settings, &mut known)?;
                sum.new += s.new;
                sum.merged += s.merged;
                sum.updated += s.updated;
            }
            (cpu, wall) = (thread_cpu_secs() - c0, t0.elapsed().as_secs_f64());
            Err(StoreError::Internal(ROLLBACK.into()))
        }));
        let mut base = 0.0;
        rolled_back(store.write_poll(|tx| {
            let c0 = thread_cpu_secs();
            for poll in polls {
                for item in &poll.items {
                    if tx.existing_item(&poll.source, &item.identity)?.is_none() {
                        let story = tx.insert_story(&poll.source, &item.identity, now)?;
                        tx.insert_item(&poll.source, story, item, &[], 0, &[], now)?;
                    }
                }
            }
            base = thread_cpu_secs() - c0;
            Err(StoreError::Internal(ROLLBACK.into()))
        }));
        let per = |s: f64| s * 1e6 / n.max(1) as f64;
        if run == 0 {
            first = Some(per(cpu));
            summary = sum;
        } else {
            dedup_us.push(per(cpu));
            wall_us.push(per(wall));
            base_us.push(per(base));
        }
    }
    // Not timed: how many stored items each new item is compared with
    // (candidates found by its keys inside the window; each is
    // re-fingerprinted from its stored text unless cached).
    let mut candidates = 0usize;
    rolled_back(store.write_poll(|tx| {
        let stats = merge::StatsFn(|source: &str, hash: u64| {
            tx.boilerplate_count(source, hash).unwrap_or(0)
        });
        let window = settings.thresholds.window_secs;
        for poll in polls {
            for item in &poll.items {
                let at = item.published.unwrap_or(now).timestamp();
                let fp = merge::fingerprint_item(&poll.source, item, at, &stats);
                let keys = fp.index_keys();
                candidates += tx.candidates(&keys, at - window, at + window)?.len();
            }
        }
        Err(StoreError::Internal(ROLLBACK.into()))
    }));
    let (d, b) = (median(&dedup_us), median(&base_us));
    println!(
        "write {name}: {n} new items in {} polls ({} joined a story, {} new stories); \
         thread CPU per item: dedup → store {d:.1} µs (first run {:.1}), \
         without dedup {b:.1} µs, so dedup {:.1} µs; wall time {:.1} µs (medians of {runs}, rolled back); \
         {:.2} stored candidates per item",
        polls.len(),
        summary.merged,
        summary.new - summary.merged,
        first.unwrap_or(0.0),
        d - b,
        median(&wall_us),
        candidates as f64 / n.max(1) as f64
    );
    result(&format!("write_{name}_items"), n as f64);
    result(&format!("write_{name}_merged"), summary.merged as f64);
    result(&format!("write_{name}_us"), d);
    result(&format!("write_{name}_first_us"), first.unwrap_or(0.0));
    result(&format!("write_{name}_wall_us"), median(&wall_us));
    result(
        &format!("write_{name}_candidates"),
        candidates as f64 / n.max(1) as f64,
    );
    result(&format!("write_{name}_nodedup_us"), b);
    result(&format!("write_{name}_dedup_only_us"), d - b);
}

/// Checks that a write was rolled back on purpose, not failed.
fn rolled_back(r: Result<(), StoreError>) {
    match r {
        Err(StoreError::Internal(m)) if m == ROLLBACK => {}
        Err(e) => panic!("the write failed: {e}"),
        Ok(()) => unreachable!("the write closures always roll back"),
    }
}

/// The feeds listed in `dir/urls.txt`, parsed, file k as a poll of
/// `sources[k]` with identities no stored item has.
fn feed_polls(dir: &Path, sources: &[SourceId]) -> Vec<Poll> {
    let list = std::fs::read_to_string(dir.join("urls.txt")).expect("read urls.txt");
    let now = Utc::now();
    list.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(k, name)| {
            let bytes = std::fs::read(dir.join(name)).expect("read a feed file");
            let url = url::Url::parse(&format!("http://127.0.0.1/{name}")).expect("url");
            let body = FetchedBody {
                bytes: &bytes,
                content_type: None,
                url: &url,
            };
            let mut items = ingest::parse(&body, now, &Limits::default())
                .expect("parse a feed file")
                .items;
            for it in &mut items {
                it.identity = format!("store-bench-{name}-{}", it.identity);
            }
            Poll {
                source: sources[k % sources.len()].clone(),
                items,
            }
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct Raw {
    id: String,
    source: String,
    title: String,
    link: Option<String>,
    published: String,
    summary_html: String,
    content_html: String,
}

/// Items of a dev-set file, grouped into polls of consecutive items of one
/// outlet (in published order), outlet k as `sources[k]`, dated so that the
/// newest is `newest`.
fn jsonl_polls(path: &Path, sources: &[SourceId], newest: DateTime<Utc>) -> Vec<Poll> {
    let text = std::fs::read_to_string(path).expect("read the JSONL file");
    let mut raws: Vec<(i64, Raw)> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: Raw = serde_json::from_str(l).expect("parse a line");
            let at = DateTime::parse_from_rfc3339(&r.published).map_or(0, |t| t.timestamp());
            (at, r)
        })
        .collect();
    raws.sort_by_key(|(at, _)| *at);
    let shift = newest.timestamp() - raws.last().map_or(0, |(at, _)| *at);
    let mut outlets: Vec<&str> = raws.iter().map(|(_, r)| r.source.as_str()).collect();
    outlets.sort_unstable();
    outlets.dedup();
    let source_of = |outlet: &str| {
        let k = outlets.binary_search(&outlet).unwrap_or(0);
        sources[k % sources.len()].clone()
    };
    let mut polls: Vec<Poll> = Vec::new();
    for (at, r) in &raws {
        let item = Item {
            identity: format!("store-bench-{}", r.id),
            title: r.title.clone(),
            link: r.link.clone(),
            published: DateTime::from_timestamp(at + shift, 0),
            updated: None,
            author: None,
            summary: Some(ammonia::clean(&r.summary_html)).filter(|s| !s.is_empty()),
            content: Some(ammonia::clean(&r.content_html)).filter(|s| !s.is_empty()),
            categories: vec![],
            enclosures: vec![],
        };
        let source = source_of(&r.source);
        match polls.last_mut() {
            Some(p) if p.source == source => p.items.push(item),
            _ => polls.push(Poll {
                source,
                items: vec![item],
            }),
        }
    }
    polls
}

fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn result(name: &str, value: f64) {
    println!("RESULT {name} {value}");
}

/// This thread's CPU time in seconds (Linux: the first field of
/// /proc/thread-self/schedstat, in ns; 0 elsewhere).
fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}
