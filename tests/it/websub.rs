//! WebSub, the subscriber side (#16), through real HTTP: a hub played by
//! the test on 127.0.0.1, a feed that names it, and the daemon's callback.

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use wiredesk::app::App;
use wiredesk::poll::websub::signature::sign_sha256;

use crate::helpers::{ScriptedServer, settings, sources_toml, spawn_app};

type Form = HashMap<String, String>;

/// A hub that takes every request (202) and hands its form to the test.
pub(crate) async fn hub() -> (String, mpsc::UnboundedReceiver<Form>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/hub",
        post(move |body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let form: Form = url::form_urlencoded::parse(&body).into_owned().collect();
                let _ = tx.send(form);
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, rx)
}

pub(crate) fn atom(hub_link: &str, entries: &[(&str, &str)]) -> String {
    let entries: String = entries
        .iter()
        .map(|(id, title)| {
            format!(
                "<entry><id>urn:{id}</id><title>{title}</title>\
                 <updated>2026-12-05T10:00:00Z</updated>\
                 <link href=\"https://news.example/{id}\"/>\
                 <content type=\"html\">&lt;p&gt;{title}, reported in full.&lt;/p&gt;</content></entry>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title>World</title><id>urn:world</id><updated>2026-12-05T10:00:00Z</updated>\
         <author><name>Desk</name></author>{hub_link}{entries}</feed>"
    )
}

/// A feed server whose feed names `hub` in its `Link` header (or, with
/// `in_document`, in the document).
pub(crate) async fn feed_naming(hub: &str, in_document: bool) -> ScriptedServer {
    let hub = hub.to_owned();
    ScriptedServer::start(Duration::ZERO, move |_, _| {
        let link = format!("<{hub}>; rel=\"hub\", </feed>; rel=\"self\"");
        if in_document {
            let doc_link =
                format!("<link rel=\"hub\" href=\"{hub}\"/><link rel=\"self\" href=\"/feed\"/>");
            (
                [(header::CONTENT_TYPE, "application/atom+xml")],
                atom(&doc_link, &[("1", "Harbour reopens")]),
            )
                .into_response()
        } else {
            (
                [
                    (header::CONTENT_TYPE, "application/atom+xml".to_owned()),
                    (header::LINK, link),
                ],
                atom("", &[("1", "Harbour reopens")]),
            )
                .into_response()
        }
    })
    .await
}

/// Settings with push on and the server on `port`, its callback under it.
pub(crate) fn push_settings(
    dir: &std::path::Path,
    port: u16,
    sources: &str,
) -> wiredesk::config::Settings {
    let mut s = settings(dir, sources);
    s.server.listen = format!("127.0.0.1:{port}").parse().unwrap();
    s.server.base_url = format!("http://127.0.0.1:{port}/").parse().unwrap();
    s.websub.enabled = true;
    s
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The daemon with push on, its callback under its own address.
async fn daemon(dir: &std::path::Path, feed: &str) -> (crate::helpers::Running, String) {
    let port = free_port();
    let s = push_settings(dir, port, &sources_toml(&[("world", "World", feed, 0)]));
    let app = App::build(s).await.unwrap();
    let running = spawn_app(app);
    (running, format!("http://127.0.0.1:{port}/"))
}

pub(crate) async fn next_request(requests: &mut mpsc::UnboundedReceiver<Form>) -> Form {
    tokio::time::timeout(Duration::from_secs(20), requests.recv())
        .await
        .expect("the hub heard nothing")
        .unwrap()
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub(crate) async fn get(url: &str, query: &[(&str, &str)]) -> (StatusCode, String) {
    let mut url = url::Url::parse(url).unwrap();
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let r = client().get(url).send().await.unwrap();
    (
        StatusCode::from_u16(r.status().as_u16()).unwrap(),
        r.text().await.unwrap(),
    )
}

pub(crate) async fn push(callback: &str, body: &str, signature: Option<String>) -> StatusCode {
    let mut request = client()
        .post(callback)
        .header("content-type", "application/atom+xml")
        .body(body.to_owned());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature", signature);
    }
    StatusCode::from_u16(request.send().await.unwrap().status().as_u16()).unwrap()
}

/// Waits until `/feed.json` of the daemon at `base` says `text`, at most 20 s.
async fn until_served(base: &str, text: &str) -> bool {
    for _ in 0..400 {
        let (_, body) = get(&format!("{base}feed.json"), &[]).await;
        if body.contains(text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_feed_naming_a_hub_in_its_link_header_is_subscribed_and_a_signed_push_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_url, mut requests) = hub().await;
    let feed = feed_naming(&hub_url, false).await;
    let (running, base) = daemon(dir.path(), &feed.url("/feed")).await;

    let asked = next_request(&mut requests).await;
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], feed.url("/feed"));
    let callback = asked["hub.callback"].clone();
    assert!(callback.starts_with(&format!("{base}websub/callback/")));
    let token = callback.rsplit('/').next().unwrap();
    assert!(
        token.len() >= 32,
        "a callback that cannot be guessed: {token}"
    );
    let secret = asked["hub.secret"].clone();
    assert!(!secret.is_empty());

    // A verification for a topic never asked for, or at a callback we
    // never gave, is refused.
    let forged = [
        ("hub.mode", "subscribe"),
        ("hub.topic", "https://evil.example/feed"),
        ("hub.challenge", "forged"),
        ("hub.lease_seconds", "3600"),
    ];
    assert_eq!(get(&callback, &forged).await.0, StatusCode::NOT_FOUND);
    let guessed = format!("{base}websub/callback/0123456789abcdef");
    let topic = feed.url("/feed");
    let honest = [
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.challenge", "c-42"),
        ("hub.lease_seconds", "3600"),
    ];
    assert_eq!(get(&guessed, &honest).await.0, StatusCode::NOT_FOUND);
    // The one we asked for is echoed.
    assert_eq!(
        get(&callback, &honest).await,
        (StatusCode::OK, "c-42".to_owned())
    );

    // Unsigned and badly signed pushes are answered 2xx and ignored.
    let unsigned = atom("", &[("2", "Unsigned ferry story")]);
    assert!(push(&callback, &unsigned, None).await.is_success());
    let forged_body = atom("", &[("3", "Forged ferry story")]);
    let wrong = sign_sha256(b"not the secret", forged_body.as_bytes());
    assert!(
        push(&callback, &forged_body, Some(wrong))
            .await
            .is_success()
    );

    // A signed push is served like a polled item.
    let signed = atom("", &[("4", "Lighthouse relit after storm")]);
    let signature = sign_sha256(secret.as_bytes(), signed.as_bytes());
    assert!(push(&callback, &signed, Some(signature)).await.is_success());
    assert!(until_served(&base, "Lighthouse relit after storm").await);
    let (_, served) = get(&format!("{base}feed.json"), &[]).await;
    assert!(served.contains("Harbour reopens"), "the polled item stays");
    assert!(!served.contains("Unsigned ferry story"));
    assert!(!served.contains("Forged ferry story"));

    // Where an operator looks: the source's push state.
    let (_, sources) = get(&format!("{base}sources.json"), &[]).await;
    let sources: serde_json::Value = serde_json::from_str(&sources).unwrap();
    let state = &sources[0]["push"];
    assert_eq!(state["state"], "subscribed");
    assert_eq!(state["hub"], hub_url);
    assert_eq!(state["pushes"], 1);
    assert_eq!(state["bad_signatures"], 2);
    assert!(state["lease_until"].is_string());
    assert!(state["last_push_at"].is_string());

    let (_, desk) = get(&base, &[]).await;
    assert!(desk.contains("pushed by its hub until"), "{desk}");
    assert!(desk.contains("2 badly signed, ignored"));

    let (_, metrics) = get(&format!("{base}metrics"), &[]).await;
    assert!(metrics.contains("signature=\"missing\""), "{metrics}");
    assert!(metrics.contains("signature=\"wrong\""));
    assert!(metrics.contains("signature=\"good\""));
    running.stop().await;
}

#[tokio::test]
async fn a_feed_naming_a_hub_in_its_document_is_subscribed_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_url, mut requests) = hub().await;
    let feed = feed_naming(&hub_url, true).await;
    let (running, _) = daemon(dir.path(), &feed.url("/feed")).await;
    let asked = next_request(&mut requests).await;
    assert_eq!(asked["hub.mode"], "subscribe");
    assert_eq!(asked["hub.topic"], feed.url("/feed"));
    running.stop().await;
}

#[tokio::test]
async fn a_source_reloaded_with_push_off_is_unsubscribed_and_its_subscription_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_url, mut requests) = hub().await;
    let feed = feed_naming(&hub_url, false).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}/");
    let sources = sources_toml(&[("world", "World", &feed.url("/feed"), 0)]);
    let app = App::build(push_settings(dir.path(), port, &sources))
        .await
        .unwrap();
    let (reload, reloads) = mpsc::channel(1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(app.run_with_reloads(
        async move {
            let _ = stopped.await;
        },
        reloads,
    ));

    let asked = next_request(&mut requests).await;
    let (callback, topic) = (asked["hub.callback"].clone(), asked["hub.topic"].clone());
    let verify = |mode: &'static str, challenge: &'static str| {
        let (callback, topic) = (callback.clone(), topic.clone());
        async move {
            get(
                &callback,
                &[
                    ("hub.mode", mode),
                    ("hub.topic", topic.as_str()),
                    ("hub.challenge", challenge),
                    ("hub.lease_seconds", "86400"),
                ],
            )
            .await
        }
    };
    assert_eq!(verify("subscribe", "one").await.0, StatusCode::OK);
    // An unsubscription nobody asked for is refused.
    assert_eq!(verify("unsubscribe", "two").await.0, StatusCode::NOT_FOUND);

    let off = format!("{sources}websub = false\n");
    reload
        .send(Ok(push_settings(dir.path(), port, &off)))
        .await
        .unwrap();
    let asked = next_request(&mut requests).await;
    assert_eq!(asked["hub.mode"], "unsubscribe");
    assert_eq!(asked["hub.callback"], callback);
    assert_eq!(
        verify("unsubscribe", "three").await,
        (StatusCode::OK, "three".to_owned())
    );
    let (_, sources) = get(&format!("{base}sources.json"), &[]).await;
    let sources: serde_json::Value = serde_json::from_str(&sources).unwrap();
    assert!(sources[0]["push"].is_null(), "{sources}");
    // A push to the old callback is told to go away.
    assert_eq!(push(&callback, "<feed/>", None).await, StatusCode::GONE);
    let _ = stop.send(());
    done.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_hub_that_refuses_leaves_the_source_polled_as_usual_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, mut refused) = mpsc::unbounded_channel::<()>();
    let app = Router::new().route(
        "/hub",
        post(move || {
            let tx = tx.clone();
            async move {
                let _ = tx.send(());
                (StatusCode::SERVICE_UNAVAILABLE, "hub down for maintenance")
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let feed = feed_naming(&hub_url, false).await;
    let (running, base) = daemon(dir.path(), &feed.url("/feed")).await;
    tokio::time::timeout(Duration::from_secs(20), refused.recv())
        .await
        .unwrap();

    let mut push = serde_json::Value::Null;
    for _ in 0..400 {
        let (_, sources) = get(&format!("{base}sources.json"), &[]).await;
        let sources: serde_json::Value = serde_json::from_str(&sources).unwrap();
        push = sources[0]["push"].clone();
        if push["state"] == "failed" {
            // Polled on its own interval (15 minutes and jitter), not the
            // safety net's hour.
            let at = |key: &str| {
                chrono::DateTime::parse_from_rfc3339(sources[0][key].as_str().unwrap()).unwrap()
            };
            let wait = at("next_poll_at") - at("last_polled_at");
            assert!(wait <= chrono::Duration::minutes(17), "{wait}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(push["state"], "failed", "{push}");
    let error = push["last_error"].as_str().unwrap();
    assert!(error.contains("HTTP 503"), "{error}");
    assert!(error.contains("hub down for maintenance"), "{error}");
    running.stop().await;
}

#[tokio::test]
async fn a_source_with_a_live_lease_is_polled_hourly_as_a_safety_net_and_as_usual_after_it() {
    use wiredesk::model::SourceId;
    use wiredesk::store::{Phase, Subscription};
    let dir = tempfile::tempdir().unwrap();
    let feed = feed_naming("https://hub.example/", false).await;
    let s = settings(
        dir.path(),
        &sources_toml(&[("world", "World", &feed.url("/feed"), 0)]),
    );
    let app = App::build_offline(s).unwrap();
    let now = chrono::Utc::now();
    let live = |lease_until| Subscription {
        source: SourceId::new("world"),
        hub: "https://hub.example/".parse().unwrap(),
        topic: feed.url("/feed").parse().unwrap(),
        token: "t".repeat(48),
        secret: "s".repeat(64),
        phase: Phase::Subscribed,
        requested_at: now,
        verified_at: Some(now),
        lease_until: Some(lease_until),
        retry_at: None,
        failures: 0,
        last_error: None,
        last_push_at: None,
        pushes: 0,
        bad_signatures: 0,
    };
    app.store()
        .websub_save(&live(now + chrono::Duration::days(10)))
        .unwrap();
    let report = app.poll_once().await.remove(0);
    let wait = report.next_poll_at - now;
    assert!(
        wait >= chrono::Duration::minutes(59) && wait <= chrono::Duration::minutes(61),
        "{wait}"
    );
    // The lease has lapsed: polled on its interval again.
    app.store()
        .websub_save(&live(now - chrono::Duration::minutes(1)))
        .unwrap();
    let report = app.poll_once().await.remove(0);
    let wait = report.next_poll_at - chrono::Utc::now();
    assert!(wait <= chrono::Duration::minutes(17), "{wait}");
}

#[tokio::test]
async fn a_hub_that_stops_pushing_sends_the_source_back_to_polling_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_url, mut requests) = hub().await;
    let feed = feed_naming(&hub_url, false).await;
    let port = free_port();
    // Polled hourly: without a push, its next poll is an hour away.
    let sources = format!(
        "{}interval = \"1h\"\n",
        sources_toml(&[("world", "World", &feed.url("/feed"), 0)])
    );
    let running = spawn_app(
        App::build(push_settings(dir.path(), port, &sources))
            .await
            .unwrap(),
    );
    let asked = next_request(&mut requests).await;
    let callback = asked["hub.callback"].clone();
    let topic = feed.url("/feed");
    let verify = [
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.challenge", "c-1"),
        ("hub.lease_seconds", "864000"),
    ];
    assert_eq!(get(&callback, &verify).await.0, StatusCode::OK);
    assert_eq!(feed.hits("/feed"), 1);

    // The hub ends the subscription (it may, at any time): no more pushes
    // will come, so the source is polled now, not in an hour.
    let denied = [
        ("hub.mode", "denied"),
        ("hub.topic", topic.as_str()),
        ("hub.reason", "closing down"),
    ];
    get(&callback, &denied).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while feed.hits("/feed") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "not polled again after its hub stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, sources) = get(&format!("http://127.0.0.1:{port}/sources.json"), &[]).await;
    assert!(sources.contains("closing down"), "{sources}");
    running.stop().await;
}
