//! The rules the poll decision ([`super::decide`]) applies, as pure
//! functions with the clock (and the dice) passed in: when a source is next
//! due, how far a failing source backs off, how long a server asked us to
//! wait, and what a permanent redirect means.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The scheduling settings that apply to one source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// The configured interval (the source's, else `[poll].interval`).
    pub interval: Duration,
    /// No source is polled more often than this.
    pub min_interval: Duration,
    /// Hints from the feed or the server may lengthen the interval up to this.
    pub max_interval: Duration,
    /// Up to this share of the interval is added at random, so sources that
    /// share an interval drift apart instead of polling in lock-step.
    pub jitter: f64,
    /// The longest a failing source waits between tries.
    pub backoff_cap: Duration,
}

/// How long a source that answered `410 Gone` waits before it is tried
/// again: it is never dropped for good (a feed may come back), but it is not
/// hammered either.
pub const GONE_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// The longest a `Retry-After` is honoured; a server asking for a week is
/// asked again after a day.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(24 * 3600);

/// How a poll ended, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The source answered (new body, same body, or `304`). `hint` is the
    /// longest interval the feed or the server asked for, if any.
    Answered { hint: Option<Duration> },
    /// `410 Gone`.
    Gone,
    /// Any other failure; `failures` counts this one (1 for the first), and
    /// `retry_after` is the server's `Retry-After`, if it sent one.
    Failed {
        failures: u32,
        retry_after: Option<Duration>,
    },
}

impl Cadence {
    /// The bounds a paced interval keeps.
    pub fn bounds(&self) -> super::rhythm::Bounds {
        super::rhythm::Bounds {
            min_interval: self.min_interval,
            max_interval: self.max_interval,
        }
    }

    /// The interval between two successful polls, before jitter: the
    /// configured interval, never below the floor, lengthened (never
    /// shortened) by a hint up to `max_interval`.
    pub fn base(&self, hint: Option<Duration>) -> Duration {
        let base = self.interval.max(self.min_interval);
        match hint {
            Some(hint) if hint > base => hint.min(self.max_interval.max(base)),
            _ => base,
        }
    }
}

/// When a source is next due after `attempt` at `now`. `dice` is a uniform
/// random number in `[0, 1)`, passed in so the decision is repeatable.
pub fn next_poll(
    cadence: &Cadence,
    attempt: Attempt,
    now: DateTime<Utc>,
    dice: f64,
) -> DateTime<Utc> {
    let dice = dice.clamp(0.0, 1.0);
    let wait = match attempt {
        Attempt::Answered { hint } => {
            let base = cadence.base(hint);
            base + base.mul_f64(cadence.jitter.clamp(0.0, 1.0) * dice)
        }
        Attempt::Gone => GONE_INTERVAL.max(cadence.base(None)),
        Attempt::Failed {
            failures,
            retry_after,
        } => {
            let backoff = backoff(cadence, failures, dice);
            match retry_after {
                Some(asked) => backoff.max(asked.min(RETRY_AFTER_CAP)),
                None => backoff,
            }
        }
    };
    let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
    // Whole seconds: that is what the store keeps.
    DateTime::from_timestamp(at.timestamp(), 0).unwrap_or(at)
}

/// The next poll of a source a hub pushes to (WebSub, #16) until
/// `live_until`: a safety net, at most every `max_interval` and never
/// sooner than `decided` (the usual rules, backoff included), but no later
/// than the end of the lease, when normal polling resumes unless the lease
/// was renewed. Without a live lease, `decided` as it is.
pub fn while_pushed(
    decided: DateTime<Utc>,
    now: DateTime<Utc>,
    live_until: Option<DateTime<Utc>>,
    max_interval: Duration,
) -> DateTime<Utc> {
    match live_until.filter(|until| *until > now) {
        Some(until) => {
            let net =
                now + chrono::Duration::from_std(max_interval).unwrap_or(chrono::Duration::MAX);
            decided.max(net.min(until))
        }
        None => decided,
    }
}

/// Exponential backoff with full jitter, starting from the interval: after
/// the n-th failure in a row the wait is drawn uniformly between the interval
/// and `interval × 2ⁿ`, capped at `backoff_cap`. Never zero, never "give up":
/// the source is tried again at the cap for as long as it fails.
pub fn backoff(cadence: &Cadence, failures: u32, dice: f64) -> Duration {
    let base = cadence.base(None);
    let cap = cadence.backoff_cap.max(base);
    let factor = 2u32.saturating_pow(failures.min(30));
    let upper = base.saturating_mul(factor).min(cap);
    base + (upper - base).mul_f64(dice.clamp(0.0, 1.0))
}

/// Parses a `Retry-After` value: seconds, or an HTTP date (relative to
/// `now`). A date in the past means "now".
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at: DateTime<Utc> = at.into();
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// How long the response says it stays fresh: `Cache-Control: max-age`
/// (which wins), else `Expires` relative to `now`.
pub fn freshness(
    cache_control: Option<&str>,
    expires: Option<&str>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if let Some(cc) = cache_control {
        let max_age = cc.split(',').find_map(|d| {
            let (name, value) = d.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        });
        if let Some(secs) = max_age {
            return Some(Duration::from_secs(secs));
        }
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(expires?.trim()).ok()?.into();
    (at - now).to_std().ok()
}

/// What the source's permanent-redirect bookkeeping becomes after a poll.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Moved {
    /// The URL polled instead of the configured one.
    pub effective_url: Option<String>,
    /// The URL a permanent redirect pointed to.
    pub moved_to: Option<String>,
    /// How many polls in a row it has answered.
    pub count: u32,
}

/// How many consistent answers from a permanently moved URL make wiredesk
/// tell the operator to update the config.
pub const MOVED_CONFIRMATIONS: u32 = 3;

/// How many polls in a row must be sent by a permanent redirect to the same
/// URL, and be answered there with a feed, before wiredesk polls that URL
/// instead of the configured one (#20). One `301` moved a source anywhere:
/// a hijacked or misconfigured server answering once had every later poll
/// sent where it pointed. Two polls apart, the move is the publisher's
/// standing answer, not one response.
pub const MOVED_ADOPTIONS: u32 = 2;

/// Updates the redirect bookkeeping after a poll of `target` that answered.
/// `permanent` is the final URL when every redirect hop was permanent
/// (301/308); `None` when the target answered without redirects or with a
/// temporary one (302/307 keep the URL polled). `feed` says whether the
/// answer was a feed (a new body that parsed, or the same body or a `304`
/// as before): a redirect to something that is not a feed teaches nothing.
pub fn after_answer(before: &Moved, target: &str, permanent: Option<&str>, feed: bool) -> Moved {
    match permanent {
        Some(_) if !feed => before.clone(),
        Some(new_url) => {
            let count = if before.moved_to.as_deref() == Some(new_url) {
                before.count.saturating_add(1)
            } else {
                1
            };
            Moved {
                effective_url: if count >= MOVED_ADOPTIONS {
                    Some(new_url.to_owned())
                } else {
                    before.effective_url.clone()
                },
                moved_to: Some(new_url.to_owned()),
                count,
            }
        }
        None if before.moved_to.as_deref() == Some(target) && feed => Moved {
            count: before.count.saturating_add(1),
            ..before.clone()
        },
        None => before.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MIN: Duration = Duration::from_secs(60);

    fn cadence(interval_min: u64) -> Cadence {
        Cadence {
            interval: MIN * interval_min as u32,
            min_interval: MIN,
            max_interval: MIN * 120,
            jitter: 0.1,
            backoff_cap: MIN * 60 * 24,
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    fn mins(d: DateTime<Utc>) -> f64 {
        (d - t0()).num_seconds() as f64 / 60.0
    }

    #[test]
    fn a_success_is_due_one_interval_later_plus_up_to_ten_percent() {
        let c = cadence(15);
        assert_eq!(
            mins(next_poll(&c, Attempt::Answered { hint: None }, t0(), 0.0)),
            15.0
        );
        assert_eq!(
            mins(next_poll(&c, Attempt::Answered { hint: None }, t0(), 0.5)),
            15.75
        );
    }

    #[test]
    fn a_hint_lengthens_the_interval_up_to_the_maximum_but_never_shortens_it() {
        let c = cadence(15);
        assert_eq!(c.base(Some(MIN * 60)), MIN * 60);
        assert_eq!(c.base(Some(MIN * 600)), MIN * 120);
        assert_eq!(c.base(Some(MIN)), MIN * 15);
    }

    #[test]
    fn an_interval_below_the_floor_is_raised_to_it() {
        let mut c = cadence(15);
        c.interval = Duration::from_secs(10);
        assert_eq!(c.base(None), MIN);
    }

    #[test]
    fn backoff_grows_exponentially_from_the_interval_to_the_cap() {
        let c = cadence(15);
        // The upper bound doubles with each failure in a row...
        let uppers: Vec<f64> = (1..=8)
            .map(|n| backoff(&c, n, 1.0).as_secs_f64() / 60.0)
            .collect();
        assert_eq!(
            uppers,
            [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1440.0, 1440.0]
        );
        // ...and the lower bound is always the interval (full jitter above it).
        for n in 1..=20 {
            assert_eq!(backoff(&c, n, 0.0), MIN * 15);
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_a_day() {
        let c = cadence(15);
        let asked = |secs| Attempt::Failed {
            failures: 1,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(mins(next_poll(&c, asked(7200), t0(), 0.0)), 120.0);
        assert_eq!(
            mins(next_poll(&c, asked(30 * 24 * 3600), t0(), 0.0)),
            1440.0
        );
        // A short Retry-After does not make us poll sooner than the backoff.
        assert_eq!(mins(next_poll(&c, asked(5), t0(), 0.0)), 15.0);
    }

    #[test]
    fn a_gone_source_is_tried_again_daily() {
        assert_eq!(
            mins(next_poll(&cadence(15), Attempt::Gone, t0(), 0.5)),
            1440.0
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        assert_eq!(
            parse_retry_after("120", t0()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 12:30:00 GMT", t0()),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            parse_retry_after("Sat, 28 Nov 2026 11:00:00 GMT", t0()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", t0()), None);
    }

    #[test]
    fn freshness_prefers_max_age_over_expires() {
        let expires = Some("Sat, 28 Nov 2026 13:00:00 GMT");
        assert_eq!(
            freshness(Some("public, max-age=600"), expires, t0()),
            Some(Duration::from_secs(600))
        );
        assert_eq!(freshness(Some("no-cache"), expires, t0()), Some(MIN * 60));
        assert_eq!(freshness(None, Some("garbage"), t0()), None);
    }

    #[test]
    fn a_permanent_move_is_followed_on_its_second_feed_and_counted_until_confirmed() {
        let (old, new) = ("http://old/feed", "http://new/feed");
        let start = Moved::default();
        let once = after_answer(&start, old, Some(new), true);
        assert_eq!(once.effective_url, None, "one 301 is not a move yet");
        assert_eq!((once.moved_to.as_deref(), once.count), (Some(new), 1));
        let twice = after_answer(&once, old, Some(new), true);
        assert_eq!(twice.effective_url.as_deref(), Some(new));
        assert_eq!(twice.count, MOVED_ADOPTIONS);
        let third = after_answer(&twice, new, None, true);
        assert_eq!(third.count, MOVED_CONFIRMATIONS);
        assert_eq!(third.effective_url.as_deref(), Some(new));
    }

    #[test]
    fn a_permanent_redirect_to_something_not_a_feed_is_not_followed() {
        let start = Moved::default();
        let (old, new) = ("http://old/feed", "http://new/login");
        assert_eq!(after_answer(&start, old, Some(new), false), start);
        // Nor does it count towards a move seen before.
        let once = after_answer(&start, old, Some(new), true);
        assert_eq!(after_answer(&once, old, Some(new), false), once);
        // A redirect elsewhere starts the count again.
        let other = after_answer(&once, old, Some("http://third/feed"), true);
        assert_eq!((other.count, other.effective_url), (1, None));
    }

    #[test]
    fn a_temporary_redirect_keeps_the_url_polled() {
        let start = Moved::default();
        assert_eq!(after_answer(&start, "http://old/feed", None, true), start);
    }

    #[test]
    fn a_pushed_source_is_polled_at_max_interval_until_its_lease_ends() {
        use chrono::TimeZone;
        let at = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap();
        let hour = Duration::from_secs(3600);
        // Live for days: the safety net, an hour on.
        assert_eq!(
            while_pushed(at(10, 15), at(10, 0), Some(at(23, 0)), hour),
            at(11, 0)
        );
        // The lease ends sooner: polled when it ends.
        assert_eq!(
            while_pushed(at(10, 15), at(10, 0), Some(at(10, 30)), hour),
            at(10, 30)
        );
        // A backoff longer than the net is kept.
        assert_eq!(
            while_pushed(at(14, 0), at(10, 0), Some(at(23, 0)), hour),
            at(14, 0)
        );
        // No lease, or a lapsed one: the usual schedule.
        assert_eq!(while_pushed(at(10, 15), at(10, 0), None, hour), at(10, 15));
        assert_eq!(
            while_pushed(at(10, 15), at(10, 0), Some(at(9, 0)), hour),
            at(10, 15)
        );
    }
}
