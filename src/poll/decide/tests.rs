//! The poll decision, one literal case per branch.

use super::*;
use chrono::TimeZone;

use crate::ingest::IngestError;
use crate::model::SourceId;

const MIN: Duration = Duration::from_secs(60);
const FEED: &str = "https://agency.example/feed";
const NEW_HOME: &str = "https://agency.example/rss";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(m)
}

fn source() -> Source {
    Source {
        id: SourceId::new("agency"),
        name: "Agency".into(),
        url: Url::parse(FEED).unwrap(),
        interval: 15 * MIN,
        priority: 0,
        fixed_interval: false,
        headers: Default::default(),
        rules: Default::default(),
        websub: true,
        tags: vec![],
    }
}

/// A source polled before, its last body stored, asking for nothing.
fn state() -> SourceState {
    SourceState {
        body_hash: Some([1; 32]),
        ..SourceState::blank(&source())
    }
}

fn validators() -> Validators {
    Validators {
        etag: Some("\"v2\"".into()),
        last_modified: None,
    }
}

fn answer(body: Body) -> Result<Answer, FetchError> {
    Ok(Answer {
        status: if matches!(body, Body::NotModified) {
            304
        } else {
            200
        },
        validators: validators(),
        fresh_for: None,
        moved_permanently: None,
        body,
    })
}

fn feed(items: usize) -> Body {
    Body::New {
        bytes: 2048,
        hash: [2; 32],
        feed: Ok(Feed {
            items,
            hint: None,
            note: None,
            window: window(0..items as u64),
        }),
    }
}

/// A window of the items numbered `range`, dated a minute apart up to t0.
fn window(range: std::ops::Range<u64>) -> Vec<Seen> {
    range
        .map(|n| Seen {
            key: n,
            date: Some(t0() - chrono::Duration::minutes(n as i64)),
        })
        .collect()
}

fn input(state: &SourceState, fetched: Result<Answer, FetchError>) -> Input<'_> {
    Input {
        state,
        target: FEED,
        cadence: Cadence {
            interval: 15 * MIN,
            min_interval: MIN,
            max_interval: 120 * MIN,
            jitter: 0.1,
            backoff_cap: 24 * 60 * MIN,
        },
        price: None,
        fetched,
        now: t0(),
        elapsed: Duration::from_millis(150),
        dice: 0.0,
    }
}

/// The decision at t0, 150 ms into the poll, with no jitter.
fn decide_with(state: &SourceState, fetched: Result<Answer, FetchError>) -> Decision {
    decide(input(state, fetched))
}

#[test]
fn a_new_body_is_recorded_ok_with_its_hash_and_polled_again_an_interval_later() {
    let d = decide_with(&state(), answer(feed(3)));
    assert_eq!(
        d.record,
        PollRecord {
            at: t0(),
            status: PollStatus::Ok,
            error: None,
            http_status: Some(200),
            duration_ms: 150,
            bytes: Some(2048),
            next_poll_at: minutes(15),
            validators: Some(validators()),
            body_hash: Some([2; 32]),
            // No hint from the feed: a stored one is cleared.
            interval_hint: Some(Duration::ZERO),
            effective_url: None,
            moved_to: None,
            moved_count: 0,
            rhythm: d.record.rhythm.clone(),
            gap: false,
        }
    );
    // The window taught the rhythm, which is stored with the poll.
    let rhythm = Rhythm::load(d.record.rhythm.as_ref());
    assert_eq!(rhythm.keys.len(), 3);
    assert_eq!(d.learned, Learned { new: 3, gap: false });
    assert_eq!(
        d.outcome,
        PollOutcome::Ok {
            seen: 3,
            new: 0,
            updated: 0,
            merged: 0
        }
    );
    assert_eq!(d.confirmed_move, None);
}

#[test]
fn a_feed_hint_lengthens_the_interval_and_is_stored() {
    let body = Body::New {
        bytes: 10,
        hash: [2; 32],
        feed: Ok(Feed {
            items: 1,
            hint: Some(60 * MIN),
            note: None,
            window: vec![],
        }),
    };
    let d = decide_with(&state(), answer(body));
    assert_eq!(d.record.interval_hint, Some(60 * MIN));
    assert_eq!(d.record.next_poll_at, minutes(60));
}

#[test]
fn items_beyond_the_cap_are_noted_on_an_ok_poll() {
    let body = Body::New {
        bytes: 10,
        hash: [2; 32],
        feed: Ok(Feed {
            items: 5000,
            hint: None,
            note: Some("items capped: 7000 entries, 5000 kept".into()),
            window: vec![],
        }),
    };
    let d = decide_with(&state(), answer(body));
    assert_eq!(d.record.status, PollStatus::Ok);
    assert_eq!(
        d.record.error.as_deref(),
        Some("items capped: 7000 entries, 5000 kept")
    );
    assert!(matches!(d.outcome, PollOutcome::Ok { seen: 5000, .. }));
}

#[test]
fn the_items_capped_note_stays_while_the_body_is_the_same_and_goes_after_a_failure() {
    let capped = SourceState {
        last_status: Some("ok".into()),
        last_error: Some("items capped: 7000 entries, 5000 kept".into()),
        ..state()
    };
    for body in [Body::NotModified, Body::Unchanged { bytes: 10 }] {
        let d = decide_with(&capped, answer(body));
        assert_eq!(d.record.error, capped.last_error, "{:?}", d.record.status);
        // And again on the poll after (#20: it went at the first unchanged poll).
        let later = SourceState {
            last_status: Some(d.record.status.as_str().into()),
            last_error: d.record.error.clone(),
            ..state()
        };
        let d = decide_with(&later, answer(Body::NotModified));
        assert_eq!(d.record.error, capped.last_error);
    }
    // An error is not a note: a 304 after a failure clears it.
    let failing = SourceState {
        last_status: Some("error".into()),
        last_error: Some("HTTP 500".into()),
        ..state()
    };
    assert_eq!(
        decide_with(&failing, answer(Body::NotModified))
            .record
            .error,
        None
    );
}

#[test]
fn running_out_of_descriptors_is_shown_on_the_source_but_never_backs_it_off() {
    let failing = SourceState {
        consecutive_failures: 3,
        ..state()
    };
    let d = decide_with(
        &failing,
        Err(FetchError::Local(
            "Too many open files (os error 24)".into(),
        )),
    );
    assert_eq!(d.record.status, PollStatus::Local);
    assert_eq!(
        d.record.error.as_deref(),
        Some("this machine ran out of a resource: Too many open files (os error 24)")
    );
    // Polled again an interval later, as if it had answered: no backoff.
    assert_eq!(d.record.next_poll_at, minutes(15));
    assert!(matches!(d.outcome, PollOutcome::Failed { .. }));
}

#[test]
fn not_modified_keeps_the_body_hash_and_the_stored_hint() {
    let state = SourceState {
        interval_hint: Some(30 * MIN),
        ..state()
    };
    let d = decide_with(&state, answer(Body::NotModified));
    assert_eq!(d.outcome, PollOutcome::NotModified);
    assert_eq!(d.record.status, PollStatus::NotModified);
    assert_eq!(d.record.http_status, Some(304));
    assert_eq!(d.record.validators, Some(validators()));
    // `None` leaves the stored hash and hint as they are.
    assert_eq!((d.record.body_hash, d.record.interval_hint), (None, None));
    assert_eq!(d.record.bytes, None);
    assert_eq!(d.record.next_poll_at, minutes(30));
}

#[test]
fn an_unchanged_body_is_not_a_new_one_and_the_server_may_ask_for_longer() {
    let fetched = answer(Body::Unchanged { bytes: 2048 }).map(|a| Answer {
        fresh_for: Some(45 * MIN),
        ..a
    });
    let d = decide_with(&state(), fetched);
    assert_eq!(d.outcome, PollOutcome::Unchanged);
    assert_eq!(d.record.status, PollStatus::Unchanged);
    assert_eq!(d.record.bytes, Some(2048));
    assert_eq!(d.record.body_hash, None);
    assert_eq!(d.record.next_poll_at, minutes(45));
}

#[test]
fn a_body_that_does_not_parse_fails_and_drops_the_validators() {
    let body = Body::New {
        bytes: 12,
        hash: [2; 32],
        feed: Err(ParseError::Feed(IngestError::NotAFeed {
            reason: "an HTML page".into(),
        })),
    };
    let state = SourceState {
        consecutive_failures: 1,
        ..state()
    };
    let d = decide_with(&state, answer(body));
    let reason = "not a feed: an HTML page".to_owned();
    assert_eq!(
        d.outcome,
        PollOutcome::Failed {
            reason: reason.clone()
        }
    );
    assert_eq!(d.record.status, PollStatus::Error);
    assert_eq!(d.record.error, Some(reason));
    assert_eq!(d.record.http_status, Some(200));
    assert_eq!(d.record.bytes, Some(12));
    // The next poll fetches the body again instead of getting a 304,
    // and compares it with the last body that parsed.
    assert_eq!((d.record.validators, d.record.body_hash), (None, None));
    // The second failure in a row: the backoff's floor, the interval.
    assert_eq!(d.record.next_poll_at, minutes(15));
}

#[test]
fn a_gone_source_is_marked_gone_and_tried_again_in_a_day() {
    let d = decide_with(&state(), Err(FetchError::Gone));
    let reason = "HTTP 410 Gone: the publisher removed this feed".to_owned();
    assert_eq!(
        d.outcome,
        PollOutcome::Failed {
            reason: reason.clone()
        }
    );
    assert_eq!(d.record.status, PollStatus::Gone);
    assert_eq!(d.record.error, Some(reason));
    assert_eq!(d.record.http_status, Some(410));
    assert_eq!(d.record.validators, None);
    assert_eq!(d.record.next_poll_at, minutes(24 * 60));
}

#[test]
fn retry_after_is_honoured_over_the_backoff() {
    let error = FetchError::RetryLater {
        status: 503,
        retry_after: Some(120 * MIN),
    };
    let d = decide_with(&state(), Err(error));
    assert_eq!(
        d.outcome,
        PollOutcome::Failed {
            reason: "HTTP 503: the server asked to retry later".into()
        }
    );
    assert_eq!(d.record.status, PollStatus::Error);
    assert_eq!(d.record.http_status, Some(503));
    assert_eq!(d.record.next_poll_at, minutes(120));
}

#[test]
fn a_failure_backs_off_by_the_failures_in_a_row() {
    let state = SourceState {
        consecutive_failures: 2,
        ..state()
    };
    let d = decide(Input {
        dice: 1.0,
        ..input(&state, Err(FetchError::Status { status: 500 }))
    });
    // The third failure in a row: up to 15 min x 2^3.
    assert_eq!(d.record.next_poll_at, minutes(120));
    assert_eq!(d.record.http_status, Some(500));
    assert_eq!(d.record.error.as_deref(), Some("HTTP 500"));
    let timeout = decide_with(&state, Err(FetchError::Timeout(Duration::from_secs(30))));
    assert_eq!(timeout.record.http_status, None);
    assert_eq!(timeout.record.error.as_deref(), Some("timed out after 30s"));
}

#[test]
fn a_permanent_redirect_is_followed_from_its_second_feed_and_its_third_answer_tells_the_operator() {
    let moved = || {
        answer(Body::Unchanged { bytes: 1 }).map(|a| Answer {
            moved_permanently: Some(NEW_HOME.into()),
            ..a
        })
    };
    let first = decide_with(&state(), moved());
    assert_eq!(
        first.record.effective_url, None,
        "one 301 moves nothing yet"
    );
    assert_eq!(first.record.moved_to.as_deref(), Some(NEW_HOME));
    assert_eq!(first.record.moved_count, 1);
    assert_eq!(first.confirmed_move, None);
    let once = SourceState {
        moved_to: Some(NEW_HOME.into()),
        moved_count: 1,
        ..state()
    };
    let again = decide_with(&once, moved());
    assert_eq!(again.record.effective_url.as_deref(), Some(NEW_HOME));
    assert_eq!(again.record.moved_count, 2);

    // Polled at the new URL, it answers a second and a third time.
    let second = SourceState {
        effective_url: Some(NEW_HOME.into()),
        moved_to: Some(NEW_HOME.into()),
        moved_count: 2,
        ..state()
    };
    let third = decide(Input {
        target: NEW_HOME,
        ..input(&second, answer(Body::NotModified))
    });
    assert_eq!(third.record.moved_count, MOVED_CONFIRMATIONS);
    assert_eq!(third.confirmed_move.as_deref(), Some(NEW_HOME));
    // A failed poll leaves the bookkeeping as it was.
    let failed = decide(Input {
        target: NEW_HOME,
        ..input(&second, Err(FetchError::Status { status: 500 }))
    });
    assert_eq!(failed.record.moved_count, 2);
    assert_eq!(failed.record.effective_url.as_deref(), Some(NEW_HOME));
    assert_eq!(failed.confirmed_move, None);
}

#[test]
fn the_url_polled_is_where_a_permanent_redirect_led() {
    assert_eq!(target(&source(), &state()).as_str(), FEED);
    let moved = SourceState {
        effective_url: Some(NEW_HOME.into()),
        ..state()
    };
    assert_eq!(target(&source(), &moved).as_str(), NEW_HOME);
    let garbled = SourceState {
        effective_url: Some("not a url".into()),
        ..state()
    };
    assert_eq!(target(&source(), &garbled).as_str(), FEED);
}

#[test]
fn the_write_gives_an_ok_poll_its_counts_and_a_failed_write_fails_the_poll() {
    let ok = PollOutcome::Ok {
        seen: 3,
        new: 0,
        updated: 0,
        merged: 0,
    };
    let summary = WriteSummary {
        new: 2,
        updated: 1,
        merged: 1,
        tombstoned: 0,
        blocked: 0,
    };
    assert_eq!(
        written(ok.clone(), Ok(summary)),
        PollOutcome::Ok {
            seen: 3,
            new: 2,
            updated: 1,
            merged: 1
        }
    );
    assert_eq!(
        written(PollOutcome::NotModified, Ok(WriteSummary::default())),
        PollOutcome::NotModified
    );
    assert_eq!(
        written(ok, Err(StoreError::Worker("disk full".into()))),
        PollOutcome::Failed {
            reason: "cannot store the poll: the store's worker failed: disk full".into()
        }
    );
}

/// A state whose rhythm has seen the items numbered `range`, an hour ago.
fn state_having_seen(range: std::ops::Range<u64>) -> SourceState {
    let (rhythm, _) = Rhythm::default().observe(Some(&window(range)), minutes(-60));
    SourceState {
        rhythm: Some(rhythm.store()),
        ..state()
    }
}

fn feed_of(window: Vec<Seen>) -> Body {
    Body::New {
        bytes: 2048,
        hash: [3; 32],
        feed: Ok(Feed {
            items: window.len(),
            hint: None,
            note: None,
            window,
        }),
    }
}

#[test]
fn a_window_sharing_nothing_with_the_last_is_recorded_as_a_gap() {
    let state = state_having_seen(0..10);
    let d = decide_with(&state, answer(feed_of(window(100..110))));
    assert_eq!(d.learned, Learned { new: 10, gap: true });
    assert!(d.record.gap);
    // One shared item: no gap.
    let d = decide_with(&state, answer(feed_of(window(9..19))));
    assert_eq!(d.learned, Learned { new: 9, gap: false });
    assert!(!d.record.gap);
}

#[test]
fn a_paced_source_gets_its_interval_from_its_rhythm_and_a_fixed_one_keeps_its_own() {
    // Ten items a minute apart: a busy source.
    let busy_state = state_having_seen(0..10);
    let busy = feed_of(window(5..15));
    let fixed = decide(input(&busy_state, answer(busy)));
    assert_eq!(fixed.record.next_poll_at, minutes(15));
    let busy = feed_of(window(5..15));
    let paced = decide(Input {
        price: Some(0.05),
        ..input(&busy_state, answer(busy))
    });
    assert!(paced.record.next_poll_at < minutes(15));
    assert!(paced.record.next_poll_at >= minutes(1));
    // The same price for a source that has shown nothing new in a day.
    let quiet = SourceState {
        rhythm: Some(
            Rhythm::default()
                .observe(Some(&window(0..10)), t0() - chrono::Duration::days(8))
                .0
                .observe(None, t0() - chrono::Duration::days(1))
                .0
                .store(),
        ),
        ..state()
    };
    let paced = decide(Input {
        price: Some(0.05),
        ..input(&quiet, answer(Body::NotModified))
    });
    assert!(paced.record.next_poll_at > minutes(15));
    assert!(paced.record.next_poll_at <= minutes(120));
}

#[test]
fn a_failure_or_a_body_that_does_not_parse_teaches_the_rhythm_nothing() {
    let state = state_having_seen(0..10);
    let failed = decide_with(&state, Err(FetchError::Status { status: 503 }));
    assert_eq!(failed.record.rhythm, None);
    assert_eq!(failed.rhythm, None);
    let garbled = decide_with(
        &state,
        answer(Body::New {
            bytes: 10,
            hash: [4; 32],
            feed: Err(ParseError::Crashed("boom".into())),
        }),
    );
    assert_eq!(garbled.record.rhythm, None);
    // A 304 is watched time: the rhythm is stored again.
    let unchanged = decide_with(&state, answer(Body::NotModified));
    assert!(unchanged.record.rhythm.is_some());
    assert!(!unchanged.record.gap);
}
