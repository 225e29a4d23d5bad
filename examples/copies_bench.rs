//! How the writer's cost grows with a story's copies (#20): `N` sources all
//! read one feed file of three items, each polled once in turn through the
//! daemon's own poller (fetch, parse, dedup, store), so every story gains a
//! copy per poll. Prints the mean wall time and the process's CPU time (all
//! threads, from /proc/self/stat, which other processes' load does not
//! count) of a poll per block of polls, and the ratio of the last block to
//! the first: flat means a copy costs the same whatever the story's size.
//!
//! ```text
//! cargo run --release --example copies_bench -- [--sources 5000] [--block 500] [--feed FILE]
//! ```
//!
//! Every figure is also printed as a line `RESULT name value` for scripts.

// A measuring tool run by hand: a failure ends it with the reason.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::store::Store;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |f: &str| {
        args.iter()
            .position(|a| a == f)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sources: usize = opt("--sources").map_or(5000, |v| v.parse().expect("--sources N"));
    let block: usize = opt("--block").map_or(500, |v| v.parse().expect("--block N"));
    let feed = opt("--feed").map_or_else(
        || {
            std::fs::read_to_string("config/samples/northwind-agency.xml")
                .expect("run from the project's folder, or give --feed FILE")
        },
        |f| std::fs::read_to_string(f).expect("--feed FILE"),
    );
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("feed.xml"), feed).unwrap();
    let mut toml = format!(
        "[storage]\npath = \"{}\"\n[poll]\nadaptive = false\n",
        dir.path().join("copies.db").display()
    );
    for i in 0..sources {
        let _ = write!(
            toml,
            "[[sources]]\nid = \"s{i}\"\nurl = \"file:feed.xml\"\n"
        );
    }
    let settings = wiredesk::config::from_str(
        &toml,
        &dir.path().join("copies.toml"),
        dir.path(),
        std::iter::empty(),
    )
    .expect("config");
    let store = Store::open(&settings.storage.path).expect("store");
    store.sync_sources(&settings.sources).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    let poller = Poller::with_clock(
        &settings.poll,
        &settings.dedup,
        store.clone(),
        Arc::new(move || t0),
    )
    .expect("poller");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut blocks: Vec<Duration> = Vec::new();
    let mut cpu_blocks: Vec<f64> = Vec::new();
    let mut started = Instant::now();
    let mut cpu_started = cpu_seconds();
    for (i, source) in settings.sources.iter().enumerate() {
        let report = runtime.block_on(poller.poll_source(source));
        if let PollOutcome::Failed { reason } = &report.outcome {
            panic!("poll of {} failed: {reason}", source.id);
        }
        if (i + 1) % block == 0 {
            blocks.push(started.elapsed() / u32::try_from(block).unwrap());
            let cpu = cpu_seconds();
            cpu_blocks.push((cpu - cpu_started) / block as f64);
            println!(
                "copies {:>6}: {:>8.2} ms per poll, {:>8.2} ms CPU",
                i + 1,
                blocks.last().unwrap().as_secs_f64() * 1e3,
                cpu_blocks.last().unwrap() * 1e3
            );
            started = Instant::now();
            cpu_started = cpu;
        }
    }
    let counts = store.counts().unwrap();
    println!("items {} stories {}", counts.items, counts.stories);
    if let (Some(first), Some(last)) = (blocks.first(), blocks.last()) {
        let ratio = last.as_secs_f64() / first.as_secs_f64();
        println!("last block / first block: {ratio:.2}");
        println!("RESULT first_block_ms {:.3}", first.as_secs_f64() * 1e3);
        println!("RESULT last_block_ms {:.3}", last.as_secs_f64() * 1e3);
        println!("RESULT growth {ratio:.3}");
    }
    if let (Some(first), Some(last)) = (cpu_blocks.first(), cpu_blocks.last()) {
        println!("CPU, last block / first block: {:.2}", last / first);
        println!("RESULT cpu_growth {:.3}", last / first);
    }
}

/// The process's CPU time so far (user + system, every thread), from
/// /proc/self/stat in clock ticks of 10 ms.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat (Linux)");
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}
