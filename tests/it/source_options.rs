//! A source's request headers and keep/block rules (#18), through the
//! poller, the command line and the served pages.

use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use wiredesk::app::App;
use wiredesk::poll::PollOutcome;

use crate::helpers::{
    AGENCY_RSS, Canned, FeedServer, OUTLET_ATOM, ScriptedServer, get_text, settings, spawn_app,
};

const SECRETS: [&str; 4] = ["s3cret-bearer", "k3y-value", "hunter2", "sid=c00kie"];

fn answer(seen: &crate::helpers::Seen) -> Response {
    let has = |name: &str, value: &str| {
        seen.headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
    };
    let ok = match seen.path.as_str() {
        "/private" => {
            has("authorization", "Bearer s3cret-bearer")
                && has("x-api-key", "k3y-value")
                && has("cookie", "sid=c00kie")
                && has("user-agent", "desk-reader/2")
        }
        // reqwest sends a URL's user and password as Basic credentials.
        "/basic" => has("authorization", "Basic cmVhZGVyOmh1bnRlcjI="),
        _ => false,
    };
    match (ok, seen.path.as_str()) {
        (true, "/private") => {
            ([(header::CONTENT_TYPE, "application/rss+xml")], AGENCY_RSS).into_response()
        }
        (true, _) => (
            [(header::CONTENT_TYPE, "application/atom+xml")],
            OUTLET_ATOM,
        )
            .into_response(),
        (false, _) => StatusCode::UNAUTHORIZED.into_response(),
    }
}

fn leaked<'a>(text: &str) -> Vec<&'a str> {
    SECRETS.into_iter().filter(|s| text.contains(s)).collect()
}

/// The command line, run as a user runs it, from a blocking thread so the
/// test's server keeps answering.
async fn wiredesk(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (config, args): (_, Vec<String>) = (
        config.to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect(),
    );
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
            .arg("--config")
            .arg(&config)
            .args(&args)
            .env_remove("WIREDESK_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_sources_headers_and_url_credentials_are_sent_and_never_shown() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| answer(seen)).await;
    let dir = tempfile::tempdir().unwrap();
    let basic = server
        .url("/basic")
        .replace("http://", "http://reader:hunter2@");
    let sources = format!(
        "[[sources]]\nid = \"private\"\nurl = \"{}\"\n\
         headers = {{ Authorization = \"Bearer s3cret-bearer\", \"X-Api-Key\" = \"k3y-value\", \
         Cookie = \"sid=c00kie\", \"User-Agent\" = \"desk-reader/2\" }}\n\
         [[sources]]\nid = \"basic\"\nurl = \"{basic}\"\n",
        server.url("/private")
    );
    let config = dir.path().join("wiredesk.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"test.db\"\n\
             [log]\nlevel = \"debug\"\n{sources}"
        ),
    )
    .unwrap();

    // `wiredesk poll` at debug level: both sources answer 200, so every
    // header arrived; the log holds none of the secrets.
    let polled = wiredesk(&config, &["poll"]).await;
    let log = String::from_utf8_lossy(&polled.stderr).into_owned()
        + &String::from_utf8_lossy(&polled.stdout);
    assert!(polled.status.success(), "{log}");
    assert!(
        server.hits("/private") >= 1 && server.hits("/basic") >= 1,
        "{log}"
    );
    assert!(!log.contains("HTTP 401"), "{log}");
    assert_eq!(leaked(&log), Vec::<&str>::new(), "{log}");
    assert!(
        log.contains("reader:***@"),
        "the URL is logged, redacted: {log}"
    );
    for shown in [
        wiredesk(&config, &["sources"]).await,
        wiredesk(&config, &["check"]).await,
        wiredesk(&config, &["export-opml"]).await,
    ] {
        let text = String::from_utf8_lossy(&shown.stdout).into_owned();
        assert!(shown.status.success(), "{text}");
        assert_eq!(leaked(&text), Vec::<&str>::new(), "{text}");
    }

    // The pages the daemon serves.
    let settings = wiredesk::config::load(&config, []).unwrap();
    let running = spawn_app(App::build(settings).await.unwrap());
    for page in ["/sources.json", "/sources.opml", "/", "/feed.atom"] {
        let (status, body) = get_text(&running.url(page)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(leaked(&body), Vec::<&str>::new(), "{page}: {body}");
    }
    let (_, json) = get_text(&running.url("/sources.json")).await;
    assert!(json.contains("reader:***@127.0.0.1"), "{json}");
    running.stop().await;
}

#[tokio::test]
async fn blocked_items_are_never_served_nor_merged_and_are_counted() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    let dir = tempfile::tempdir().unwrap();
    // Two sources of the same feed; the rules of one hold back the
    // dockworkers' story (its title says "strike", its text "dockworkers").
    // The running app polls every source it has: the plain one comes later.
    let ruled = format!(
        "[[sources]]\nid = \"ruled\"\nurl = \"{}\"\npriority = 1\nblock = [\"DOCKWORKERS\"]\n",
        feeds.url("agency.xml")
    );
    let app = App::build(settings(dir.path(), &ruled)).await.unwrap();
    let report = app.poll_sources_now(&["ruled"]).await;
    assert!(
        matches!(report[0].outcome, PollOutcome::Ok { new: 2, .. }),
        "{:?}",
        report[0].outcome
    );

    let running = spawn_app(app);
    let (_, feed) = get_text(&running.url("/feed.atom")).await;
    assert!(
        feed.contains("Geneva") && !feed.contains("Caldera"),
        "{feed}"
    );
    let (_, found) = get_text(&running.url("/feed.atom?q=Caldera")).await;
    assert!(!found.contains("<entry>"), "{found}");
    let (_, desk) = get_text(&running.url("/")).await;
    assert!(!desk.contains("Caldera"), "{desk}");
    let (_, json) = get_text(&running.url("/sources.json")).await;
    let sources: serde_json::Value = serde_json::from_str(&json).unwrap();
    let blocked = |id: &str| {
        sources
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["blocked"]
            .as_u64()
    };
    assert_eq!(blocked("ruled"), Some(1), "{json}");
    running.stop().await;

    // The other source's copy of it is a story of its own: the blocked
    // item was no dedup candidate. Polled again, it is not counted twice.
    let both = format!(
        "{ruled}[[sources]]\nid = \"plain\"\nurl = \"{}\"\n",
        feeds.url("agency.xml")
    );
    let app = App::build(settings(dir.path(), &both)).await.unwrap();
    app.poll_sources_now(&["plain"]).await;
    feeds.set(
        "agency.xml",
        Canned::ok(
            "application/rss+xml",
            &AGENCY_RSS.replace("</channel>", "<!-- changed --></channel>"),
        ),
    );
    app.poll_sources_now(&["ruled"]).await;
    let stories = app.store().latest_stories(50).unwrap();
    let copies_of = |word: &str| -> Vec<String> {
        let story = stories
            .iter()
            .find(|s| s.chosen.item.title.contains(word))
            .unwrap();
        story.copies().map(|c| c.source_id.to_string()).collect()
    };
    assert_eq!(copies_of("Caldera"), ["plain"]);
    assert_eq!(copies_of("Geneva").len(), 2);
    assert_eq!(
        app.store().blocked_counts().unwrap(),
        [(wiredesk::model::SourceId::new("ruled"), 1)]
    );
}

#[tokio::test]
async fn secret_headers_do_not_follow_a_redirect_to_another_host() {
    let elsewhere = ScriptedServer::start(Duration::ZERO, |_, _| {
        ([(header::CONTENT_TYPE, "application/rss+xml")], AGENCY_RSS).into_response()
    })
    .await;
    let target = elsewhere.url("/feed");
    let home = ScriptedServer::start(Duration::ZERO, move |_, _| {
        (StatusCode::FOUND, [(header::LOCATION, target.clone())]).into_response()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[[sources]]\nid = \"moving\"\nurl = \"{}\"\n\
         headers = {{ Authorization = \"Bearer s3cret-bearer\", \"X-Feed-Tier\" = \"gold\" }}\n",
        home.url("/private")
    );
    let app = App::build(settings(dir.path(), &toml)).await.unwrap();
    let report = app.poll_sources_now(&["moving"]).await;
    assert!(
        matches!(report[0].outcome, PollOutcome::Ok { .. }),
        "{:?}",
        report[0].outcome
    );
    let at_home = &home.seen()[0].headers;
    assert_eq!(at_home["authorization"], "Bearer s3cret-bearer");
    let there = &elsewhere.seen()[0].headers;
    assert!(there.get("authorization").is_none(), "{there:?}");
    assert_eq!(there["x-feed-tier"], "gold");
}

#[tokio::test]
async fn a_new_block_rule_leaves_items_stored_before_it_served() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    let dir = tempfile::tempdir().unwrap();
    let url = feeds.url("agency.xml");
    let before = format!("[[sources]]\nid = \"agency\"\nurl = \"{url}\"\n");
    let app = App::build(settings(dir.path(), &before)).await.unwrap();
    app.poll_sources_now(&["agency"]).await;
    drop(app);

    let after = format!("{before}block = [\"caldera\"]\n");
    let app = App::build(settings(dir.path(), &after)).await.unwrap();
    let edited = AGENCY_RSS.replace("reopens after", "reopens at last after");
    feeds.set("agency.xml", Canned::ok("application/rss+xml", &edited));
    let report = app.poll_sources_now(&["agency"]).await;
    assert!(
        matches!(report[0].outcome, PollOutcome::Ok { updated: 1, .. }),
        "{:?}",
        report[0].outcome
    );
    let stories = app.store().latest_stories(50).unwrap();
    assert!(
        stories
            .iter()
            .any(|s| s.chosen.item.title.contains("reopens at last")),
        "the stored item is still served, and updated"
    );
    assert!(app.store().blocked_counts().unwrap().is_empty());
}
