//! wiredesk's own WebSub hub (#16): verification of intent, leases and
//! content distribution for the merged feed's topics; or, with
//! `websub.hub`, the pings of an external hub.
//!
//! `serve::hub` takes the requests and judges them; this module does what
//! needs outbound HTTP ([`deliver`]) and its decisions are pure
//! ([`decide`]). One task ([`Hub::run`]) wakes when the store's data
//! changes (its watch channel), when a retry or a lease end is due, and
//! when a verification or delivery finishes; each time it deletes ended
//! leases and sends each due subscription the entries of its topic that
//! arrived after its cursor. Verifications and deliveries run beside it,
//! a bounded number at once, one delivery per subscription at a time.

pub mod decide;
pub mod deliver;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

use crate::config::WebSubSettings;
use crate::ops::Metrics;
use crate::serve::ServeState;
use crate::serve::hub::{
    HubDoor, HubRules, Intent, Mode, Topic, link_header, position, render_topic, topic_of,
};
use crate::store::{HubLimit, HubSubscription, PageKey, Store};
use decide::{After, after_delivery, entries_after, may_deliver, next_wake};
use deliver::Deliverer;

/// Requests waiting for verification; more are answered `503`.
const QUEUE: usize = 64;
/// Verifications in flight at once.
const VERIFYING: usize = 8;
/// Deliveries in flight at once.
const DELIVERING: usize = 16;

/// The door serving advertises and, when the hub is ours, the queue its
/// worker reads; `None` when WebSub is off.
pub fn door(
    settings: &WebSubSettings,
    base_url: &Url,
) -> Option<(HubDoor, Option<mpsc::Receiver<Intent>>)> {
    if !settings.enabled {
        return None;
    }
    if let Some(external) = &settings.hub {
        return Some((
            HubDoor {
                url: external.clone(),
                own: None,
            },
            None,
        ));
    }
    let url = base_url.join("websub/hub").ok()?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let rules = HubRules {
        default_lease: settings.default_lease,
        max_lease: settings.max_lease,
        max_subscriptions: settings.max_subscriptions,
        max_per_topic: settings.max_per_topic,
        allowed_callbacks: settings.allowed_callbacks.clone(),
    };
    Some((
        HubDoor {
            url,
            own: Some((tx, rules)),
        },
        Some(rx),
    ))
}

/// The hub's worker.
#[derive(Clone)]
pub struct Hub {
    state: ServeState,
    store: Store,
    settings: WebSubSettings,
    deliverer: Deliverer,
    metrics: Metrics,
    base_url: Url,
    hub_url: String,
    in_flight: Arc<Mutex<HashSet<(String, String)>>>,
    verifying: Arc<Semaphore>,
    delivering: Arc<Semaphore>,
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

impl Hub {
    pub fn new(
        state: ServeState,
        store: Store,
        settings: &WebSubSettings,
        base_url: &Url,
        user_agent: &str,
        metrics: Metrics,
    ) -> Result<Hub, String> {
        let deliverer = Deliverer::new(
            user_agent,
            settings.callback_timeout,
            &settings.allowed_callbacks,
        )?;
        let hub_url = settings
            .hub
            .clone()
            .or_else(|| base_url.join("websub/hub").ok())
            .map(String::from)
            .unwrap_or_default();
        Ok(Hub {
            state,
            store,
            settings: settings.clone(),
            deliverer,
            metrics,
            base_url: base_url.clone(),
            hub_url,
            in_flight: Arc::default(),
            verifying: Arc::new(Semaphore::new(VERIFYING)),
            delivering: Arc::new(Semaphore::new(DELIVERING)),
        })
    }

    /// Verifies requests from `intents` and distributes new entries until
    /// `stop`; then lets what is in flight finish.
    pub async fn run(self, mut intents: mpsc::Receiver<Intent>, stop: CancellationToken) {
        let mut changes = self.store.changes();
        let (done_tx, mut done_rx) = mpsc::channel::<()>(DELIVERING + VERIFYING);
        let tracker = TaskTracker::new();
        loop {
            let wake = self.distribute(&tracker, &done_tx).await;
            let wait = wake
                .and_then(|at| (at - now()).to_std().ok())
                .unwrap_or(Duration::from_secs(3600))
                // Whole seconds: leases and retries are stored so.
                + Duration::from_millis(5);
            // An intent leaves the queue only with a verification slot, so
            // the queue's bound is what waits: the 65th request waiting is
            // answered 503 (taking it at once and waiting for the slot in
            // a task bounded nothing). Cancel-safe: a slot taken without an
            // intent is given back; `recv` loses nothing when dropped.
            let next = async {
                let slot = self.verifying.clone().acquire_owned().await.ok()?;
                Some((intents.recv().await?, slot))
            };
            tokio::select! {
                () = stop.cancelled() => break,
                Some((intent, slot)) = next => {
                    let (hub, done) = (self.clone(), done_tx.clone());
                    tracker.spawn(async move {
                        hub.verify(intent).await;
                        drop(slot);
                        let _ = done.try_send(());
                    });
                }
                Ok(()) = changes.changed() => {}
                Some(()) = done_rx.recv() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracker.close();
        let _ = tokio::time::timeout(self.settings.callback_timeout, tracker.wait()).await;
    }

    /// Pings the external hub `hub` for the unfiltered feeds after each
    /// change of the data, until `stop`.
    pub async fn run_publisher(self, hub: Url, stop: CancellationToken) {
        let mut changes = self.store.changes();
        let token = self.state.token_text();
        let topics: Vec<String> = ["feed.atom", "feed.rss", "feed.json"]
            .iter()
            .filter_map(|path| {
                let mut url = self.base_url.join(path).ok()?;
                if let Some(token) = &token {
                    url.query_pairs_mut().append_pair("token", token);
                }
                Some(url.to_string())
            })
            .collect();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = changes.changed() => if changed.is_err() { return },
            }
            for topic in &topics {
                if let Err(e) = self.deliverer.publish(&hub, topic).await {
                    tracing::warn!(hub = %hub, topic, error = %e, "websub: the hub's ping failed");
                }
            }
        }
    }

    /// Verifies one request with its callback, then acts on it.
    async fn verify(&self, intent: Intent) {
        let Intent {
            mode,
            topic,
            callback,
            lease,
            secret,
        } = intent;
        let asked = (mode == Mode::Subscribe).then_some(lease);
        if let Err(e) = self
            .deliverer
            .verify(&callback, mode, &topic.url, asked)
            .await
        {
            tracing::info!(topic = %topic.url, callback = %callback, mode = mode.as_str(), error = %e,
                "websub hub: intent not verified; nothing changed");
            return;
        }
        let store = self.store.clone();
        let (topic_url, callback_text) = (topic.url.clone(), callback.to_string());
        let done = match mode {
            Mode::Unsubscribe => store
                .run(move |s| s.hub_unsubscribe(&topic_url, &callback_text))
                .await
                .map(|_| None),
            Mode::Subscribe => {
                let at = now();
                let cursor = self
                    .newest(&topic)
                    .await
                    .unwrap_or(PageKey { date: 0, id: 0 });
                let sub = HubSubscription {
                    topic: topic_url,
                    callback: callback_text,
                    secret,
                    created_at: at,
                    expires_at: at + TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX),
                    cursor,
                    failures: 0,
                    failing_since: None,
                    next_attempt_at: None,
                };
                let (total, per_topic) =
                    (self.settings.max_subscriptions, self.settings.max_per_topic);
                store
                    .run(move |s| s.hub_subscribe(&sub, total, per_topic, at))
                    .await
                    .map(Result::err)
            }
        };
        match done {
            Ok(None) => tracing::info!(topic = %topic.url, callback = %callback,
                mode = mode.as_str(), "websub hub: verified"),
            Ok(Some(limit)) => {
                let reason = match limit {
                    HubLimit::Total(_) => "the hub holds as many subscriptions as it takes",
                    HubLimit::PerTopic(_) => "the topic has as many subscribers as the hub takes",
                };
                self.deliverer.deny(&callback, &topic.url, reason).await;
            }
            Err(e) => tracing::error!(error = %e, "websub hub: cannot store a subscription"),
        }
    }

    /// The position of the newest entry of `topic` now.
    async fn newest(&self, topic: &Topic) -> Option<PageKey> {
        let mut query = topic.query.clone();
        query.limit = 1;
        let copies = query.copies;
        let page = self
            .store
            .run(move |s| Ok(s.feed_page(&query)))
            .await
            .ok()?
            .ok()?;
        page.stories.first().map(|s| position(s, copies))
    }

    /// Deletes ended leases and starts a delivery for each subscription
    /// with new entries that is not waiting or in flight; when to look
    /// again.
    async fn distribute(
        &self,
        tracker: &TaskTracker,
        done: &mpsc::Sender<()>,
    ) -> Option<DateTime<Utc>> {
        let at = now();
        // Which deliveries were in flight before the read: one that ends
        // after it may have moved its cursor or dropped its subscription
        // since, so what was read of it is stale and it waits for the next
        // turn (its end wakes one). Only this loop starts deliveries.
        let busy_before: HashSet<(String, String)> =
            self.in_flight.lock().map(|f| f.clone()).unwrap_or_default();
        let read = self
            .store
            .run(move |s| {
                s.hub_expire(at)?;
                s.hub_subscriptions()
            })
            .await;
        let subs = match read {
            Ok(subs) => subs,
            Err(e) => {
                tracing::error!(error = %e, "websub hub: cannot read the subscriptions");
                return Some(at + TimeDelta::seconds(10));
            }
        };
        self.metrics.hub_subscriptions(subs.len());
        let mut by_topic: BTreeMap<&str, Vec<&HubSubscription>> = BTreeMap::new();
        for sub in &subs {
            let busy = busy_before.contains(&(sub.topic.clone(), sub.callback.clone()));
            if may_deliver(sub, at) && !busy {
                by_topic.entry(&sub.topic).or_default().push(sub);
            }
        }
        for (topic, due) in by_topic {
            let ids = self.state.source_ids_now();
            let Ok(topic) = topic_of(topic, &self.base_url, |id| ids.contains(id)) else {
                continue;
            };
            let query = topic.query.clone();
            let page = match self.store.run(move |s| Ok(s.feed_page(&query))).await {
                Ok(Ok(page)) => page,
                _ => continue,
            };
            let copies = topic.query.copies;
            let keyed: Vec<_> = page
                .stories
                .into_iter()
                .map(|s| (position(&s, copies), s))
                .collect();
            for sub in due {
                let new = entries_after(keyed.clone(), sub.cursor);
                let Some(newest) = new.first().map(|(k, _)| *k) else {
                    continue;
                };
                let stories: Vec<_> = new.into_iter().map(|(_, s)| s).collect();
                let key = (sub.topic.clone(), sub.callback.clone());
                if let Ok(mut f) = self.in_flight.lock() {
                    f.insert(key.clone());
                }
                let (hub, sub, topic, done) =
                    (self.clone(), sub.clone(), topic.clone(), done.clone());
                tracker.spawn(async move {
                    let _permit = hub.delivering.acquire().await;
                    hub.deliver(&sub, &topic, &stories, newest).await;
                    if let Ok(mut f) = hub.in_flight.lock() {
                        f.remove(&key);
                    }
                    let _ = done.try_send(());
                });
            }
        }
        next_wake(&subs, at)
    }

    /// One content distribution, and its outcome recorded.
    async fn deliver(
        &self,
        sub: &HubSubscription,
        topic: &Topic,
        stories: &[crate::model::Story],
        newest: PageKey,
    ) {
        let Some((content_type, body)) = render_topic(&self.state, topic, stories) else {
            return;
        };
        let link = link_header(&self.hub_url, &topic.url);
        let outcome = self
            .deliverer
            .distribute(
                &sub.callback,
                content_type,
                &link,
                sub.secret.as_deref(),
                body,
            )
            .await;
        self.metrics.hub_delivery(outcome.is_ok());
        if let Err(e) = &outcome {
            tracing::info!(topic = %sub.topic, callback = %sub.callback, error = %e,
                failures = sub.failures + 1, "websub hub: delivery failed; retrying later");
        }
        let outcome = outcome.map_err(|e| e.is_gone());
        let store = self.store.clone();
        let (topic_url, callback) = (sub.topic.clone(), sub.callback.clone());
        let result = match after_delivery(sub, newest, outcome, now()) {
            After::Keep(next) => store.run(move |s| s.hub_record_delivery(&next)).await,
            After::Drop => {
                tracing::warn!(topic = %topic_url, callback = %callback,
                    "websub hub: subscription dropped (the callback is gone or kept failing)");
                store
                    .run(move |s| s.hub_unsubscribe(&topic_url, &callback).map(drop))
                    .await
            }
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "websub hub: cannot record a delivery");
        }
    }
}
