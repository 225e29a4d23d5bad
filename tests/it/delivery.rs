//! The subscriber's view (#14): a feed reader that fetches only the first
//! page of the merged feed, with `If-None-Match`, as newsboat, feedparser
//! and reader do, receives every story stored after its first fetch,
//! exactly once, whatever date the story carries.
//!
//! The poller and the HTTP server run in-process over one store, with the
//! poller's clock set by the test, so each case is a sequence of polls at
//! known times, with the subscriber fetching between them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SubsecRound, TimeZone, Utc};
use url::Url;

use wiredesk::model::Source;
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::serve::{ServeState, router};
use wiredesk::store::Store;

use crate::helpers::{Canned, FeedServer, settings, sources_toml};

/// The subscriber's page size: small, so that a story placed by its own
/// date instead of its arrival would fall off the first page.
const LIMIT: usize = 5;

/// Invented words for invented stories: each story's text is its own draw
/// from them, so different stories share no run of words.
const WORDS: &[&str] = &[
    "harbour",
    "council",
    "minister",
    "strike",
    "election",
    "budget",
    "river",
    "bridge",
    "festival",
    "court",
    "police",
    "school",
    "hospital",
    "railway",
    "airport",
    "market",
    "farmers",
    "storm",
    "museum",
    "library",
    "union",
    "mayor",
    "senate",
    "treaty",
    "border",
    "energy",
    "water",
    "forest",
    "coast",
    "village",
    "tariff",
    "vaccine",
    "drought",
    "satellite",
];

/// The text of invented story `n`: six sentences of twelve words.
fn body(n: u64) -> String {
    let mut x = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        WORDS[((x >> 33) % WORDS.len() as u64) as usize]
    };
    (0..6)
        .map(|_| {
            let words: Vec<&str> = (0..12).map(|_| next()).collect();
            format!("<p>{}.</p>", words.join(" "))
        })
        .collect()
}

/// One item of a test feed: `story` picks the text (a copy of a story
/// carries the same text under its own guid).
#[derive(Clone)]
struct FeedItem {
    guid: String,
    story: u64,
    title: String,
    date: DateTime<Utc>,
}

fn item(source: &str, story: u64, date: DateTime<Utc>) -> FeedItem {
    FeedItem {
        guid: format!("{source}-{story}"),
        story,
        title: format!("Story {story}"),
        date,
    }
}

fn rss(source: &str, items: &[FeedItem]) -> String {
    let entries: String = items
        .iter()
        .map(|i| {
            format!(
                "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
                 <link>https://{source}.example/{guid}</link><pubDate>{date}</pubDate>\
                 <description><![CDATA[{body}]]></description></item>",
                guid = i.guid,
                title = i.title,
                date = i.date.to_rfc2822(),
                body = body(i.story),
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{source}</title>\
         <link>https://{source}.example/</link><description>{source}</description>\
         {entries}</channel></rss>"
    )
}

/// A feed reader: it fetches the first page only, sends the `ETag` it was
/// given, and keeps every entry it is shown, by id.
struct Subscriber {
    client: reqwest::Client,
    url: String,
    etag: Option<String>,
    /// Entry id -> title, for every entry ever shown.
    received: HashMap<String, String>,
    /// How many fetches answered 304.
    not_modified: usize,
}

impl Subscriber {
    fn new(url: String) -> Subscriber {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Subscriber {
            client: reqwest::Client::new(),
            url,
            etag: None,
            received: HashMap::new(),
            not_modified: 0,
        }
    }

    /// Fetches the first page; the entries it shows (none on a 304).
    async fn fetch(&mut self) -> Vec<feed_rs::model::Entry> {
        let mut request = self.client.get(&self.url);
        if let Some(etag) = &self.etag {
            request = request.header("If-None-Match", etag);
        }
        let response = request.send().await.unwrap();
        if response.status().as_u16() == StatusCode::NOT_MODIFIED.as_u16() {
            self.not_modified += 1;
            return Vec::new();
        }
        assert_eq!(response.status().as_u16(), 200, "{}", self.url);
        self.etag = response
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
        assert!(feed.entries.len() <= LIMIT);
        for e in &feed.entries {
            let title = e.title.as_ref().unwrap().content.clone();
            self.received.insert(e.id.clone(), title);
        }
        feed.entries
    }

    /// The entry ids received with this title.
    fn ids_of(&self, title: &str) -> Vec<&str> {
        self.received
            .iter()
            .filter(|(_, t)| t.as_str() == title)
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Asserts that each of `titles` was received under exactly one id.
    fn assert_received_once(&self, titles: &[String]) {
        for title in titles {
            let ids = self.ids_of(title);
            assert_eq!(
                ids.len(),
                1,
                "{title:?} received {} times; received: {:?}",
                ids.len(),
                self.received.values().collect::<Vec<_>>()
            );
        }
    }
}

/// A desk: the feeds, a store, a poller on a clock the test sets, and the
/// merged feed served on 127.0.0.1.
struct Desk {
    _dir: tempfile::TempDir,
    feeds: FeedServer,
    store: Store,
    poller: Poller,
    state: ServeState,
    sources: Vec<Source>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    addr: std::net::SocketAddr,
}

impl Desk {
    /// A desk whose sources are the feeds named `ids` (`ID.xml`).
    async fn new(ids: &[&str]) -> Desk {
        let feeds = FeedServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let toml: Vec<(String, String)> = ids
            .iter()
            .map(|id| (id.to_string(), feeds.url(&format!("{id}.xml"))))
            .collect();
        let rows: Vec<(&str, &str, &str, i64)> = toml
            .iter()
            .map(|(id, url)| (id.as_str(), id.as_str(), url.as_str(), 0))
            .collect();
        let settings = settings(dir.path(), &sources_toml(&rows));
        let store = Store::open(&settings.storage.path).unwrap();
        store.sync_sources(&settings.sources).unwrap();
        let clock = Arc::new(Mutex::new(t0()));
        let read = clock.clone();
        let poller = Poller::with_clock(
            &settings.poll,
            &settings.dedup,
            store.clone(),
            Arc::new(move || *read.lock().unwrap()),
        )
        .unwrap();
        let state = ServeState::new(
            store.clone(),
            "desk",
            &Url::parse("http://127.0.0.1/").unwrap(),
        )
        .with_sources(&settings.sources);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Desk {
            _dir: dir,
            feeds,
            store,
            poller,
            state,
            sources: settings.sources,
            clock,
            addr,
        }
    }

    fn subscriber(&self, path: &str) -> Subscriber {
        let sep = if path.contains('?') { '&' } else { '?' };
        Subscriber::new(format!("http://{}{path}{sep}limit={LIMIT}", self.addr))
    }

    fn publish(&self, source: &str, items: &[FeedItem]) {
        self.feeds.set(
            &format!("{source}.xml"),
            Canned::ok("application/rss+xml", &rss(source, items)),
        );
    }

    fn fail(&self, source: &str) {
        self.feeds.set(
            &format!("{source}.xml"),
            Canned {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                content_type: "text/plain",
                body: "down".into(),
            },
        );
    }

    /// Polls `source` with the clock at `at`; how many items were new.
    async fn poll(&self, source: &str, at: DateTime<Utc>) -> Option<usize> {
        *self.clock.lock().unwrap() = at;
        let source: Vec<Source> = self
            .sources
            .iter()
            .filter(|s| s.id.as_str() == source)
            .cloned()
            .collect();
        assert_eq!(source.len(), 1);
        match &self.poller.poll_sources(&source).await[0].outcome {
            PollOutcome::Ok { new, .. } => Some(*new),
            _ => None,
        }
    }

    /// Adds a source as a config reload does: served, recorded, polled.
    fn add_source(&mut self, id: &str) {
        let toml = sources_toml(&[(id, id, &self.feeds.url(&format!("{id}.xml")), 0)]);
        let added = settings(self._dir.path(), &toml).sources;
        self.sources.extend(added);
        self.state.set_sources(&self.sources, &[]);
        self.store.sync_sources(&self.sources).unwrap();
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

fn titles(stories: impl IntoIterator<Item = u64>) -> Vec<String> {
    stories.into_iter().map(|n| format!("Story {n}")).collect()
}

/// Fills the desk with 12 recent stories, more than a page holds, dated in
/// the last hours before `t0`, and subscribes after them.
async fn subscribed(desk: &Desk, path: &str) -> (Subscriber, Vec<FeedItem>) {
    let agency: Vec<FeedItem> = (1..=12)
        .map(|n| item("agency", n, t0() - Duration::minutes(10 * (13 - n as i64))))
        .collect();
    desk.publish("agency", &agency);
    assert_eq!(desk.poll("agency", t0()).await, Some(12));
    let mut reader = desk.subscriber(path);
    let first = reader.fetch().await;
    assert_eq!(first.len(), LIMIT);
    (reader, agency)
}

#[tokio::test]
async fn back_dated_agency_stories_reach_a_first_page_subscriber() {
    let desk = Desk::new(&["agency"]).await;
    let (mut reader, mut agency) = subscribed(&desk, "/feed.atom").await;
    // Agency copies dated at their filing time, hours before the stories
    // the subscriber already has.
    agency.push(item("agency", 101, t0() - Duration::hours(6)));
    agency.push(item("agency", 102, t0() - Duration::hours(9)));
    desk.publish("agency", &agency);
    assert_eq!(desk.poll("agency", minutes(10)).await, Some(2));
    let shown = reader.fetch().await;
    let top: Vec<String> = shown
        .iter()
        .take(2)
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(top, ["Story 101", "Story 102"], "newest-arrived first");
    // Each entry still carries its source's own date.
    assert_eq!(
        shown[0].published.unwrap(),
        t0() - Duration::hours(6),
        "published is the source's date"
    );
    reader.assert_received_once(&titles([101, 102]));
    // Nothing changed: the next fetch is a 304.
    assert!(reader.fetch().await.is_empty());
    assert_eq!(reader.not_modified, 1);
}

#[tokio::test]
async fn a_source_back_from_an_outage_delivers_what_it_published_meanwhile() {
    let desk = Desk::new(&["agency", "outlet"]).await;
    let (mut reader, _) = subscribed(&desk, "/feed.rss").await;
    desk.publish("outlet", &[item("outlet", 200, t0() - Duration::hours(2))]);
    assert_eq!(desk.poll("outlet", minutes(5)).await, Some(1));
    reader.fetch().await;
    desk.fail("outlet");
    assert_eq!(desk.poll("outlet", minutes(30)).await, None);
    assert_eq!(desk.poll("outlet", minutes(90)).await, None);
    // Back after two hours, with what it published while it was down,
    // dated then: older than the agency's twelve stories.
    let back: Vec<FeedItem> = [(201, 20), (202, 50), (203, 80)]
        .into_iter()
        .map(|(n, m)| item("outlet", n, minutes(m) - Duration::hours(3)))
        .chain([item("outlet", 200, t0() - Duration::hours(2))])
        .collect();
    desk.publish("outlet", &back);
    assert_eq!(desk.poll("outlet", minutes(120)).await, Some(3));
    reader.fetch().await;
    reader.assert_received_once(&titles([200, 201, 202, 203]));
}

#[tokio::test]
async fn a_source_added_later_delivers_its_backlog_of_old_items() {
    let mut desk = Desk::new(&["agency"]).await;
    let (mut reader, _) = subscribed(&desk, "/feed.json").await;
    let backlog: Vec<FeedItem> = (300..304)
        .map(|n| item("newcomer", n, t0() - Duration::days(3 + (n as i64 - 300))))
        .collect();
    desk.publish("newcomer", &backlog);
    desk.add_source("newcomer");
    assert_eq!(desk.poll("newcomer", minutes(10)).await, Some(4));
    reader.fetch().await;
    reader.assert_received_once(&titles(300..304));
}

#[tokio::test]
async fn a_future_dated_item_is_clamped_once_and_keeps_its_place() {
    let desk = Desk::new(&["agency"]).await;
    let (mut reader, mut agency) = subscribed(&desk, "/feed.atom").await;
    agency.push(item(
        "agency",
        400,
        Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap(),
    ));
    desk.publish("agency", &agency);
    assert_eq!(desk.poll("agency", minutes(10)).await, Some(1));
    let shown = reader.fetch().await;
    assert_eq!(shown[0].title.as_ref().unwrap().content, "Story 400");
    assert_eq!(
        shown[0].published.unwrap(),
        minutes(10),
        "clamped to its arrival"
    );

    // The feed changes (one more story): the 2099 item is read again, and
    // keeps the date it was stored with instead of a new "now".
    agency.push(item("agency", 401, minutes(15)));
    desk.publish("agency", &agency);
    assert_eq!(desk.poll("agency", minutes(20)).await, Some(1));
    let shown = reader.fetch().await;
    let order: Vec<String> = shown
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(order[..2], ["Story 401", "Story 400"]);
    assert_eq!(shown[1].published.unwrap(), minutes(10));
    // Atom's `updated` sits within its second (distinct per entry, #18).
    assert_eq!(
        shown[1].updated.unwrap().trunc_subsecs(0),
        minutes(10),
        "not changed"
    );
    reader.assert_received_once(&titles([400, 401]));
}

#[tokio::test]
async fn a_story_that_gains_a_copy_keeps_its_id_and_is_not_delivered_again() {
    let desk = Desk::new(&["agency", "outlet"]).await;
    let (mut reader, _) = subscribed(&desk, "/feed.atom").await;
    let before = reader.ids_of("Story 12").len();
    assert_eq!(before, 1, "the newest story was on the first page");
    let id = reader.ids_of("Story 12")[0].to_owned();
    // The outlet republishes the agency's story 12, an hour later.
    let mut copy = item("outlet", 12, minutes(60));
    copy.guid = "outlet-republished-12".into();
    desk.publish("outlet", &[copy]);
    assert_eq!(desk.poll("outlet", minutes(70)).await, Some(1));
    let shown = reader.fetch().await;
    let entry = shown
        .iter()
        .find(|e| e.id == id)
        .expect("the story stays on the first page");
    assert!(
        entry
            .links
            .iter()
            .any(|l| l.rel.as_deref() == Some("related")),
        "the new copy is named"
    );
    assert_eq!(
        entry.updated.unwrap().trunc_subsecs(0),
        minutes(60),
        "updated: a copy with a later date joined"
    );
    assert_eq!(
        shown[0].id, id,
        "it did not move: it is still the newest arrival"
    );
    reader.assert_received_once(&titles([12]));
    let count = reader.received.len();
    let distinct: HashSet<&String> = reader.received.values().collect();
    assert_eq!(count, distinct.len(), "no story under two ids");
}
