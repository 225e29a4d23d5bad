//! wiredesk's own WebSub hub (#16), through real HTTP: a test subscriber
//! on 127.0.0.1 subscribes at the daemon's hub, answers (or not) its
//! verification of intent, and receives its content distributions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use wiredesk::app::App;
use wiredesk::config;
use wiredesk::model::{Item, SourceId};
use wiredesk::store::Store;

use crate::helpers::{AGENCY_RSS, Canned, FeedServer, Running, spawn_app};

/// One request the subscriber saw.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    pub(crate) body: String,
}

/// A WebSub subscriber: `/echo*` answers the challenge, `/mute*` answers
/// something else; `/flaky*` echoes but fails its first two deliveries,
/// `/gone*` echoes and answers every delivery `410 Gone`; `/slow*` takes
/// 5 s to answer a verification.
#[derive(Clone)]
pub(crate) struct Subscriber {
    base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    arrived: Arc<Notify>,
}

impl Subscriber {
    pub(crate) async fn start() -> Subscriber {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sub = Subscriber {
            base: format!("http://{}", listener.local_addr().unwrap()),
            hits: Arc::default(),
            arrived: Arc::new(Notify::new()),
        };
        let app = Router::new().fallback(answer).with_state(sub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        sub
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn hits(&self, method: Method, path: &str) -> Vec<Hit> {
        let hits = self.hits.lock().unwrap();
        hits.iter()
            .filter(|h| h.method == method && h.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `done` holds of the hits, at most `within`.
    pub(crate) async fn wait_for(&self, within: Duration, done: impl Fn(&[Hit]) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            // A copy: `done` may read the hits itself.
            let hits = self.hits.lock().unwrap().clone();
            if done(&hits) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("not seen in {within:?}: {:#?}", self.hits.lock().unwrap());
            }
        }
    }
}

async fn answer(State(sub): State<Subscriber>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let hit = Hit {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let posts_before = sub.hits(Method::POST, &hit.path).len();
    sub.hits.lock().unwrap().push(hit.clone());
    sub.arrived.notify_waiters();
    if hit.method == Method::GET {
        if hit.path.starts_with("/slow") {
            // Longer than the test's callback_timeout: the hub gives up.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        if hit.path.starts_with("/mute") {
            return "not the challenge".into_response();
        }
        return hit
            .query
            .get("hub.challenge")
            .cloned()
            .unwrap_or_default()
            .into_response();
    }
    if hit.path.starts_with("/flaky") && posts_before < 2 {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if hit.path.starts_with("/gone") {
        return StatusCode::GONE.into_response();
    }
    StatusCode::NO_CONTENT.into_response()
}

/// A daemon with its hub on, polling one source, serving on a port known
/// before it starts (the topics are built on `server.base_url`).
struct Desk {
    running: Running,
    store: Store,
    base: String,
    _dir: tempfile::TempDir,
}

async fn desk(websub_extra: &str, server_extra: &str) -> Desk {
    let feeds = FeedServer::start().await;
    feeds.set("agency", Canned::ok("application/rss+xml", AGENCY_RSS));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_url = \"{base}\"\ntitle = \"test desk\"\n{server_extra}\n\
         [storage]\npath = \"test.db\"\n\
         [poll]\ntimeout = \"5s\"\n\
         [websub]\nenabled = true\nallowed_callbacks = [\"127.0.0.1\"]\n{websub_extra}\n\
         [[sources]]\nid = \"agency\"\nname = \"Agency\"\nurl = \"{}\"\n",
        feeds.url("agency")
    );
    let settings = config::from_str(&text, &dir.path().join("t.toml"), dir.path(), []).unwrap();
    let app = App::build(settings).await.unwrap();
    let store = app.store().clone();
    let ready = app.readiness().clone();
    let running = spawn_app(app);
    ready.wait().await;
    Desk {
        running,
        store,
        base,
        _dir: dir,
    }
}

impl Desk {
    async fn hub(&self, form: &[(&str, &str)]) -> (StatusCode, String) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new()
            .post(self.running.url("/websub/hub"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish(),
            )
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = tokio::time::timeout(Duration::from_secs(5), response.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        (status, text)
    }

    fn topic(&self) -> String {
        format!("{}feed.atom", self.base)
    }

    /// Stores a new story, as a poll would, and says when.
    fn new_story(&self, title: &str) -> Instant {
        let source = SourceId::new("agency");
        let item = Item {
            identity: format!("hub-test-{title}"),
            title: title.into(),
            link: Some(format!("https://agency.example/{}", title.len())),
            published: Some(Utc::now()),
            updated: None,
            author: None,
            summary: None,
            content: Some(format!("<p>{title}</p>")),
            categories: vec![],
            enclosures: vec![],
        };
        let at = Utc::now();
        self.store
            .write_poll(|tx| {
                let story = tx.insert_story(&source, &item.identity, at)?;
                tx.insert_item(&source, story, &item, &[1; 32], 1, &[], at)
            })
            .unwrap();
        Instant::now()
    }

    async fn subscribed(&self, callback: &str) -> bool {
        let (store, topic, callback) = (self.store.clone(), self.topic(), callback.to_owned());
        tokio::task::spawn_blocking(move || store.hub_subscription(&topic, &callback).unwrap())
            .await
            .unwrap()
            .is_some()
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_subscriber_gets_a_new_story_signed_within_a_second_of_its_storing() {
    let desk = desk("", "").await;
    let sub = Subscriber::start().await;
    // The feed says where its hub is, and what it is.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let feed = reqwest::get(desk.running.url("/feed.atom")).await.unwrap();
    let link = feed.headers()["link"].to_str().unwrap().to_owned();
    assert_eq!(
        link,
        format!(
            "<{0}websub/hub>; rel=\"hub\", <{0}feed.atom>; rel=\"self\"",
            desk.base
        )
    );
    assert!(feed.text().await.unwrap().contains("rel=\"hub\""));

    let callback = sub.url("/echo");
    let topic = desk.topic();
    let (status, _) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &callback),
            ("hub.lease_seconds", "3600"),
            ("hub.secret", "s3cret"),
        ])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sub.wait_for(WAIT, |_| !sub.hits(Method::GET, "/echo").is_empty())
        .await;
    let check = &sub.hits(Method::GET, "/echo")[0];
    assert_eq!(check.query["hub.mode"], "subscribe");
    assert_eq!(check.query["hub.topic"], topic);
    assert_eq!(check.query["hub.lease_seconds"], "3600");
    assert!(check.query["hub.challenge"].len() >= 20);
    // Stored once verified (the answer went back before the store write).
    let deadline = Instant::now() + WAIT;
    while !desk.subscribed(&callback).await {
        assert!(Instant::now() < deadline, "never subscribed");
        tokio::task::yield_now().await;
    }

    let stored = desk.new_story("Harbour strike ends after nine days");
    sub.wait_for(WAIT, |_| !sub.hits(Method::POST, "/echo").is_empty())
        .await;
    assert!(
        stored.elapsed() < Duration::from_secs(1),
        "took {:?}",
        stored.elapsed()
    );
    let delivery = &sub.hits(Method::POST, "/echo")[0];
    assert!(
        delivery
            .body
            .contains("Harbour strike ends after nine days")
    );
    // Only what is new: none of the sample feed's stories stored before.
    let doc = feed_rs::parser::parse(delivery.body.as_bytes()).unwrap();
    assert_eq!(doc.entries.len(), 1);
    assert!(
        delivery.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(
        delivery.headers["link"]
            .to_str()
            .unwrap()
            .contains(&format!("<{topic}>; rel=\"self\""))
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(delivery.body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        delivery.headers["x-hub-signature"].to_str().unwrap(),
        format!("sha256={hex}")
    );
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_does_not_echo_the_challenge_gets_no_subscription() {
    let desk = desk("", "").await;
    let sub = Subscriber::start().await;
    let callback = sub.url("/mute");
    let (status, _) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &desk.topic()),
            ("hub.callback", &callback),
        ])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sub.wait_for(WAIT, |_| !sub.hits(Method::GET, "/mute").is_empty())
        .await;
    // A verified subscriber beside it gets the next story; the mute one nothing.
    let echo = sub.url("/echo");
    desk.hub(&[
        ("hub.mode", "subscribe"),
        ("hub.topic", &desk.topic()),
        ("hub.callback", &echo),
    ])
    .await;
    sub.wait_for(WAIT, |_| !sub.hits(Method::GET, "/echo").is_empty())
        .await;
    while !desk.subscribed(&echo).await {
        tokio::task::yield_now().await;
    }
    desk.new_story("Ferry timetable changes");
    sub.wait_for(WAIT, |_| !sub.hits(Method::POST, "/echo").is_empty())
        .await;
    assert!(!desk.subscribed(&callback).await);
    assert!(sub.hits(Method::POST, "/mute").is_empty());
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsubscribed_or_expired_callback_gets_nothing_more() {
    let desk = desk("", "").await;
    let sub = Subscriber::start().await;
    let topic = desk.topic();
    let (gone, short, stays) = (
        sub.url("/echo-gone"),
        sub.url("/echo-short"),
        sub.url("/echo-stays"),
    );
    for (callback, lease) in [(&gone, "3600"), (&short, "1"), (&stays, "3600")] {
        let (status, _) = desk
            .hub(&[
                ("hub.mode", "subscribe"),
                ("hub.topic", &topic),
                ("hub.callback", callback),
                ("hub.lease_seconds", lease),
            ])
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, _) = desk
        .hub(&[
            ("hub.mode", "unsubscribe"),
            ("hub.topic", &topic),
            ("hub.callback", &gone),
        ])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // The unsubscription is verified too, and the 1 s lease runs out.
    sub.wait_for(WAIT, |hits| {
        hits.iter().any(|h| {
            h.path == "/echo-gone"
                && h.query.get("hub.mode").map(String::as_str) == Some("unsubscribe")
        })
    })
    .await;
    assert_eq!(
        sub.hits(Method::GET, "/echo-short")[0].query["hub.lease_seconds"],
        "1"
    );
    let deadline = Instant::now() + WAIT;
    while desk.subscribed(&gone).await
        || desk.subscribed(&short).await
        || !desk.subscribed(&stays).await
    {
        assert!(Instant::now() < deadline, "subscriptions not as expected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    desk.new_story("Bridge reopens to traffic");
    sub.wait_for(WAIT, |_| !sub.hits(Method::POST, "/echo-stays").is_empty())
        .await;
    assert!(sub.hits(Method::POST, "/echo-gone").is_empty());
    assert!(sub.hits(Method::POST, "/echo-short").is_empty());
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_callback_is_retried_with_backoff_until_it_takes_the_delivery() {
    let desk = desk("", "").await;
    let sub = Subscriber::start().await;
    let callback = sub.url("/flaky");
    desk.hub(&[
        ("hub.mode", "subscribe"),
        ("hub.topic", &desk.topic()),
        ("hub.callback", &callback),
    ])
    .await;
    while !desk.subscribed(&callback).await {
        tokio::task::yield_now().await;
    }
    desk.new_story("Storm warning lifted");
    sub.wait_for(WAIT, |_| sub.hits(Method::POST, "/flaky").len() >= 3)
        .await;
    let posts = sub.hits(Method::POST, "/flaky");
    // The same entry each time: the failed ones did not move the cursor.
    assert!(
        posts
            .iter()
            .all(|p| p.body.contains("Storm warning lifted"))
    );
    // The success is recorded once the callback has answered.
    let deadline = Instant::now() + WAIT;
    loop {
        let stored = desk
            .store
            .hub_subscription(&desk.topic(), &callback)
            .unwrap()
            .unwrap();
        if stored.failures == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the success never cleared the failures: {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_refuses_what_it_does_not_serve_allow_or_have_room_for() {
    let desk = desk("max_per_topic = 1", "").await;
    let sub = Subscriber::start().await;
    let topic = desk.topic();
    let first = sub.url("/echo-1");
    desk.hub(&[
        ("hub.mode", "subscribe"),
        ("hub.topic", &topic),
        ("hub.callback", &first),
    ])
    .await;
    while !desk.subscribed(&first).await {
        tokio::task::yield_now().await;
    }
    // (fields changed from a valid request, the status, what the answer says)
    type Case<'a> = (Vec<(&'a str, String)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("hub.callback", sub.url("/echo-2"))],
            StatusCode::FORBIDDEN,
            "max_per_topic",
        ),
        (
            vec![("hub.topic", "https://elsewhere.example/feed.atom".into())],
            StatusCode::BAD_REQUEST,
            "not a feed this server serves",
        ),
        (
            vec![("hub.topic", format!("{}feed.atom?source=nope", desk.base))],
            StatusCode::BAD_REQUEST,
            "source",
        ),
        (
            vec![("hub.callback", "http://10.0.0.5/cb".into())],
            StatusCode::FORBIDDEN,
            "allowed_callbacks",
        ),
        (
            vec![("hub.secret", "x".repeat(200))],
            StatusCode::BAD_REQUEST,
            "200 bytes",
        ),
        (
            vec![("hub.mode", "publish".into())],
            StatusCode::BAD_REQUEST,
            "hub.mode",
        ),
    ];
    for (change, status, says) in cases {
        let mut form: HashMap<&str, String> = HashMap::from([
            ("hub.mode", "subscribe".to_owned()),
            ("hub.topic", format!("{}feed.rss", desk.base)),
            ("hub.callback", sub.url("/echo-3")),
        ]);
        if change[0].0 == "hub.callback" && change[0].1.contains("echo-2") {
            form.insert("hub.topic", topic.clone());
        }
        form.extend(change);
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (got, text) = desk.hub(&pairs).await;
        assert_eq!(got, status, "{pairs:?}: {text}");
        assert!(text.contains(says), "{pairs:?}: {text}");
    }
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_only_allowed_callbacks_subscribe_and_the_topic_carries_the_token() {
    let desk = desk("", "token = \"t0ken-of-sixteen-chars\"").await;
    let sub = Subscriber::start().await;
    // Without the token the topic is not the feed's.
    let (status, text) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &desk.topic()),
            ("hub.callback", &sub.url("/echo")),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    let tokened = format!("{}feed.atom?token=t0ken-of-sixteen-chars", desk.base);
    let (status, text) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &tokened),
            ("hub.callback", "http://localhost:9/cb"),
        ])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("allowed_callbacks"), "{text}");
    let (status, _) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &tokened),
            ("hub.callback", &sub.url("/echo")),
        ])
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sub.wait_for(WAIT, |_| !sub.hits(Method::GET, "/echo").is_empty())
        .await;
    assert_eq!(
        sub.hits(Method::GET, "/echo")[0].query["hub.topic"],
        tokened
    );
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_answers_gone_is_dropped_and_sent_nothing_more() {
    let desk = desk("", "").await;
    let sub = Subscriber::start().await;
    let (gone, stays) = (sub.url("/gone"), sub.url("/echo"));
    for callback in [&gone, &stays] {
        desk.hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &desk.topic()),
            ("hub.callback", callback),
        ])
        .await;
    }
    let deadline = Instant::now() + WAIT;
    while !(desk.subscribed(&gone).await && desk.subscribed(&stays).await) {
        assert!(Instant::now() < deadline, "never subscribed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    desk.new_story("Dam inspection finds no cracks");
    sub.wait_for(WAIT, |_| !sub.hits(Method::POST, "/gone").is_empty())
        .await;
    let deadline = Instant::now() + WAIT;
    while desk.subscribed(&gone).await {
        assert!(Instant::now() < deadline, "a 410 callback was kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The next story goes to the other subscriber only: no retry of a 410.
    desk.new_story("Reservoir levels back to normal");
    sub.wait_for(WAIT, |_| {
        sub.hits(Method::POST, "/echo")
            .iter()
            .any(|h| h.body.contains("Reservoir levels"))
    })
    .await;
    let to_gone = sub.hits(Method::POST, "/gone");
    assert_eq!(to_gone.len(), 1, "{to_gone:#?}");
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_external_hub_it_is_advertised_and_pinged_and_ours_is_closed() {
    let (external, mut pings) = crate::websub::hub().await;
    let desk = desk(&format!("hub = \"{external}\""), "").await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let feed = reqwest::get(desk.running.url("/feed.atom")).await.unwrap();
    assert!(
        feed.headers()["link"]
            .to_str()
            .unwrap()
            .starts_with(&format!("<{external}>; rel=\"hub\"")),
        "{:?}",
        feed.headers()["link"]
    );
    let (status, _) = desk
        .hub(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &desk.topic()),
            ("hub.callback", "http://127.0.0.1:9/cb"),
        ])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    desk.new_story("Port strike called off");
    let mut topics = Vec::new();
    while topics.len() < 3 {
        let ping = crate::websub::next_request(&mut pings).await;
        assert_eq!(ping["hub.mode"], "publish");
        topics.push(ping["hub.url"].clone());
    }
    topics.sort();
    assert_eq!(
        topics,
        ["feed.atom", "feed.json", "feed.rss"].map(|p| format!("{}{p}", desk.base))
    );
    desk.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_subscription_requests_is_turned_away_once_the_queue_is_full() {
    let desk = desk("callback_timeout = \"1s\"", "").await;
    let sub = Subscriber::start().await;
    let topic = desk.topic();
    // 8 verifications in flight and 64 waiting, each held a second by a
    // slow callback: of 100 requests at once, the last ones find no room.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..100 {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("hub.mode", "subscribe"),
                ("hub.topic", topic.as_str()),
                ("hub.callback", sub.url(&format!("/slow-{i}")).as_str()),
            ])
            .finish();
        let request = client
            .post(desk.running.url("/websub/hub"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        requests.spawn(async move {
            let answer = request.send().await.unwrap();
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
            (status, answer.text().await.unwrap())
        });
    }
    let answers = requests.join_all().await;
    let busy: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let taken = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    assert!(!busy.is_empty(), "no request was turned away");
    assert!(busy[0].1.contains("busy"), "{}", busy[0].1);
    assert!(taken >= 64, "only {taken} taken");
    assert_eq!(busy.len() + taken, 100, "{answers:?}");
    // The desk still answers its readers meanwhile.
    let feed = reqwest::get(desk.running.url("/feed.atom")).await.unwrap();
    assert_eq!(feed.status().as_u16(), 200);
    desk.running.stop().await;
}
