//! The subscriber's decisions, pure, with the clock passed in: what to do
//! with a source's subscription now ([`step`]), whether a poll's links ask
//! for a new one ([`wants_new`]), whether a hub's verification of intent
//! matches a request we made ([`verify`]), and how long a failed one waits.

use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use crate::store::{Phase, Subscription};

/// How long a hub has to verify a request before it counts as failed
/// (hubs verify asynchronously, usually within seconds).
pub const VERIFY_WAIT: Duration = Duration::from_secs(10 * 60);

/// The shortest and longest lease taken as granted: a hub that grants
/// seconds would have us renew in a loop; one that grants years is
/// renewed within one anyway.
pub const MIN_LEASE: Duration = Duration::from_secs(60);
pub const MAX_LEASE: Duration = Duration::from_secs(366 * 24 * 3600);

/// The first wait after a failed or denied request, doubled per failure in
/// a row up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(5 * 60);
pub const MAX_RETRY: Duration = Duration::from_secs(24 * 3600);

/// What to do with one subscription now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ask the hub (again) with the same callback and secret.
    Subscribe,
    /// Ask the hub to stop pushing: the source left the config or has
    /// `websub = false`.
    Unsubscribe,
    /// Delete the row: nothing to tell the hub.
    Forget,
    /// The hub never verified the request: count it failed.
    Fail(String),
    /// Nothing until then.
    Wait(DateTime<Utc>),
}

fn add(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// When a verified lease is renewed: a tenth of it before it ends, and at
/// most an hour before.
pub fn renew_at(verified_at: DateTime<Utc>, lease_until: DateTime<Utc>) -> DateTime<Utc> {
    let lease = (lease_until - verified_at).max(chrono::Duration::zero());
    lease_until - (lease / 10).min(chrono::Duration::hours(1))
}

/// When a request that failed `failures` times in a row is tried again.
pub fn retry_at(failures: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let wait = FIRST_RETRY
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(MAX_RETRY);
    add(now, wait)
}

/// What to do with `sub` at `now`; `wanted` is whether its source is still
/// configured with push on.
pub fn step(sub: &Subscription, wanted: bool, now: DateTime<Utc>) -> Step {
    let deadline = add(sub.requested_at, VERIFY_WAIT);
    let retry = |at: Option<DateTime<Utc>>| match at {
        Some(at) if at > now => Step::Wait(at),
        _ => Step::Subscribe,
    };
    match (wanted, sub.phase) {
        (false, Phase::Subscribed | Phase::Subscribing) => Step::Unsubscribe,
        (false, Phase::Unsubscribing) if now < deadline => Step::Wait(deadline),
        (false, _) => Step::Forget,
        (true, Phase::Subscribing) if now < deadline => Step::Wait(deadline),
        (true, Phase::Subscribing) => Step::Fail(format!(
            "the hub did not verify the subscription within {}",
            humantime::format_duration(VERIFY_WAIT)
        )),
        // A renewal asked for and not yet verified: the old lease holds
        // meanwhile; unverified in time, the hub has failed.
        (true, Phase::Subscribed) if sub.verified_at.is_some_and(|v| v < sub.requested_at) => {
            if now < deadline {
                Step::Wait(deadline)
            } else {
                Step::Fail(format!(
                    "the hub did not verify the renewal within {}",
                    humantime::format_duration(VERIFY_WAIT)
                ))
            }
        }
        (true, Phase::Subscribed) => match (sub.verified_at, sub.lease_until) {
            (Some(from), Some(until)) => retry(Some(renew_at(from, until))),
            _ => Step::Subscribe,
        },
        (true, Phase::Unsubscribing) => Step::Subscribe,
        (true, Phase::Denied | Phase::Failed) => retry(sub.retry_at),
    }
}

/// Whether a poll's links (`hub`, `topic`) ask for a new subscription of a
/// source whose subscription is `sub`: when it has none, or its hub or
/// topic changed. A failed or denied one waits for its retry ([`step`]).
pub fn wants_new(sub: Option<&Subscription>, hub: &Url, topic: &Url) -> bool {
    sub.is_none_or(|s| s.hub != *hub || s.topic != *topic || s.phase == Phase::Unsubscribing)
}

/// A hub's verification of intent (WebSub §5.3), as its query says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub mode: String,
    pub topic: String,
    pub challenge: Option<String>,
    pub lease_seconds: Option<String>,
    pub reason: Option<String>,
}

/// What to answer a verification, and what it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Echo the challenge: the subscription is live until `lease_until`.
    Subscribed {
        challenge: String,
        lease_until: DateTime<Utc>,
    },
    /// Echo the challenge: the unsubscription we asked for is done.
    Unsubscribed { challenge: String },
    /// The hub refused the subscription; answer 200.
    Denied { reason: String },
    /// Not a request we made: answer 404, change nothing.
    Refused(&'static str),
}

/// Whether `v`, sent to the callback of `sub` (none: an unknown callback),
/// verifies a request we made, and what follows. `asked` is the lease we
/// asked for, taken when the hub names none.
pub fn verify(
    sub: Option<&Subscription>,
    v: &Verification,
    asked: Duration,
    now: DateTime<Utc>,
) -> Verdict {
    let Some(sub) = sub else {
        return Verdict::Refused("no subscription has this callback");
    };
    if Url::parse(&v.topic).ok().as_ref() != Some(&sub.topic) {
        return Verdict::Refused("not the topic this callback subscribed to");
    }
    let challenge = v.challenge.clone().filter(|c| !c.is_empty());
    match (v.mode.as_str(), sub.phase, challenge) {
        ("subscribe", Phase::Subscribing | Phase::Subscribed, Some(challenge)) => {
            let lease = v
                .lease_seconds
                .as_deref()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map_or(asked, Duration::from_secs)
                .clamp(MIN_LEASE, MAX_LEASE);
            Verdict::Subscribed {
                challenge,
                lease_until: add(now, lease),
            }
        }
        ("unsubscribe", Phase::Unsubscribing, Some(challenge)) => {
            Verdict::Unsubscribed { challenge }
        }
        ("denied", Phase::Subscribing | Phase::Subscribed, _) => Verdict::Denied {
            reason: v
                .reason
                .as_deref()
                .map(|r| r.chars().take(200).collect())
                .unwrap_or_else(|| "no reason given".to_owned()),
        },
        ("subscribe" | "unsubscribe", _, None) => Verdict::Refused("no hub.challenge"),
        _ => Verdict::Refused("not a request this callback made"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;
    use crate::model::SourceId;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, h, m, 0).unwrap()
    }

    fn sub(phase: Phase) -> Subscription {
        Subscription {
            source: SourceId::new("agency"),
            hub: Url::parse("https://hub.example/").unwrap(),
            topic: Url::parse("https://agency.example/feed").unwrap(),
            token: "t".into(),
            secret: "s".into(),
            phase,
            requested_at: at(10, 0),
            verified_at: None,
            lease_until: None,
            retry_at: None,
            failures: 0,
            last_error: None,
            last_push_at: None,
            pushes: 0,
            bad_signatures: 0,
        }
    }

    fn verification(mode: &str, topic: &str) -> Verification {
        Verification {
            mode: mode.into(),
            topic: topic.into(),
            challenge: Some("c-123".into()),
            lease_seconds: Some("86400".into()),
            reason: None,
        }
    }

    #[test]
    fn a_ten_day_lease_is_renewed_an_hour_before_it_ends_and_a_ten_minute_one_a_minute_before() {
        assert_eq!(
            renew_at(at(0, 0), at(0, 0) + chrono::Duration::days(10)),
            at(23, 0) + chrono::Duration::days(9)
        );
        assert_eq!(renew_at(at(10, 0), at(10, 10)), at(10, 9));
    }

    #[test]
    fn a_verified_subscription_waits_for_its_renewal_then_renews() {
        let live = Subscription {
            verified_at: Some(at(10, 0)),
            lease_until: Some(at(10, 10)),
            ..sub(Phase::Subscribed)
        };
        assert_eq!(step(&live, true, at(10, 5)), Step::Wait(at(10, 9)));
        assert_eq!(step(&live, true, at(10, 9)), Step::Subscribe);
        assert_eq!(step(&live, true, at(11, 0)), Step::Subscribe, "lapsed");
    }

    #[test]
    fn a_renewal_the_hub_never_verifies_fails_and_one_it_verifies_waits_for_the_next() {
        let renewing = Subscription {
            verified_at: Some(at(9, 0)),
            lease_until: Some(at(10, 5)),
            requested_at: at(10, 0),
            ..sub(Phase::Subscribed)
        };
        assert_eq!(step(&renewing, true, at(10, 1)), Step::Wait(at(10, 10)));
        assert!(matches!(step(&renewing, true, at(10, 10)), Step::Fail(_)));
    }

    #[test]
    fn a_request_the_hub_never_verifies_fails_after_ten_minutes() {
        let pending = sub(Phase::Subscribing);
        assert_eq!(step(&pending, true, at(10, 9)), Step::Wait(at(10, 10)));
        assert!(matches!(step(&pending, true, at(10, 10)), Step::Fail(_)));
    }

    #[test]
    fn a_source_leaving_the_config_is_unsubscribed_and_then_forgotten() {
        assert_eq!(
            step(&sub(Phase::Subscribed), false, at(10, 0)),
            Step::Unsubscribe
        );
        assert_eq!(
            step(&sub(Phase::Subscribing), false, at(10, 0)),
            Step::Unsubscribe
        );
        let leaving = sub(Phase::Unsubscribing);
        assert_eq!(step(&leaving, false, at(10, 1)), Step::Wait(at(10, 10)));
        assert_eq!(step(&leaving, false, at(10, 10)), Step::Forget);
        assert_eq!(step(&sub(Phase::Failed), false, at(10, 0)), Step::Forget);
        assert_eq!(
            step(&leaving, true, at(10, 1)),
            Step::Subscribe,
            "back in the config"
        );
    }

    #[test]
    fn failed_requests_wait_five_minutes_doubling_up_to_a_day() {
        assert_eq!(retry_at(1, at(10, 0)), at(10, 5));
        assert_eq!(retry_at(2, at(10, 0)), at(10, 10));
        assert_eq!(retry_at(3, at(10, 0)), at(10, 20));
        assert_eq!(
            retry_at(40, at(10, 0)),
            at(10, 0) + chrono::Duration::days(1)
        );
        let failed = Subscription {
            retry_at: Some(at(10, 5)),
            ..sub(Phase::Failed)
        };
        assert_eq!(step(&failed, true, at(10, 1)), Step::Wait(at(10, 5)));
        assert_eq!(step(&failed, true, at(10, 5)), Step::Subscribe);
    }

    #[test]
    fn a_new_hub_or_topic_asks_for_a_new_subscription_and_the_same_one_does_not() {
        let s = sub(Phase::Subscribed);
        let other = Url::parse("https://other.example/").unwrap();
        assert!(wants_new(None, &s.hub, &s.topic));
        assert!(!wants_new(Some(&s), &s.hub, &s.topic));
        assert!(wants_new(Some(&s), &other, &s.topic));
        assert!(wants_new(Some(&s), &s.hub, &other));
        assert!(!wants_new(Some(&sub(Phase::Failed)), &s.hub, &s.topic));
    }

    #[test]
    fn the_challenge_is_echoed_only_for_the_topic_and_mode_we_asked_for() {
        let pending = sub(Phase::Subscribing);
        let topic = "https://agency.example/feed";
        assert_eq!(
            verify(
                Some(&pending),
                &verification("subscribe", topic),
                Duration::ZERO,
                at(10, 1)
            ),
            Verdict::Subscribed {
                challenge: "c-123".into(),
                lease_until: at(10, 1) + chrono::Duration::days(1)
            }
        );
        let forged = verification("subscribe", "https://evil.example/feed");
        assert!(matches!(
            verify(Some(&pending), &forged, Duration::ZERO, at(10, 1)),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            verify(
                None,
                &verification("subscribe", topic),
                Duration::ZERO,
                at(10, 1)
            ),
            Verdict::Refused(_)
        ));
        assert!(
            matches!(
                verify(
                    Some(&pending),
                    &verification("unsubscribe", topic),
                    Duration::ZERO,
                    at(10, 1)
                ),
                Verdict::Refused(_)
            ),
            "an unsubscription we did not ask for"
        );
        assert_eq!(
            verify(
                Some(&sub(Phase::Unsubscribing)),
                &verification("unsubscribe", topic),
                Duration::ZERO,
                at(10, 1)
            ),
            Verdict::Unsubscribed {
                challenge: "c-123".into()
            }
        );
    }

    #[test]
    fn a_lease_the_hub_does_not_name_is_the_one_asked_and_a_tiny_one_a_minute() {
        let pending = sub(Phase::Subscribing);
        let mut v = verification("subscribe", "https://agency.example/feed");
        v.lease_seconds = None;
        let asked = Duration::from_secs(3600);
        assert!(matches!(
            verify(Some(&pending), &v, asked, at(10, 0)),
            Verdict::Subscribed { lease_until, .. } if lease_until == at(11, 0)
        ));
        v.lease_seconds = Some("1".into());
        assert!(matches!(
            verify(Some(&pending), &v, asked, at(10, 0)),
            Verdict::Subscribed { lease_until, .. } if lease_until == at(10, 1)
        ));
    }

    #[test]
    fn a_denial_is_recorded_with_its_reason() {
        let mut v = verification("denied", "https://agency.example/feed");
        v.reason = Some("not allowed".into());
        assert_eq!(
            verify(
                Some(&sub(Phase::Subscribing)),
                &v,
                Duration::ZERO,
                at(10, 0)
            ),
            Verdict::Denied {
                reason: "not allowed".into()
            }
        );
    }
}
