//! A pushed body, ingested as a poll's body is: the same parse, decision,
//! dedup, write and per-source record; only the poll schedule, the
//! validators and what the source's rhythm learned stay as the last poll
//! left them (a push is a fragment of the feed, not its window).

use tokio::time::Instant;

use super::super::decide::{self, Decision};
use super::super::fetch::{Body, Fetched};
use super::super::{PollReport, Poller, group, hold_back, log_report};
use crate::model::Source;
use crate::store::SourceState;

impl Poller {
    /// Ingests `body`, pushed by a hub for `source`. Never fails: a body
    /// that does not parse is recorded on the source as a poll's would be.
    pub async fn ingest_push(&self, source: &Source, body: Body) -> PollReport {
        let started = Instant::now();
        let global = self.inner.global.acquire().await.ok();
        let state = match self.state_of(source).await {
            Ok(state) => state,
            Err(e) => {
                let reason = format!("cannot read its state: {e}");
                return self.report_unrecorded(source, started, reason);
            }
        };
        let target = decide::target(source, &state);
        let fetched = Ok(Fetched {
            body: Some(body),
            validators: state.validators.clone(),
            fresh_for: None,
            moved_permanently: None,
            status: 200,
            push: Default::default(),
        });
        let now = self.now();
        let (fetched, items, _, _) = self.read(source, &target, &state, fetched, now).await;
        let decision = pushed(
            decide::decide(decide::Input {
                state: &state,
                target: target.as_str(),
                cadence: self.cadence(source),
                price: None,
                fetched,
                now,
                elapsed: started.elapsed(),
                dice: 0.5,
            }),
            &state,
        );
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
        let report = PollReport {
            source: source.id.clone(),
            outcome: decide::written(decision.outcome, written),
            elapsed: started.elapsed(),
            next_poll_at,
        };
        log_report(
            source,
            &target,
            &report,
            None,
            bytes.unwrap_or(0),
            &self.inner.metrics,
        );
        report
    }
}

/// A poll's decision made a push's: the schedule, validators, hint and
/// rhythm stay as stored, and no gap is counted (a push carries only the
/// new entries, which share nothing with the last window by design).
fn pushed(mut decision: Decision, state: &SourceState) -> Decision {
    let record = &mut decision.record;
    record.next_poll_at = state.next_poll_at.unwrap_or(record.next_poll_at);
    record.validators = None;
    record.body_hash = None;
    record.interval_hint = None;
    record.rhythm = None;
    record.gap = false;
    decision.rhythm = None;
    decision.learned = Default::default();
    decision.confirmed_move = None;
    decision
}
