//! Subscriptions to publishers' WebSub hubs (#16, the subscriber side):
//! one row per source at most, in `websub_subscriptions`. The subscriber
//! (`poll::websub`) decides; these methods only read and write what it
//! decided, and count the pushes the callback receives.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use url::Url;

use super::{Store, StoreError, from_unix};
use crate::model::SourceId;

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Asked for; the hub has not verified it yet.
    Subscribing,
    /// Verified: the hub pushes until `lease_until`.
    Subscribed,
    /// The source left the config: unsubscription asked, not yet verified.
    Unsubscribing,
    /// The hub refused it (`hub.mode=denied`); tried again at `retry_at`.
    Denied,
    /// The hub could not be reached, refused the request, or never
    /// verified; tried again at `retry_at`.
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Subscribing => "subscribing",
            Phase::Subscribed => "subscribed",
            Phase::Unsubscribing => "unsubscribing",
            Phase::Denied => "denied",
            Phase::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Phase {
        match text {
            "subscribing" => Phase::Subscribing,
            "subscribed" => Phase::Subscribed,
            "unsubscribing" => Phase::Unsubscribing,
            "denied" => Phase::Denied,
            _ => Phase::Failed,
        }
    }
}

/// One source's subscription to a hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub source: SourceId,
    pub hub: Url,
    pub topic: Url,
    /// The callback URL's last segment: only the hub knows it.
    pub token: String,
    /// The `hub.secret` the hub signs pushes with.
    pub secret: String,
    pub phase: Phase,
    /// When the last subscribe or unsubscribe request was sent.
    pub requested_at: DateTime<Utc>,
    pub verified_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    /// When a denied or failed subscription is asked for again.
    pub retry_at: Option<DateTime<Utc>>,
    /// Requests in a row that failed or were denied.
    pub failures: u32,
    pub last_error: Option<String>,
    pub last_push_at: Option<DateTime<Utc>>,
    /// Pushes received with a good signature, and with a bad or none.
    pub pushes: u64,
    pub bad_signatures: u64,
}

/// The columns [`subscription`] maps, in its order.
const COLUMNS: &str = "source_id, hub, topic, token, secret, phase, requested_at, verified_at,
    lease_until, retry_at, failures, last_error, last_push_at, pushes, bad_signatures";

fn subscription(row: &Row<'_>) -> rusqlite::Result<Subscription> {
    let url = |i: usize| -> rusqlite::Result<Url> {
        let text: String = row.get(i)?;
        Url::parse(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    };
    let time = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(row.get::<_, Option<i64>>(i)?.map(from_unix))
    };
    Ok(Subscription {
        source: SourceId::new(row.get::<_, String>(0)?),
        hub: url(1)?,
        topic: url(2)?,
        token: row.get(3)?,
        secret: row.get(4)?,
        phase: Phase::parse(&row.get::<_, String>(5)?),
        requested_at: from_unix(row.get(6)?),
        verified_at: time(7)?,
        lease_until: time(8)?,
        retry_at: time(9)?,
        failures: row.get(10)?,
        last_error: row.get(11)?,
        last_push_at: time(12)?,
        pushes: u64::try_from(row.get::<_, i64>(13)?).unwrap_or(0),
        bad_signatures: u64::try_from(row.get::<_, i64>(14)?).unwrap_or(0),
    })
}

impl Store {
    /// Every subscription, by source id.
    pub fn websub_subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM websub_subscriptions ORDER BY source_id"
        ))?;
        let rows = stmt.query_map([], subscription)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The subscription of `source`, if it has one.
    pub fn websub_subscription(
        &self,
        source: &SourceId,
    ) -> Result<Option<Subscription>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM websub_subscriptions WHERE source_id = ?1"
        ))?;
        Ok(stmt.query_row([source.as_str()], subscription).optional()?)
    }

    /// The subscription whose callback ends in `token`, if any.
    pub fn websub_by_token(&self, token: &str) -> Result<Option<Subscription>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM websub_subscriptions WHERE token = ?1"
        ))?;
        Ok(stmt.query_row([token], subscription).optional()?)
    }

    /// Until when `source` is pushed to: the end of its lease when its
    /// subscription is verified and the lease runs past `now`.
    pub fn websub_live_until(
        &self,
        source: &SourceId,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.websub_subscription(source)?.and_then(|s| {
            (s.phase == Phase::Subscribed)
                .then_some(s.lease_until)
                .flatten()
                .filter(|until| *until > now)
        }))
    }

    /// Writes what the subscriber decided of `sub`: a new row, or the
    /// source's row replaced, keeping the push counts (the callback's).
    pub fn websub_save(&self, sub: &Subscription) -> Result<(), StoreError> {
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp());
        self.writer()
            .prepare_cached(
                "INSERT INTO websub_subscriptions (source_id, hub, topic, token, secret, phase,
                    requested_at, verified_at, lease_until, retry_at, failures, last_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT (source_id) DO UPDATE SET
                    hub = excluded.hub, topic = excluded.topic, token = excluded.token,
                    secret = excluded.secret, phase = excluded.phase,
                    requested_at = excluded.requested_at, verified_at = excluded.verified_at,
                    lease_until = excluded.lease_until, retry_at = excluded.retry_at,
                    failures = excluded.failures, last_error = excluded.last_error",
            )?
            .execute(params![
                sub.source.as_str(),
                sub.hub.as_str(),
                sub.topic.as_str(),
                sub.token,
                sub.secret,
                sub.phase.as_str(),
                sub.requested_at.timestamp(),
                time(sub.verified_at),
                time(sub.lease_until),
                time(sub.retry_at),
                sub.failures,
                sub.last_error,
            ])?;
        Ok(())
    }

    /// Counts a push to the callback `token` at `at`: signed as it should
    /// be (`good`), or not.
    pub fn websub_pushed(
        &self,
        token: &str,
        at: DateTime<Utc>,
        good: bool,
    ) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached(
                "UPDATE websub_subscriptions SET
                    pushes = pushes + iif(?3, 1, 0),
                    bad_signatures = bad_signatures + iif(?3, 0, 1),
                    last_push_at = iif(?3, ?2, last_push_at)
                 WHERE token = ?1",
            )?
            .execute(params![token, at.timestamp(), good])?;
        Ok(())
    }

    /// Deletes the subscription of `source` (its unsubscription was
    /// verified, or it was never live).
    pub fn websub_forget(&self, source: &SourceId) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached("DELETE FROM websub_subscriptions WHERE source_id = ?1")?
            .execute([source.as_str()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;
    use crate::store::testing;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, hour, 0, 0).unwrap()
    }

    fn pending() -> Subscription {
        Subscription {
            source: SourceId::new("agency"),
            hub: Url::parse("https://hub.example/").unwrap(),
            topic: Url::parse("https://agency.example/feed").unwrap(),
            token: "t0ken".into(),
            secret: "s3cret".into(),
            phase: Phase::Subscribing,
            requested_at: at(1),
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

    #[test]
    fn a_subscription_survives_reopening_the_database_with_its_push_counts() {
        let (dir, store) = testing::sources(&["agency"]);
        store.websub_save(&pending()).unwrap();
        let verified = Subscription {
            phase: Phase::Subscribed,
            verified_at: Some(at(2)),
            lease_until: Some(at(12)),
            ..pending()
        };
        store.websub_save(&verified).unwrap();
        store.websub_pushed("t0ken", at(3), true).unwrap();
        store.websub_pushed("t0ken", at(4), false).unwrap();
        store.websub_save(&verified).unwrap();
        drop(store);
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let found = store.websub_by_token("t0ken").unwrap().unwrap();
        assert_eq!(
            found,
            Subscription {
                last_push_at: Some(at(3)),
                pushes: 1,
                bad_signatures: 1,
                ..verified
            }
        );
        let agency = SourceId::new("agency");
        assert_eq!(
            store.websub_live_until(&agency, at(5)).unwrap(),
            Some(at(12))
        );
        assert_eq!(store.websub_live_until(&agency, at(13)).unwrap(), None);
        store.websub_forget(&agency).unwrap();
        assert!(store.websub_subscriptions().unwrap().is_empty());
    }
}
