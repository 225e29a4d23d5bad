//! Polling to each source's rhythm (#15), with the real poller against
//! feeds on 127.0.0.1 and a clock the test moves: the test plays the
//! scheduler, jumping to each source's next poll time, so hours of
//! publishing take a moment and nothing sleeps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use wiredesk::config::Settings;
use wiredesk::model::Source;
use wiredesk::poll::rhythm::Rhythm;
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::store::Store;

use crate::helpers::{Canned, FeedServer};

const RSS: &str = "application/rss+xml";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 6, 0, 0).unwrap()
}

fn secs(s: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(s)
}

/// A source's publishing: item times (seconds from t0, ascending) and how
/// many of the newest its feed shows.
struct Publisher {
    name: &'static str,
    times: Vec<i64>,
    window: usize,
}

impl Publisher {
    /// The feed as it stands at `now`, newest first, and the indices shown.
    fn feed(&self, now: i64) -> (String, std::ops::Range<usize>) {
        let published = self.times.partition_point(|&t| t <= now);
        let shown = published.saturating_sub(self.window)..published;
        let items: String = shown
            .clone()
            .rev()
            .map(|n| {
                format!(
                    "<item><guid isPermaLink=\"false\">{name}-{n}</guid>\
                     <title>{name} report number {n}</title>\
                     <pubDate>{date}</pubDate>\
                     <description>Report {n} of {name}: a story told once, at minute {m}.</description></item>",
                    name = self.name,
                    date = secs(self.times[n]).to_rfc2822(),
                    m = self.times[n] / 60,
                )
            })
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{}</title>\
             <link>https://example.org/</link><description>d</description>{items}</channel></rss>",
            self.name
        );
        (xml, shown)
    }
}

struct Desk {
    _dir: tempfile::TempDir,
    settings: Settings,
    store: Store,
    poller: Poller,
    clock: Arc<Mutex<DateTime<Utc>>>,
    server: FeedServer,
}

async fn desk(poll: &str, sources: &[(&str, &str)]) -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let server = FeedServer::start().await;
    let blocks: String = sources
        .iter()
        .map(|(id, extra)| {
            format!(
                "[[sources]]\nid = \"{id}\"\nurl = \"{}\"\n{extra}\n",
                server.url(id)
            )
        })
        .collect();
    let text = format!("[storage]\npath = \"test.db\"\n[poll]\ntimeout = \"5s\"\n{poll}\n{blocks}");
    let settings =
        wiredesk::config::from_str(&text, &dir.path().join("t.toml"), dir.path(), []).unwrap();
    let store = Store::open(&settings.storage.path).unwrap();
    store.sync_sources(&settings.sources).unwrap();
    let clock = Arc::new(Mutex::new(t0()));
    let poller = poller(&settings, &store, &clock);
    Desk {
        _dir: dir,
        settings,
        store,
        poller,
        clock,
        server,
    }
}

fn poller(settings: &Settings, store: &Store, clock: &Arc<Mutex<DateTime<Utc>>>) -> Poller {
    let clock = clock.clone();
    Poller::with_clock(
        &settings.poll,
        &settings.dedup,
        store.clone(),
        Arc::new(move || *clock.lock().unwrap()),
    )
    .unwrap()
}

/// What the test saw of one source's polls.
#[derive(Default)]
struct Log {
    /// (poll time, seconds until the next) for each poll.
    polls: Vec<(i64, i64)>,
    /// Items any poll was shown.
    shown: Vec<bool>,
    /// Poll times whose window shared nothing with the last one.
    gaps: Vec<i64>,
}

impl Log {
    /// The mean wait between polls from `from` on, seconds.
    fn mean_interval(&self, from: i64) -> f64 {
        let waits: Vec<i64> = self
            .polls
            .iter()
            .filter(|(t, _)| *t >= from)
            .map(|(_, w)| *w)
            .collect();
        waits.iter().sum::<i64>() as f64 / waits.len().max(1) as f64
    }
}

/// Plays the scheduler from t0 until `end` (seconds): each source polled
/// when its last poll said, its feed as published by then.
async fn run(desk: &Desk, publishers: &[Publisher], end: i64) -> HashMap<&'static str, Log> {
    let sources: HashMap<&str, &Source> = desk
        .settings
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    let mut logs: HashMap<&'static str, Log> = publishers
        .iter()
        .map(|p| {
            let log = Log {
                shown: vec![false; p.times.len()],
                ..Log::default()
            };
            (p.name, log)
        })
        .collect();
    let mut due: HashMap<&'static str, i64> = publishers.iter().map(|p| (p.name, 0)).collect();
    // The first round, as the daemon starts: every source at once.
    for p in publishers {
        desk.server.set(p.name, Canned::ok(RSS, &p.feed(0).0));
    }
    let all: Vec<Source> = publishers
        .iter()
        .map(|p| (*sources[p.name]).clone())
        .collect();
    for (report, p) in desk.poller.poll_sources(&all).await.iter().zip(publishers) {
        assert!(
            matches!(report.outcome, PollOutcome::Ok { .. }),
            "{report:?}"
        );
        let log = logs.get_mut(p.name).unwrap();
        for n in p.feed(0).1 {
            log.shown[n] = true;
        }
        let next = (report.next_poll_at - t0()).num_seconds();
        log.polls.push((0, next));
        due.insert(p.name, next);
    }
    loop {
        let (name, at) = due
            .iter()
            .map(|(n, t)| (*n, *t))
            .min_by_key(|(n, t)| (*t, *n))
            .unwrap();
        if at > end {
            return logs;
        }
        let p = publishers.iter().find(|p| p.name == name).unwrap();
        *desk.clock.lock().unwrap() = secs(at);
        let (xml, shown) = p.feed(at);
        desk.server.set(name, Canned::ok(RSS, &xml));
        let report = desk.poller.poll_source(sources[name]).await;
        assert!(
            !matches!(report.outcome, PollOutcome::Failed { .. }),
            "{report:?}"
        );
        let log = logs.get_mut(name).unwrap();
        if !shown.is_empty() && shown.clone().all(|n| !log.shown[n]) && log.shown.iter().any(|s| *s)
        {
            log.gaps.push(at);
        }
        for n in shown {
            log.shown[n] = true;
        }
        let next = (report.next_poll_at - t0()).num_seconds();
        assert!(next > at, "{name} due again at once");
        log.polls.push((at, next - at));
        due.insert(name, next);
    }
}

fn every(step: i64, from: i64, to: i64) -> Vec<i64> {
    (0..)
        .map(|k| from + k * step)
        .take_while(|t| *t < to)
        .collect()
}

#[tokio::test]
async fn busy_sources_are_polled_often_quiet_ones_left_alone_and_a_burst_is_caught_after_its_first_gap()
 {
    let hour = 3600;
    // An agency: an item a minute, twenty in its feed.
    let wire = Publisher {
        name: "wire",
        times: every(60, -20 * 60, 6 * hour),
        window: 20,
    };
    // A ministry: ten items, the newest two weeks old.
    let ministry = Publisher {
        name: "ministry",
        times: every(86_400, -24 * 86_400, -14 * 86_400),
        window: 10,
    };
    // An outlet: an item an hour, then from 03:00 a burst of one every
    // 20 s for 40 minutes into a feed of ten.
    let mut times = every(hour, -10 * hour, 3 * hour);
    times.extend(every(20, 3 * hour, 3 * hour + 40 * 60));
    times.extend(every(hour, 4 * hour, 6 * hour));
    let outlet = Publisher {
        name: "outlet",
        times,
        window: 10,
    };
    let desk = desk("", &[("wire", ""), ("ministry", ""), ("outlet", "")]).await;
    let publishers = [wire, ministry, outlet];
    let logs = run(&desk, &publishers, 6 * hour).await;

    // The default interval is 15 minutes; after an hour of learning:
    let wire = logs["wire"].mean_interval(hour);
    let ministry = logs["ministry"].mean_interval(hour);
    assert!(wire <= 7.5 * 60.0, "the wire is polled every {wire} s");
    assert!(
        ministry >= 30.0 * 60.0,
        "the ministry is polled every {ministry} s"
    );
    // Nothing the wire published was missed.
    for (n, &t) in publishers[0].times.iter().enumerate() {
        if t > 0 && t <= 6 * hour - 600 {
            assert!(
                logs["wire"].shown[n],
                "wire item {n} at {t} s was never fetched"
            );
        }
    }
    assert!(logs["wire"].gaps.is_empty());
    // The burst overran the outlet's window once at most; from then on,
    // every item of it was fetched.
    let outlet = &logs["outlet"];
    assert!(outlet.gaps.len() <= 1, "gaps at {:?}", outlet.gaps);
    let caught_from = outlet.gaps.first().copied().unwrap_or(0);
    for (n, &t) in publishers[2].times.iter().enumerate() {
        if t > caught_from && t <= 6 * hour - 600 {
            assert!(outlet.shown[n], "item {n} at {t} s was never fetched");
        }
    }
    // The gap is where an operator looks.
    let state = desk
        .store
        .source_state(&wiredesk::model::SourceId::new("outlet"))
        .unwrap()
        .unwrap();
    assert_eq!(state.gaps as usize, outlet.gaps.len());
    if let Some(&at) = outlet.gaps.first() {
        assert_eq!(state.last_gap_at, Some(secs(at)));
    }
}

#[tokio::test]
async fn what_was_learned_survives_a_restart() {
    let wire = Publisher {
        name: "wire",
        times: every(60, -20 * 60, 4 * 3600),
        window: 20,
    };
    let desk = desk("", &[("wire", "")]).await;
    let publishers = [wire];
    run(&desk, &publishers, 2 * 3600).await;
    let id = wiredesk::model::SourceId::new("wire");
    let learned = desk.store.source_state(&id).unwrap().unwrap();
    let rate = Rhythm::load(learned.rhythm.as_ref()).mean_rate() * 3600.0;
    assert!(
        (40.0..=70.0).contains(&rate),
        "learned {rate} items an hour"
    );

    // A new poller on the reopened store, as after a restart.
    let store = Store::open(&desk.settings.storage.path).unwrap();
    let clock = Arc::new(Mutex::new(secs(2 * 3600 + 60)));
    let restarted = poller(&desk.settings, &store, &clock);
    let (xml, _) = publishers[0].feed(2 * 3600 + 60);
    desk.server.set("wire", Canned::ok(RSS, &xml));
    let report = restarted.poll_sources(&desk.settings.sources).await;
    let wait = report[0].next_poll_at - secs(2 * 3600 + 60);
    assert!(
        wait <= chrono::Duration::seconds(450),
        "polled again after {wait} (the default interval is 15 minutes)"
    );
}

#[tokio::test]
async fn a_source_with_its_own_interval_and_adaptive_off_keep_a_fixed_interval() {
    let wire = |name| Publisher {
        name,
        times: every(60, -20 * 60, 3 * 3600),
        window: 20,
    };
    let mixed = desk("", &[("own", "interval = \"15m\""), ("paced", "")]).await;
    let logs = run(&mixed, &[wire("own"), wire("paced")], 2 * 3600).await;
    let fixed = |log: &Log| {
        log.polls
            .iter()
            .all(|(_, w)| (15 * 60..=15 * 60 + 90).contains(w))
    };
    assert!(fixed(&logs["own"]));
    assert!(logs["paced"].mean_interval(3600) < 10.0 * 60.0);

    let off = desk("adaptive = false", &[("paced", "")]).await;
    let logs = run(&off, &[wire("paced")], 2 * 3600).await;
    assert!(fixed(&logs["paced"]));
}

/// An Atom page of the items numbered `range` (newest first), linking to
/// its older items at `older`, if any.
fn atom_page(range: std::ops::Range<usize>, older: Option<&str>) -> String {
    let entries: String = range
        .rev()
        .map(|n| {
            format!(
                "<entry><id>urn:wire:{n}</id><title>Wire story {n}</title>\
                 <updated>{}</updated><content>Story {n} in full, told once.</content></entry>",
                secs(n as i64 * 60).to_rfc3339()
            )
        })
        .collect();
    let link = older.map_or(String::new(), |href| {
        format!("<link rel=\"prev-archive\" href=\"{href}\"/>")
    });
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>wire</title>\
         <id>urn:wire</id><updated>{}</updated>{link}{entries}</feed>",
        secs(0).to_rfc3339()
    )
}

#[tokio::test]
async fn a_gap_is_filled_from_the_feeds_archive_pages() {
    const ATOM: &str = "application/atom+xml";
    let desk = desk("", &[("wire", "")]).await;
    let source = desk.settings.sources[0].clone();
    desk.server
        .set("wire", Canned::ok(ATOM, &atom_page(0..5, None)));
    let first = desk.poller.poll_source(&source).await;
    assert!(
        matches!(first.outcome, PollOutcome::Ok { new: 5, .. }),
        "{first:?}"
    );

    // Twenty more published before the next poll; the feed shows the last
    // five and links its archive, two pages deep.
    *desk.clock.lock().unwrap() = secs(1800);
    let archive = desk.server.url("archive1");
    desk.server
        .set("wire", Canned::ok(ATOM, &atom_page(20..25, Some(&archive))));
    let deeper = desk.server.url("archive2");
    desk.server.set(
        "archive1",
        Canned::ok(ATOM, &atom_page(10..20, Some(&deeper))),
    );
    desk.server.set(
        "archive2",
        Canned::ok(ATOM, &atom_page(0..10, Some(&desk.server.url("archive3")))),
    );
    let report = desk.poller.poll_source(&source).await;
    // Every item published since is stored: the page's five and fifteen
    // from the archive (items 0-4 were stored already).
    assert!(
        matches!(report.outcome, PollOutcome::Ok { new: 20, .. }),
        "{report:?}"
    );
    // The archive is read only as deep as the items shown before.
    assert_eq!(desk.server.hits("archive1"), 1);
    assert_eq!(desk.server.hits("archive2"), 1);
    assert_eq!(desk.server.hits("archive3"), 0);
    // The gap is still counted: the feed's window was overrun.
    let id = wiredesk::model::SourceId::new("wire");
    assert_eq!(desk.store.source_state(&id).unwrap().unwrap().gaps, 1);
}
