//! The poll decision, as a pure function: what one poll of one source comes
//! to, given what the store knew of the source, what the fetch answered,
//! what the parse made of a new body, the time and the dice.
//!
//! [`decide`] returns the [`PollRecord`] the store keeps (status, error,
//! validators, body hash, interval hint, redirect bookkeeping, next poll
//! time) and the [`PollOutcome`] the caller reports; [`written`] adds what
//! the write did. `poll_source` only fetches, parses, writes and reports
//! around them (reader's update "decider" split; Miniflux's `RefreshFeed`
//! flow). The timing rules themselves are in [`super::schedule`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::fetch::FetchError;
use super::parse::ParseError;
use super::rhythm::{Learned, Rhythm, Seen};
use super::schedule::{self, Attempt, Cadence, MOVED_CONFIRMATIONS, Moved};
use crate::model::{ContentHash, Source, Validators};
use crate::store::{PollRecord, PollStatus, SourceState, StoreError, WriteSummary};

/// What one poll of one source came to.
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
    /// The poll failed. The reason is text for a person (it is recorded on
    /// the source, printed by `wiredesk poll` and logged); the kinds a
    /// caller branches on (gone, retry later, a parse failure) are decided
    /// here, from the typed [`FetchError`] and [`ParseError`].
    Failed { reason: String },
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

/// Everything the decision reads.
#[derive(Debug)]
pub struct Input<'a> {
    /// The source as stored before this poll.
    pub state: &'a SourceState,
    /// The URL polled (see [`target`]).
    pub target: &'a str,
    /// The source's settings; its `interval` is replaced by the paced one
    /// when `price` is given.
    pub cadence: Cadence,
    /// The request budget's price (`rhythm::Pacer`) when the source is
    /// polled to its rhythm; `None` when its interval is fixed.
    pub price: Option<f64>,
    /// The fetch's answer (with what became of its body), or why it failed.
    pub fetched: Result<Answer, FetchError>,
    /// When the poll is recorded.
    pub now: DateTime<Utc>,
    /// How long the poll took until now, waits included.
    pub elapsed: Duration,
    /// A uniform random number in `[0, 1)` for the jitter.
    pub dice: f64,
}

/// A fetch that reached the source.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status of the final response (200 for a file).
    pub status: u16,
    /// The validators to send next time.
    pub validators: Validators,
    /// How long the server says the response stays fresh.
    pub fresh_for: Option<Duration>,
    /// The final URL when every redirect hop was permanent.
    pub moved_permanently: Option<String>,
    pub body: Body,
}

/// What became of the body of an answer.
#[derive(Debug)]
pub enum Body {
    /// `304 Not Modified`: there was none.
    NotModified,
    /// The same bytes as the poll that stored the source's items: not parsed.
    Unchanged { bytes: u64 },
    /// A new body, and what its parse made of it.
    New {
        bytes: u64,
        hash: ContentHash,
        feed: Result<Feed, ParseError>,
    },
}

/// What the decision needs of a parsed feed (the items go to the write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// How many items it gave.
    pub items: usize,
    /// The interval the feed asks for, if any.
    pub hint: Option<Duration>,
    /// A note for the operator on a poll that is still ok: items beyond
    /// the item cap were dropped, or why the feed gave no items at all.
    pub note: Option<String>,
    /// Its items as the source's rhythm sees them.
    pub window: Vec<Seen>,
}

/// What the poll comes to, before its write.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub record: PollRecord,
    pub outcome: PollOutcome,
    /// Where the source has moved to, when this poll confirmed a permanent
    /// move (the operator is told once, to update the config).
    pub confirmed_move: Option<String>,
    /// The source's rhythm after this poll (also in the record), when the
    /// source answered.
    pub rhythm: Option<Rhythm>,
    /// What the answer taught (new items, a gap).
    pub learned: Learned,
}

/// The URL to poll: where a permanent redirect led, else the configured one.
pub fn target(source: &Source, state: &SourceState) -> Url {
    state
        .effective_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
        .unwrap_or_else(|| source.url.clone())
}

/// What one poll comes to: the record to store and the outcome to report.
///
/// An answer teaches the source's rhythm (a new window, or that nothing
/// changed); when the source is paced, its interval comes from the rhythm
/// and the price, and every other rule (hints, jitter, backoff) applies to
/// it as to a fixed one.
pub fn decide(mut input: Input<'_>) -> Decision {
    let known = Rhythm::load(input.state.rhythm.as_ref());
    let observed = observation(&input.fetched).map(|window| known.observe(window, input.now));
    let (rhythm, learned) = match observed {
        Some((rhythm, learned)) => (Some(rhythm), learned),
        None => (None, Learned::default()),
    };
    if let Some(price) = input.price {
        let bounds = input.cadence.bounds();
        let paced = rhythm.as_ref().unwrap_or(&known);
        input.cadence.interval = paced.interval(price, bounds, input.now);
    }
    let before = Moved {
        effective_url: input.state.effective_url.clone(),
        moved_to: input.state.moved_to.clone(),
        count: input.state.moved_count,
    };
    let blank = PollRecord {
        at: input.now,
        status: PollStatus::Error,
        error: None,
        http_status: None,
        duration_ms: u64::try_from(input.elapsed.as_millis()).unwrap_or(u64::MAX),
        bytes: None,
        next_poll_at: input.now,
        validators: None,
        body_hash: None,
        interval_hint: None,
        effective_url: before.effective_url.clone(),
        moved_to: before.moved_to.clone(),
        moved_count: before.count,
        rhythm: rhythm.as_ref().map(Rhythm::store),
        gap: learned.gap,
    };
    let decision = match &input.fetched {
        Ok(answer) => answered(&input, answer, &before, blank),
        Err(error) => not_answered(&input, error, blank),
    };
    Decision {
        rhythm,
        learned,
        ..decision
    }
}

/// What an answer shows the rhythm: `Some(None)` when nothing changed,
/// `Some(Some(window))` for a new body parsed, `None` when there was no
/// answer to learn from (a failure, or a body that did not parse).
fn observation(fetched: &Result<Answer, FetchError>) -> Option<Option<&[Seen]>> {
    match &fetched.as_ref().ok()?.body {
        Body::NotModified | Body::Unchanged { .. } => Some(None),
        Body::New { feed: Ok(feed), .. } => Some(Some(&feed.window)),
        Body::New { feed: Err(_), .. } => None,
    }
}

/// The source answered: a 304, the same body, or a new one parsed (or not).
fn answered(input: &Input<'_>, answer: &Answer, before: &Moved, blank: PollRecord) -> Decision {
    let feed = match &answer.body {
        Body::NotModified | Body::Unchanged { .. } | Body::New { feed: Ok(_), .. } => true,
        Body::New { feed: Err(_), .. } => false,
    };
    let moved = schedule::after_answer(
        before,
        input.target,
        answer.moved_permanently.as_deref(),
        feed,
    );
    let confirmed_move = (moved.count == MOVED_CONFIRMATIONS && moved != *before)
        .then(|| moved.moved_to.clone().unwrap_or_default());
    let record = PollRecord {
        http_status: Some(answer.status),
        validators: Some(answer.validators.clone()),
        effective_url: moved.effective_url,
        moved_to: moved.moved_to,
        moved_count: moved.count,
        ..blank
    };
    // The longest interval the server or the feed asks for; a body not
    // parsed again keeps the feed's hint from the last parse.
    let stored_hint = answer.fresh_for.max(input.state.interval_hint);
    // A body the last answer also gave: the note it left (items over the
    // cap, #20; no items, #18) still holds, and stays where the operator
    // saw it.
    let answered_before = [
        PollStatus::Ok,
        PollStatus::Unchanged,
        PollStatus::NotModified,
    ]
    .map(PollStatus::as_str);
    let same_note = input
        .state
        .last_status
        .as_deref()
        .filter(|status| answered_before.contains(status))
        .and_then(|_| input.state.last_error.clone());
    let (record, outcome) = match &answer.body {
        Body::NotModified => (
            PollRecord {
                status: PollStatus::NotModified,
                error: same_note,
                next_poll_at: input.next_poll(Attempt::Answered { hint: stored_hint }),
                ..record
            },
            PollOutcome::NotModified,
        ),
        Body::Unchanged { bytes } => (
            PollRecord {
                status: PollStatus::Unchanged,
                error: same_note,
                bytes: Some(*bytes),
                next_poll_at: input.next_poll(Attempt::Answered { hint: stored_hint }),
                ..record
            },
            PollOutcome::Unchanged,
        ),
        Body::New { bytes, hash, feed } => {
            let record = PollRecord {
                bytes: Some(*bytes),
                ..record
            };
            new_body(input, answer.fresh_for, record, *hash, feed)
        }
    };
    Decision {
        record,
        outcome,
        confirmed_move,
        rhythm: None,
        learned: Learned::default(),
    }
}

/// A new body: stored with its hash when it parsed, a failure when not.
fn new_body(
    input: &Input<'_>,
    fresh_for: Option<Duration>,
    record: PollRecord,
    hash: ContentHash,
    feed: &Result<Feed, ParseError>,
) -> (PollRecord, PollOutcome) {
    let feed = match feed {
        Ok(feed) => feed,
        Err(e) => {
            // Keep the old validators: the next poll must fetch the body
            // again, not get a 304.
            let record = PollRecord {
                validators: None,
                ..record
            };
            return failed(input, record, None, e.to_string());
        }
    };
    let record = PollRecord {
        status: PollStatus::Ok,
        // Items beyond `Limits::max_items` are lost for this poll (issue
        // #9), or the feed gave none (#18): say so where an operator looks
        // (`sources`, /sources.json), not only in the log.
        error: feed.note.clone(),
        body_hash: Some(hash),
        interval_hint: Some(feed.hint.unwrap_or(Duration::ZERO)),
        next_poll_at: input.next_poll(Attempt::Answered {
            hint: fresh_for.max(feed.hint),
        }),
        ..record
    };
    let outcome = PollOutcome::Ok {
        seen: feed.items,
        new: 0,
        updated: 0,
        merged: 0,
    };
    (record, outcome)
}

/// The fetch failed: gone for now, or backing off (as long as the server
/// asked, if it did).
fn not_answered(input: &Input<'_>, error: &FetchError, blank: PollRecord) -> Decision {
    let record = PollRecord {
        http_status: error.http_status(),
        ..blank
    };
    let (record, outcome) = match error {
        FetchError::Gone => {
            let reason = error.to_string();
            (
                PollRecord {
                    status: PollStatus::Gone,
                    error: Some(reason.clone()),
                    next_poll_at: input.next_poll(Attempt::Gone),
                    ..record
                },
                PollOutcome::Failed { reason },
            )
        }
        // Not the source's fault: shown on it, polled again when it would
        // have been, not backed off.
        FetchError::Local(_) => {
            let reason = error.to_string();
            (
                PollRecord {
                    status: PollStatus::Local,
                    error: Some(reason.clone()),
                    next_poll_at: input.next_poll(Attempt::Answered {
                        hint: input.state.interval_hint,
                    }),
                    ..record
                },
                PollOutcome::Failed { reason },
            )
        }
        _ => failed(input, record, error.retry_after(), error.to_string()),
    };
    Decision {
        record,
        outcome,
        confirmed_move: None,
        rhythm: None,
        learned: Learned::default(),
    }
}

/// A failure other than `410 Gone`: one more in a row, backed off.
fn failed(
    input: &Input<'_>,
    record: PollRecord,
    retry_after: Option<Duration>,
    reason: String,
) -> (PollRecord, PollOutcome) {
    let attempt = Attempt::Failed {
        failures: input.state.consecutive_failures.saturating_add(1),
        retry_after,
    };
    let record = PollRecord {
        status: PollStatus::Error,
        error: Some(reason.clone()),
        next_poll_at: input.next_poll(attempt),
        ..record
    };
    (record, PollOutcome::Failed { reason })
}

impl Input<'_> {
    fn next_poll(&self, attempt: Attempt) -> DateTime<Utc> {
        schedule::next_poll(&self.cadence, attempt, self.now, self.dice)
    }
}

/// The outcome once the poll's write is done: a new body's counts come from
/// the write; a write that failed fails the poll (and nothing of it was
/// recorded).
pub fn written(outcome: PollOutcome, write: Result<WriteSummary, StoreError>) -> PollOutcome {
    match (outcome, write) {
        (PollOutcome::Ok { seen, .. }, Ok(summary)) => PollOutcome::Ok {
            seen,
            new: summary.new,
            updated: summary.updated,
            merged: summary.merged,
        },
        (outcome, Ok(_)) => outcome,
        (_, Err(e)) => PollOutcome::Failed {
            reason: format!("cannot store the poll: {e}"),
        },
    }
}

#[cfg(test)]
mod tests;
