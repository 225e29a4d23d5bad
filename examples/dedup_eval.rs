//! Evaluates the dedup module on a labelled JSONL file (dev-set format).
//!
//! ```text
//! cargo run --release --example dedup_eval -- FILE.jsonl [--holdout] [--synth]
//!     [--refingerprint] [--thresholds FILE.json] [--dump-pairs FILE]
//! ```
//! Items run in `published` order as a poll would: `ammonia::clean` on the HTML, then
//! the daemon's own dedup → store step (`merge::store_items`) on a real SQLite
//! store: fingerprint → candidate lookup by indexed keys inside the window → candidates
//! re-fingerprinted from their stored HTML → assign → write item, keys and boilerplate
//! observations, one transaction per item. `--memory` runs the pairwise decision over an
//! in-memory key index instead (faster, for tuning thresholds; each item joins its best
//! story only: no joining of stories, no repeats under new ids). Only `source`, `title`,
//! `link`, `published`, `summary_html`, `content_html` and `id` feed the method; `story`,
//! `kind`, `variant` are read for scoring only.
//!
//! `--holdout`: outlets are split in two fixed halves (by a hash of the outlet id); the
//! figures are reported for pairs touching the "tune" half and for pairs touching the
//! "holdout" half separately (thresholds were only inspected on the tune half's errors).
//! `--synth`: adds, for every wire item, one or two republications in wrappers invented
//! here (other ad texts, labels, captions, datelines, typography, abridging, teasers) from
//! outlets that do not exist in the file, and reports their recall separately.
//! `--order reverse|shuffle:SEED`: write the polls newest first, or in a shuffled order
//! (items keep their order within a poll), to see how much the grouping depends on the
//! order polls arrive in; the number of stories is printed.
//! `--off`: run the store path with `[dedup] enabled = false` (its cost against the
//! baseline of plain inserts printed beside it; nothing is merged).
//! `--refingerprint`: verify candidates by re-fingerprinting them from their stored HTML
//! (no fingerprint cache), to measure that cost.
//! `--prefill N`: before the run, store N generated items (three paragraphs of random
//! words each, dated across the file's time span, from 50 other sources) through the
//! same path, so the cost per item can be compared at store sizes 10 k and 1 M.

// A measuring tool run by hand: a bad file or a failed write ends it with
// the reason, which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use wiredesk::config::DedupSettings;
use wiredesk::dedup::{self, DedupInput, Fingerprint, Thresholds, fingerprint};
use wiredesk::merge;
use wiredesk::model::{Item as FeedItem, Source, SourceId};
use wiredesk::store::Store;

#[derive(serde::Deserialize)]
struct Raw {
    id: String,
    source: String,
    #[allow(dead_code)]
    source_name: String,
    title: String,
    link: Option<String>,
    published: String,
    summary_html: String,
    content_html: String,
    story: String,
    kind: String,
    #[serde(default)]
    variant: String,
}

struct Item {
    id: String,
    source: String,
    title: String,
    link: Option<String>,
    published: i64,
    summary: String,
    content: String,
    story: String,
    kind: String,
    variant: String,
    synthetic: bool,
}

fn parse_time(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn input(it: &Item) -> DedupInput<'_> {
    DedupInput {
        source: &it.source,
        title: &it.title,
        link: it.link.as_deref(),
        published: it.published,
        summary_html: &it.summary,
        content_html: &it.content,
    }
}

fn trunc(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// Stable small hash for splits.
fn h(s: &str) -> u64 {
    let mut x: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        x ^= u64::from(b);
        x = x.wrapping_mul(0x100000001b3);
    }
    x
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: dedup_eval FILE.jsonl [--holdout] [--synth] [--refingerprint]");
        std::process::exit(2);
    };
    let flag = |f: &str| args.iter().any(|a| a == f);
    let opt = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let t: Thresholds = match opt("--thresholds") {
        Some(p) => serde_json::from_str(&std::fs::read_to_string(p).expect("read thresholds"))
            .expect("parse thresholds"),
        None => Thresholds::default(),
    };
    let text = std::fs::read_to_string(path).expect("read input");
    let mut items: Vec<Item> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let r: Raw = serde_json::from_str(l).expect("parse line");
            Item {
                published: parse_time(&r.published),
                id: r.id,
                source: r.source,
                title: r.title,
                link: r.link,
                summary: r.summary_html,
                content: r.content_html,
                story: r.story,
                kind: r.kind,
                variant: r.variant,
                synthetic: false,
            }
        })
        .collect();
    if flag("--synth") {
        let extra = synth::make(&items);
        items.extend(extra);
    }
    items.sort_by_key(|i| i.published);
    // Mirror production: the stored HTML is ammonia-cleaned.
    for it in &mut items {
        it.summary = ammonia::clean(&it.summary);
        it.content = ammonia::clean(&it.content);
    }

    let n = items.len();
    let mut stats: HashMap<(String, u64), u32> = HashMap::new();
    // Per (source, paragraph), the remaining texts seen with it, as the store keeps them.
    let mut rests: HashMap<(String, u64), u64> = HashMap::new();
    let mut index: HashMap<u64, Vec<(usize, i64)>> = HashMap::new();
    let mut fps: Vec<Fingerprint> = Vec::with_capacity(n);
    let mut story_of: Vec<usize> = Vec::with_capacity(n);
    let mut total = Duration::ZERO;
    let mut key_rows = 0usize;
    let mut bp_new_rows = 0usize;
    let mut ncand_total = 0usize;
    let refp = flag("--refingerprint");
    let db_dir = tempfile::tempdir().expect("temporary folder");
    let mut index_bytes: Option<f64> = None;
    let mut store_cpu: Option<f64> = None;
    let mut baseline_cpu: Option<f64> = None;
    let cpu0 = thread_cpu_secs();
    if flag("--memory") {
        for (i, it) in items.iter().enumerate() {
            let t0 = Instant::now();
            let fp = fingerprint(&input(it), &stats);
            let keys = fp.index_keys();
            let mut cands: Vec<usize> = Vec::new();
            for k in &keys {
                if let Some(v) = index.get(k) {
                    for &(j, p) in v {
                        if (p - it.published).abs() <= t.window_secs {
                            cands.push(j);
                        }
                    }
                }
            }
            cands.sort_unstable();
            cands.dedup();
            ncand_total += cands.len();
            let refps: Vec<Fingerprint>;
            let chosen = if refp {
                refps = cands
                    .iter()
                    .map(|&j| fingerprint(&input(&items[j]), &stats))
                    .collect();
                dedup::assign(
                    &fp,
                    cands
                        .iter()
                        .zip(refps.iter())
                        .map(|(&j, f)| (story_of[j], f)),
                    &t,
                )
            } else {
                dedup::assign(&fp, cands.iter().map(|&j| (story_of[j], &fps[j])), &t)
            };
            let story = match chosen {
                Some((s, _)) => s,
                None => i,
            };
            for k in &keys {
                index.entry(*k).or_default().push((i, it.published));
            }
            for o in fp.boilerplate_observations() {
                let set = rests.entry((it.source.clone(), o.paragraph)).or_insert(0);
                if *set == 0 {
                    bp_new_rows += 1;
                }
                *set |= o.rest_bit();
                stats.insert((it.source.clone(), o.paragraph), set.count_ones());
            }
            total += t0.elapsed();
            key_rows += keys.len();
            story_of.push(story);
            fps.push(fp);
        }
    } else {
        let store = Store::open(&db_dir.path().join("eval.db")).expect("open the store");
        let mut outlets: Vec<&str> = items.iter().map(|i| i.source.as_str()).collect();
        outlets.sort_unstable();
        outlets.dedup();
        let sources: Vec<Source> = outlets
            .iter()
            .map(|o| Source {
                id: SourceId::new(*o),
                name: (*o).to_owned(),
                url: url::Url::parse(&format!("https://{o}.example/feed")).expect("url"),
                interval: Duration::from_secs(900),
                priority: 0,
                fixed_interval: false,
                headers: Default::default(),
                rules: Default::default(),
                websub: true,
                tags: vec![],
            })
            .collect();
        store.sync_sources(&sources).expect("record the sources");
        // `--off`: the same path with `[dedup] enabled = false`, to compare
        // its cost with the baseline (plain inserts).
        let settings = DedupSettings {
            enabled: !flag("--off"),
            thresholds: t.clone(),
        };
        let merging = merge::Merging::new(&settings);
        if let Some(count) = opt("--prefill").and_then(|c| c.parse::<usize>().ok()) {
            let first = items.first().map_or(0, |i| i.published);
            let last = items.last().map_or(0, |i| i.published);
            prefill(&store, &merging, count, first, last);
        }
        let mut cluster: HashMap<i64, usize> = HashMap::new();
        let mut cpu = 0.0;
        let mut repeated = 0usize;
        // Consecutive items of one source (in published order) are written
        // in one transaction, as one poll of that source writes its new
        // items; `--batch 1` writes every item on its own.
        let batch: usize = opt("--batch")
            .and_then(|b| b.parse().ok())
            .unwrap_or(usize::MAX)
            .max(1);
        let groups = polls(&items, batch);
        // `--order reverse` writes the polls newest first; `--order shuffle:SEED` in an
        // order drawn from SEED (items keep their order within a poll): the grouping
        // should not depend on it (#21).
        let order = opt("--order").unwrap_or_default();
        let mut arrival: Vec<&std::ops::Range<usize>> = groups.iter().collect();
        if order == "reverse" {
            arrival.reverse();
        } else if let Some(seed) = order.strip_prefix("shuffle:") {
            let mut state = h(seed);
            for i in (1..arrival.len()).rev() {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                arrival.swap(i, ((state >> 33) % (i as u64 + 1)) as usize);
            }
        }
        let mut by_item = vec![usize::MAX; n];
        // Per item, the stored item it repeats (not stored itself), if any.
        let mut stored_as = vec![None; n];
        for range in arrival {
            let (start, end) = (range.start, range.end);
            let source = SourceId::new(items[start].source.as_str());
            let at =
                chrono::DateTime::from_timestamp(items[end - 1].published, 0).unwrap_or_default();
            let feed_items: Vec<FeedItem> = items[start..end].iter().map(feed_item).collect();
            let t0 = Instant::now();
            let c0 = thread_cpu_secs();
            // As a poll does: fingerprints made before the write, then the
            // write (both counted).
            let learned = merging.learned.of(&source);
            let mut ready = merge::prepare(&source, feed_items, at, &learned, &Default::default());
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    merge::store_items(tx, &source, &mut ready, at, &settings, &mut known)
                })
                .expect("store the items");
            // An item its source sent before under another id is not
            // stored: it is in the story of the item it repeats.
            let repeats: HashMap<String, _> = known.repeats.drain(..).collect();
            repeated += repeats.len();
            known.committed();
            cpu += thread_cpu_secs() - c0;
            total += t0.elapsed();
            for (idx, it) in items.iter().enumerate().take(end).skip(start) {
                stored_as[idx] = repeats.get(&it.id).copied();
            }
        }
        // The stories once every poll is written (a later copy may join two).
        for (idx, it) in items.iter().enumerate() {
            let source = SourceId::new(it.source.as_str());
            let story = match stored_as[idx] {
                Some(of) => store
                    .dedup_item(of)
                    .expect("read the item")
                    .map(|c| c.story_id),
                None => store
                    .story_of_identity(&source, &it.id)
                    .expect("read the story"),
            }
            .expect("the item is stored");
            let next = cluster.len();
            by_item[idx] = *cluster.entry(story).or_insert(next);
        }
        story_of = by_item;
        println!(
            "stories: {} (polls written in {} order)",
            cluster.len(),
            if order.is_empty() { "time" } else { &order }
        );
        for it in &items {
            let fp = fingerprint(&input(it), &stats);
            key_rows += fp.index_keys().len();
            fps.push(fp);
        }
        let stored = store.counts().map(|c| c.items).unwrap_or(1).max(1);
        index_bytes = store
            .dedup_index_bytes()
            .ok()
            .map(|b| b as f64 / stored as f64);
        bp_new_rows = store.boilerplate_rows().map(|n| n as usize).unwrap_or(0);
        store_cpu = Some(cpu);
        println!("items not stored as repeats of an item of their source: {repeated}");
        baseline_cpu = Some(store_without_dedup(
            &db_dir.path().join("baseline.db"),
            &sources,
            &items,
            &groups,
        ));
    }
    let cpu = thread_cpu_secs() - cpu0;
    let stored_bytes: usize = fps.iter().map(|f| f.to_bytes().len()).sum();
    if let Some(pre) = opt("--show") {
        for it in items.iter().filter(|i| i.id.contains(pre.as_str())) {
            let nb = dedup::normalise_body(&input(it), &stats);
            println!(
                "### {} {} {} {:?}\nRAW SUMMARY: {}\nRAW CONTENT: {}\nNORMALISED:\n{}\n",
                it.id,
                it.kind,
                it.source,
                it.title,
                it.summary,
                it.content,
                nb.text()
            );
        }
        return;
    }

    println!("items {n}, thresholds {t:?}");
    println!(
        "mean time per item: {:.1} µs ({})",
        total.as_secs_f64() * 1e6 / n as f64,
        if flag("--memory") {
            format!(
                "in-memory index{}, mean candidates {:.2}",
                if refp {
                    ", candidates re-fingerprinted"
                } else {
                    ""
                },
                ncand_total as f64 / n as f64
            )
        } else if flag("--off") {
            "store path with [dedup] enabled = false: no fingerprint, no keys, no candidates"
                .to_owned()
        } else {
            "store path: fingerprint + SQLite candidate lookup + re-fingerprint + assign + write, one transaction per item".to_owned()
        }
    );
    if let Some(cpu) = store_cpu {
        println!(
            "CPU time of the dedup → store step alone: {:.1} µs per item (thread CPU, immune to other load)",
            cpu * 1e6 / n as f64
        );
        if let Some(base) = baseline_cpu {
            println!(
                "baseline in the same run, storing the same items without dedup: {:.1} µs per item; \
                 so dedup (fingerprint, candidate lookups, decision, its index) costs {:.1} µs per item",
                base * 1e6 / n as f64,
                (cpu - base) * 1e6 / n as f64
            );
        }
    }
    if let Some(bytes) = index_bytes {
        println!(
            "dedup index in the store: {bytes:.0} bytes per item (dedup_keys + its index + dedup_boilerplate, measured with dbstat)"
        );
    }
    let rows = key_rows as f64 / n as f64;
    let bprows = bp_new_rows as f64 / n as f64;
    println!(
        "thread CPU time of the whole loop (from /proc, ns; immune to other load): {:.1} µs per item",
        cpu * 1e6 / n as f64
    );
    println!(
        "index per item: {rows:.1} key rows (~{:.0} B at ~32 B/row in a WITHOUT ROWID table), {bprows:.2} new boilerplate rows (~{:.0} B); optional stored fingerprint {:.0} B",
        rows * 32.0,
        bprows * 40.0,
        stored_bytes as f64 / n as f64
    );

    let all: Vec<usize> = (0..n).collect();
    report(
        "ALL",
        &items,
        &story_of,
        &fps,
        &t,
        &index_sets(&fps),
        &all,
        true,
    );
    if flag("--holdout") {
        let outlets: HashSet<&str> = items.iter().map(|i| i.source.as_str()).collect();
        let mut outlets: Vec<&str> = outlets.into_iter().collect();
        outlets.sort();
        let held: HashSet<&str> = outlets.iter().copied().filter(|o| h(o) % 2 == 1).collect();
        println!("\nholdout outlets: {:?}", {
            let mut v: Vec<_> = held.iter().collect();
            v.sort();
            v
        });
        let tune: Vec<usize> = (0..n)
            .filter(|&i| !held.contains(items[i].source.as_str()))
            .collect();
        let hold: Vec<usize> = (0..n)
            .filter(|&i| held.contains(items[i].source.as_str()))
            .collect();
        report(
            "TUNE outlets (pairs with an item from a tune outlet)",
            &items,
            &story_of,
            &fps,
            &t,
            &index_sets(&fps),
            &tune,
            false,
        );
        report(
            "HOLDOUT outlets (pairs with an item from a held-out outlet)",
            &items,
            &story_of,
            &fps,
            &t,
            &index_sets(&fps),
            &hold,
            true,
        );
        let sa: Vec<usize> = (0..n)
            .filter(|&i| h(&items[i].story).is_multiple_of(2))
            .collect();
        let sb: Vec<usize> = (0..n).filter(|&i| h(&items[i].story) % 2 == 1).collect();
        report(
            "STORY split A",
            &items,
            &story_of,
            &fps,
            &t,
            &index_sets(&fps),
            &sa,
            false,
        );
        report(
            "STORY split B",
            &items,
            &story_of,
            &fps,
            &t,
            &index_sets(&fps),
            &sb,
            false,
        );
    }
    if flag("--synth") {
        let syn: Vec<usize> = (0..n).filter(|&i| items[i].synthetic).collect();
        report(
            "SYNTHETIC wrappers (pairs with an invented-wrapper item)",
            &items,
            &story_of,
            &fps,
            &t,
            &index_sets(&fps),
            &syn,
            true,
        );
    }
    if let Some(p) = opt("--dump-pairs") {
        dump_pairs(&p, &items, &fps, &index_sets(&fps), &t);
    }
}

/// Stores `items` in a fresh store at `path` the way a poll does, but
/// without dedup (no fingerprint, no keys, each item its own story): the
/// baseline the dedup cost is measured against. Returns the thread CPU
/// seconds spent.
fn store_without_dedup(
    path: &std::path::Path,
    sources: &[Source],
    items: &[Item],
    groups: &[std::ops::Range<usize>],
) -> f64 {
    let store = Store::open(path).expect("open the baseline store");
    store.sync_sources(sources).expect("record the sources");
    let mut cpu = 0.0;
    for range in groups {
        let source = SourceId::new(items[range.start].source.as_str());
        let feed_items: Vec<(FeedItem, chrono::DateTime<chrono::Utc>)> = items[range.clone()]
            .iter()
            .map(|it| {
                let at = chrono::DateTime::from_timestamp(it.published, 0).unwrap_or_default();
                (feed_item(it), at)
            })
            .collect();
        let c0 = thread_cpu_secs();
        store
            .write_poll(|tx| {
                for (item, at) in &feed_items {
                    if tx.existing_item(&source, &item.identity)?.is_none() {
                        let story = tx.insert_story(&source, &item.identity, *at)?;
                        tx.insert_item(&source, story, item, &[], 0, &[], *at)?;
                    }
                }
                Ok(())
            })
            .expect("store the items");
        cpu += thread_cpu_secs() - c0;
    }
    cpu
}

/// A labelled item as a feed item, as ingest would hand it on.
fn feed_item(it: &Item) -> FeedItem {
    FeedItem {
        identity: it.id.clone(),
        title: it.title.clone(),
        link: it.link.clone(),
        published: chrono::DateTime::from_timestamp(it.published, 0),
        updated: None,
        author: None,
        summary: Some(it.summary.clone()).filter(|s| !s.is_empty()),
        content: Some(it.content.clone()).filter(|s| !s.is_empty()),
        categories: vec![],
        enclosures: vec![],
    }
}

/// The polls that write `items`: runs of consecutive items (in published
/// order) of one source, at most `batch` long.
fn polls(items: &[Item], batch: usize) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && end - start < batch && items[end].source == items[start].source {
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
}

/// Stores `count` generated items dated between `first` and `last`, 1000 to
/// a transaction, and prints how long it took.
fn prefill(store: &Store, merging: &merge::Merging, count: usize, first: i64, last: i64) {
    let words: Vec<String> = (0..20_000)
        .map(|i| format!("w{:x}", h(&i.to_string()) % 1_000_003))
        .collect();
    let mut rng = fastrand::Rng::with_seed(20261128);
    let sources: Vec<Source> = (0..50)
        .map(|i| Source {
            id: SourceId::new(format!("filler-{i}")),
            name: format!("filler {i}"),
            url: url::Url::parse(&format!("https://filler{i}.example/feed")).expect("url"),
            interval: Duration::from_secs(900),
            priority: 0,
            fixed_interval: false,
            headers: Default::default(),
            rules: Default::default(),
            websub: true,
            tags: vec![],
        })
        .collect();
    store
        .sync_sources(&sources)
        .expect("record the filler sources");
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let n = (count - done).min(1000);
        let source = &sources[rng.usize(..sources.len())].id;
        let batch: Vec<FeedItem> = (0..n)
            .map(|k| {
                let para = |rng: &mut fastrand::Rng| {
                    let text: Vec<&str> = (0..60)
                        .map(|_| words[rng.usize(..words.len())].as_str())
                        .collect();
                    format!("<p>{}.</p>", text.join(" "))
                };
                let at = first + rng.i64(0..(last - first).max(1));
                FeedItem {
                    identity: format!("filler-{}", done + k),
                    title: format!("Filler story {}", done + k),
                    link: Some(format!("https://filler.example/{}", done + k)),
                    published: chrono::DateTime::from_timestamp(at, 0),
                    updated: None,
                    author: None,
                    summary: None,
                    content: Some(format!(
                        "{}{}{}",
                        para(&mut rng),
                        para(&mut rng),
                        para(&mut rng)
                    )),
                    categories: vec![],
                    enclosures: vec![],
                }
            })
            .collect();
        let now = chrono::DateTime::from_timestamp(last, 0).unwrap_or_default();
        let mut batch = merge::prepare(
            source,
            batch,
            now,
            &merging.learned.of(source),
            &Default::default(),
        );
        let mut known = merging.known();
        store
            .write_poll(|tx| {
                merge::store_items(tx, source, &mut batch, now, &merging.dedup, &mut known)
            })
            .expect("store filler items");
        known.committed();
        done += n;
    }
    println!(
        "prefilled {count} items in {:.0} s ({:.0} µs per item)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e6 / count.max(1) as f64
    );
}

/// This thread's CPU time in seconds (Linux: the first field of
/// /proc/thread-self/schedstat, in ns; 0 elsewhere).
fn thread_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn index_sets(fps: &[Fingerprint]) -> Vec<HashSet<u64>> {
    fps.iter()
        .map(|f| f.index_keys().into_iter().collect())
        .collect()
}

/// Scores pairs that include at least one item of `focus`.
#[allow(clippy::too_many_arguments)]
fn report(
    name: &str,
    items: &[Item],
    story_of: &[usize],
    fps: &[Fingerprint],
    t: &Thresholds,
    keys: &[HashSet<u64>],
    focus: &[usize],
    details: bool,
) {
    let n = items.len();
    let infocus: HashSet<usize> = focus.iter().copied().collect();
    let mut by_story: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_clu: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        by_story.entry(items[i].story.as_str()).or_default().push(i);
        by_clu.entry(story_of[i]).or_default().push(i);
    }
    let kinds = [
        "wire",
        "republication",
        "summary",
        "writethru",
        "followup",
        "natural",
    ];
    let mut dup = 0u64;
    let mut tp = 0u64;
    let mut kind_dup: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut misses: Vec<(usize, usize)> = Vec::new();
    for v in by_story.values() {
        for (x, &a) in v.iter().enumerate() {
            for &b in &v[x + 1..] {
                if !(infocus.contains(&a) || infocus.contains(&b)) {
                    continue;
                }
                dup += 1;
                let together = story_of[a] == story_of[b];
                if together {
                    tp += 1;
                } else {
                    misses.push((a, b));
                }
                let mut ks = vec![items[a].kind.as_str(), items[b].kind.as_str()];
                ks.dedup();
                for k in ks {
                    let e = kind_dup.entry(k).or_default();
                    e.0 += 1;
                    e.1 += u64::from(together);
                }
            }
        }
    }
    let mut put = 0u64;
    let mut fm: Vec<(usize, usize)> = Vec::new();
    let mut kind_fm: HashMap<&str, u64> = HashMap::new();
    for v in by_clu.values() {
        for (x, &a) in v.iter().enumerate() {
            for &b in &v[x + 1..] {
                if !(infocus.contains(&a) || infocus.contains(&b)) {
                    continue;
                }
                put += 1;
                if items[a].story != items[b].story {
                    fm.push((a, b));
                    let mut ks = vec![items[a].kind.as_str(), items[b].kind.as_str()];
                    ks.dedup();
                    for k in ks {
                        *kind_fm.entry(k).or_default() += 1;
                    }
                }
            }
        }
    }
    let p = if put == 0 {
        1.0
    } else {
        tp as f64 / put as f64
    };
    let r = if dup == 0 {
        1.0
    } else {
        tp as f64 / dup as f64
    };
    let f1 = if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    };
    println!("\n=== {name}: {} items in focus", focus.len());
    println!(
        "precision {p:.4}  recall {r:.4}  F1 {f1:.4}   (dup pairs {dup}, together {put}, correct {tp}, false {})",
        put - tp
    );
    for k in kinds {
        let (d, tg) = kind_dup.get(k).copied().unwrap_or((0, 0));
        let rr = if d == 0 {
            f64::NAN
        } else {
            tg as f64 / d as f64
        };
        println!(
            "  {k:<14} recall {rr:.4} ({tg}/{d})  false merges {}",
            kind_fm.get(k).copied().unwrap_or(0)
        );
    }
    if !details {
        return;
    }
    let show = |a: usize, b: usize| {
        let v = dedup::decide(&fps[a], &fps[b], t);
        let cand = !keys[a].is_disjoint(&keys[b]);
        println!(
            "  {} [{} {} {}] {:?}\n  {} [{} {} {}] {:?}\n    cand={cand} {}",
            &items[a].id[9..17],
            items[a].kind,
            items[a].source,
            trunc(&items[a].variant, 60),
            trunc(&items[a].title, 50),
            &items[b].id[9..17],
            items[b].kind,
            items[b].source,
            trunc(&items[b].variant, 60),
            trunc(&items[b].title, 50),
            v.to_string().replace('\n', "\n    ")
        );
    };
    let strength = |a: usize, b: usize| {
        let s = dedup::scores(&fps[a], &fps[b], t);
        s.resemblance.max(s.containment)
    };
    fm.sort_by(|x, y| strength(y.0, y.1).total_cmp(&strength(x.0, x.1)));
    println!("-- worst false merges ({} pairs):", fm.len());
    for &(a, b) in fm.iter().take(10) {
        show(a, b);
    }
    misses.sort_by(|x, y| strength(y.0, y.1).total_cmp(&strength(x.0, x.1)));
    let mut mv: HashMap<String, usize> = HashMap::new();
    for &(a, b) in &misses {
        let (va, vb) = (items[a].variant.as_str(), items[b].variant.as_str());
        let key = format!("{} + {}", va.min(vb), va.max(vb));
        *mv.entry(key).or_default() += 1;
    }
    let mut mv: Vec<_> = mv.into_iter().collect();
    mv.sort_by_key(|x| std::cmp::Reverse(x.1));
    println!("-- missed pairs by variants: {:?}", &mv[..mv.len().min(8)]);
    println!("-- worst misses ({} pairs):", misses.len());
    for &(a, b) in misses.iter().take(10) {
        show(a, b);
    }
}

/// Writes every candidate pair's scores with its label, for threshold analysis.
fn dump_pairs(
    path: &str,
    items: &[Item],
    fps: &[Fingerprint],
    keys: &[HashSet<u64>],
    t: &Thresholds,
) {
    use std::io::Write;
    let mut inv: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, ks) in keys.iter().enumerate() {
        for k in ks {
            inv.entry(*k).or_default().push(i);
        }
    }
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create dump"));
    for v in inv.values() {
        for (x, &a) in v.iter().enumerate() {
            for &b in &v[x + 1..] {
                let (a, b) = (a.min(b), a.max(b));
                if (items[a].published - items[b].published).abs() > t.window_secs
                    || !seen.insert((a, b))
                {
                    continue;
                }
                let s = dedup::scores(&fps[a], &fps[b], t);
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{:.4}\t{:.4}\t{}\t{}\t{}\t{}\t{}",
                    u8::from(items[a].story == items[b].story),
                    items[a].kind,
                    items[b].kind,
                    items[a].source,
                    items[b].source,
                    s.shingles.0.min(s.shingles.1),
                    s.resemblance,
                    s.containment,
                    s.lead_offset.map_or(-1, i64::from),
                    u8::from(s.same_title),
                    u8::from(s.same_link),
                    u8::from(s.same_body),
                    s.lead_shared,
                );
            }
        }
    }
}

mod synth {
    //! Invented republication wrappers, unlike the dev set's: for generalisation checks.
    use super::Item;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
        fn chance(&mut self, p: f64) -> bool {
            (self.next() % 10_000) as f64 / 10_000.0 < p
        }
        fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
            v[self.below(v.len())]
        }
    }

    const TOP: &[&str] = &[
        "<p>Sponsored content</p>",
        "<p>Scroll to continue reading</p>",
        "<p>Posted by the newsroom desk</p>",
        "<p>Breaking News Desk</p>",
        "<p>Font size - +</p>",
        "<p>Email this story | Print</p>",
        "<p>Trending now</p>",
        "<p>Updated: 4 minutes ago</p>",
        "<p>Last updated on Tuesday, 3 March 2026 at 9:41 am</p>",
        "<p>WX-Syndicate Story</p>",
        "<p>Estimated reading time: 3 min</p>",
    ];
    const BOTTOM: &[&str] = &[
        "<p>Follow our live coverage for updates</p>",
        "<p>Copyright 2026 The Lakeside Observer. Not for redistribution</p>",
        "<p>Tags: economy, politics, world</p>",
        "<p>You may also like</p>",
        "<p>Subscribe to our newsletter</p>",
        "<p>(Additional reporting by Tomas Berg and Ana Ruiz)</p>",
        "<p>Filed by: K. Mensah</p>",
        "<p>Comments are closed.</p>",
        "<p>More from this section &raquo;</p>",
    ];
    const CAPTION: &[&str] = &[
        "<figure><img src=a.jpg><figcaption>Delegates arrive for talks on Monday. (Nordpress/Kari Holm)</figcaption></figure>",
        "<p>Officials attend a meeting in the capital. PHOTO: Andes Wire/Luis Prado</p>",
        "<p>A file image of the building. (Photo by Ren Ito/Eastlight)</p>",
        "<p>People walk past the headquarters, March 2, 2026. (Kestrel Images)</p>",
    ];
    const AD: &[&str] = &[
        "<div class=\"promo\"><script>window.ads=1;</script>Sponsored</div>",
        "<div><iframe src=\"https://ads.example/x\"></iframe></div>",
        "<aside><p>Advertisement</p></aside>",
        "<p>Story continues below advertisement</p>",
    ];
    const DATELINE: &[&str] = &[
        "SEOUL, South Korea (AP) \u{2014} ",
        "New Delhi, Oct 23 (IANS) ",
        "GENEVA, Switzerland -- ",
        "OSLO, Nov. 2 (Nordpress) -- ",
        "NAIROBI (EAN) &mdash; ",
        "Lima, 3 March (Andes Wire): ",
        "SEOUL - ",
        "(Kestrel) &ndash; ",
        "",
    ];
    const PREFACE: &[&str] = &[
        "<p>By Kari Holm and Tomas Berg</p>",
        "<p>By Ana Ruiz, Andes Wire correspondent</p>",
        "<p>This article is republished from a partner agency under a content-sharing agreement.</p>",
        "<p>Published via our syndication partner. Text unchanged.</p>",
    ];

    fn typography(s: &str, r: &mut Rng) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in s.chars() {
            if c == '<' {
                in_tag = true;
            }
            if c == '>' {
                in_tag = false;
            }
            if in_tag {
                out.push(c);
                continue;
            }
            match c {
                '\'' => out.push('\u{2019}'),
                '"' => out.push(if r.chance(0.5) {
                    '\u{201C}'
                } else {
                    '\u{201D}'
                }),
                '-' => out.push('\u{2014}'),
                ' ' if r.chance(0.02) => out.push('\u{00A0}'),
                '0'..='9' if r.chance(0.3) => {
                    out.push(char::from_u32(0xFF10 + (c as u32 - '0' as u32)).unwrap_or(c))
                }
                c if c.is_alphabetic() && r.chance(0.005) => {
                    out.push(c);
                    out.push('\u{200C}');
                }
                c => out.push(c),
            }
        }
        out
    }

    fn paragraphs(html: &str) -> Vec<String> {
        html.split("</p>")
            .filter_map(|p| {
                let p = p.trim();
                let p = p.strip_prefix("<p>").unwrap_or(p);
                (!p.is_empty()).then(|| p.to_owned())
            })
            .collect()
    }

    fn strip_wire_dateline(p: &str) -> String {
        for sep in [" -- ", " - ", " — "] {
            if let Some(i) = p.find(sep)
                && i < 60
                && p[..i].contains(')')
            {
                return p[i + sep.len()..].to_owned();
            }
        }
        p.to_owned()
    }

    fn sentences(p: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        for w in p.split_whitespace() {
            cur.push_str(w);
            cur.push(' ');
            if w.ends_with('.') && w.len() > 3 {
                out.push(cur.trim().to_owned());
                cur.clear();
            }
        }
        if !cur.trim().is_empty() {
            out.push(cur.trim().to_owned());
        }
        out
    }

    pub fn make(items: &[Item]) -> Vec<Item> {
        let mut r = Rng(42);
        let wires: Vec<&Item> = items.iter().filter(|i| i.kind == "wire").collect();
        let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
        let outlets = [
            "lakeside-observer",
            "north-quay-news",
            "the-inkwell",
            "daily-meridiem",
        ];
        let mut out = Vec::new();
        for w in items.iter().filter(|i| i.kind == "wire") {
            let copies = 1 + r.below(2);
            for c in 0..copies {
                let outlet = outlets[r.below(outlets.len())];
                let mut paras = paragraphs(&w.content);
                if paras.is_empty() {
                    continue;
                }
                let lead = strip_wire_dateline(&paras[0]);
                paras[0] = format!("{}{}", r.pick(DATELINE), lead);
                // Extractive digest: a few sentences picked in article order.
                if c == 1 && r.chance(0.3) {
                    let sents: Vec<String> = paras
                        .iter()
                        .flat_map(|p| sentences(&strip_wire_dateline(p)))
                        .collect();
                    let mut pick: Vec<String> = Vec::new();
                    for (k, st) in sents.iter().enumerate() {
                        if (k == 0 && r.chance(0.7)) || r.chance(0.25) {
                            pick.push(st.clone());
                        }
                        if pick.len() >= 5 {
                            break;
                        }
                    }
                    if pick.len() >= 2 {
                        out.push(Item {
                            id: format!("urn:uuid:synth{:04}-x", out.len()),
                            source: "evening-roundup".into(),
                            title: match r.below(3) {
                                0 => format!("Catch up: {}", w.title),
                                1 => format!("{} (roundup)", w.title),
                                _ => w.title.clone(),
                            },
                            link: None,
                            published: w.published + 3600 + r.below(20 * 3600) as i64,
                            summary: format!("<p>{}</p>", pick.join(" ")),
                            content: String::new(),
                            story: w.story.clone(),
                            kind: "summary".into(),
                            variant: "synth-extractive".into(),
                            synthetic: true,
                        });
                    }
                    continue;
                }
                let teaser = c == 1 && r.chance(0.5);
                if teaser {
                    let words: Vec<&str> = lead.split_whitespace().collect();
                    let n = [20, 30, 45][r.below(3)].min(words.len());
                    let summary = format!(
                        "{} {}",
                        words[..n].join(" "),
                        r.pick(&["…", "(more)", "Read on »", "[…]"])
                    );
                    out.push(Item {
                        id: format!("urn:uuid:synth{:04}-{}", out.len(), c),
                        source: "brief-wire-digest".into(),
                        title: format!("{} :: Brief", w.title),
                        link: w
                            .link
                            .clone()
                            .map(|l| format!("{l}?at_medium=rss&ref=digest")),
                        published: w.published + 600 + r.below(7200) as i64,
                        summary,
                        content: String::new(),
                        story: w.story.clone(),
                        kind: "summary".into(),
                        variant: "synth-teaser".into(),
                        synthetic: true,
                    });
                    continue;
                }
                if paras.len() > 3 && r.chance(0.4) {
                    let cut = 1 + r.below(2);
                    paras.truncate(paras.len() - cut);
                }
                let br = r.chance(0.3);
                let body = if br {
                    format!("<div>{}</div>", paras.join("<br/><br/>\n"))
                } else {
                    paras
                        .iter()
                        .map(|p| format!("<p>{p}</p>"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                let mut html = String::new();
                for _ in 0..r.below(3) {
                    html.push_str(r.pick(TOP));
                }
                if r.chance(0.5) {
                    html.push_str(r.pick(AD));
                }
                if r.chance(0.5) {
                    html.push_str(r.pick(CAPTION));
                }
                if r.chance(0.2) {
                    html.push_str(r.pick(PREFACE));
                }
                html.push_str(&body);
                if r.chance(0.3) {
                    html.push_str(r.pick(AD));
                }
                for _ in 0..r.below(3) {
                    html.push_str(r.pick(BOTTOM));
                }
                let html = if r.chance(0.5) {
                    typography(&html, &mut r)
                } else {
                    html
                };
                let title = match r.below(5) {
                    0 => format!("WIRE UPDATE 2: {}", w.title),
                    1 => format!("{} \u{2014} North Quay News", w.title),
                    2 => w.title.to_uppercase(),
                    3 => format!("Exclusive | {}", w.title),
                    _ => w.title.clone(),
                };
                // A follow-up from the same agency a few days later: new text (taken from a
                // far-away wire, so it matches nothing in the window) then background.
                if c == 0 && paras.len() >= 4 && r.chance(0.25) {
                    let far: Vec<&&Item> = wires
                        .iter()
                        .filter(|x| {
                            (x.published - w.published).abs() > 12 * 86_400
                                && !used.contains(&x.title)
                                && paragraphs(&x.content).len() >= 4
                        })
                        .collect();
                    if !far.is_empty() {
                        let f = far[r.below(far.len())];
                        used.insert(f.title.clone());
                        let fp = paragraphs(&f.content);
                        let nnew = (3 + r.below(2)).min(fp.len().saturating_sub(1));
                        let mut fu: Vec<String> = fp.iter().skip(1).take(nnew).cloned().collect();
                        let nbg = 1 + r.below(2);
                        let orig = paragraphs(&w.content);
                        let start = orig.len().saturating_sub(nbg + r.below(2)).max(1);
                        fu.extend(orig.iter().skip(start).take(nbg).cloned());
                        out.push(Item {
                            id: format!("urn:uuid:synth{:04}-f", out.len()),
                            source: w.source.clone(),
                            title: format!("Follow-up to {}", f.title),
                            link: None,
                            published: w.published + 86_400 + r.below(4 * 86_400) as i64,
                            summary: String::new(),
                            content: fu.iter().map(|p| format!("<p>{p}</p>")).collect(),
                            story: format!("synth-followup-{}", out.len()),
                            kind: "followup".into(),
                            variant: format!("synth-followup-new{nnew}-bg{nbg}"),
                            synthetic: true,
                        });
                    }
                }
                out.push(Item {
                    id: format!("urn:uuid:synth{:04}-{}", out.len(), c),
                    source: outlet.into(),
                    title,
                    link: Some(format!(
                        "https://{outlet}.example/story/{}?utm_campaign=x&fbclid=y",
                        out.len()
                    )),
                    published: w.published + 900 + r.below(30 * 3600) as i64,
                    summary: String::new(),
                    content: html,
                    story: w.story.clone(),
                    kind: "republication".into(),
                    variant: "synth".into(),
                    synthetic: true,
                });
            }
        }
        out
    }
}
