//! The subscriber's loop turned by hand, on a clock the test moves: a
//! lease is renewed before it ends, and a hub that has died by then leaves
//! the source to normal polling.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};

use super::Subscriber;
use crate::model::SourceId;
use crate::poll::Poller;
use crate::store::{Phase, Subscription, testing};

/// A hub on 127.0.0.1 that counts the requests it gets and answers
/// `status` to each.
async fn hub(status: Arc<Mutex<StatusCode>>) -> (url::Url, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let app = axum::Router::new().route(
        "/hub",
        axum::routing::post(move |body: String| {
            let (record, status) = (Arc::clone(&record), Arc::clone(&status));
            async move {
                record.lock().unwrap().push(body);
                *status.lock().unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url.parse().unwrap(), seen)
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap()
}

#[tokio::test]
async fn a_lease_is_renewed_before_it_ends_and_a_dead_hub_then_ends_the_push() {
    let (dir, store) = testing::sources(&["agency"]);
    let settings = crate::config::from_str(
        "[poll]\ntimeout = \"5s\"\n[[sources]]\nid = \"agency\"\nurl = \"https://agency.example/feed\"\n",
        &dir.path().join("t.toml"),
        dir.path(),
        [],
    )
    .unwrap();
    let clock = Arc::new(Mutex::new(at(10, 0)));
    let read = Arc::clone(&clock);
    let poller = Poller::with_clock(
        &settings.poll,
        &settings.dedup,
        store.clone(),
        Arc::new(move || *read.lock().unwrap()),
    )
    .unwrap();
    let base = "http://127.0.0.1:1/".parse().unwrap();
    let (subscriber, _pushed, _advertised) =
        Subscriber::new(&poller, &base, Duration::from_secs(3600));
    let status = Arc::new(Mutex::new(StatusCode::ACCEPTED));
    let (hub, seen) = hub(Arc::clone(&status)).await;
    let agency = SourceId::new("agency");
    store
        .websub_save(&Subscription {
            source: agency.clone(),
            hub,
            topic: "https://agency.example/feed".parse().unwrap(),
            token: "t".repeat(48),
            secret: "s".repeat(64),
            phase: Phase::Subscribed,
            requested_at: at(10, 0),
            verified_at: Some(at(10, 0)),
            lease_until: Some(at(11, 0)),
            retry_at: None,
            failures: 0,
            last_error: None,
            last_push_at: None,
            pushes: 0,
            bad_signatures: 0,
        })
        .unwrap();
    let sources = settings.sources.clone();

    // Before the renewal: nothing sent, and it wakes for it (10:54).
    *clock.lock().unwrap() = at(10, 30);
    let wait = subscriber.reconcile(&sources).await;
    assert_eq!(wait, Duration::from_secs(24 * 60));
    assert!(seen.lock().unwrap().is_empty());

    // At the renewal: asked again with the same callback and secret.
    *clock.lock().unwrap() = at(10, 54);
    subscriber.reconcile(&sources).await;
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].contains("hub.mode=subscribe"));
    assert!(asked[0].contains(&"t".repeat(48)));
    assert_eq!(
        store.websub_live_until(&agency, at(10, 55)).unwrap(),
        Some(at(11, 0)),
        "the old lease holds while the renewal is verified"
    );

    // The hub dies and never verifies: the push ends, polling resumes.
    *status.lock().unwrap() = StatusCode::SERVICE_UNAVAILABLE;
    *clock.lock().unwrap() = at(11, 4);
    subscriber.reconcile(&sources).await;
    let sub = store.websub_subscription(&agency).unwrap().unwrap();
    assert_eq!(sub.phase, Phase::Failed);
    assert!(sub.last_error.unwrap().contains("did not verify"));
    assert_eq!(store.websub_live_until(&agency, at(11, 4)).unwrap(), None);

    // Its retry finds the hub still down: failed again, and later still.
    *clock.lock().unwrap() = at(11, 9);
    subscriber.reconcile(&sources).await;
    let sub = store.websub_subscription(&agency).unwrap().unwrap();
    assert_eq!(sub.phase, Phase::Failed);
    assert!(sub.last_error.unwrap().contains("HTTP 503"));
    assert_eq!(sub.retry_at, Some(at(11, 19)));
}
