//! The served feeds, through `serve::router` (no socket) and, once, through
//! the whole daemon: formats read back field by field, hostile content,
//! stable ids, query parameters and their 400s, paging under concurrent
//! inserts, conditional requests, compression and the token.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use tower::ServiceExt;
use url::Url;

use wiredesk::app::App;
use wiredesk::model::{Enclosure, Item, Source, SourceId};
use wiredesk::serve::{ServeState, router};
use wiredesk::store::Store;

use crate::helpers::{atom_rule_breaks, get_text, settings, spawn_app};

const TOKEN: &str = "s3cret-token-0123456789";

/// A store with two sources, `agency` (priority 10, tag "agency") and
/// `outlet` (priority 0, tags "local" and "world").
struct Desk {
    _dir: tempfile::TempDir,
    store: Store,
    sources: Vec<Source>,
}

impl Desk {
    fn new() -> Desk {
        Desk::with_names("Agency & Co", "The Outlet")
    }

    fn with_names(agency: &str, outlet: &str) -> Desk {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("serve.db")).unwrap();
        let source = |id: &str, name: &str, priority, tags: &[&str]| Source {
            id: SourceId::new(id),
            name: name.into(),
            url: Url::parse(&format!("https://{id}.example/feed?a=1&b=2")).unwrap(),
            interval: Duration::from_secs(600),
            priority,
            fixed_interval: false,
            headers: Default::default(),
            rules: Default::default(),
            websub: true,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        let sources = vec![
            source("agency", agency, 10, &["agency"]),
            source("outlet", outlet, 0, &["local", "world"]),
        ];
        store.sync_sources(&sources).unwrap();
        Desk {
            _dir: dir,
            store,
            sources,
        }
    }

    /// The server as readers meet it: a little after the last write (a
    /// page whose data changed in the current second carries no
    /// `Last-Modified`; see `a_page_changed_this_second_has_no_last_modified`).
    fn state(&self) -> ServeState {
        self.state_at(Arc::new(|| Utc::now() + chrono::Duration::seconds(2)))
    }

    fn state_at(&self, clock: wiredesk::serve::Clock) -> ServeState {
        ServeState::new(
            self.store.clone(),
            "test desk",
            &Url::parse("http://desk.example/").unwrap(),
        )
        .with_sources(&self.sources)
        .with_clock(clock)
    }

    fn router(&self) -> Router {
        router(self.state())
    }

    /// Stores `items` as one poll of `source`, through the store's own write
    /// transaction; an item joins the story of a stored item with the same
    /// story key (standing in for dedup, which has tests of its own).
    fn poll(&self, source: &str, items: &[NewItem]) {
        self.poll_at(source, items, Utc::now());
    }

    /// [`Desk::poll`] with the clock at `now`: the items that are new arrive then.
    fn poll_at(&self, source: &str, items: &[NewItem], now: DateTime<Utc>) {
        let source = SourceId::new(source);
        self.store
            .write_poll(|tx| {
                for new in items {
                    let it = &new.item;
                    match tx.existing_item(&source, &it.identity)? {
                        Some(old) if old.matches(it, &[]) => {}
                        Some(old) => tx.update_item(old.id, it, &[], 0, now)?,
                        None => {
                            let joined = tx.candidates(&[new.story_key], i64::MIN, i64::MAX)?;
                            let story = match joined.first() {
                                Some((_, story, _)) => *story,
                                None => tx.insert_story(&source, &it.identity, now)?,
                            };
                            tx.insert_item(&source, story, it, &[], 0, &[new.story_key], now)?;
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
    }
}

/// An item to store, with the key that makes copies of one story.
#[derive(Clone)]
struct NewItem {
    item: Item,
    story_key: u64,
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap() + chrono::Duration::minutes(minute.into())
}

/// An item of story `n` (copies of one story share `n`, hence their hash).
fn item(source: &str, n: u32, title: &str) -> NewItem {
    NewItem {
        item: Item {
            identity: format!("{source}-{n}"),
            title: title.into(),
            link: Some(format!("https://{source}.example/news/{n}?id={n}&ref=rss")),
            published: Some(at(n)),
            updated: None,
            author: Some(format!("{source} desk")),
            summary: None,
            content: Some(format!("<p>{title}: the full text.</p>")),
            categories: vec!["Politics".into()],
            enclosures: vec![],
        },
        story_key: u64::from(n),
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    get_with(app, uri, &[]).await
}

async fn get_with(app: &Router, uri: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn parse(body: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}:\n{body}"))
}

fn ids(body: &str) -> Vec<String> {
    parse(body).entries.into_iter().map(|e| e.id).collect()
}

fn titles(body: &str) -> Vec<String> {
    parse(body)
        .entries
        .into_iter()
        .map(|e| e.title.unwrap().content)
        .collect()
}

/// Reads the whole document with quick-xml, resolving every entity: an
/// error is a document no XML reader would accept. Returns the element
/// paths seen, e.g. "rss/channel/item/title".
fn well_formed(xml: &str) -> Vec<String> {
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut path: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                path.push(e.name().as_ref().to_owned());
                seen.push(path.join("/"));
            }
            Ok(Event::Empty(e)) => {
                let name: String = e.name().as_ref().to_owned();
                seen.push(format!("{}/{name}", path.join("/")));
                for a in e.attributes() {
                    a.unwrap()
                        .normalized_value(XmlVersion::Implicit1_0)
                        .unwrap();
                }
            }
            Ok(Event::End(_)) => {
                path.pop();
            }
            Ok(Event::Text(t)) => {
                t.xml_content(XmlVersion::Implicit1_0);
            }
            Ok(Event::GeneralRef(r)) => {
                let name = r.xml_content(XmlVersion::Implicit1_0);
                assert!(
                    matches!(&*name, "amp" | "lt" | "gt" | "quot" | "apos")
                        || r.resolve_char_ref().unwrap().is_some(),
                    "undefined entity &{name};"
                );
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{xml}",
                reader.buffer_position()
            ),
        }
    }
    assert!(path.is_empty(), "unclosed elements {path:?}");
    for c in xml.chars() {
        assert!(
            !c.is_control() || matches!(c, '\n' | '\t' | '\r'),
            "control character {c:?} in the document"
        );
    }
    seen
}

#[tokio::test]
async fn each_format_is_read_back_by_feed_rs_field_by_field() {
    let desk = Desk::new();
    let mut agency = item("agency", 1, "Port of Caldera reopens");
    agency.item.enclosures = vec![Enclosure {
        url: "https://agency.example/photo.jpg?w=1&h=2".into(),
        mime_type: Some("image/jpeg".into()),
        length: Some(1234),
    }];
    desk.poll("outlet", &[item("outlet", 1, "Port of Caldera reopens")]);
    desk.poll("agency", &[agency, item("agency", 2, "Election called")]);
    let app = desk.router();

    for (path, content_type) in [
        ("/feed.atom", "application/atom+xml; charset=utf-8"),
        ("/feed.rss", "application/rss+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
    ] {
        let reply = get(&app, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.header(header::CONTENT_TYPE), content_type);
        let feed = parse(&reply.body);
        assert_eq!(feed.title.unwrap().content, "test desk", "{path}");
        assert_eq!(feed.entries.len(), 2, "{path}");

        let newest = &feed.entries[0];
        assert_eq!(newest.title.as_ref().unwrap().content, "Election called");
        let port = &feed.entries[1];
        assert!(
            port.id.starts_with("urn:wiredesk:story:"),
            "{path}: {}",
            port.id
        );
        assert_eq!(
            port.title.as_ref().unwrap().content,
            "Port of Caldera reopens"
        );
        assert_eq!(
            port.links[0].href, "https://agency.example/news/1?id=1&ref=rss",
            "{path}: the chosen copy is the agency's (priority 10)"
        );
        assert_eq!(port.published, Some(at(1)), "{path}");
        assert_eq!(
            port.authors[0].name.as_deref(),
            Some("agency desk"),
            "{path}"
        );
        let terms: Vec<&str> = port.categories.iter().map(|c| c.term.as_str()).collect();
        assert_eq!(terms, ["agency", "Politics"], "{path}");
        let html = port
            .content
            .as_ref()
            .and_then(|c| c.body.clone())
            .unwrap_or_else(|| port.summary.clone().unwrap().content);
        assert!(html.contains("the full text."), "{path}: {html}");
        assert!(html.contains("Also reported by: <a href=\"https://outlet.example/news/1?id=1&amp;ref=rss\">The Outlet</a>"), "{path}: {html}");
        let media: Vec<&str> = port
            .media
            .iter()
            .flat_map(|m| m.content.iter())
            .filter_map(|c| c.url.as_ref().map(|u| u.as_str()))
            .chain(
                port.links
                    .iter()
                    .filter(|l| l.rel.as_deref() == Some("enclosure"))
                    .map(|l| l.href.as_str()),
            )
            .collect();
        // feed-rs reads no JSON Feed attachments; those are checked below.
        assert!(
            path == "/feed.json" || media.contains(&"https://agency.example/photo.jpg?w=1&h=2"),
            "{path}: {media:?}"
        );
    }

    // What feed-rs does not expose, read from the documents themselves.
    let atom = get(&app, "/feed.atom").await.body;
    assert!(atom.contains("rel=\"related\""), "{atom}");
    assert!(atom.contains("title=\"The Outlet\""), "{atom}");
    assert!(
        atom.contains("<source><title>Agency &amp; Co</title>"),
        "{atom}"
    );
    let rss = get(&app, "/feed.rss").await.body;
    assert!(
        rss.contains("<dc:creator>agency desk</dc:creator>"),
        "{rss}"
    );
    assert!(rss.contains("<content:encoded>"), "{rss}");
    assert!(
        rss.contains("<atom:link href=\"http://desk.example/feed.rss\" rel=\"self\""),
        "{rss}"
    );
    assert!(
        rss.contains(
            "<source url=\"https://agency.example/feed?a=1&amp;b=2\">Agency &amp; Co</source>"
        ),
        "{rss}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&get(&app, "/feed.json").await.body).unwrap();
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["feed_url"], "http://desk.example/feed.json");
    let port = &json["items"][1];
    assert_eq!(port["_wiredesk"]["story"], port["id"]);
    let copies = port["_wiredesk"]["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 2);
    assert_eq!(copies[0]["source"], "agency");
    assert_eq!(copies[0]["source_name"], "Agency & Co");
    assert_eq!(copies[0]["id"], "agency-1");
    assert_eq!(copies[0]["published"], "2026-11-01T08:01:00Z");
    assert_eq!(copies[1]["source"], "outlet");
    assert_eq!(
        copies[1]["url"],
        "https://outlet.example/news/1?id=1&ref=rss"
    );
    assert_eq!(
        port["attachments"][0]["url"],
        "https://agency.example/photo.jpg?w=1&h=2"
    );
    assert_eq!(port["attachments"][0]["mime_type"], "image/jpeg");
    assert_eq!(port["attachments"][0]["size_in_bytes"], 1234);
}

#[tokio::test]
async fn hostile_content_leaves_every_document_well_formed_and_intact() {
    let desk = Desk::with_names("Agency <b>&</b> \"Co\" ]]>", "وكالة الأنباء 📰");
    let title = "Breaking: <script>alert(1)</script> & ]]> \u{0}\u{1b}[31m مرحبا 🎉 \u{202E}txet";
    let mut hostile = item("agency", 1, title);
    hostile.item.content = Some(
        "<p>Body with ]]> and <![CDATA[ nested ]]> \u{8} and &amp; &lt;script&gt; \u{FFFF}</p>"
            .into(),
    );
    hostile.item.summary = Some("<p>Teaser ]]&gt; 🎉</p>".into());
    hostile.item.author = Some("O'Brien & \"Sons\" <x@y>".into());
    hostile.item.categories = vec!["a&b".into(), "<tag>".into()];
    hostile.item.link = Some("https://agency.example/a?x=1&y=<2>&z=\"3\"".into());
    hostile.item.enclosures = vec![Enclosure {
        url: "https://agency.example/m.mp3?a=1&b=2".into(),
        mime_type: None,
        length: None,
    }];
    desk.poll("agency", &[hostile]);
    let mut copy = item("outlet", 1, title);
    copy.item.link = Some("https://outlet.example/?q=a&b=\"c\"".into());
    desk.poll("outlet", &[copy]);
    let app = desk.router();

    let clean = "Breaking: <script>alert(1)</script> & ]]> [31m مرحبا 🎉 \u{202E}txet";
    let atom = get(&app, "/feed.atom").await.body;
    let paths = well_formed(&atom);
    assert!(
        paths.contains(&"feed/entry/content".to_owned()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"feed/entry/source/title".to_owned()),
        "{paths:?}"
    );
    assert_eq!(titles(&atom), [clean]);

    let rss = get(&app, "/feed.rss").await.body;
    let paths = well_formed(&rss);
    for path in [
        "rss/channel/title",
        "rss/channel/atom:link",
        "rss/channel/item/title",
        "rss/channel/item/guid",
        "rss/channel/item/content:encoded",
        "rss/channel/item/dc:creator",
        "rss/channel/item/source",
        "rss/channel/item/enclosure",
    ] {
        assert!(
            paths.contains(&path.to_owned()),
            "{path} missing: {paths:?}"
        );
    }
    assert_eq!(titles(&rss), [clean]);
    let entry = &parse(&rss).entries[0];
    let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(content.contains("Body with ]]> and"), "{content}");
    assert!(content.contains("وكالة الأنباء 📰"), "{content}");

    let json = get(&app, "/feed.json").await.body;
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["items"][0]["title"], clean);
    assert_eq!(titles(&json), [clean]);

    let opml = get(&app, "/sources.opml").await.body;
    well_formed(&opml);
}

#[tokio::test]
async fn entry_ids_survive_a_re_poll_and_a_change_of_the_chosen_copy() {
    let desk = Desk::new();
    // The outlet's copy comes first and founds the story...
    desk.poll("outlet", &[item("outlet", 1, "Talks resume")]);
    let app = desk.router();
    let mut before = Vec::new();
    for path in ["/feed.atom", "/feed.rss", "/feed.json"] {
        let body = get(&app, path).await.body;
        assert_eq!(
            parse(&body).entries[0].links[0].href,
            "https://outlet.example/news/1?id=1&ref=rss"
        );
        before.push(ids(&body));
    }
    // ...then the agency's (priority 10) becomes the copy shown, and a
    // re-poll of both changes nothing.
    desk.poll("agency", &[item("agency", 1, "Talks resume")]);
    desk.poll("outlet", &[item("outlet", 1, "Talks resume")]);
    for (path, before) in ["/feed.atom", "/feed.rss", "/feed.json"].iter().zip(before) {
        let body = get(&app, path).await.body;
        let feed = parse(&body);
        assert_eq!(feed.entries.len(), 1, "{path}");
        assert_eq!(
            feed.entries[0].links[0].href, "https://agency.example/news/1?id=1&ref=rss",
            "{path}"
        );
        assert_eq!(ids(&body), before, "{path}");
    }
}

/// Issue #18: the W3C validator rejected the Atom feed of real publishers'
/// feeds: entries without an author (Sky News, some Guardian items) and
/// blank content. Authorless, textless, linkless and same-time items, merged
/// and as copies, all pass the validator's rules.
#[tokio::test]
async fn the_atom_feed_keeps_the_validators_rules_with_authorless_and_blank_items() {
    let desk = Desk::new();
    let mut authorless = item("agency", 1, "Harbour strike ends");
    authorless.item.author = None;
    let mut blank = item("agency", 2, "Photo of the day");
    blank.item.author = None;
    blank.item.content = None;
    let mut bare = item("agency", 3, "Short note");
    bare.item.author = None;
    bare.item.content = None;
    bare.item.link = None;
    let mut same_time = item("agency", 4, "Markets close");
    same_time.item.published = Some(at(3));
    desk.poll("agency", &[authorless, blank, bare, same_time]);
    let mut copy = item("outlet", 1, "Harbour strike ends");
    copy.item.author = None;
    desk.poll("outlet", &[copy]);
    let app = desk.router();
    for query in ["", "?copies=all", "?source=outlet", "?q=strike"] {
        let reply = get(&app, &format!("/feed.atom{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
        assert_eq!(
            atom_rule_breaks(&reply.body),
            Vec::<String>::new(),
            "{query}\n{}",
            reply.body
        );
        assert!(
            !reply.body.contains("<content type=\"html\"></content>"),
            "{}",
            reply.body
        );
    }
    let feed = parse(&get(&app, "/feed.atom").await.body);
    let mut authors: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.authors[0].name.clone().unwrap_or_default())
        .collect();
    authors.sort();
    // An item's own author, else its source's name.
    assert_eq!(
        authors,
        ["Agency & Co", "Agency & Co", "Agency & Co", "agency desk"]
    );
}

/// Issue #18, the smaller items: a `file:` source's path leaked into
/// `atom:source`, RSS's `source` and the OPML; an item with neither title
/// nor link was "(untitled)"; an image enclosure was
/// `application/octet-stream` of length 0; `utm_*`, `fbclid`, `gclid`,
/// `mc_cid`, `mc_eid` and `wt_mc` stayed on the links served. The stored
/// item keeps its link as the source gave it.
#[tokio::test]
async fn served_feeds_carry_no_local_path_no_tracking_and_no_untitled_entry() {
    let mut desk = Desk::new();
    desk.sources[1].url = Url::parse("file:///srv/feeds/outlet.xml").unwrap();
    desk.store.sync_sources(&desk.sources).unwrap();
    let mut tracked = item("agency", 1, "Harbour strike ends");
    tracked.item.link = Some(
        "https://agency.example/news/1?utm_source=rss&utm_medium=feed&id=1&fbclid=Iw&gclid=x"
            .into(),
    );
    tracked.item.enclosures = vec![Enclosure {
        url: "https://img.agency.example/1.jpg?mc_cid=a&mc_eid=b&wt_mc=c".into(),
        mime_type: None,
        length: Some(0),
    }];
    let mut textless = item("outlet", 2, "");
    textless.item.link = Some("file:///news/2".into());
    textless.item.content = Some(
        "<p>Ferry services across the Baltic resume on Monday morning after the storm.</p>".into(),
    );
    desk.poll("agency", &[tracked]);
    desk.poll(
        "outlet",
        &[item("outlet", 1, "Harbour strike ends"), textless],
    );
    let app = desk.router();

    for path in ["/feed.atom", "/feed.rss", "/feed.json", "/sources.opml"] {
        let body = get(&app, path).await.body;
        for leak in [
            "file:",
            "utm_",
            "fbclid",
            "gclid",
            "mc_cid",
            "mc_eid",
            "wt_mc",
            "(untitled)",
        ] {
            assert!(!body.contains(leak), "{path} serves {leak}:\n{body}");
        }
    }
    let atom = get(&app, "/feed.atom").await.body;
    assert_eq!(atom_rule_breaks(&atom), Vec::<String>::new(), "{atom}");
    assert!(
        atom.contains("<id>urn:wiredesk:source:outlet</id>"),
        "{atom}"
    );
    assert!(
        atom.contains(
            "href=\"https://img.agency.example/1.jpg\" rel=\"enclosure\" type=\"image/jpeg\"/>"
        ),
        "{atom}"
    );
    let mut titles = titles(&atom);
    titles.sort();
    assert_eq!(
        titles,
        [
            "Ferry services across the Baltic resume on Monday morning after the storm.",
            "Harbour strike ends"
        ]
    );
    let json: serde_json::Value =
        serde_json::from_str(&get(&app, "/feed.json").await.body).unwrap();
    let strike = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "Harbour strike ends")
        .unwrap();
    assert_eq!(strike["url"], "https://agency.example/news/1?id=1");
    assert_eq!(
        strike["attachments"],
        serde_json::json!([{"url": "https://img.agency.example/1.jpg", "mime_type": "image/jpeg"}])
    );
    let rss = get(&app, "/feed.rss").await.body;
    assert!(
        rss.contains("<source url=\"https://agency.example/feed?a=1&amp;b=2\">"),
        "{rss}"
    );
    // The stored item keeps what the source gave.
    let stored = desk.store.feed_page(&Default::default()).unwrap().stories;
    let links: Vec<_> = stored
        .iter()
        .filter_map(|s| s.chosen.item.link.clone())
        .collect();
    assert!(
        links.iter().any(|l| l.contains("utm_source=rss")),
        "{links:?}"
    );
}

/// Issue #18: an RSS author in its standard form `email (Name)` was served
/// as `(Name)`.
#[tokio::test]
async fn an_author_with_an_address_reads_as_a_name_in_every_format() {
    let desk = Desk::new();
    let mut xinhua = item("agency", 1, "Talks");
    xinhua.item.author = Some("english@news.cn (Xinhua)".into());
    desk.poll("agency", &[xinhua]);
    let app = desk.router();
    let rss = get(&app, "/feed.rss").await.body;
    assert!(
        rss.contains("<author>english@news.cn (Xinhua)</author>"),
        "{rss}"
    );
    let atom = get(&app, "/feed.atom").await.body;
    assert!(
        atom.contains("<name>Xinhua</name><email>english@news.cn</email>"),
        "{atom}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&get(&app, "/feed.json").await.body).unwrap();
    assert_eq!(json["items"][0]["authors"][0]["name"], "Xinhua");
}

#[tokio::test]
async fn every_query_parameter_narrows_the_feed_in_every_format() {
    let desk = Desk::new();
    let at = |h| Utc.with_ymd_and_hms(2026, 11, 1, h, 0, 0).unwrap();
    desk.poll_at(
        "agency",
        &[
            item("agency", 1, "Harbour strike ends"),
            item("agency", 2, "Election called"),
        ],
        at(9),
    );
    let mut local = item("outlet", 3, "Council closes the library");
    local.item.categories = vec!["Culture".into()];
    desk.poll_at(
        "outlet",
        &[item("outlet", 1, "Harbour strike ends"), local],
        at(10),
    );
    let app = desk.router();

    for format in ["atom", "rss", "json"] {
        let t = |query: &'static str| {
            let app = app.clone();
            async move {
                let reply = get(&app, &format!("/feed.{format}{query}")).await;
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{format}{query}: {}",
                    reply.body
                );
                titles(&reply.body)
            }
        };
        assert_eq!(
            t("").await,
            [
                "Council closes the library",
                "Election called",
                "Harbour strike ends"
            ]
        );
        assert_eq!(t("?limit=1").await, ["Council closes the library"]);
        assert_eq!(
            t("?source=agency").await,
            ["Election called", "Harbour strike ends"]
        );
        assert_eq!(
            t("?source=outlet").await,
            ["Council closes the library", "Harbour strike ends"],
            "a merged story counts for every source it has a copy from"
        );
        assert_eq!(t("?source=agency,outlet").await.len(), 3);
        assert_eq!(
            t("?tag=world").await,
            ["Council closes the library", "Harbour strike ends"]
        );
        assert_eq!(t("?tag=culture").await, ["Council closes the library"]);
        assert_eq!(t("?q=strike").await, ["Harbour strike ends"]);
        assert_eq!(t("?q=title:election").await, ["Election called"]);
        assert_eq!(t("?q=%22full+text%22+NOT+harbour").await.len(), 2);
        assert_eq!(t("?q=libr*").await, ["Council closes the library"]);
        // A word with a hyphen inside is the phrase it looks like, not a
        // field name and a 400.
        assert_eq!(t("?q=Harbour-strike").await, ["Harbour strike ends"]);
        // since= is on arrival: the outlet's copy of the strike joined a
        // story that arrived at 09:00, which does not arrive again.
        assert_eq!(
            t("?since=2026-11-01T09:30:00Z").await,
            ["Council closes the library"]
        );
        assert_eq!(t("?since=2026-11-01T09:00:00Z").await.len(), 3);
        assert_eq!(t("?since=2026-11-01T10:30:00%2B01:00").await.len(), 1);
        assert_eq!(
            t("?copies=all").await,
            [
                "Council closes the library",
                "Harbour strike ends",
                "Election called",
                "Harbour strike ends"
            ]
        );
        assert_eq!(t("?copies=all&since=2026-11-01T09:30:00Z").await.len(), 2);
        assert_eq!(
            t("?copies=all&source=outlet&q=strike").await,
            ["Harbour strike ends"]
        );
        assert_eq!(t("?token=anything&limit=1").await.len(), 1);
    }
    // With copies=all each item has its own id, and names its story.
    let json: serde_json::Value =
        serde_json::from_str(&get(&app, "/feed.json?copies=all").await.body).unwrap();
    let items = json["items"].as_array().unwrap();
    let item_ids: HashSet<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(item_ids.len(), 4);
    assert!(
        item_ids
            .iter()
            .all(|id| id.starts_with("urn:wiredesk:item:"))
    );
    assert_eq!(
        items[1]["_wiredesk"]["story"],
        items[3]["_wiredesk"]["story"]
    );
}

/// Issue #18: `?source=`, `?tag=` and `?q=` feeds all had the whole feed's
/// title, so three subscriptions looked the same in a reader.
#[tokio::test]
async fn a_narrowed_feed_is_titled_by_what_narrows_it_in_every_format() {
    let desk = Desk::with_names("Golem <IT> & Co", "The Outlet");
    desk.poll("agency", &[item("agency", 1, "Putin speaks")]);
    let app = desk.router();
    for format in ["atom", "rss", "json"] {
        for (query, title) in [
            ("", "test desk"),
            ("?limit=1", "test desk"),
            ("?source=agency", "test desk — Golem <IT> & Co"),
            (
                "?source=outlet,agency",
                "test desk — Golem <IT> & Co, The Outlet",
            ),
            ("?tag=agency", "test desk — tag agency"),
            ("?q=Putin", "test desk — search “Putin”"),
            ("?q=%22a+%26+b%22", "test desk — search “\"a & b\"”"),
            (
                "?copies=all&tag=agency&source=agency",
                "test desk — Golem <IT> & Co, tag agency, every copy",
            ),
        ] {
            let reply = get(&app, &format!("/feed.{format}{query}")).await;
            assert_eq!(reply.status, StatusCode::OK, "{format}{query}");
            if format != "json" {
                well_formed(&reply.body);
            }
            let feed = parse(&reply.body);
            assert_eq!(feed.title.unwrap().content, title, "{format}{query}");
        }
    }
}

#[tokio::test]
async fn a_bad_parameter_is_a_400_that_names_it() {
    let desk = Desk::new();
    desk.poll("agency", &[item("agency", 1, "Talks")]);
    let app = desk.router();
    for format in ["atom", "rss", "json"] {
        for (query, param) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=x", "limit"),
            ("source=nope", "source"),
            ("source=agency,", "source"),
            ("tag=", "tag"),
            ("q=", "q"),
            ("q=%22unclosed", "q"),
            ("q=AND", "q"),
            ("q=nosuchcolumn:x", "q"),
            ("since=2026-11-01", "since"),
            ("copies=yes", "copies"),
            ("cursor=bm9wZQ", "cursor"),
            ("limit=5&limit=6", "limit"),
            ("utm_source=x&limit=0", "limit"),
        ] {
            let reply = get(&app, &format!("/feed.{format}?{query}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{format}?{query}");
            assert!(
                reply.body.starts_with(&format!("parameter `{param}`: ")),
                "{format}?{query}: {}",
                reply.body
            );
        }
    }
    let reply = get(&app, "/feed.atom?q=%22unclosed").await;
    assert!(reply.body.contains("README"), "{}", reply.body);
    // Issue #18: SQLite's words were shown as they are.
    let reply = get(&app, "/feed.atom?q=-x").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(!reply.body.contains("no such column"), "{}", reply.body);
    assert!(
        reply.body.contains("\"x\" is not a field"),
        "{}",
        reply.body
    );
}

/// Issue #18: readers and proxies add parameters of their own
/// (`utm_source=`, a cache-buster `_=`); they were a 400. They are ignored,
/// on every route, and kept out of the feed's links.
#[tokio::test]
async fn an_unknown_parameter_is_ignored_on_every_route() {
    let desk = Desk::new();
    desk.poll("agency", &[item("agency", 1, "Talks")]);
    let app = desk.router();
    for format in ["atom", "rss", "json"] {
        let plain = get(&app, &format!("/feed.{format}?limit=5")).await;
        let reply = get(
            &app,
            &format!("/feed.{format}?utm_source=x&limit=5&_=123&limt=2"),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{format}: {}", reply.body);
        assert_eq!(reply.body, plain.body, "{format}");
        assert!(!reply.body.contains("utm_source"), "{}", reply.body);
    }
    for route in ["/sources.opml", "/sources.json"] {
        let reply = get(&app, &format!("{route}?_=123&utm_source=x")).await;
        assert_eq!(reply.status, StatusCode::OK, "{route}: {}", reply.body);
    }
}

#[tokio::test]
async fn walking_the_pages_returns_every_story_once_while_new_items_arrive() {
    let desk = Desk::new();
    let first: Vec<NewItem> = (100..130)
        .map(|n| item("agency", n, &format!("Story {n}")))
        .collect();
    desk.poll("agency", &first);
    let app = desk.router();

    for format in ["atom", "rss", "json"] {
        let mut url = format!("/feed.{format}?limit=7");
        let mut seen = Vec::new();
        let mut pages = 0;
        let mut arrivals = 200 + 10 * pages_offset(format);
        loop {
            let reply = get(&app, &url).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.body);
            seen.extend(ids(&reply.body));
            pages += 1;
            // Between pages: a newer story, an older (back-dated) one, and a
            // new copy of a story already listed.
            desk.poll(
                "outlet",
                &[
                    item("outlet", arrivals, "Newer"),
                    item("outlet", arrivals - 150, "Older"),
                    item("outlet", 100 + pages, "A copy"),
                ],
            );
            arrivals += 1;
            match next_link(format, &reply.body) {
                Some(next) => url = next.trim_start_matches("http://desk.example").to_owned(),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{format}: a story came twice");
        let original: Vec<String> = {
            let all = get(&app, &format!("/feed.{format}?limit=500&source=agency")).await;
            ids(&all.body)
        };
        for id in original.iter().filter(|id| !id.is_empty()) {
            assert!(seen.contains(id), "{format}: {id} was skipped");
        }
        assert!(pages >= 5, "{format}: {pages} pages");
    }
}

/// Keeps the stories each format's walk adds apart.
fn pages_offset(format: &str) -> u32 {
    match format {
        "atom" => 0,
        "rss" => 1,
        _ => 2,
    }
}

/// The next page's URL: Atom and RSS `link rel="next"`, JSON Feed `next_url`.
fn next_link(format: &str, body: &str) -> Option<String> {
    if format == "json" {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        return v["next_url"].as_str().map(str::to_owned);
    }
    let feed = parse(body);
    if let Some(link) = feed.links.iter().find(|l| l.rel.as_deref() == Some("next")) {
        return Some(link.href.clone());
    }
    // feed-rs does not read RSS's atom:link: find it in the text.
    let start = body.find("rel=\"next\"")?;
    let tag_start = body[..start].rfind('<')?;
    let href = body[tag_start..]
        .split("href=\"")
        .nth(1)?
        .split('"')
        .next()?;
    Some(href.replace("&amp;", "&"))
}

#[tokio::test]
async fn a_page_changed_this_second_has_no_last_modified() {
    // Two changes within one second would carry the same Last-Modified, and
    // a reader (libcurl, newsboat) that holds it drops the second answer as
    // unchanged: a change in the current second is not dated yet.
    let desk = Desk::new();
    desk.poll("agency", &[item("agency", 1, "Talks")]);
    let changed = desk.store.last_change();
    let same_second = router(desk.state_at(Arc::new(move || changed)));
    let reply = get(&same_second, "/feed.atom").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get(header::LAST_MODIFIED).is_none());
    let modified = httpdate::fmt_http_date(changed.into());
    let since = get_with(
        &same_second,
        "/feed.atom",
        &[(header::IF_MODIFIED_SINCE, &modified)],
    )
    .await;
    assert_eq!(
        since.status,
        StatusCode::OK,
        "not a 304 on a second not over"
    );

    let later = router(desk.state_at(Arc::new(move || changed + chrono::Duration::seconds(1))));
    let reply = get(&later, "/feed.atom").await;
    assert_eq!(reply.header(header::LAST_MODIFIED), modified);
    let since = get_with(
        &later,
        "/feed.atom",
        &[(header::IF_MODIFIED_SINCE, &modified)],
    )
    .await;
    assert_eq!(since.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn an_unchanged_feed_answers_304_and_a_new_item_brings_a_200() {
    let desk = Desk::new();
    desk.poll("agency", &[item("agency", 1, "Talks")]);
    let app = desk.router();
    for path in [
        "/feed.atom",
        "/feed.rss",
        "/feed.json?tag=agency",
        "/sources.opml",
    ] {
        let first = get(&app, path).await;
        let etag = first.header(header::ETAG).to_owned();
        let modified = first.header(header::LAST_MODIFIED).to_owned();
        assert!(etag.starts_with("W/\""), "{path}: {etag}");
        assert!(!modified.is_empty(), "{path}");
        assert_eq!(first.header(header::CACHE_CONTROL), "no-cache");

        let again = get_with(&app, path, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header(header::ETAG), etag);
        let since = get_with(&app, path, &[(header::IF_MODIFIED_SINCE, &modified)]).await;
        assert_eq!(since.status, StatusCode::NOT_MODIFIED, "{path}");
        let other = get_with(&app, path, &[(header::IF_NONE_MATCH, "W/\"other\"")]).await;
        assert_eq!(other.status, StatusCode::OK, "{path}");
    }

    let before = get(&app, "/feed.atom").await;
    let etag = before.header(header::ETAG).to_owned();
    desk.poll("agency", &[item("agency", 2, "More talks")]);
    let after = get_with(&app, "/feed.atom", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_ne!(after.header(header::ETAG), etag);
    assert_eq!(titles(&after.body), ["More talks", "Talks"]);
    let after_modified: DateTime<Utc> =
        httpdate::parse_http_date(after.header(header::LAST_MODIFIED))
            .unwrap()
            .into();
    let before_modified: DateTime<Utc> =
        httpdate::parse_http_date(before.header(header::LAST_MODIFIED))
            .unwrap()
            .into();
    assert!(after_modified >= before_modified);

    // A write that leaves this feed's bytes alone keeps its validator.
    let agency_only = get(&app, "/feed.atom?source=agency").await;
    desk.poll("outlet", &[item("outlet", 9, "Elsewhere")]);
    let still = get_with(
        &app,
        "/feed.atom?source=agency",
        &[(header::IF_NONE_MATCH, agency_only.header(header::ETAG))],
    )
    .await;
    assert_eq!(still.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_cached_page_is_served_and_revalidated_without_touching_the_database() {
    let desk = Desk::new();
    desk.poll("agency", &[item("agency", 1, "Talks")]);
    let app = desk.router();
    let first = get(&app, "/feed.atom").await;
    let etag = first.header(header::ETAG).to_owned();

    // Break the database behind the store's back: any read now fails.
    let conn = rusqlite::Connection::open(desk._dir.path().join("serve.db")).unwrap();
    conn.execute_batch("ALTER TABLE stories RENAME TO stories_gone")
        .unwrap();
    assert_eq!(
        get(&app, "/feed.atom?limit=3").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let again = get_with(&app, "/feed.atom", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let plain = get(&app, "/feed.atom").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.body, first.body);
}

#[tokio::test]
async fn compression_follows_accept_encoding_and_decompresses_to_the_same_document() {
    use std::io::Read;
    let desk = Desk::new();
    let items: Vec<NewItem> = (1..20)
        .map(|n| item("agency", n, "A long enough story"))
        .collect();
    desk.poll("agency", &items);
    let app = desk.router();
    let plain = get(&app, "/feed.atom").await;
    assert_eq!(plain.header(header::CONTENT_ENCODING), "");
    assert_eq!(plain.header(header::VARY), "accept-encoding");
    for (accept, encoding) in [
        ("gzip", "gzip"),
        ("br", "br"),
        ("gzip, deflate, br", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("deflate", ""),
    ] {
        let response = app
            .clone()
            .oneshot(
                Request::get("/feed.atom")
                    .header(header::ACCEPT_ENCODING, accept)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        let got = |name| headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("");
        assert_eq!(got(header::CONTENT_ENCODING), encoding, "{accept}");
        assert_eq!(got(header::ETAG), plain.header(header::ETAG), "{accept}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let mut text = String::new();
        match encoding {
            "gzip" => {
                flate2::read::GzDecoder::new(&bytes[..])
                    .read_to_string(&mut text)
                    .unwrap();
            }
            "br" => {
                brotli::Decompressor::new(&bytes[..], 4096)
                    .read_to_string(&mut text)
                    .unwrap();
            }
            _ => text = String::from_utf8(bytes.to_vec()).unwrap(),
        }
        assert_eq!(text, plain.body, "{accept}");
        if !encoding.is_empty() {
            assert!(
                bytes.len() < plain.body.len() / 2,
                "{accept}: {}",
                bytes.len()
            );
        }
    }
}

#[tokio::test]
async fn with_a_token_the_feeds_need_it_and_healthz_stays_open() {
    let desk = Desk::new();
    desk.poll(
        "agency",
        &(1..4)
            .map(|n| item("agency", n, "Talks"))
            .collect::<Vec<_>>(),
    );
    let open = desk.router();
    assert_eq!(get(&open, "/feed.atom").await.status, StatusCode::OK);

    let app = router(desk.state().with_token(Some(TOKEN)));
    let basic = |user_pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
    };
    for path in ["/feed.atom", "/feed.rss", "/feed.json", "/sources.opml"] {
        let denied = get(&app, path).await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{path}");
        let challenges: Vec<&str> = denied
            .headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            challenges.iter().any(|c| c.starts_with("Bearer")),
            "{challenges:?}"
        );
        assert!(
            challenges.iter().any(|c| c.starts_with("Basic")),
            "{challenges:?}"
        );
        let wrong = get(&app, &format!("{path}?token=nope")).await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{path}");
        let bearer = format!("Bearer {TOKEN}");
        let wrong_basic = basic("reader:nope");
        let denied_basic = get_with(&app, path, &[(header::AUTHORIZATION, &wrong_basic)]).await;
        assert_eq!(denied_basic.status, StatusCode::UNAUTHORIZED, "{path}");

        assert_eq!(
            get(&app, &format!("{path}?token={TOKEN}")).await.status,
            StatusCode::OK,
            "{path}"
        );
        let ok = get_with(&app, path, &[(header::AUTHORIZATION, &bearer)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{path}");
        let right_basic = basic(&format!("reader:{TOKEN}"));
        let ok = get_with(&app, path, &[(header::AUTHORIZATION, &right_basic)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{path}");
    }
    // A token given in the URL is kept in the next link, or following it fails.
    let page = get(&app, &format!("/feed.json?limit=1&token={TOKEN}")).await;
    let next = next_link("json", &page.body).unwrap();
    assert!(next.contains(&format!("token={TOKEN}")), "{next}");
    let next = get(&app, next.trim_start_matches("http://desk.example")).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(get(&app, "/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn sources_opml_lists_every_configured_source() {
    let desk = Desk::new();
    let reply = get(&desk.router(), "/sources.opml").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.header(header::CONTENT_TYPE),
        "text/x-opml; charset=utf-8"
    );
    let paths = well_formed(&reply.body);
    assert_eq!(
        paths.iter().filter(|p| *p == "opml/body/outline").count(),
        2
    );
    assert!(reply.body.contains(
        "<outline type=\"rss\" text=\"Agency &amp; Co\" title=\"Agency &amp; Co\" xmlUrl=\"https://agency.example/feed?a=1&amp;b=2\" category=\"agency\"/>"
    ), "{}", reply.body);
    assert!(
        reply.body.contains("category=\"local,world\""),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn the_daemon_serves_every_format_and_takes_its_token_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings(dir.path(), "");
    settings.server.token = Some(TOKEN.into());
    let app = App::build(settings).await.unwrap();
    let running = spawn_app(app);
    for path in ["/feed.atom", "/feed.rss", "/feed.json", "/sources.opml"] {
        let (status, _) = get_text(&running.url(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, body) = get_text(&running.url(&format!("{path}?token={TOKEN}"))).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (status, _) = get_text(&running.url("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    running.stop().await;
}
