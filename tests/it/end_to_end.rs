//! The whole path: a fake feed server → poll → SQLite → the merged feed.

use std::collections::HashMap;

use axum::http::StatusCode;
use wiredesk::app::App;
use wiredesk::poll::PollOutcome;

use crate::helpers::{
    AGENCY_RSS, Canned, FeedServer, OUTLET_ATOM, get_text, settings, sources_toml, spawn_app,
};

/// (source name, link) of every item in the sample feeds.
fn sample_items() -> Vec<(String, String)> {
    let mut items = Vec::new();
    for (name, xml) in [
        ("Northwind Press Agency", AGENCY_RSS),
        ("The Harbour Herald", OUTLET_ATOM),
    ] {
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        for entry in feed.entries {
            // Links are served without their tracking parameters (#18).
            let link = entry.links[0].href.clone();
            let link = link.replace("?utm_source=rss&utm_medium=feed", "");
            items.push((name.to_owned(), link));
        }
    }
    items
}

/// Every (source name, link) the merged feed names: the shown copy of each
/// entry (its alternate link and `atom:source`) and its related copies.
fn named_copies(feed: &feed_rs::model::Feed, xml: &str) -> Vec<(String, String)> {
    // feed-rs does not expose an entry's atom:source, so the shown copy's
    // source is read from the XML, entry by entry, in document order.
    let sources: Vec<&str> = xml
        .split("<entry>")
        .skip(1)
        .map(|entry| {
            let source = entry.split("<source><title>").nth(1).unwrap();
            source.split("</title>").next().unwrap()
        })
        .collect();
    let mut named = Vec::new();
    for (entry, source) in feed.entries.iter().zip(sources) {
        for link in &entry.links {
            match link.rel.as_deref() {
                Some("alternate") | None => named.push((source.to_owned(), link.href.clone())),
                Some("related") => named.push((link.title.clone().unwrap(), link.href.clone())),
                _ => {}
            }
        }
    }
    named
}

#[tokio::test]
async fn every_sample_item_appears_once_in_the_merged_feed_with_its_source() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "outlet.atom",
        Canned::ok("application/atom+xml", OUTLET_ATOM),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            (
                "northwind",
                "Northwind Press Agency",
                &feeds.url("agency.xml"),
                10,
            ),
            (
                "harbour-herald",
                "The Harbour Herald",
                &feeds.url("outlet.atom"),
                0,
            ),
        ]),
    );
    let app = App::build(settings).await.unwrap();

    let reports = app.poll_once().await;
    let new: Vec<usize> = reports
        .iter()
        .map(|r| match &r.outcome {
            PollOutcome::Ok { new, .. } => *new,
            other => panic!("{}: {other:?}", r.source),
        })
        .collect();
    assert_eq!(new, [3, 3]);

    let running = spawn_app(app);
    let (status, xml) = get_text(&running.url("/feed.atom")).await;
    assert_eq!(status, StatusCode::OK);
    let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(feed.title.as_ref().unwrap().content, "test desk");

    let mut named = named_copies(&feed, &xml);
    let mut expected = sample_items();
    named.sort();
    expected.sort();
    assert_eq!(named, expected, "each sample item once, with its source");

    // The identical republication of the port story is one entry, shown
    // from the agency (priority 10) and naming the outlet's copy.
    let port: Vec<_> = feed
        .entries
        .iter()
        .filter(|e| {
            e.title
                .as_ref()
                .unwrap()
                .content
                .starts_with("Port of Caldera")
        })
        .collect();
    assert_eq!(port.len(), 1);
    assert!(
        port[0].links[0]
            .href
            .starts_with("https://northwind.example/")
    );
    let content = port[0].content.as_ref().unwrap().body.clone().unwrap();
    assert!(content.contains("Also reported by"), "{content}");
    assert!(content.contains("The Harbour Herald"), "{content}");

    running.stop().await;
}

#[tokio::test]
async fn a_second_poll_of_unchanged_feeds_changes_nothing() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "outlet.atom",
        Canned::ok("application/atom+xml", OUTLET_ATOM),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("northwind", "Northwind", &feeds.url("agency.xml"), 0),
            (
                "harbour-herald",
                "Harbour Herald",
                &feeds.url("outlet.atom"),
                0,
            ),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let before = app.store().latest_stories(50).unwrap();
    let counts_before = app.store().counts().unwrap();

    let reports = app.poll_once().await;
    for report in &reports {
        // The same bytes again: recognised by their hash, not parsed.
        assert_eq!(report.outcome, PollOutcome::Unchanged, "{}", report.source);
    }
    assert_eq!(app.store().latest_stories(50).unwrap(), before);
    assert_eq!(app.store().counts().unwrap(), counts_before);
    assert_eq!(feeds.hits("agency.xml"), 2);
}

#[tokio::test]
async fn a_changed_item_is_updated_in_place() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[("northwind", "Northwind", &feeds.url("agency.xml"), 0)]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;

    let edited = AGENCY_RSS.replace(
        "Port of Caldera reopens after three-day dockworkers' strike",
        "Port of Caldera reopens as dockworkers end strike",
    );
    feeds.set("agency.xml", Canned::ok("application/rss+xml", &edited));
    let reports = app.poll_once().await;
    assert_eq!(
        reports[0].outcome,
        PollOutcome::Ok {
            seen: 3,
            new: 0,
            updated: 1,
            merged: 0
        }
    );
    let titles: Vec<String> = app
        .store()
        .latest_stories(50)
        .unwrap()
        .into_iter()
        .map(|s| s.chosen.item.title)
        .collect();
    assert!(titles.contains(&"Port of Caldera reopens as dockworkers end strike".to_owned()));
    assert_eq!(titles.len(), 3);
}

#[tokio::test]
async fn a_failing_source_is_recorded_and_never_stops_the_others() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "broken.xml",
        Canned {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            content_type: "text/plain",
            body: "oops".into(),
        },
    );
    feeds.set(
        "garbage.xml",
        Canned::ok("application/rss+xml", "plain words, not a feed"),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("broken", "Broken", &feeds.url("broken.xml"), 0),
            ("garbage", "Garbage", &feeds.url("garbage.xml"), 0),
            ("northwind", "Northwind", &feeds.url("agency.xml"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    let reports = app.poll_once().await;
    let outcome: HashMap<String, PollOutcome> = reports
        .into_iter()
        .map(|r| (r.source.to_string(), r.outcome))
        .collect();
    assert_eq!(
        outcome["broken"],
        PollOutcome::Failed {
            reason: "HTTP 500".into()
        }
    );
    assert!(matches!(outcome["garbage"], PollOutcome::Failed { .. }));
    assert!(matches!(
        outcome["northwind"],
        PollOutcome::Ok { new: 3, .. }
    ));

    let states = app.store().source_states().unwrap();
    let broken = states.iter().find(|s| s.id.as_str() == "broken").unwrap();
    assert_eq!(broken.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(broken.consecutive_failures, 1);
    assert_eq!(app.store().counts().unwrap().items, 3);
}

#[tokio::test]
async fn healthz_reports_counts_and_unknown_paths_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(settings(dir.path(), "")).await.unwrap();
    let running = spawn_app(app);
    let (status, body) = get_text(&running.url("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["items"], 0);
    let (status, _) = get_text(&running.url("/feed.rss2")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    running.stop().await;
}

#[tokio::test]
async fn sources_json_shows_each_sources_poll_state() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "broken.xml",
        Canned {
            status: StatusCode::SERVICE_UNAVAILABLE,
            content_type: "text/plain",
            body: "down".into(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("broken", "Broken", &feeds.url("broken.xml"), 0),
            ("northwind", "Northwind", &feeds.url("agency.xml"), 0),
            ("later", "Later", &feeds.url("later.xml"), 0),
        ]),
    );
    let sources_config = settings.sources.clone();
    let app = App::build(settings).await.unwrap();
    app.poll_sources_now(&["broken", "northwind"]).await;
    // Served through the router alone: no scheduler polls "later" meanwhile.
    let router = wiredesk::serve::router(
        wiredesk::serve::ServeState::new(
            app.store().clone(),
            "t",
            &url::Url::parse("http://desk.example/").unwrap(),
        )
        .with_sources(&sources_config),
    );
    let get = |uri: &'static str| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let response = router
                .oneshot(
                    axum::http::Request::get(uri)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let (status, body) = get("/sources.json").await;
    assert_eq!(status, StatusCode::OK);
    let sources: serde_json::Value = serde_json::from_str(&body).unwrap();
    let by_id = |id: &str| {
        sources
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap()
    };
    let broken = by_id("broken");
    assert_eq!(broken["status"], "error");
    assert_eq!(broken["http_status"], 503);
    assert_eq!(broken["consecutive_failures"], 1);
    assert!(broken["next_poll_at"].is_string());
    let northwind = by_id("northwind");
    assert_eq!(northwind["status"], "ok");
    assert_eq!(northwind["last_error"], serde_json::Value::Null);
    assert_eq!(by_id("later")["status"], "new");
    // An unknown parameter is ignored, as on the feeds (issue #18).
    let (status, _) = get("/sources.json?verbose=1").await;
    assert_eq!(status, StatusCode::OK);
}
