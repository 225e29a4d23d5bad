//! The hub's subscriptions (#16): who is subscribed to which topic, until
//! when, and how far deliveries to each have got. Written by the hub
//! (`crate::hub`) only; none of it changes a feed, so nothing here bumps
//! the generation.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{PageKey, Store, StoreError, from_unix};

/// One verified subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSubscription {
    /// The canonical self URL of a served feed variant.
    pub topic: String,
    pub callback: String,
    /// The `hub.secret` the subscriber gave: deliveries are signed with it.
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The feed position of the newest entry sent (or offered at
    /// subscription): a delivery carries what arrived after it.
    pub cursor: PageKey,
    /// Deliveries failed in a row.
    pub failures: u32,
    /// Since when it has failed without a success in between.
    pub failing_since: Option<DateTime<Utc>>,
    /// When the next retry of a failed delivery is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// Why a new subscription was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubLimit {
    /// `websub.max_subscriptions` are held.
    Total(usize),
    /// `websub.max_per_topic` are held for this topic.
    PerTopic(usize),
}

/// The columns [`subscription`] reads, in its order.
const COLUMNS: &str = "topic, callback, secret, created_at, expires_at, cursor_date, cursor_id, \
                       failures, failing_since, next_attempt_at";

fn subscription(row: &Row<'_>) -> rusqlite::Result<HubSubscription> {
    Ok(HubSubscription {
        topic: row.get(0)?,
        callback: row.get(1)?,
        secret: row.get(2)?,
        created_at: from_unix(row.get(3)?),
        expires_at: from_unix(row.get(4)?),
        cursor: PageKey {
            date: row.get(5)?,
            id: row.get(6)?,
        },
        failures: row.get(7)?,
        failing_since: row.get::<_, Option<i64>>(8)?.map(from_unix),
        next_attempt_at: row.get::<_, Option<i64>>(9)?.map(from_unix),
    })
}

impl Store {
    /// Stores a verified subscription, or renews one (a new lease and
    /// secret; its cursor and failure record stay). A new one is refused
    /// when the limits are reached; expired ones are deleted first, so they
    /// never count.
    pub fn hub_subscribe(
        &self,
        new: &HubSubscription,
        max_total: usize,
        max_per_topic: usize,
        now: DateTime<Utc>,
    ) -> Result<Result<(), HubLimit>, StoreError> {
        let mut conn = self.writer();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM hub_subscriptions WHERE expires_at <= ?",
            [now.timestamp()],
        )?;
        let renewed = tx.execute(
            "UPDATE hub_subscriptions SET secret = ?, expires_at = ?
             WHERE topic = ? AND callback = ?",
            params![
                new.secret,
                new.expires_at.timestamp(),
                new.topic,
                new.callback
            ],
        )?;
        if renewed == 0 {
            let (total, on_topic): (i64, i64) = tx.query_row(
                "SELECT count(*), count(*) FILTER (WHERE topic = ?) FROM hub_subscriptions",
                [&new.topic],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if usize::try_from(total).unwrap_or(usize::MAX) >= max_total {
                return Ok(Err(HubLimit::Total(max_total)));
            }
            if usize::try_from(on_topic).unwrap_or(usize::MAX) >= max_per_topic {
                return Ok(Err(HubLimit::PerTopic(max_per_topic)));
            }
            tx.execute(
                &format!(
                    "INSERT INTO hub_subscriptions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)"
                ),
                params![
                    new.topic,
                    new.callback,
                    new.secret,
                    new.created_at.timestamp(),
                    new.expires_at.timestamp(),
                    new.cursor.date,
                    new.cursor.id
                ],
            )?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    /// Whether `callback` holds a subscription to `topic` (expired or not).
    pub fn hub_subscription(
        &self,
        topic: &str,
        callback: &str,
    ) -> Result<Option<HubSubscription>, StoreError> {
        let conn = self.reader()?;
        let sql =
            format!("SELECT {COLUMNS} FROM hub_subscriptions WHERE topic = ? AND callback = ?");
        Ok(conn
            .query_row(&sql, [topic, callback], subscription)
            .optional()?)
    }

    /// How many subscriptions are held, all topics together and for
    /// `topic`, leaving out those expired at `now`.
    pub fn hub_counts(
        &self,
        topic: &str,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize), StoreError> {
        let conn = self.reader()?;
        let (total, on_topic): (i64, i64) = conn.query_row(
            "SELECT count(*), count(*) FILTER (WHERE topic = ?)
             FROM hub_subscriptions WHERE expires_at > ?",
            params![topic, now.timestamp()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let size = |n: i64| usize::try_from(n).unwrap_or(0);
        Ok((size(total), size(on_topic)))
    }

    /// Every subscription held, expired ones too (the hub deletes those
    /// with [`Store::hub_expire`]), by topic.
    pub fn hub_subscriptions(&self) -> Result<Vec<HubSubscription>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM hub_subscriptions ORDER BY topic, callback"
        ))?;
        let rows = stmt.query_map([], subscription)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes one subscription (unsubscribed, or dropped); whether it was
    /// there.
    pub fn hub_unsubscribe(&self, topic: &str, callback: &str) -> Result<bool, StoreError> {
        let n = self.writer().execute(
            "DELETE FROM hub_subscriptions WHERE topic = ? AND callback = ?",
            [topic, callback],
        )?;
        Ok(n > 0)
    }

    /// Deletes the subscriptions whose lease ended by `now`; how many.
    pub fn hub_expire(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.writer().execute(
            "DELETE FROM hub_subscriptions WHERE expires_at <= ?",
            [now.timestamp()],
        )?)
    }

    /// Records a delivery's outcome: the new cursor after a success, the
    /// failure record (cleared on success). A subscription deleted
    /// meanwhile stays deleted.
    pub fn hub_record_delivery(&self, after: &HubSubscription) -> Result<(), StoreError> {
        self.writer().execute(
            "UPDATE hub_subscriptions
             SET cursor_date = ?, cursor_id = ?, failures = ?, failing_since = ?,
                 next_attempt_at = ?
             WHERE topic = ? AND callback = ?",
            params![
                after.cursor.date,
                after.cursor.id,
                after.failures,
                after.failing_since.map(|t| t.timestamp()),
                after.next_attempt_at.map(|t| t.timestamp()),
                after.topic,
                after.callback
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn sub(topic: &str, callback: &str, expires: i64) -> HubSubscription {
        HubSubscription {
            topic: topic.into(),
            callback: callback.into(),
            secret: None,
            created_at: at(0),
            expires_at: at(expires),
            cursor: PageKey { date: 5, id: 7 },
            failures: 0,
            failing_since: None,
            next_attempt_at: None,
        }
    }

    #[test]
    fn subscriptions_are_bounded_per_topic_and_in_all_and_expired_ones_do_not_count() {
        let (_dir, store) = crate::store::testing::agency_and_outlet();
        let a = "https://desk.example/feed.atom";
        let r = "https://desk.example/feed.rss";
        assert_eq!(
            store
                .hub_subscribe(&sub(a, "https://s1.example/", 100), 3, 2, at(0))
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            store
                .hub_subscribe(&sub(a, "https://s2.example/", 10), 3, 2, at(0))
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            store
                .hub_subscribe(&sub(a, "https://s3.example/", 100), 3, 2, at(0))
                .unwrap(),
            Err(HubLimit::PerTopic(2))
        );
        // A renewal is not a new subscription.
        let mut renewed = sub(a, "https://s1.example/", 200);
        renewed.secret = Some("new secret".into());
        assert_eq!(store.hub_subscribe(&renewed, 3, 2, at(0)).unwrap(), Ok(()));
        assert_eq!(
            store
                .hub_subscribe(&sub(r, "https://s1.example/", 100), 3, 2, at(0))
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            store
                .hub_subscribe(&sub(r, "https://s2.example/", 100), 3, 2, at(0))
                .unwrap(),
            Err(HubLimit::Total(3))
        );
        // s2's lease on the Atom topic ended at 10: it no longer counts.
        assert_eq!(store.hub_counts(a, at(20)).unwrap(), (2, 1));
        assert_eq!(
            store
                .hub_subscribe(&sub(a, "https://s3.example/", 100), 3, 2, at(20))
                .unwrap(),
            Ok(())
        );
        let held = store
            .hub_subscription(a, "https://s1.example/")
            .unwrap()
            .unwrap();
        assert_eq!(held.expires_at, at(200));
        assert_eq!(held.secret.as_deref(), Some("new secret"));
        assert_eq!(held.cursor, PageKey { date: 5, id: 7 });
    }

    #[test]
    fn a_delivery_moves_the_cursor_and_expiry_and_unsubscription_delete() {
        let (_dir, store) = crate::store::testing::agency_and_outlet();
        let a = "https://desk.example/feed.atom";
        store
            .hub_subscribe(&sub(a, "https://s1.example/", 100), 9, 9, at(0))
            .unwrap()
            .unwrap();
        store
            .hub_subscribe(&sub(a, "https://s2.example/", 10), 9, 9, at(0))
            .unwrap()
            .unwrap();
        let mut after = sub(a, "https://s1.example/", 100);
        after.cursor = PageKey { date: 9, id: 12 };
        after.failures = 2;
        after.failing_since = Some(at(3));
        after.next_attempt_at = Some(at(8));
        store.hub_record_delivery(&after).unwrap();
        assert_eq!(
            store.hub_subscription(a, "https://s1.example/").unwrap(),
            Some(after)
        );
        assert_eq!(store.hub_expire(at(10)).unwrap(), 1);
        assert_eq!(store.hub_subscriptions().unwrap().len(), 1);
        assert!(store.hub_unsubscribe(a, "https://s1.example/").unwrap());
        assert!(!store.hub_unsubscribe(a, "https://s1.example/").unwrap());
        assert!(store.hub_subscriptions().unwrap().is_empty());
    }
}
