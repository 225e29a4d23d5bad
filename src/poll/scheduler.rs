//! Running polls: one round of given sources ([`Poller::poll_sources`]),
//! or every source on its schedule until shutdown ([`Poller::run`]).
//!
//! The scheduler's loop only waits: for the next source due (the pure
//! [`Queue`] says which and when), a poll finishing, a reload or the
//! shutdown. The [`FirstRound`] says when the daemon is ready; systemd is
//! told the status after each poll and fed its watchdog on each turn.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::queue::{FirstRound, Queue};
use super::{PollOutcome, PollReport, Poller};
use crate::model::{Source, SourceId};
use crate::ops::notify;

/// How long the scheduler sleeps when nothing is due (a reload, a poll
/// finishing or the shutdown wake it sooner).
const IDLE: Duration = Duration::from_secs(3600);

/// Sources to poll now rather than when their schedule says: the WebSub
/// subscriber names one whose hub stopped pushing while it was polled only
/// as a safety net (#16). Anyone holding the poller fills it; the
/// scheduler's loop drains it.
#[derive(Default)]
pub(super) struct Sooner {
    ids: Mutex<Vec<SourceId>>,
    wake: Notify,
}

impl Sooner {
    fn take(&self) -> Vec<SourceId> {
        std::mem::take(&mut *self.ids.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Poller {
    /// Polls `id` as soon as the scheduler can, instead of at its
    /// scheduled time (a poll of it already running decides anew itself).
    pub fn poll_soon(&self, id: SourceId) {
        let sooner = &self.inner.sooner;
        sooner
            .ids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
        // A stored permit: a wake while the loop is busy is not lost.
        sooner.wake.notify_one();
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
        // The round's sources share the budget, with what the store has
        // learned of them, so the next poll times it records are paced.
        let store = self.inner.store.clone();
        match store.run(|s| s.source_states()).await {
            Ok(states) => self.pace(&sources.iter().collect::<Vec<_>>(), &states),
            Err(e) => tracing::warn!(error = %e, "cannot read what the sources' polls taught"),
        }
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
        let inner = self.inner.clone();
        let mut scheduler = Scheduler::new(self);
        scheduler.resync(initial).await;
        let mut watching = true;
        let watchdog = notify::watchdog_interval();
        loop {
            if watchdog.is_some() {
                notify::watchdog();
            }
            let wake = scheduler.start_due();
            // Wake in time to tell systemd's watchdog the loop is alive.
            let wake = watchdog.map_or(wake, |every| wake.min(every));
            let polling = !scheduler.in_flight.is_empty();
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = updates.changed(), if watching => match changed {
                    Ok(()) => {
                        let next = updates.borrow_and_update().clone();
                        scheduler.resync(next).await;
                    }
                    // No more updates: keep polling what we have.
                    Err(_) => watching = false,
                },
                Some(joined) = scheduler.in_flight.join_next(), if polling => {
                    match joined {
                        Ok(report) => scheduler.finished(&report),
                        Err(e) => tracing::error!(error = %e, "a poll task failed"),
                    }
                }
                () = inner.sooner.wake.notified() => {
                    let now = scheduler.poller.now();
                    for id in inner.sooner.take() {
                        scheduler.queue.advance(&id, now);
                    }
                }
                () = tokio::time::sleep(wake) => {}
            }
        }
        scheduler.stop().await;
        tracing::info!("poller stopped");
    }
}

/// The scheduler's state between two turns of its loop.
struct Scheduler {
    poller: Poller,
    sources: HashMap<SourceId, Source>,
    queue: Queue,
    in_flight: JoinSet<PollReport>,
    /// The sources being polled: one poll of a source at a time.
    running: HashSet<SourceId>,
    first_round: FirstRound,
    /// The sources whose last poll failed, for the status line.
    failing: HashSet<SourceId>,
}

impl Scheduler {
    fn new(poller: Poller) -> Scheduler {
        Scheduler {
            poller,
            sources: HashMap::new(),
            queue: Queue::default(),
            in_flight: JoinSet::new(),
            running: HashSet::new(),
            first_round: FirstRound::default(),
            failing: HashSet::new(),
        }
    }

    /// Makes the sources and the queue match `next`: each source is due
    /// when the store says (at once when it has no schedule), removed ones
    /// leave the queue and no longer count as failing or hold up the first
    /// round.
    async fn resync(&mut self, next: Vec<Source>) {
        let store = self.poller.inner.store.clone();
        let states = store.run(|s| s.source_states()).await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot read the schedule; polling every source now");
            Vec::new()
        });
        self.sources = next.into_iter().map(|s| (s.id.clone(), s)).collect();
        let configured: Vec<&Source> = self.sources.values().collect();
        self.poller.pace(&configured, &states);
        self.queue = Queue::plan(self.sources.keys().cloned(), &states, self.poller.now());
        let sources = &self.sources;
        self.failing.retain(|id| sources.contains_key(id));
        if self.first_round.keep(|id| sources.contains_key(id)) {
            self.poller.inner.readiness.round_polled();
        }
    }

    /// Starts the polls due now, as many as may be tasks at once (see
    /// [`Poller::max_tasks`]; the others wait in the queue), and says how
    /// long to sleep before the next turn.
    fn start_due(&mut self) -> Duration {
        let now = self.poller.now();
        if !self.first_round.begun() && self.first_round.begin(self.queue.due(now)) {
            self.poller.inner.readiness.round_polled();
        }
        let max_tasks = self.poller.max_tasks();
        while self.in_flight.len() < max_tasks {
            let Some(id) = self.queue.pop_due(now) else {
                break;
            };
            if let Some(source) = self.sources.get(&id)
                && self.running.insert(id)
            {
                let (poller, source) = (self.poller.clone(), source.clone());
                self.in_flight
                    .spawn(async move { poller.poll_source(&source).await });
            }
        }
        // With every task taken, the next finished poll wakes the loop.
        let room = self.in_flight.len() < max_tasks;
        room.then(|| self.queue.wait(now)).flatten().unwrap_or(IDLE)
    }

    /// A poll has finished: the source waits for its next poll (unless a
    /// reload removed it meanwhile), and systemd hears the status.
    fn finished(&mut self, report: &PollReport) {
        let id = &report.source;
        self.running.remove(id);
        if self.sources.contains_key(id) {
            self.queue.push(report.next_poll_at, id.clone());
        }
        if self.first_round.polled(id) {
            self.poller.inner.readiness.round_polled();
        }
        if matches!(report.outcome, PollOutcome::Failed { .. }) {
            self.failing.insert(id.clone());
        } else {
            self.failing.remove(id);
        }
        notify::status(&format!(
            "{} sources, {} failing; last poll: {} {}",
            self.sources.len(),
            self.failing.len(),
            report.source,
            report.outcome.word(),
        ));
    }

    /// Gives the polls in flight `[poll].shutdown_grace` to finish, then
    /// abandons them.
    async fn stop(mut self) {
        if self.in_flight.is_empty() {
            return;
        }
        tracing::info!(polls = self.in_flight.len(), "waiting for polls in flight");
        let grace = self.poller.inner.settings.shutdown_grace;
        let finished = tokio::time::timeout(grace, async {
            while self.in_flight.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                polls = self.in_flight.len(),
                "polls still in flight after the shutdown grace; abandoning them"
            );
            self.in_flight.abort_all();
        }
    }
}
