//! Issue #9: crash safety and storage faults, with the real binary.
//!
//! `wiredesk poll` runs against a local corpus of file:// feeds that grow
//! between runs, and is killed with SIGKILL at random moments. After every
//! kill the database must open clean, hold no item twice and have lost
//! nothing it held before; at the end it must equal the database of a run
//! that was never interrupted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

const SOURCES: [&str; 3] = ["agency", "outlet", "wire"];
/// Items each source's feed grows by per round.
const STEP: usize = 20;
const ROUNDS: usize = 40;
const KILLS: usize = 20;

const WORDS: &[&str] = &[
    "harbour",
    "council",
    "minister",
    "strike",
    "dockworkers",
    "election",
    "budget",
    "river",
    "flood",
    "bridge",
    "railway",
    "court",
    "ruling",
    "summit",
    "treaty",
    "border",
    "market",
    "shares",
    "bank",
    "inflation",
    "drought",
    "harvest",
    "festival",
    "museum",
    "stadium",
    "league",
    "coach",
    "transfer",
    "airport",
    "airline",
    "pilot",
    "storm",
    "coast",
    "ferry",
    "island",
    "mayor",
    "police",
    "inquiry",
    "report",
    "school",
    "teachers",
    "hospital",
    "nurses",
    "vaccine",
    "energy",
    "pipeline",
    "solar",
    "wind",
    "mine",
    "copper",
    "export",
    "tariff",
    "factory",
    "workers",
    "union",
    "protest",
    "parliament",
    "senate",
    "vote",
    "coalition",
];

/// Deterministic words for story `n` (a tiny LCG: the corpus is the same in
/// every run, so the interrupted and uninterrupted runs see equal feeds).
fn words(n: usize, count: usize) -> String {
    let mut x = (n as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            WORDS[(x >> 33) as usize % WORDS.len()]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The feed of `source` after `round` rounds: its first `STEP * round`
/// items. Every third story is carried word for word by all three sources
/// (a wire story: one story, three copies); the others are each source's own.
fn feed(source: usize, round: usize, base: chrono::DateTime<chrono::Utc>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>https://feeds.example/</link><description>d</description>\n",
    );
    for i in (0..STEP * round).rev() {
        let story = if i % 3 == 0 {
            i
        } else {
            i * 7 + source + 100_000
        };
        let date = (base - chrono::TimeDelta::minutes(i as i64)).to_rfc2822();
        out.push_str(&format!(
            "<item><guid>{src}-{i}</guid><title>{title}</title><pubDate>{date}</pubDate>\
             <link>https://{src}.example/{i}</link>\
             <description>&lt;p&gt;{p1}&lt;/p&gt;&lt;p&gt;{p2}&lt;/p&gt;</description></item>\n",
            src = SOURCES[source],
            title = words(story, 8),
            p1 = words(story + 1_000_000, 40),
            p2 = words(story + 2_000_000, 40),
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// A folder with a config polling the three corpus feeds.
fn desk(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("feeds")).unwrap();
    let mut config = String::from("[storage]\npath = \"desk.db\"\n");
    for s in SOURCES {
        config.push_str(&format!(
            "[[sources]]\nid = \"{s}\"\nurl = \"file:feeds/{s}.xml\"\n"
        ));
    }
    let path = dir.join("wiredesk.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn write_round(dir: &Path, round: usize, base: chrono::DateTime<chrono::Utc>) {
    for (i, s) in SOURCES.iter().enumerate() {
        // Written aside and renamed: a poll never reads half a file.
        let tmp = dir.join(format!("feeds/{s}.xml.tmp"));
        std::fs::write(&tmp, feed(i, round, base)).unwrap();
        std::fs::rename(&tmp, dir.join(format!("feeds/{s}.xml"))).unwrap();
    }
}

fn wiredesk(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("WIREDESK_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("WIREDESK_STORAGE__PATH");
    c
}

fn run(config: &Path, args: &[&str]) -> Output {
    wiredesk(config, args).output().unwrap()
}

/// What the database holds, in terms that do not depend on row ids.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// (source, identity) of every item.
    items: BTreeSet<(String, String)>,
    /// Every story as the set of its copies.
    stories: BTreeSet<BTreeSet<(String, String)>>,
    /// Items per source.
    per_source: BTreeMap<String, usize>,
}

/// Opens the database as the next start would, checks it, and reads it.
fn check(db: &Path) -> Snapshot {
    let conn = Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    conn.execute_batch("INSERT INTO items_fts (items_fts) VALUES ('integrity-check')")
        .expect("the full-text index matches the items");
    let twice: Vec<(String, String, i64)> = conn
        .prepare(
            "SELECT source_id, identity, count(*) FROM items
             GROUP BY source_id, identity HAVING count(*) > 1",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(twice.is_empty(), "items stored twice: {twice:?}");
    let empty: i64 = conn
        .query_row(
            "SELECT count(*) FROM stories WHERE id NOT IN (SELECT story_id FROM items)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(empty, 0, "stories without items");
    let rows: Vec<(i64, String, String)> = conn
        .prepare("SELECT story_id, source_id, identity FROM items")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut stories: BTreeMap<i64, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut per_source = BTreeMap::new();
    for (story, source, identity) in &rows {
        stories
            .entry(*story)
            .or_default()
            .insert((source.clone(), identity.clone()));
        *per_source.entry(source.clone()).or_default() += 1;
    }
    Snapshot {
        items: rows.into_iter().map(|(_, s, i)| (s, i)).collect(),
        stories: stories.into_values().collect(),
        per_source,
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_ends_like_an_uninterrupted_run() {
    let base = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let seed = fastrand::u64(..);
    eprintln!("crash test seed {seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();

    let dir = tempfile::tempdir().unwrap();
    let config = desk(dir.path());
    let db = dir.path().join("desk.db");

    // How long one poll of a round takes, to aim the kills inside it.
    write_round(dir.path(), 1, base);
    let t = Instant::now();
    let out = run(&config, &["poll"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut span = t.elapsed().max(Duration::from_millis(50));

    let mut before = check(&db);
    // Kills after which some items of that run were stored: the kill came
    // between one source's commit and the end of the run.
    let (mut kills, mut partial, mut round) = (0, 0, 1);
    while kills < KILLS && round < ROUNDS {
        round += 1;
        write_round(dir.path(), round, base);
        let t = Instant::now();
        let mut child = wiredesk(&config, &["poll"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Every fifth round runs to the end: it measures how long a poll
        // of the grown feeds takes, so the kills stay spread over all of it.
        if round % 5 != 0 {
            std::thread::sleep(span.mul_f64(rng.f64()));
        }
        if round % 5 != 0 && child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL on Unix
            kills += 1;
            child.wait().unwrap();
        } else {
            assert!(child.wait().unwrap().success());
            span = span.max(t.elapsed());
        }
        let after = check(&db);
        let lost: Vec<_> = before.items.difference(&after.items).collect();
        assert!(lost.is_empty(), "round {round}: items lost: {lost:?}");
        if after.items.len() > before.items.len() && round % 5 != 0 {
            partial += 1;
        }
        before = after;
    }
    assert!(
        kills >= KILLS,
        "only {kills} kills landed in {round} rounds"
    );

    // The rest of the corpus, uninterrupted.
    write_round(dir.path(), ROUNDS, base);
    let out = run(&config, &["poll"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let killed = check(&db);

    // The same corpus, polled once without interruption into a fresh database.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_config = desk(fresh.path());
    write_round(fresh.path(), ROUNDS, base);
    let out = run(&fresh_config, &["poll"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = check(&fresh.path().join("desk.db"));

    assert_eq!(killed.per_source, clean.per_source);
    assert_eq!(killed.items, clean.items);
    assert_eq!(killed.stories, clean.stories, "story grouping differs");
    let expected = STEP * ROUNDS;
    assert!(
        clean.per_source.values().all(|n| *n == expected),
        "{:?}",
        clean.per_source
    );
    // Every third story is one story of three copies.
    assert_eq!(clean.stories.len(), 3 * expected - 2 * expected.div_ceil(3));
    eprintln!(
        "crash test: {kills} kills ({partial} after a partial commit) in {round} rounds, \
         {} items, 0 lost, {:?}",
        killed.items.len(),
        started.elapsed()
    );
}

// ------------------------------------------------------ storage faults

/// A database made read-only for the duration of a test: by mode bits, and
/// where those do not bind (tests running as root), by the immutable flag.
/// `None` when neither can be set here.
struct ReadOnly {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    fn set(path: &Path) -> Option<ReadOnly> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o444)).unwrap();
        let writable = || std::fs::OpenOptions::new().append(true).open(path).is_ok();
        let mut guard = ReadOnly {
            path: path.to_owned(),
            immutable: false,
        };
        if writable() {
            guard.immutable = Command::new("chattr")
                .arg("+i")
                .arg(path)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !guard.immutable || writable() {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
    }
}

fn assert_reported(out: &Output, path: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: exit 0\n{stderr}");
    assert_ne!(out.status.code(), Some(101), "{what}: a panic\n{stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "{what}: the path is not named: {stderr}"
    );
    eprintln!("{what}: {}", stderr.trim());
}

fn run_config(dir: &Path) -> PathBuf {
    let config = desk(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n{text}"),
    )
    .unwrap();
    write_round(dir, 1, chrono::Utc::now());
    config
}

#[test]
fn a_read_only_database_is_reported_naming_its_path_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = run_config(dir.path());
    let db = dir.path().join("desk.db");
    assert!(run(&config, &["poll"]).status.success());
    let Some(_read_only) = ReadOnly::set(&db) else {
        eprintln!("cannot make a file read-only here (root without chattr): skipped");
        return;
    };
    for command in ["poll", "run"] {
        let out = wiredesk(&config, &[command])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_reported(&out, &db, command);
    }
}

#[test]
fn a_database_locked_by_another_connection_is_reported_naming_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = run_config(dir.path());
    let db = dir.path().join("desk.db");
    assert!(run(&config, &["poll"]).status.success());
    let holder = Connection::open(&db).unwrap();
    holder
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    holder
        .execute_batch("UPDATE sources SET name = name")
        .unwrap();
    for command in ["poll", "run"] {
        let out = wiredesk(&config, &[command])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_reported(&out, &db, command);
    }
    drop(holder);
}
