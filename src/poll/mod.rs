//! Polling: which sources are due, and one poll (fetch → ingest → dedup →
//! store) per source.
//!
//! A failing source is a result, never an error of the whole round: its
//! reason is logged once and recorded on the source, its stored items stay,
//! and the other sources are polled as usual.

pub mod fetch;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::PollSettings;
use crate::dedup;
use crate::ingest::{self, FetchedBody, Limits};
use crate::model::{NewItem, Source, SourceId};
use crate::store::{SourceState, Store};

pub use fetch::{FetchError, Fetcher};

/// What one poll of one source came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollReport {
    pub source: SourceId,
    pub outcome: PollOutcome,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollOutcome {
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
    Failed {
        reason: String,
    },
}

/// Polls sources into the store; cheap to clone.
#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    fetcher: Fetcher,
    store: Store,
    limits: Limits,
    concurrency: usize,
}

impl Poller {
    pub fn new(settings: &PollSettings, store: Store) -> Result<Poller, FetchError> {
        Ok(Poller {
            inner: Arc::new(Inner {
                fetcher: Fetcher::new(settings)?,
                store,
                limits: Limits {
                    max_body: settings.max_body,
                    ..Limits::default()
                },
                concurrency: settings.concurrency,
            }),
        })
    }

    /// One poll of `source`: fetch, parse, dedup, store. Never fails: a
    /// failure is recorded on the source and returned as the outcome.
    pub async fn poll_source(&self, source: &Source) -> PollReport {
        let started = Instant::now();
        let outcome = match self.try_poll(source).await {
            Ok(outcome) => outcome,
            Err(reason) => {
                let id = source.id.clone();
                let error = reason.clone();
                let recorded = self
                    .inner
                    .store
                    .run(move |s| s.record_poll_error(&id, Utc::now(), &error))
                    .await;
                if let Err(e) = recorded {
                    tracing::error!(source = %source.id, error = %e, "cannot record the failed poll");
                }
                PollOutcome::Failed { reason }
            }
        };
        let report = PollReport {
            source: source.id.clone(),
            outcome,
            elapsed: started.elapsed(),
        };
        log_report(source, &report);
        report
    }

    async fn try_poll(&self, source: &Source) -> Result<PollOutcome, String> {
        let fetched = self
            .inner
            .fetcher
            .fetch(&source.url)
            .await
            .map_err(|e| e.to_string())?;
        let now = Utc::now();
        let parsed = ingest::parse(
            &FetchedBody {
                bytes: &fetched.bytes,
                content_type: fetched.content_type.as_deref(),
                url: &source.url,
            },
            now,
            &self.inner.limits,
        )
        .map_err(|e| e.to_string())?;
        for warning in &parsed.warnings {
            tracing::warn!(source = %source.id, warning = %warning, "entry skipped or repaired");
        }
        let seen = parsed.items.len();
        let items: Vec<NewItem> = parsed
            .items
            .into_iter()
            .map(|item| NewItem {
                content_hash: dedup::content_hash(&item),
                item,
            })
            .collect();
        let id = source.id.clone();
        let summary = self
            .inner
            .store
            .run(move |s| s.record_poll_ok(&id, now, &items, dedup::assign))
            .await
            .map_err(|e| format!("cannot store the items: {e}"))?;
        Ok(PollOutcome::Ok {
            seen,
            new: summary.new,
            updated: summary.updated,
            merged: summary.merged,
        })
    }

    /// Polls every source in `sources`, at most `[poll].concurrency` at a
    /// time; the reports come back in the order of `sources`.
    pub async fn poll_sources(&self, sources: &[Source]) -> Vec<PollReport> {
        let permits = Arc::new(Semaphore::new(self.inner.concurrency));
        let mut tasks = JoinSet::new();
        for (index, source) in sources.iter().cloned().enumerate() {
            let poller = self.clone();
            let permits = Arc::clone(&permits);
            tasks.spawn(async move {
                // The semaphore is never closed, so acquiring cannot fail.
                let _permit = permits.acquire_owned().await.ok();
                (index, poller.poll_source(&source).await)
            });
        }
        let mut reports: Vec<Option<PollReport>> = vec![None; sources.len()];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, report)) => reports[index] = Some(report),
                Err(e) => tracing::error!(error = %e, "a poll task failed"),
            }
        }
        reports
            .into_iter()
            .zip(sources)
            .map(|(report, source)| {
                report.unwrap_or_else(|| PollReport {
                    source: source.id.clone(),
                    outcome: PollOutcome::Failed {
                        reason: "the poll task failed".into(),
                    },
                    elapsed: Duration::ZERO,
                })
            })
            .collect()
    }

    /// Polls `sources` on their schedules until `shutdown` is cancelled. A
    /// round that has started is finished before returning, so no poll is
    /// cut off between fetch and store.
    pub async fn run(self, sources: Vec<Source>, shutdown: CancellationToken) {
        loop {
            let store = self.inner.store.clone();
            let states = match store.run(|s| s.source_states()).await {
                Ok(states) => states,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the sources' state; retrying in a minute");
                    Vec::new()
                }
            };
            let now = Utc::now();
            let (due, next) = schedule(&sources, &states, now);
            if !due.is_empty() {
                let due: Vec<Source> = due.into_iter().cloned().collect();
                self.poll_sources(&due).await;
                if shutdown.is_cancelled() {
                    break;
                }
                continue;
            }
            let wait = next
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(60))
                .max(Duration::from_secs(1));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
        tracing::info!("poller stopped");
    }
}

/// When a source is next due: one interval after its last poll, or now if
/// it was never polled.
pub fn next_due(
    last_polled: Option<DateTime<Utc>>,
    interval: Duration,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match last_polled {
        None => now,
        Some(at) => at + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX),
    }
}

/// The sources due at `now`, and when the next one that is not falls due.
pub fn schedule<'a>(
    sources: &'a [Source],
    states: &[SourceState],
    now: DateTime<Utc>,
) -> (Vec<&'a Source>, Option<DateTime<Utc>>) {
    let last: HashMap<&SourceId, Option<DateTime<Utc>>> =
        states.iter().map(|s| (&s.id, s.last_polled_at)).collect();
    let mut due = Vec::new();
    let mut next: Option<DateTime<Utc>> = None;
    for source in sources {
        let at = next_due(
            last.get(&source.id).copied().flatten(),
            source.interval,
            now,
        );
        if at <= now {
            due.push(source);
        } else {
            next = Some(next.map_or(at, |n| n.min(at)));
        }
    }
    (due, next)
}

fn log_report(source: &Source, report: &PollReport) {
    let elapsed_ms = u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX);
    match &report.outcome {
        PollOutcome::Ok {
            seen,
            new,
            updated,
            merged,
        } => tracing::info!(
            source = %source.id,
            url = %source.url,
            status = "ok",
            items = seen,
            new,
            updated,
            copies = merged,
            elapsed_ms,
            "polled"
        ),
        PollOutcome::Failed { reason } => tracing::warn!(
            source = %source.id,
            url = %source.url,
            status = "error",
            error = %reason,
            elapsed_ms,
            "poll failed"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn source(id: &str, minutes: u64) -> Source {
        Source {
            id: SourceId::new(id),
            name: id.into(),
            url: url::Url::parse("https://a.example/feed").unwrap(),
            interval: Duration::from_secs(minutes * 60),
            priority: 0,
            tags: vec![],
        }
    }

    fn state(id: &str, last: Option<DateTime<Utc>>) -> SourceState {
        SourceState {
            id: SourceId::new(id),
            last_polled_at: last,
            last_ok_at: last,
            last_error: None,
            consecutive_failures: 0,
        }
    }

    #[test]
    fn a_source_never_polled_is_due_at_once() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let sources = [source("a", 15)];
        let (due, next) = schedule(&sources, &[], now);
        assert_eq!(due.len(), 1);
        assert_eq!(next, None);
    }

    #[test]
    fn a_source_is_due_one_interval_after_its_last_poll() {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let ten_ago = now - chrono::Duration::minutes(10);
        let twenty_ago = now - chrono::Duration::minutes(20);
        let sources = [source("a", 15), source("b", 15), source("c", 60)];
        let states = [
            state("a", Some(ten_ago)),
            state("b", Some(twenty_ago)),
            state("c", Some(twenty_ago)),
        ];
        let (due, next) = schedule(&sources, &states, now);
        let due: Vec<&str> = due.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(due, ["b"]);
        assert_eq!(next, Some(now + chrono::Duration::minutes(5)));
    }
}
