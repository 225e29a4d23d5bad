//! WebSub end to end (#16): a publisher's hub pushes a story to wiredesk's
//! callback, and wiredesk's own hub delivers it to a subscriber of the
//! merged feed, in under a second, with no poll in between.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use wiredesk::app::App;
use wiredesk::poll::websub::signature::sign_sha256;

use crate::helpers::{sources_toml, spawn_app};
use crate::hub::Subscriber;
use crate::websub::{atom, feed_naming, free_port, get, hub, next_request, push, push_settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_pushed_by_a_publishers_hub_reaches_a_subscriber_of_the_merged_feed_within_a_second()
 {
    let dir = tempfile::tempdir().unwrap();
    let (publisher_hub, mut hub_requests) = hub().await;
    let feed = feed_naming(&publisher_hub, false).await;
    let port = free_port();
    let mut settings = push_settings(
        dir.path(),
        port,
        &sources_toml(&[("world", "World", &feed.url("/feed"), 0)]),
    );
    // The reader's callback is on this machine: the operator allows it.
    settings.websub.allowed_callbacks = vec!["127.0.0.1".to_owned()];
    let base = format!("http://127.0.0.1:{port}/");
    let app = App::build(settings).await.unwrap();
    let store = app.store().clone();
    let running = spawn_app(app);

    // wiredesk subscribes at the publisher's hub, which verifies it.
    let asked = next_request(&mut hub_requests).await;
    let callback = asked["hub.callback"].clone();
    let secret = asked["hub.secret"].clone();
    let topic = feed.url("/feed");
    let verify = [
        ("hub.mode", "subscribe"),
        ("hub.topic", topic.as_str()),
        ("hub.challenge", "publisher-check"),
        ("hub.lease_seconds", "3600"),
    ];
    assert_eq!(get(&callback, &verify).await.0, StatusCode::OK);

    // A reader subscribes to the merged feed at wiredesk's own hub.
    let reader = Subscriber::start().await;
    let reader_callback = reader.url("/echo");
    let merged = format!("{base}feed.atom");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("hub.mode", "subscribe"),
            ("hub.topic", merged.as_str()),
            ("hub.callback", reader_callback.as_str()),
            ("hub.secret", "reader-secret"),
        ])
        .finish();
    let answer = reqwest::Client::new()
        .post(format!("{base}websub/hub"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    // Subscribed once the reader has echoed the challenge and the hub
    // has stored it; a story stored before then would not be its news.
    reader
        .wait_for(Duration::from_secs(10), |_| {
            !reader.hits(Method::GET, "/echo").is_empty()
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (store, topic, callback) = (store.clone(), merged.clone(), reader_callback.clone());
        let held = tokio::task::spawn_blocking(move || store.hub_subscription(&topic, &callback))
            .await
            .unwrap()
            .unwrap();
        if held.is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the reader was never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The publisher pushes a story: no poll will fetch it for minutes.
    let body = atom("", &[("77", "Ferry line restored after storm")]);
    let signature = sign_sha256(secret.as_bytes(), body.as_bytes());
    let pushed = Instant::now();
    assert!(push(&callback, &body, Some(signature)).await.is_success());
    reader
        .wait_for(Duration::from_secs(10), |_| {
            reader
                .hits(Method::POST, "/echo")
                .iter()
                .any(|hit| hit.body.contains("Ferry line restored after storm"))
        })
        .await;
    let took = pushed.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "publisher to reader took {took:?}"
    );

    // Once: the story is in one delivery, as one entry of the merged feed.
    let deliveries: Vec<_> = reader
        .hits(Method::POST, "/echo")
        .into_iter()
        .filter(|hit| hit.body.contains("Ferry line restored after storm"))
        .collect();
    assert_eq!(deliveries.len(), 1);
    let doc = feed_rs::parser::parse(deliveries[0].body.as_bytes()).unwrap();
    let titles: Vec<_> = doc
        .entries
        .iter()
        .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
        .collect();
    assert_eq!(titles, ["Ferry line restored after storm"]);
    running.stop().await;
}
