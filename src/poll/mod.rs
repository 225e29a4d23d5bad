//! Polling: which sources are due, and one poll (fetch → ingest → dedup →
//! store) per source, politely.
//!
//! - The schedule lives in the store (`next_poll_at`), so a restart neither
//!   re-polls everything at once nor forgets what was due. The decisions are
//!   pure functions in [`schedule`]; the scheduler sleeps until the next due
//!   source (no fixed tick).
//! - Politeness: at most `[poll].concurrency` fetches at once, at most
//!   `[poll].per_host` to one host, with `[poll].host_delay` between the
//!   starts of two requests to one host; validators are sent back; failing
//!   sources back off exponentially with jitter and are never given up on.
//! - A failing source is a result, never an error of the whole round: its
//!   reason is logged once and recorded on the source, its stored items stay,
//!   and the other sources are polled as usual.

pub mod fetch;
mod hosts;
pub mod schedule;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::config::{DedupSettings, PollSettings};
use crate::ingest::{self, FetchedBody, Limits};
use crate::merge::{self, group};
use crate::model::{ContentHash, Source, SourceId};
use crate::ops::metrics::PollSample;
use crate::ops::{Metrics, Readiness, notify};
use crate::store::{PollRecord, PollStatus, SourceState, Store, StoredDates};

pub use fetch::{FetchError, Fetcher};
use hosts::Hosts;
use schedule::{Attempt, Cadence, Moved};

/// What one poll of one source came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub source: SourceId,
    pub outcome: PollOutcome,
    pub elapsed: Duration,
    /// When the source is next due.
    pub next_poll_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
    /// A new body, parsed and stored.
    Ok {
        /// Items in the feed.
        seen: usize,
        /// Items new to the store.
        new: usize,
        /// Stored items that changed.
        updated: usize,
        /// New items that joined an existing story as a copy.
        merged: usize,
    },
    /// The server answered `304 Not Modified`.
    NotModified,
    /// The body was the same as last time; it was not parsed again.
    Unchanged,
    Failed {
        reason: String,
    },
}

impl PollOutcome {
    /// One word for the outcome, as in logs and metrics.
    pub fn word(&self) -> &'static str {
        match self {
            PollOutcome::Ok { .. } => "ok",
            PollOutcome::NotModified => "not_modified",
            PollOutcome::Unchanged => "unchanged",
            PollOutcome::Failed { .. } => "error",
        }
    }
}

/// A parsed body: its items, the interval the feed asks for, and a note
/// when items beyond the cap were dropped.
type Parsed = (Vec<merge::Ready>, Option<Duration>, Option<String>);

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
                metrics: Metrics::new(),
                readiness: Readiness::default(),
            }),
        })
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

    /// One poll of `source`: fetch, parse, dedup, store, and the next poll
    /// time. Never fails: a failure is recorded on the source and returned
    /// as the outcome.
    pub async fn poll_source(&self, source: &Source) -> PollReport {
        let started = Instant::now();
        // A poll holds one of the `[poll].concurrency` places from its
        // first read of the store through its parse, and lets go once it
        // has a place in the write queue: polls parsed but not yet written
        // stay few, and so do the store's worker threads.
        let global = self.inner.global.acquire().await.ok();
        let store = self.inner.store.clone();
        let id = source.id.clone();
        let state = match store.run(move |s| s.source_state(&id)).await {
            Ok(state) => state.unwrap_or_else(|| blank_state(source)),
            Err(e) => {
                return self.report_unrecorded(
                    source,
                    started,
                    format!("cannot read its state: {e}"),
                );
            }
        };
        let target = state
            .effective_url
            .as_deref()
            .and_then(|u| Url::parse(u).ok())
            .unwrap_or_else(|| source.url.clone());

        let (fetched, fetch_took) = {
            let _host = self.inner.hosts.enter(&target).await;
            let fetch_started = Instant::now();
            let fetched = self
                .inner
                .fetcher
                .fetch(&target, &state.validators, self.now())
                .await;
            (fetched, fetch_started.elapsed())
        };
        let now = self.now();
        let dice = fastrand::f64();
        let cadence = self.cadence(source);
        let moved_before = Moved {
            effective_url: state.effective_url.clone(),
            moved_to: state.moved_to.clone(),
            count: state.moved_count,
        };
        let mut record = PollRecord {
            at: now,
            status: PollStatus::Error,
            error: None,
            http_status: None,
            duration_ms: 0,
            bytes: None,
            next_poll_at: now,
            validators: None,
            body_hash: None,
            interval_hint: None,
            effective_url: moved_before.effective_url.clone(),
            moved_to: moved_before.moved_to.clone(),
            moved_count: moved_before.count,
        };
        let mut items = Vec::new();
        let mut seen = 0;
        let outcome = match fetched {
            Ok(fetched) => {
                let moved = schedule::after_answer(
                    &moved_before,
                    target.as_str(),
                    fetched.moved_permanently.as_ref().map(Url::as_str),
                );
                if moved.count == schedule::MOVED_CONFIRMATIONS && moved != moved_before {
                    tracing::warn!(
                        source = %source.id,
                        url = %source.url,
                        moved_to = moved.moved_to.as_deref().unwrap_or_default(),
                        "the source has moved permanently; update its url in the config"
                    );
                }
                record.effective_url = moved.effective_url;
                record.moved_to = moved.moved_to;
                record.moved_count = moved.count;
                record.http_status = Some(fetched.status);
                record.validators = Some(fetched.validators);
                let mut hint = fetched.fresh_for;
                match fetched.body {
                    None => {
                        record.status = PollStatus::NotModified;
                        hint = hint.max(state.interval_hint);
                        record.next_poll_at =
                            schedule::next_poll(&cadence, Attempt::Answered { hint }, now, dice);
                        PollOutcome::NotModified
                    }
                    Some(body) => {
                        record.bytes = Some(body.bytes.len() as u64);
                        let hash: ContentHash = Sha256::digest(&body.bytes).into();
                        if state.body_hash == Some(hash) {
                            record.status = PollStatus::Unchanged;
                            hint = hint.max(state.interval_hint);
                            record.next_poll_at = schedule::next_poll(
                                &cadence,
                                Attempt::Answered { hint },
                                now,
                                dice,
                            );
                            PollOutcome::Unchanged
                        } else {
                            match self.parse(source, &target, body, now).await {
                                Ok((parsed_items, feed_hint, capped)) => {
                                    seen = parsed_items.len();
                                    items = parsed_items;
                                    record.status = PollStatus::Ok;
                                    // Items beyond `Limits::max_items` are
                                    // lost for this poll: say so where an
                                    // operator looks (`sources`,
                                    // /sources.json), not only in the log
                                    // (issue #9).
                                    record.error = capped;
                                    record.body_hash = Some(hash);
                                    record.interval_hint =
                                        Some(feed_hint.unwrap_or(Duration::ZERO));
                                    hint = hint.max(feed_hint);
                                    record.next_poll_at = schedule::next_poll(
                                        &cadence,
                                        Attempt::Answered { hint },
                                        now,
                                        dice,
                                    );
                                    PollOutcome::Ok {
                                        seen,
                                        new: 0,
                                        updated: 0,
                                        merged: 0,
                                    }
                                }
                                Err(reason) => {
                                    // Keep the old validators: the next poll
                                    // must fetch the body again, not get a 304.
                                    record.validators = None;
                                    self.failed(&mut record, &cadence, &state, None, reason, dice)
                                }
                            }
                        }
                    }
                }
            }
            Err(FetchError::Gone) => {
                record.status = PollStatus::Gone;
                record.http_status = Some(410);
                record.next_poll_at = schedule::next_poll(&cadence, Attempt::Gone, now, dice);
                let reason = FetchError::Gone.to_string();
                record.error = Some(reason.clone());
                PollOutcome::Failed { reason }
            }
            Err(e) => {
                let retry_after = match &e {
                    FetchError::RetryLater { retry_after, .. } => *retry_after,
                    _ => None,
                };
                record.http_status = match &e {
                    FetchError::Status { status } | FetchError::RetryLater { status, .. } => {
                        Some(*status)
                    }
                    _ => None,
                };
                self.failed(
                    &mut record,
                    &cadence,
                    &state,
                    retry_after,
                    e.to_string(),
                    dice,
                )
            }
        };
        record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let next_poll_at = record.next_poll_at;
        let bytes = record.bytes.unwrap_or(0);
        let job = group::Job {
            source: source.id.clone(),
            items,
            record,
            now,
        };
        let inner = &self.inner;
        let written = inner
            .writes
            .write(&store, &inner.merging, job, global)
            .await;
        let outcome = match (outcome, written) {
            (PollOutcome::Ok { .. }, Ok(summary)) => PollOutcome::Ok {
                seen,
                new: summary.new,
                updated: summary.updated,
                merged: summary.merged,
            },
            (outcome, Ok(_)) => outcome,
            (_, Err(e)) => PollOutcome::Failed {
                reason: format!("cannot store the poll: {e}"),
            },
        };
        let report = PollReport {
            source: source.id.clone(),
            outcome,
            elapsed: started.elapsed(),
            next_poll_at,
        };
        log_report(
            source,
            &target,
            &report,
            Some(fetch_took),
            bytes,
            &self.inner.metrics,
        );
        report
    }

    /// Parses a body into items, fingerprinted ready for the store, the
    /// interval the feed asks for, and a note when items were dropped at the
    /// item cap. CPU work: it runs on the blocking pool, off the threads
    /// that serve the merged feed.
    async fn parse(
        &self,
        source: &Source,
        url: &Url,
        body: fetch::Body,
        now: DateTime<Utc>,
    ) -> Result<Parsed, String> {
        // More parses at once than there are cores would only queue the
        // store's writer behind them on the blocking pool.
        let _core = self.inner.parsing.acquire().await.ok();
        let (poller, source, url) = (self.clone(), source.clone(), url.clone());
        tokio::task::spawn_blocking(move || poller.parse_now(&source, &url, &body, now))
            .await
            .map_err(|e| format!("the parse failed: {e}"))?
    }

    fn parse_now(
        &self,
        source: &Source,
        url: &Url,
        body: &fetch::Body,
        now: DateTime<Utc>,
    ) -> Result<Parsed, String> {
        let mut parsed = ingest::parse(
            &FetchedBody {
                bytes: &body.bytes,
                content_type: body.content_type.as_deref(),
                url,
            },
            now,
            &self.inner.limits,
        )
        .map_err(|e| e.to_string())?;
        let stored = self.stored_clamped_dates(&source.id, &parsed);
        keep_clamped_dates(&mut parsed.items, &stored, now);
        for warning in &parsed.warnings {
            let again = warning.kind == ingest::WarningKind::DateClamped
                && warning
                    .identity
                    .as_ref()
                    .is_some_and(|id| stored.contains_key(id));
            if again {
                tracing::debug!(source = %source.id, warning = %warning, "stored date kept");
            } else {
                tracing::warn!(source = %source.id, warning = %warning, "entry skipped or repaired");
            }
        }
        // The feed's own word on how often it changes: RSS <ttl> or
        // sy:updatePeriod/updateFrequency, whichever asks for longer.
        let hint = parsed.hints.ttl.max(parsed.hints.update_period);
        let capped = parsed
            .warnings
            .iter()
            .find(|w| w.kind == ingest::WarningKind::TooManyItems)
            .map(|w| format!("items capped: {}", w.detail));
        let boilerplate = self.inner.merging.learned.of(&source.id);
        // Most items of a feed that changed are the ones stored last time.
        let unchanged = self
            .inner
            .store
            .unchanged_items(
                &source.id,
                &parsed.items,
                crate::dedup::NORMALISATION_VERSION,
            )
            .unwrap_or_else(|e| {
                tracing::debug!(source = %source.id, error = %e, "cannot tell unchanged items");
                Default::default()
            });
        let items = merge::prepare(&source.id, parsed.items, now, &boilerplate, &unchanged);
        Ok((items, hint, capped))
    }

    /// The stored dates of the items of `parsed` that are stored already and
    /// had a date in the future clamped by this parse.
    fn stored_clamped_dates(
        &self,
        source: &SourceId,
        parsed: &ingest::ParsedFeed,
    ) -> HashMap<String, StoredDates> {
        let clamped: BTreeSet<&str> = parsed
            .warnings
            .iter()
            .filter(|w| w.kind == ingest::WarningKind::DateClamped)
            .filter_map(|w| w.identity.as_deref())
            .collect();
        let mut stored = HashMap::new();
        for identity in clamped {
            match self.inner.store.stored_dates(source, identity) {
                Ok(Some(dates)) => {
                    stored.insert(identity.to_owned(), dates);
                }
                Ok(None) => {}
                // Without the stored date the item is clamped again: it
                // moves, and nothing is lost.
                Err(e) => tracing::debug!(source = %source, error = %e, "cannot read stored dates"),
            }
        }
        stored
    }

    fn failed(
        &self,
        record: &mut PollRecord,
        cadence: &Cadence,
        state: &SourceState,
        retry_after: Option<Duration>,
        reason: String,
        dice: f64,
    ) -> PollOutcome {
        record.status = PollStatus::Error;
        record.error = Some(reason.clone());
        record.next_poll_at = schedule::next_poll(
            cadence,
            Attempt::Failed {
                failures: state.consecutive_failures.saturating_add(1),
                retry_after,
            },
            record.at,
            dice,
        );
        PollOutcome::Failed { reason }
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

    /// Polls every source in `sources` now, within the concurrency and
    /// per-host limits; the reports come back in the order of `sources`.
    pub async fn poll_sources(&self, sources: &[Source]) -> Vec<PollReport> {
        self.poll_sources_with(sources, |_| {}).await
    }

    /// [`Poller::poll_sources`], calling `done` as each poll finishes (in
    /// the order they finish), e.g. to show progress.
    pub async fn poll_sources_with(
        &self,
        sources: &[Source],
        mut done: impl FnMut(&PollReport),
    ) -> Vec<PollReport> {
        let mut tasks = JoinSet::new();
        let mut waiting = sources.iter().cloned().enumerate();
        let mut reports: Vec<Option<PollReport>> = vec![None; sources.len()];
        loop {
            // Only so many polls at a time are tasks: one that waits for
            // its place holds memory for nothing (a round of 10 000 sources
            // took 150 MB when every poll was spawned at once).
            while tasks.len() < self.max_tasks() {
                let Some((index, source)) = waiting.next() else {
                    break;
                };
                let poller = self.clone();
                tasks.spawn(async move { (index, poller.poll_source(&source).await) });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            match joined {
                Ok((index, report)) => {
                    done(&report);
                    reports[index] = Some(report);
                }
                Err(e) => tracing::error!(error = %e, "a poll task failed"),
            }
        }
        let now = self.now();
        let reports = reports
            .into_iter()
            .zip(sources)
            .map(|(report, source)| {
                report.unwrap_or_else(|| PollReport {
                    source: source.id.clone(),
                    outcome: PollOutcome::Failed {
                        reason: "the poll task failed".into(),
                    },
                    elapsed: Duration::ZERO,
                    next_poll_at: now,
                })
            })
            .collect();
        self.inner.readiness.round_polled();
        reports
    }

    /// The most polls that are tasks at once (~2 KB each while they wait):
    /// twice those that may hold a place (`[poll].concurrency`), and enough
    /// waiting to be written to make big groups of small feeds.
    fn max_tasks(&self) -> usize {
        2 * self.inner.settings.concurrency + 256
    }

    /// Polls `sources` on their schedules until `shutdown` is cancelled.
    /// Then no new poll starts; polls in flight get `[poll].shutdown_grace`
    /// to finish and are abandoned after it (each poll's writes are one
    /// transaction, so an abandoned poll leaves nothing half-written).
    pub async fn run(self, sources: Vec<Source>, shutdown: CancellationToken) {
        let (_keep, updates) = watch::channel(sources);
        self.run_with_updates(updates, shutdown).await;
    }

    /// [`Poller::run`] on a source list that may change (a reload): an added
    /// source is polled when its recorded schedule says (at once if never
    /// polled), a removed one is no longer polled (a poll in flight
    /// finishes), a changed one is polled with its new settings from its
    /// next poll on, and a changed URL is polled at once.
    pub async fn run_with_updates(
        self,
        mut updates: watch::Receiver<Vec<Source>>,
        shutdown: CancellationToken,
    ) {
        let initial = updates.borrow_and_update().clone();
        let mut sources: HashMap<SourceId, Source> = HashMap::new();
        // (due, source): the earliest first.
        let mut queue: BTreeSet<(DateTime<Utc>, SourceId)> = BTreeSet::new();
        self.schedule(&mut sources, &mut queue, initial).await;
        let mut in_flight: JoinSet<PollReport> = JoinSet::new();
        let mut running: HashSet<SourceId> = HashSet::new();
        // The sources due at start: once they have all been polled, the
        // first round has run and the daemon is ready.
        let mut first_round: Option<HashSet<SourceId>> = None;
        let mut failing: HashSet<SourceId> = HashSet::new();
        let mut watching = true;
        let watchdog = notify::watchdog_interval();

        loop {
            if watchdog.is_some() {
                notify::watchdog();
            }
            let now = self.now();
            if first_round.is_none() {
                let due: HashSet<SourceId> = queue
                    .iter()
                    .take_while(|(due, _)| *due <= now)
                    .map(|(_, id)| id.clone())
                    .collect();
                if due.is_empty() {
                    self.inner.readiness.round_polled();
                }
                first_round = Some(due);
            }
            while let Some((due, id)) = queue.first().cloned() {
                // A due source waits in the queue while the most polls that
                // may be tasks at once run (see `max_tasks`).
                if due > now || in_flight.len() >= self.max_tasks() {
                    break;
                }
                queue.pop_first();
                if let Some(source) = sources.get(&id)
                    && running.insert(id)
                {
                    let poller = self.clone();
                    let source = source.clone();
                    in_flight.spawn(async move { poller.poll_source(&source).await });
                }
            }
            let wake = queue
                .first()
                // With every task taken, the next finished poll wakes the loop.
                .filter(|_| in_flight.len() < self.max_tasks())
                .map(|(due, _)| (*due - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            // Wake in time to tell systemd's watchdog the loop is alive.
            let wake = watchdog.map_or(wake, |every| wake.min(every));
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = updates.changed(), if watching => {
                    match changed {
                        Ok(()) => {
                            let next = updates.borrow_and_update().clone();
                            self.schedule(&mut sources, &mut queue, next).await;
                            failing.retain(|id| sources.contains_key(id));
                            // A source removed before its first poll no
                            // longer holds up readiness.
                            if let Some(round) = &mut first_round {
                                let was_waiting = !round.is_empty();
                                round.retain(|id| sources.contains_key(id));
                                if was_waiting && round.is_empty() {
                                    self.inner.readiness.round_polled();
                                }
                            }
                        }
                        // No more updates: keep polling what we have.
                        Err(_) => watching = false,
                    }
                }
                Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                    match joined {
                        Ok(report) => {
                            let id = report.source.clone();
                            running.remove(&id);
                            // A source removed while it was polled is not
                            // scheduled again.
                            if sources.contains_key(&id) {
                                queue.insert((report.next_poll_at, id.clone()));
                            }
                            if let Some(round) = &mut first_round
                                && round.remove(&id)
                                && round.is_empty()
                            {
                                self.inner.readiness.round_polled();
                            }
                            if matches!(report.outcome, PollOutcome::Failed { .. }) {
                                failing.insert(id);
                            } else {
                                failing.remove(&id);
                            }
                            notify::status(&format!(
                                "{} sources, {} failing; last poll: {} {}",
                                sources.len(),
                                failing.len(),
                                report.source,
                                report.outcome.word(),
                            ));
                        }
                        Err(e) => tracing::error!(error = %e, "a poll task failed"),
                    }
                }
                () = tokio::time::sleep(wake) => {}
            }
        }

        if !in_flight.is_empty() {
            tracing::info!(polls = in_flight.len(), "waiting for polls in flight");
            let grace = self.inner.settings.shutdown_grace;
            let finished = tokio::time::timeout(grace, async {
                while in_flight.join_next().await.is_some() {}
            })
            .await;
            if finished.is_err() {
                tracing::warn!(
                    polls = in_flight.len(),
                    "polls still in flight after the shutdown grace; abandoning them"
                );
                in_flight.abort_all();
            }
        }
        tracing::info!("poller stopped");
    }
}

impl Poller {
    /// Makes `sources` and `queue` match `next`: each source is due when the
    /// store says (at once when it has no schedule), removed ones leave the
    /// queue.
    async fn schedule(
        &self,
        sources: &mut HashMap<SourceId, Source>,
        queue: &mut BTreeSet<(DateTime<Utc>, SourceId)>,
        next: Vec<Source>,
    ) {
        let store = self.inner.store.clone();
        let states = store.run(|s| s.source_states()).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the schedule; polling every source now");
            Vec::new()
        });
        let now = self.now();
        let recorded: HashMap<SourceId, Option<DateTime<Utc>>> =
            states.into_iter().map(|s| (s.id, s.next_poll_at)).collect();
        *sources = next.into_iter().map(|s| (s.id.clone(), s)).collect();
        queue.clear();
        for id in sources.keys() {
            let due = recorded.get(id).copied().flatten().unwrap_or(now);
            queue.insert((due, id.clone()));
        }
    }
}

/// The sources due at `now` by their recorded `next_poll_at` (a source never
/// polled is due at once), and when the next one that is not falls due.
pub fn due<'a>(
    sources: &'a [Source],
    states: &[SourceState],
    now: DateTime<Utc>,
) -> (Vec<&'a Source>, Option<DateTime<Utc>>) {
    let recorded: HashMap<&SourceId, Option<DateTime<Utc>>> =
        states.iter().map(|s| (&s.id, s.next_poll_at)).collect();
    let mut due = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for source in sources {
        match recorded.get(&source.id).copied().flatten() {
            Some(at) if at > now => next = Some(next.map_or(at, |n| n.min(at))),
            _ => due.push(source),
        }
    }
    (due, next)
}

/// The state of a source the store does not know yet.
fn blank_state(source: &Source) -> SourceState {
    SourceState {
        id: source.id.clone(),
        url: source.url.to_string(),
        name: source.name.clone(),
        last_polled_at: None,
        last_ok_at: None,
        last_status: None,
        last_error: None,
        last_http_status: None,
        last_duration_ms: None,
        last_bytes: None,
        consecutive_failures: 0,
        validators: Default::default(),
        body_hash: None,
        next_poll_at: None,
        interval_hint: None,
        effective_url: None,
        moved_to: None,
        moved_count: 0,
    }
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
            url = %url,
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
            url = %url,
            status = if report.outcome == PollOutcome::NotModified { "not_modified" } else { "unchanged" },
            elapsed_ms,
            next,
            "polled"
        ),
        PollOutcome::Failed { reason } => tracing::warn!(
            source = %source.id,
            url = %url,
            status = "error",
            error = %reason,
            elapsed_ms,
            next,
            "poll failed"
        ),
    }
}

/// A date in the future is clamped to the time of the poll that parses it
/// (`now`, by ingest), and so to the time of the poll that first stores its
/// item. Polled again, the same item would be clamped to a new `now`: it
/// would count as changed on every poll and its date would creep forward
/// for ever. An item already stored keeps the dates stored for it instead
/// (#14). `stored` holds the stored dates of the clamped items.
fn keep_clamped_dates(
    items: &mut [crate::model::Item],
    stored: &HashMap<String, StoredDates>,
    now: DateTime<Utc>,
) {
    for item in items {
        if let Some(dates) = stored.get(&item.identity) {
            if item.published == Some(now) {
                item.published = dates.published;
            }
            if item.updated == Some(now) {
                item.updated = dates.updated;
            }
        }
    }
}
