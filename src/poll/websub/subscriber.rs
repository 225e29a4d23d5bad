//! The subscriber at work: sends subscribe, renew and unsubscribe
//! requests to hubs as [`decide::step`] says, answers hubs' verifications
//! of intent, and hands good pushes to the poller. The serve side calls
//! [`Subscriber::verify`] and [`Subscriber::push`] (wired by `app`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::decide::{self, Step, Verdict, Verification};
use super::signature::{self, Signature, random_hex};
use super::{Advert, Push};
use crate::model::{Source, SourceId};
use crate::poll::Poller;
use crate::poll::fetch::{Body, is_local};
use crate::store::{Phase, Subscription};

/// Pushes waiting to be ingested, at most; a hub pushing faster is asked
/// to come back (429).
pub const PUSH_QUEUE: usize = 16;

/// The longest the subscriber sleeps with nothing due.
const IDLE: Duration = Duration::from_secs(3600);

/// Subscribes sources to the hubs their feeds name; cheap to clone.
#[derive(Clone)]
pub struct Subscriber {
    inner: Arc<Inner>,
}

struct Inner {
    poller: Poller,
    /// `server.base_url`: callbacks are `{base}websub/callback/{token}`.
    base_url: Url,
    lease: Duration,
    pushes: mpsc::Sender<Push>,
    /// A verification changed a subscription: look again.
    changed: Notify,
}

/// What to answer a push, as an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushAnswer {
    /// 202: taken (a bad signature too: the spec has it answered 2xx).
    Accepted,
    /// 410: no subscription has this callback; the hub should drop it.
    Gone,
    /// 429: too many pushes waiting.
    Busy,
}

impl Subscriber {
    /// A subscriber whose good pushes go to the returned queue; the poller
    /// starts telling it the hubs its polls find.
    pub fn new(
        poller: &Poller,
        base_url: &Url,
        lease: Duration,
    ) -> (Subscriber, mpsc::Receiver<Push>, mpsc::Receiver<Advert>) {
        let (pushes, pushed) = mpsc::channel(PUSH_QUEUE);
        let (adverts, advertised) = mpsc::channel(64);
        poller.advertise_to(adverts);
        let subscriber = Subscriber {
            inner: Arc::new(Inner {
                poller: poller.clone(),
                base_url: base_url.clone(),
                lease,
                pushes,
                changed: Notify::new(),
            }),
        };
        (subscriber, pushed, advertised)
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.poller.now()
    }

    fn store(&self) -> &crate::store::Store {
        &self.inner.poller.inner.store
    }

    /// Keeps the subscriptions as the sources and the hubs' answers say,
    /// and ingests pushes, until `stop`.
    pub async fn run(
        self,
        mut sources: watch::Receiver<Vec<Source>>,
        mut advertised: mpsc::Receiver<Advert>,
        mut pushed: mpsc::Receiver<Push>,
        stop: CancellationToken,
    ) {
        let ingest = {
            let (poller, sources, stop) =
                (self.inner.poller.clone(), sources.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let push = tokio::select! {
                        () = stop.cancelled() => return,
                        push = pushed.recv() => match push { Some(p) => p, None => return },
                    };
                    let source = sources
                        .borrow()
                        .iter()
                        .find(|s| s.id == push.source)
                        .cloned();
                    if let Some(source) = source {
                        poller.ingest_push(&source, push.body).await;
                    }
                }
            })
        };
        loop {
            let current = sources.borrow_and_update().clone();
            let wait = self.reconcile(&current).await;
            tokio::select! {
                () = stop.cancelled() => break,
                changed = sources.changed() => if changed.is_err() { break },
                Some(advert) = advertised.recv() => self.advertised(&current, advert).await,
                () = self.inner.changed.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        let _ = ingest.await;
    }

    /// Acts on every subscription as [`decide::step`] says; returns how
    /// long until the next is due.
    pub(super) async fn reconcile(&self, sources: &[Source]) -> Duration {
        let subs = match self.store().run(|s| s.websub_subscriptions()).await {
            Ok(subs) => subs,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the WebSub subscriptions; trying again later");
                return Duration::from_secs(60);
            }
        };
        let wanted: HashMap<&SourceId, &Source> = sources
            .iter()
            .filter(|s| s.websub)
            .map(|s| (&s.id, s))
            .collect();
        let now = self.now();
        let mut next = IDLE;
        for sub in subs {
            match decide::step(&sub, wanted.contains_key(&sub.source), now) {
                Step::Wait(at) => {
                    next = next.min((at - now).to_std().unwrap_or_default());
                }
                Step::Subscribe => {
                    let phase = if sub.phase == Phase::Subscribed {
                        Phase::Subscribed
                    } else {
                        Phase::Subscribing
                    };
                    self.request(
                        Subscription {
                            phase,
                            requested_at: now,
                            ..sub
                        },
                        "subscribe",
                    )
                    .await;
                    next = next.min(decide::FIRST_RETRY);
                }
                Step::Unsubscribe => {
                    let sub = Subscription {
                        phase: Phase::Unsubscribing,
                        requested_at: now,
                        ..sub
                    };
                    self.request(sub, "unsubscribe").await;
                    next = next.min(decide::FIRST_RETRY);
                }
                Step::Forget => {
                    let id = sub.source.clone();
                    if let Err(e) = self.store().run(move |s| s.websub_forget(&id)).await {
                        tracing::warn!(source = %sub.source, error = %e, "cannot forget its WebSub subscription");
                    }
                }
                Step::Fail(reason) => {
                    self.fail(sub, reason).await;
                    next = next.min(decide::FIRST_RETRY);
                }
            }
        }
        next
    }

    /// A poll found the hubs of a source: subscribes it when it has no
    /// subscription to this hub and topic.
    async fn advertised(&self, sources: &[Source], advert: Advert) {
        let Some(source) = sources.iter().find(|s| s.id == advert.source && s.websub) else {
            return;
        };
        let Some(hub) = advert.links.hubs.first().cloned() else {
            return;
        };
        let topic = advert
            .links
            .topic
            .clone()
            .unwrap_or_else(|| source.url.clone());
        let allow_private = self.inner.poller.inner.settings.allow_private;
        if is_local(&hub) && !is_local(&source.url) && !allow_private {
            tracing::warn!(source = %source.id, hub = %crate::model::redacted_url(&hub),
                "the feed names a hub on a loopback or private address; not subscribing \
                 (set poll.allow_private = true to allow it)");
            return;
        }
        let id = source.id.clone();
        let existing = self
            .store()
            .run(move |s| s.websub_subscription(&id))
            .await
            .ok()
            .flatten();
        if !decide::wants_new(existing.as_ref(), &hub, &topic) {
            return;
        }
        let (token, secret) = match (random_hex(24), random_hex(32)) {
            (Ok(token), Ok(secret)) => (token, secret),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(source = %source.id, error = %e, "cannot subscribe to its hub");
                return;
            }
        };
        let sub = Subscription {
            source: source.id.clone(),
            hub,
            topic,
            token,
            secret,
            phase: Phase::Subscribing,
            requested_at: self.now(),
            verified_at: None,
            lease_until: None,
            retry_at: None,
            failures: existing.as_ref().map_or(0, |e| e.failures),
            last_error: None,
            last_push_at: None,
            pushes: 0,
            bad_signatures: 0,
        };
        self.request(sub, "subscribe").await;
    }

    /// Saves `sub` as asked, then sends the hub its `mode` request (the
    /// hub may verify before it answers); a failure is recorded.
    async fn request(&self, sub: Subscription, mode: &'static str) {
        let saved = sub.clone();
        if let Err(e) = self.store().run(move |s| s.websub_save(&saved)).await {
            tracing::warn!(source = %sub.source, error = %e, "cannot record its WebSub request");
            return;
        }
        let callback = match self
            .inner
            .base_url
            .join(&format!("websub/callback/{}", sub.token))
        {
            Ok(url) => url,
            Err(e) => {
                return self
                    .fail(sub, format!("no callback URL under server.base_url: {e}"))
                    .await;
            }
        };
        let lease = self.inner.lease.as_secs().to_string();
        let mut form = vec![
            ("hub.mode", mode),
            ("hub.topic", sub.topic.as_str()),
            ("hub.callback", callback.as_str()),
        ];
        if mode == "subscribe" {
            form.push(("hub.lease_seconds", &lease));
            form.push(("hub.secret", &sub.secret));
        }
        let hub = crate::model::redacted_url(&sub.hub);
        let answer = self
            .inner
            .poller
            .inner
            .fetcher
            .post_form(&sub.hub, &form)
            .await;
        let failure = match answer {
            Ok((status, _)) if (200..300).contains(&status) => None,
            Ok((status, said)) => Some(format!("the hub answered HTTP {status}: {said}")),
            Err(e) => Some(format!("cannot reach the hub: {e}")),
        };
        match (failure, mode) {
            (None, _) => tracing::info!(source = %sub.source, hub, mode, "asked the WebSub hub"),
            (Some(reason), "subscribe") => self.fail(sub, reason).await,
            (Some(reason), _) => {
                tracing::info!(source = %sub.source, hub, reason, "the WebSub hub did not take the unsubscription; its lease will run out");
                let id = sub.source.clone();
                let _ = self.store().run(move |s| s.websub_forget(&id)).await;
            }
        }
    }

    /// Records that `sub`'s request failed: normal polling resumes (a
    /// source that was pushed is polled at once), and the hub is asked
    /// again after a backoff.
    async fn fail(&self, sub: Subscription, reason: String) {
        let now = self.now();
        let failures = sub.failures.saturating_add(1);
        tracing::warn!(source = %sub.source, hub = %crate::model::redacted_url(&sub.hub),
            reason, "WebSub subscription failed; the source is polled as usual");
        // Polled only as a safety net while the lease was live: its next
        // poll may be up to poll.max_interval away, so bring it forward.
        let was_pushed = sub.phase == Phase::Subscribed && sub.lease_until.is_some_and(|t| t > now);
        if was_pushed {
            self.inner.poller.poll_soon(sub.source.clone());
        }
        let failed = Subscription {
            phase: Phase::Failed,
            failures,
            retry_at: Some(decide::retry_at(failures, now)),
            last_error: Some(reason),
            lease_until: None,
            ..sub
        };
        if let Err(e) = self.store().run(move |s| s.websub_save(&failed)).await {
            tracing::warn!(error = %e, "cannot record a failed WebSub subscription");
        }
    }

    /// Answers a hub's verification of intent at the callback `token`: the
    /// challenge to echo, or why it is refused (404).
    pub async fn verify(&self, token: String, v: Verification) -> Result<String, &'static str> {
        let sub = self
            .store()
            .run(move |s| s.websub_by_token(&token))
            .await
            .map_err(|_| "cannot read the subscriptions")?;
        let now = self.now();
        let verdict = decide::verify(sub.as_ref(), &v, self.inner.lease, now);
        let (Some(sub), answer) = (sub, &verdict) else {
            tracing::warn!(
                mode = v.mode,
                "a WebSub verification for no subscription of ours; refused"
            );
            return Err("no such subscription");
        };
        let id = sub.source.clone();
        let result = match answer {
            Verdict::Subscribed {
                challenge,
                lease_until,
            } => {
                tracing::info!(source = %id, lease_until = %lease_until, "subscribed to the WebSub hub");
                let live = Subscription {
                    phase: Phase::Subscribed,
                    verified_at: Some(now),
                    lease_until: Some(*lease_until),
                    failures: 0,
                    retry_at: None,
                    last_error: None,
                    ..sub
                };
                self.store()
                    .run(move |s| s.websub_save(&live))
                    .await
                    .map(|()| challenge.clone())
            }
            Verdict::Unsubscribed { challenge } => {
                tracing::info!(source = %id, "unsubscribed from the WebSub hub");
                self.store()
                    .run(move |s| s.websub_forget(&id))
                    .await
                    .map(|()| challenge.clone())
            }
            Verdict::Denied { reason } => {
                self.fail(sub, format!("the hub denied the subscription: {reason}"))
                    .await;
                let denied = id.clone();
                let _ = self
                    .store()
                    .run(move |s| {
                        if let Some(mut sub) = s.websub_subscription(&denied)? {
                            sub.phase = Phase::Denied;
                            s.websub_save(&sub)?;
                        }
                        Ok(())
                    })
                    .await;
                self.inner.changed.notify_one();
                return Err("denied");
            }
            Verdict::Refused(why) => {
                tracing::warn!(source = %id, mode = v.mode, reason = why, "a WebSub verification refused");
                return Err(why);
            }
        };
        self.inner.changed.notify_one();
        result.map_err(|_| "cannot record the subscription")
    }

    /// Takes a push to the callback `token`: checks its signature, counts
    /// it, and queues a good one for ingest.
    pub async fn push(
        &self,
        token: String,
        signature_header: Option<String>,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> PushAnswer {
        let looked_up = token.clone();
        let sub = match self
            .store()
            .run(move |s| s.websub_by_token(&looked_up))
            .await
        {
            Ok(Some(sub)) if sub.phase != Phase::Unsubscribing => sub,
            Ok(_) => return PushAnswer::Gone,
            Err(_) => return PushAnswer::Busy,
        };
        let checked = signature::check(signature_header.as_deref(), sub.secret.as_bytes(), &bytes);
        let good = checked == Signature::Good;
        let metrics = &self.inner.poller.inner.metrics;
        metrics.websub_push(sub.source.as_str(), checked.as_str());
        let now = self.now();
        let counted = token.clone();
        let _ = self
            .store()
            .run(move |s| s.websub_pushed(&counted, now, good))
            .await;
        if !good {
            tracing::warn!(source = %sub.source, signature = checked.as_str(),
                bytes = bytes.len(), "a WebSub push without a good signature; ignored");
            return PushAnswer::Accepted;
        }
        let push = Push {
            source: sub.source,
            body: Body {
                bytes,
                content_type,
            },
        };
        match self.inner.pushes.try_send(push) {
            Ok(()) => PushAnswer::Accepted,
            Err(_) => PushAnswer::Busy,
        }
    }

    /// The largest push taken: `[poll].max_body`, as for a poll.
    pub fn max_body(&self) -> usize {
        self.inner.poller.inner.settings.max_body
    }
}
