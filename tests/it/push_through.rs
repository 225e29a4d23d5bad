//! WebSub end to end (#16): a publisher's hub pushes a story to wiredesk's
//! callback, and wiredesk's own hub delivers it to a subscriber of the
//! merged feed, in under a second, with no poll in between; and both
//! subscriptions outlive a restart of the daemon.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use tokio::sync::mpsc;
use wiredesk::app::App;
use wiredesk::poll::websub::signature::sign_sha256;
use wiredesk::store::Store;

use crate::helpers::{Running, ScriptedServer, sources_toml, spawn_app};
use crate::hub::Subscriber;
use crate::websub::{atom, feed_naming, free_port, get, hub, next_request, push, push_settings};

const WAIT: Duration = Duration::from_secs(10);

/// Publisher's hub → wiredesk → reader, on 127.0.0.1.
struct Chain {
    dir: tempfile::TempDir,
    port: u16,
    feed: ScriptedServer,
    hub_requests: mpsc::UnboundedReceiver<HashMap<String, String>>,
    reader: Subscriber,
}

impl Chain {
    async fn new() -> Chain {
        let (publisher_hub, hub_requests) = hub().await;
        Chain {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            feed: feed_naming(&publisher_hub, false).await,
            hub_requests,
            reader: Subscriber::start().await,
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn merged(&self) -> String {
        format!("{}feed.atom", self.base())
    }

    /// The daemon on the chain's database and port.
    async fn start(&self) -> (Running, Store) {
        let mut settings = push_settings(
            self.dir.path(),
            self.port,
            &sources_toml(&[("world", "World", &self.feed.url("/feed"), 0)]),
        );
        // The reader's callback is on this machine: the operator allows it.
        settings.websub.allowed_callbacks = vec!["127.0.0.1".to_owned()];
        let app = App::build(settings).await.unwrap();
        let store = app.store().clone();
        (spawn_app(app), store)
    }

    /// wiredesk asks the publisher's hub, which verifies: its callback and
    /// secret.
    async fn publisher_subscribes(&mut self) -> (String, String) {
        let asked = next_request(&mut self.hub_requests).await;
        let callback = asked["hub.callback"].clone();
        let topic = self.feed.url("/feed");
        let verify = [
            ("hub.mode", "subscribe"),
            ("hub.topic", topic.as_str()),
            ("hub.challenge", "publisher-check"),
            ("hub.lease_seconds", "864000"),
        ];
        assert_eq!(get(&callback, &verify).await.0, StatusCode::OK);
        (callback, asked["hub.secret"].clone())
    }

    /// The reader subscribes to the merged feed at wiredesk's own hub and
    /// is held once it has echoed the challenge.
    async fn reader_subscribes(&self, store: &Store) {
        let callback = self.reader.url("/echo");
        let merged = self.merged();
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("hub.mode", "subscribe"),
                ("hub.topic", merged.as_str()),
                ("hub.callback", callback.as_str()),
                ("hub.secret", "reader-secret"),
            ])
            .finish();
        let answer = reqwest::Client::new()
            .post(format!("{}websub/hub", self.base()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 202);
        let deadline = Instant::now() + WAIT;
        loop {
            let (store, topic, callback) = (store.clone(), merged.clone(), callback.clone());
            let held =
                tokio::task::spawn_blocking(move || store.hub_subscription(&topic, &callback))
                    .await
                    .unwrap()
                    .unwrap();
            if held.is_some() {
                return;
            }
            assert!(Instant::now() < deadline, "the reader was never subscribed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The publisher's hub pushes a story titled `title`, signed; how long
    /// until the reader had it.
    async fn push_until_read(&self, callback: &str, secret: &str, title: &str) -> Duration {
        let body = atom("", &[(&title.len().to_string(), title)]);
        let signature = sign_sha256(secret.as_bytes(), body.as_bytes());
        let pushed = Instant::now();
        assert!(push(callback, &body, Some(signature)).await.is_success());
        self.reader
            .wait_for(WAIT, |_| {
                self.reader
                    .hits(Method::POST, "/echo")
                    .iter()
                    .any(|hit| hit.body.contains(title))
            })
            .await;
        pushed.elapsed()
    }

    /// The deliveries the reader got that carry `title`.
    fn deliveries_of(&self, title: &str) -> Vec<String> {
        self.reader
            .hits(Method::POST, "/echo")
            .into_iter()
            .filter(|hit| hit.body.contains(title))
            .map(|hit| hit.body)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_story_pushed_by_a_publishers_hub_reaches_a_subscriber_of_the_merged_feed_within_a_second()
 {
    let mut chain = Chain::new().await;
    let (running, store) = chain.start().await;
    let (callback, secret) = chain.publisher_subscribes().await;
    chain.reader_subscribes(&store).await;

    // The publisher pushes a story: no poll will fetch it for minutes.
    let title = "Ferry line restored after storm";
    let took = chain.push_until_read(&callback, &secret, title).await;
    assert!(
        took < Duration::from_secs(1),
        "publisher to reader took {took:?}"
    );

    // Once: the story is in one delivery, as the one entry of the
    // merged feed's document (the polled story came before the reader).
    let deliveries = chain.deliveries_of(title);
    assert_eq!(deliveries.len(), 1);
    let doc = feed_rs::parser::parse(deliveries[0].as_bytes()).unwrap();
    let titles: Vec<_> = doc
        .entries
        .iter()
        .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
        .collect();
    assert_eq!(titles, [title]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_subscriptions_survive_a_restart_of_the_daemon() {
    let mut chain = Chain::new().await;
    let (running, store) = chain.start().await;
    let (callback, secret) = chain.publisher_subscribes().await;
    chain.reader_subscribes(&store).await;
    running.stop().await;
    drop(store);

    // The same database, the same address: nobody subscribes again.
    let (running, _store) = chain.start().await;
    let title = "Bridge reopens to traffic after repairs";
    chain.push_until_read(&callback, &secret, title).await;
    assert_eq!(chain.deliveries_of(title).len(), 1);
    let (_, sources) = get(&format!("{}sources.json", chain.base()), &[]).await;
    let sources: serde_json::Value = serde_json::from_str(&sources).unwrap();
    assert_eq!(sources[0]["push"]["state"], "subscribed");
    assert_eq!(sources[0]["push"]["pushes"], 1);
    assert!(
        chain.hub_requests.try_recv().is_err(),
        "the publisher's hub was asked again after the restart"
    );
    assert_eq!(chain.reader.hits(Method::GET, "/echo").len(), 1);
    running.stop().await;
}
