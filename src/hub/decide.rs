//! The hub's decisions, pure: who is due for a delivery and when, how long
//! a failing callback waits, when it is dropped, which entries a delivery
//! carries. The clock is passed in.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::store::{HubSubscription, PageKey};

/// The first retry of a failed delivery waits this long; each next one
/// twice as long as the one before, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// A callback that has failed every delivery for this long is dropped.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 86_400);

/// How long to wait before retry number `failures` (1 after the first
/// failure).
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(20);
    FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF)
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

/// What a delivery's outcome makes of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    /// Keep it, as given (cursor moved, or a retry scheduled).
    Keep(HubSubscription),
    /// Drop it: the callback said `410 Gone`, or has failed too long.
    Drop,
}

/// The subscription after a delivery at `now` that carried entries up to
/// `newest` and succeeded (`Ok`) or failed (`Err(gone)`, `gone` for 410).
pub fn after_delivery(
    sub: &HubSubscription,
    newest: PageKey,
    outcome: Result<(), bool>,
    now: DateTime<Utc>,
) -> After {
    match outcome {
        Ok(()) => After::Keep(HubSubscription {
            cursor: newest,
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
            ..sub.clone()
        }),
        Err(true) => After::Drop,
        Err(false) => {
            let since = sub.failing_since.unwrap_or(now);
            if now - since >= delta(GIVE_UP_AFTER) {
                return After::Drop;
            }
            let failures = sub.failures.saturating_add(1);
            After::Keep(HubSubscription {
                failures,
                failing_since: Some(since),
                next_attempt_at: Some(now + delta(backoff(failures))),
                ..sub.clone()
            })
        }
    }
}

/// Whether a delivery may be attempted now (not waiting out a backoff,
/// lease not over).
pub fn may_deliver(sub: &HubSubscription, now: DateTime<Utc>) -> bool {
    sub.expires_at > now && sub.next_attempt_at.is_none_or(|at| at <= now)
}

/// The entries of a page (newest first, with their positions) a delivery
/// carries: those after `cursor`.
pub fn entries_after<T>(page: Vec<(PageKey, T)>, cursor: PageKey) -> Vec<(PageKey, T)> {
    page.into_iter()
        .filter(|(key, _)| (key.date, key.id) > (cursor.date, cursor.id))
        .collect()
}

/// When the hub must look again without being told of a change: the
/// earliest retry due or lease ending, if any.
pub fn next_wake(subs: &[HubSubscription], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    subs.iter()
        .flat_map(|s| [Some(s.expires_at), s.next_attempt_at])
        .flatten()
        .filter(|at| *at > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn sub() -> HubSubscription {
        HubSubscription {
            topic: "https://d.example/feed.atom".into(),
            callback: "https://s.example/cb".into(),
            secret: None,
            created_at: at(0),
            expires_at: at(1000),
            cursor: PageKey { date: 10, id: 3 },
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
        }
    }

    #[test]
    fn retries_wait_one_two_four_seconds_and_never_more_than_an_hour() {
        let waits: Vec<u64> = (1..=4).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8]);
        assert_eq!(backoff(13).as_secs(), 3600);
        assert_eq!(backoff(u32::MAX).as_secs(), 3600);
    }

    #[test]
    fn a_failure_schedules_a_retry_and_a_success_moves_the_cursor_and_clears_it() {
        let failed = match after_delivery(&sub(), PageKey { date: 20, id: 9 }, Err(false), at(100))
        {
            After::Keep(s) => s,
            After::Drop => panic!("dropped at the first failure"),
        };
        assert_eq!(failed.failures, 1);
        assert_eq!(failed.failing_since, Some(at(100)));
        assert_eq!(failed.next_attempt_at, Some(at(101)));
        assert_eq!(failed.cursor, PageKey { date: 10, id: 3 }, "not delivered");
        assert!(!may_deliver(&failed, at(100)));
        assert!(may_deliver(&failed, at(101)));
        let again = match after_delivery(&failed, PageKey { date: 20, id: 9 }, Err(false), at(101))
        {
            After::Keep(s) => s,
            After::Drop => panic!(),
        };
        assert_eq!(again.next_attempt_at, Some(at(103)));
        let ok = after_delivery(&again, PageKey { date: 20, id: 9 }, Ok(()), at(103));
        let After::Keep(ok) = ok else { panic!() };
        assert_eq!(ok.cursor, PageKey { date: 20, id: 9 });
        assert_eq!(
            (ok.failures, ok.failing_since, ok.next_attempt_at),
            (0, None, None)
        );
    }

    #[test]
    fn a_callback_that_is_gone_or_fails_for_three_days_is_dropped() {
        assert_eq!(
            after_delivery(&sub(), PageKey { date: 0, id: 0 }, Err(true), at(5)),
            After::Drop
        );
        let mut failing = sub();
        failing.failing_since = Some(at(0));
        failing.failures = 40;
        assert!(matches!(
            after_delivery(
                &failing,
                PageKey { date: 0, id: 0 },
                Err(false),
                at(3 * 86_400 - 1)
            ),
            After::Keep(_)
        ));
        assert_eq!(
            after_delivery(
                &failing,
                PageKey { date: 0, id: 0 },
                Err(false),
                at(3 * 86_400)
            ),
            After::Drop
        );
    }

    #[test]
    fn a_delivery_carries_only_what_arrived_after_the_cursor() {
        let k = |date, id| PageKey { date, id };
        let page = vec![
            (k(12, 1), "c"),
            (k(10, 4), "b"),
            (k(10, 3), "a"),
            (k(9, 7), "old"),
        ];
        let picked: Vec<&str> = entries_after(page, k(10, 3))
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(picked, ["c", "b"]);
    }

    #[test]
    fn the_hub_wakes_for_the_earliest_retry_or_lease_end() {
        let mut a = sub();
        a.next_attempt_at = Some(at(50));
        let b = HubSubscription {
            expires_at: at(30),
            ..sub()
        };
        assert_eq!(next_wake(&[a.clone(), b.clone()], at(0)), Some(at(30)));
        assert_eq!(
            next_wake(&[a.clone(), b], at(30)),
            Some(at(50)),
            "past times are not waited for"
        );
        assert_eq!(next_wake(&[a], at(0)), Some(at(50)));
        assert_eq!(next_wake(&[], at(0)), None);
        assert!(!may_deliver(&sub(), at(1000)), "lease over");
    }
}
