//! Polling: which sources are due, and one poll (fetch → parse → decide →
//! write) per source, politely.
//!
//! - The schedule lives in the store (`next_poll_at`), so a restart neither
//!   re-polls everything at once nor forgets what was due. The decisions are
//!   pure functions: [`decide`] turns what a poll found into the record the
//!   store keeps and the outcome reported, with the timing rules of
//!   [`schedule`]; which source is due when is the pure [`Queue`], and the
//!   scheduler (`scheduler.rs`) sleeps until the next due source (no fixed
//!   tick).
//! - Politeness: at most `[poll].concurrency` fetches at once, at most
//!   `[poll].per_host` to one host, with `[poll].host_delay` between the
//!   starts of two requests to one host (`hosts.rs`); validators are sent
//!   back; failing sources back off exponentially with jitter and are never
//!   given up on.
//! - A failing source is a result, never an error of the whole round: its
//!   reason is logged once and recorded on the source, its stored items stay,
//!   and the other sources are polled as usual.
//!
//! [`Poller::poll_source`] is the path of one poll: read the source's state,
//! [`fetch`], parse a new body (`parse.rs`, through `ingest`), [`decide`],
//! write the items and the record through [`crate::merge`], report.

pub mod decide;
pub mod fetch;
mod hosts;
mod parse;
mod queue;
pub mod rhythm;
pub mod schedule;
mod scheduler;
pub mod websub;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use crate::config::{DedupSettings, PollSettings};
use crate::ingest::Limits;
use crate::merge::{self, group};
use crate::model::{ContentHash, Source, SourceId, redacted_url};
use crate::ops::metrics::PollSample;
use crate::ops::{Metrics, Readiness};
use crate::store::{SourceState, Store, StoreError, StoreErrorKind};

pub use decide::PollOutcome;
use fetch::Fetched;
pub use fetch::{FetchError, Fetcher};
use hosts::Hosts;
pub use parse::ParseError;
pub use queue::Queue;
use schedule::Cadence;

/// What one poll of one source came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub source: SourceId,
    pub outcome: PollOutcome,
    pub elapsed: Duration,
    /// When the source is next due.
    pub next_poll_at: DateTime<Utc>,
}

/// How many older pages one poll fetches, at most, to fill a gap.
pub const ARCHIVE_PAGES: usize = 3;

/// The clock the poller reads; tests pass their own.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Polls sources into the store; cheap to clone.
#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Fetcher,
    store: Store,
    settings: PollSettings,
    /// What the dedup → store step keeps between polls.
    merging: Arc<merge::Merging>,
    /// Polls waiting to be written, in groups.
    writes: group::Writes,
    limits: Limits,
    clock: Clock,
    /// Polls between their first read of the store and their place in the
    /// write queue (so fetches in flight too), across all hosts.
    global: Semaphore,
    hosts: Hosts,
    /// Parses running, at most one per core.
    parsing: Semaphore,
    metrics: Metrics,
    readiness: Readiness,
    /// The request budget of the sources polled to their rhythm, and its
    /// price.
    pacer: Mutex<rhythm::Pacer<SourceId>>,
    /// Where a poll tells the hubs a feed names (WebSub, #16), when push
    /// is on.
    adverts: std::sync::OnceLock<tokio::sync::mpsc::Sender<websub::Advert>>,
    /// Sources to poll before their schedule says (a hub stopped pushing).
    sooner: scheduler::Sooner,
}

impl Poller {
    pub fn new(
        settings: &PollSettings,
        dedup: &DedupSettings,
        store: Store,
    ) -> Result<Poller, FetchError> {
        Poller::with_clock(settings, dedup, store, Arc::new(Utc::now))
    }

    /// A poller that reads time from `clock`.
    pub fn with_clock(
        settings: &PollSettings,
        dedup: &DedupSettings,
        store: Store,
        clock: Clock,
    ) -> Result<Poller, FetchError> {
        Poller::with_ops(
            settings,
            dedup,
            store,
            clock,
            Metrics::new(),
            Readiness::default(),
        )
    }

    /// A poller that reads time from `clock` and reports into `metrics` and
    /// `readiness` (the app's, which the server shares).
    pub fn with_ops(
        settings: &PollSettings,
        dedup: &DedupSettings,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        readiness: Readiness,
    ) -> Result<Poller, FetchError> {
        Ok(Poller {
            inner: Arc::new(Inner {
                fetcher: Fetcher::new(settings)?,
                store,
                settings: settings.clone(),
                merging: Arc::new(merge::Merging::new(dedup)),
                writes: group::Writes::new(group::QUEUE_ITEMS),
                limits: Limits {
                    max_body: settings.max_body,
                    ..Limits::default()
                },
                clock,
                global: Semaphore::new(settings.concurrency),
                hosts: Hosts::new(settings.per_host, settings.host_delay),
                parsing: Semaphore::new(
                    std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
                ),
                metrics,
                readiness,
                pacer: Mutex::new(rhythm::Pacer::new(rhythm::Bounds {
                    min_interval: settings.min_interval,
                    max_interval: settings.max_interval,
                })),
                adverts: std::sync::OnceLock::new(),
                sooner: scheduler::Sooner::default(),
            }),
        })
    }

    /// The sources to pace (those without a fixed interval), with what the
    /// store has learned of them: their budget is what fixed polling at
    /// their interval would spend.
    fn pace(&self, sources: &[&Source], states: &[SourceState]) {
        let learned: std::collections::HashMap<&SourceId, rhythm::Rhythm> = states
            .iter()
            .filter_map(|s| Some((&s.id, rhythm::Rhythm::load(Some(s.rhythm.as_ref()?)))))
            .collect();
        let paced = sources
            .iter()
            .filter(|s| !s.fixed_interval)
            .map(|s| (s.id.clone(), s.interval, learned.get(&s.id)));
        self.pacer().set_sources(paced);
    }

    fn pacer(&self) -> std::sync::MutexGuard<'_, rhythm::Pacer<SourceId>> {
        // A panic while holding it leaves numbers, not broken invariants.
        self.inner
            .pacer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The metrics every poll reports into.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Marked polled once the first round of [`Poller::run`] (or
    /// [`Poller::poll_sources`]) has finished.
    pub fn readiness(&self) -> &Readiness {
        &self.inner.readiness
    }

    fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    fn cadence(&self, source: &Source) -> Cadence {
        let s = &self.inner.settings;
        Cadence {
            interval: source.interval,
            min_interval: s.min_interval,
            max_interval: s.max_interval,
            jitter: s.jitter,
            backoff_cap: s.max_backoff,
        }
    }

    /// One poll of `source`: fetch, parse, decide, write, and the next poll
    /// time. Never fails: a failure is recorded on the source and returned
    /// as the outcome.
    pub async fn poll_source(&self, source: &Source) -> PollReport {
        let started = Instant::now();
        // A poll holds one of the `[poll].concurrency` places from its
        // first read of the store through its parse, and lets go once it
        // has a place in the write queue: polls parsed but not yet written
        // stay few, and so do the store's worker threads.
        let global = self.inner.global.acquire().await.ok();
        let state = match self.state_of(source).await {
            Ok(state) => state,
            Err(e) => {
                let reason = format!("cannot read its state: {e}");
                return self.report_unrecorded(source, started, reason);
            }
        };
        let target = decide::target(source, &state);
        let (fetched, fetch_took) = self.fetch(source, &target, &state).await;
        let (now, dice) = (self.now(), fastrand::f64());
        let (fetched, mut items, older, push) =
            self.read(source, &target, &state, fetched, now).await;
        self.advertise(source, push);
        // Older pages only on the feed's own host: a feed must not send
        // the poller elsewhere.
        let older = older.filter(|o| o.host_str() == target.host_str());
        if let (Some(older), Ok(answer)) = (older, &fetched)
            && let decide::Body::New { feed: Ok(feed), .. } = &answer.body
        {
            let known = rhythm::Rhythm::load(state.rhythm.as_ref());
            if known.overrun_by(&feed.window) {
                self.fill_gap(source, &known, older, &mut items, now).await;
            }
        }
        let price = {
            let mut pacer = self.pacer();
            pacer.paces(&source.id).then(|| pacer.price(now))
        };
        let decision = decide::decide(decide::Input {
            state: &state,
            target: target.as_str(),
            cadence: self.cadence(source),
            price,
            fetched,
            now,
            elapsed: started.elapsed(),
            dice,
        });
        let mut decision = decision;
        decision.record.next_poll_at = schedule::while_pushed(
            decision.record.next_poll_at,
            now,
            self.push_live_until(source, now).await,
            self.inner.settings.max_interval,
        );
        if let Some(moved_to) = &decision.confirmed_move {
            tracing::warn!(
                source = %source.id,
                url = %redacted_url(&source.url),
                moved_to = moved_to.as_str(),
                "the source has moved permanently; update its url in the config"
            );
        }
        if decision.learned.gap {
            tracing::warn!(
                source = %source.id,
                url = %redacted_url(&target),
                items = decision.learned.new,
                "the feed shows none of the items it showed last time: items were probably \
                 published and dropped from it between two polls; polling it sooner"
            );
            self.inner.metrics.gap(source.id.as_str());
        }
        {
            let mut pacer = self.pacer();
            if let Some(rhythm) = &decision.rhythm {
                pacer.update(&source.id, rhythm);
            }
            let wait = (decision.record.next_poll_at - now)
                .to_std()
                .unwrap_or_default();
            pacer.scheduled(&source.id, wait);
        }
        let (next_poll_at, bytes) = (decision.record.next_poll_at, decision.record.bytes);
        let (items, blocked) = hold_back(source, items);
        let job = group::Job {
            source: source.id.clone(),
            items,
            blocked,
            record: decision.record,
            now,
        };
        let inner = &self.inner;
        let written = inner
            .writes
            .write(&inner.store, &inner.merging, job, global)
            .await;
        if let Ok(summary) = &written
            && summary.blocked > 0
        {
            tracing::info!(source = %source.id, blocked = summary.blocked,
                "new items held back by the source's keep/block rules");
        }
        if let Err(e) = &written
            && e.kind() == StoreErrorKind::Full
        {
            self.record_local_error(source, now, &e.to_string()).await;
        }
        let report = PollReport {
            source: source.id.clone(),
            outcome: decide::written(decision.outcome, written),
            elapsed: started.elapsed(),
            next_poll_at,
        };
        let metrics = &self.inner.metrics;
        log_report(
            source,
            &target,
            &report,
            Some(fetch_took),
            bytes.unwrap_or(0),
            metrics,
        );
        report
    }

    /// Records on the source that its poll could not be stored because
    /// this machine's disk is full (#20: it was only logged); when even
    /// that one-row write fails, the log line is all there is.
    async fn record_local_error(&self, source: &Source, now: DateTime<Utc>, cause: &str) {
        let id = source.id.clone();
        let reason = format!("cannot store the poll: {cause}");
        let recorded = self
            .inner
            .store
            .run(move |s| s.record_local_error(&id, now, &reason))
            .await;
        if let Err(e) = recorded {
            tracing::warn!(source = %source.id, error = %e,
                "cannot record on the source that its poll could not be stored");
        }
    }

    /// Has push on (`[websub]`): the hubs polls find are sent to `adverts`.
    pub fn advertise_to(&self, adverts: tokio::sync::mpsc::Sender<websub::Advert>) {
        let _ = self.inner.adverts.set(adverts);
    }

    /// Tells the subscriber the hub a poll of `source` found, when push is
    /// on for it. A full queue drops it: the next poll tells again.
    fn advertise(&self, source: &Source, links: crate::model::PushLinks) {
        if let (Some(adverts), true, false) = (
            self.inner.adverts.get(),
            source.websub,
            links.hubs.is_empty(),
        ) {
            let _ = adverts.try_send(websub::Advert {
                source: source.id.clone(),
                links,
            });
        }
    }

    /// Until when a hub pushes `source` (a verified WebSub lease), if it
    /// does; a store that cannot say counts as no push (normal polling).
    async fn push_live_until(&self, source: &Source, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let id = source.id.clone();
        self.inner
            .store
            .run(move |s| s.websub_live_until(&id, now))
            .await
            .unwrap_or_else(|e| {
                tracing::debug!(source = %source.id, error = %e, "cannot read its push lease");
                None
            })
    }

    /// The source's stored state (a blank one before its first poll).
    async fn state_of(&self, source: &Source) -> Result<SourceState, StoreError> {
        let id = source.id.clone();
        let state = self.inner.store.run(move |s| s.source_state(&id)).await?;
        Ok(state.unwrap_or_else(|| SourceState::blank(source)))
    }

    /// Fetches `target` once its host allows, sending the stored
    /// validators and the source's headers; also returns how long the
    /// request itself took. Secret headers go only to the origin of the
    /// source's configured URL: not to where it moved, nor to an older page
    /// on another host.
    async fn fetch(
        &self,
        source: &Source,
        target: &Url,
        state: &SourceState,
    ) -> (Result<Fetched, FetchError>, Duration) {
        let _host = self.inner.hosts.enter(target).await;
        let started = Instant::now();
        let headers = if target.origin() == source.url.origin() {
            source.headers.clone()
        } else {
            source.headers.without_secrets()
        };
        let fetcher = &self.inner.fetcher;
        let fetched = fetcher
            .fetch(target, &state.validators, &headers, self.now())
            .await;
        (fetched, started.elapsed())
    }

    /// What became of a fetch's body, for the decision: none (`304`), the
    /// same bytes as last time (not parsed again), or a new body parsed
    /// (its items come back apart, for the write).
    async fn read(
        &self,
        source: &Source,
        target: &Url,
        state: &SourceState,
        fetched: Result<Fetched, FetchError>,
        now: DateTime<Utc>,
    ) -> (
        Result<decide::Answer, FetchError>,
        Vec<merge::Ready>,
        Option<Url>,
        crate::model::PushLinks,
    ) {
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => return (Err(e), Vec::new(), None, Default::default()),
        };
        let mut items = Vec::new();
        let mut older = None;
        let mut push = fetched.push;
        let body = match fetched.body {
            None => decide::Body::NotModified,
            Some(body) => {
                let bytes = body.bytes.len() as u64;
                let hash: ContentHash = Sha256::digest(&body.bytes).into();
                if state.body_hash == Some(hash) {
                    decide::Body::Unchanged { bytes }
                } else {
                    let feed = self.parse(source, target, body, now).await.map(|parsed| {
                        items = parsed.items;
                        older = parsed.older;
                        push = std::mem::take(&mut push).or(parsed.push);
                        parsed.feed
                    });
                    decide::Body::New { bytes, hash, feed }
                }
            }
        };
        let answer = decide::Answer {
            status: fetched.status,
            validators: fetched.validators,
            fresh_for: fetched.fresh_for,
            moved_permanently: fetched.moved_permanently.map(String::from),
            body,
        };
        (Ok(answer), items, older, push)
    }

    /// The feed's window was overrun since the last poll: its older pages
    /// (RFC 5005 archives, or a paged feed's `next`), at most
    /// [`ARCHIVE_PAGES`], are fetched and their items added to this poll's,
    /// until a page reaches items shown before. A page that fails ends it
    /// (the gap is still counted); each fetch keeps the host's limits.
    async fn fill_gap(
        &self,
        source: &Source,
        known: &rhythm::Rhythm,
        mut page: Url,
        items: &mut Vec<merge::Ready>,
        now: DateTime<Utc>,
    ) {
        let mut have: std::collections::HashSet<String> =
            items.iter().map(|r| r.item.identity.clone()).collect();
        let mut visited = vec![page.clone()];
        for _ in 0..ARCHIVE_PAGES {
            let (fetched, _) = self.fetch(source, &page, &SourceState::blank(source)).await;
            let body = match fetched {
                Ok(Fetched {
                    body: Some(body), ..
                }) => body,
                Ok(_) => return,
                Err(e) => {
                    tracing::info!(source = %source.id, url = %redacted_url(&page), error = %e,
                        "cannot fetch the feed's older items to fill a gap");
                    return;
                }
            };
            let parsed = match self.parse(source, &page, body, now).await {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::info!(source = %source.id, url = %redacted_url(&page), error = %e,
                        "the feed's older items do not parse; the gap stays");
                    return;
                }
            };
            let mut reached = false;
            let mut added = 0;
            for ready in parsed.items {
                reached |= known.knows(rhythm::key(&ready.item.identity));
                if have.insert(ready.item.identity.clone()) {
                    items.push(ready);
                    added += 1;
                }
            }
            tracing::info!(source = %source.id, url = %redacted_url(&page), items = added,
                "fetched the feed's older items to fill a gap");
            match parsed.older {
                Some(next) if !reached && !visited.contains(&next) => {
                    visited.push(next.clone());
                    page = next;
                }
                _ => return,
            }
        }
    }

    /// A report for a poll whose outcome could not be recorded.
    fn report_unrecorded(&self, source: &Source, started: Instant, reason: String) -> PollReport {
        let report = PollReport {
            source: source.id.clone(),
            outcome: PollOutcome::Failed { reason },
            elapsed: started.elapsed(),
            next_poll_at: self.now() + chrono::Duration::minutes(1),
        };
        log_report(source, &source.url, &report, None, 0, &self.inner.metrics);
        report
    }
}

/// A poll's items apart: those to store as usual, and those the source's
/// keep/block rules hold back (`rules::Rules::decide_item`).
fn hold_back(
    source: &Source,
    items: Vec<merge::Ready>,
) -> (Vec<merge::Ready>, Vec<crate::model::Item>) {
    if source.rules.is_empty() {
        return (items, Vec::new());
    }
    let (mut kept, mut blocked) = (Vec::new(), Vec::new());
    for ready in items {
        match source.rules.decide_item(&ready.item) {
            None => kept.push(ready),
            Some(why) => {
                // Which rule, for whoever tunes them (`[log] level = "debug"`).
                tracing::debug!(source = %source.id, identity = %ready.item.identity,
                    title = %ready.item.title, rule = ?why, "item held back by a rule");
                blocked.push(ready.item);
            }
        }
    }
    (kept, blocked)
}

/// The one place every poll passes through: logs it and counts it.
fn log_report(
    source: &Source,
    url: &Url,
    report: &PollReport,
    fetch: Option<Duration>,
    bytes: u64,
    metrics: &Metrics,
) {
    let (stored, merged) = match &report.outcome {
        PollOutcome::Ok { new, merged, .. } => (*new as u64, *merged as u64),
        _ => (0, 0),
    };
    metrics.poll(&PollSample {
        source: source.id.as_str(),
        outcome: report.outcome.word(),
        fetch,
        bytes,
        stored,
        merged,
    });
    let elapsed_ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX);
    let next = report.next_poll_at.to_rfc3339();
    match &report.outcome {
        PollOutcome::Ok {
            seen,
            new,
            updated,
            merged,
        } => tracing::info!(
            source = %source.id,
            url = %redacted_url(url),
            status = "ok",
            items = seen,
            new,
            updated,
            copies = merged,
            elapsed_ms,
            next,
            "polled"
        ),
        PollOutcome::NotModified | PollOutcome::Unchanged => tracing::info!(
            source = %source.id,
            url = %redacted_url(url),
            status = report.outcome.word(),
            elapsed_ms,
            next,
            "polled"
        ),
        PollOutcome::Failed { reason } => tracing::warn!(
            source = %source.id,
            url = %redacted_url(url),
            status = "error",
            error = %reason,
            elapsed_ms,
            next,
            "poll failed"
        ),
    }
}
