//! The desk page's questions (#19): what each source has stored, arrivals
//! per hour per source, and the stories with the most copies lately. Read
//! outside a write, on a reader connection; times are Unix seconds in SQL
//! and `DateTime<Utc>` out.

use chrono::{DateTime, Utc};

use super::items::{ITEM_COLUMNS, collect_stories};
use super::{Store, StoreError, from_unix};
use crate::model::{SourceId, Story};

/// What one source has stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceActivity {
    pub source: SourceId,
    /// Items stored now (retention deletes old ones).
    pub items: u64,
    /// When the newest of them was first stored.
    pub last_new_at: Option<DateTime<Utc>>,
}

/// Items of one source first stored in one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyArrivals {
    pub source: SourceId,
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    pub items: u64,
}

impl Store {
    /// Every source that has items stored, with how many and when its
    /// newest arrived (sources without items are not listed).
    pub fn source_activity(&self) -> Result<Vec<SourceActivity>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(
            "SELECT source_id, count(*), max(first_seen) FROM items
             GROUP BY source_id ORDER BY source_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(SourceActivity {
                source: SourceId::new(r.get::<_, String>(0)?),
                items: r.get::<_, i64>(1)?.max(0).unsigned_abs(),
                last_new_at: r.get::<_, Option<i64>>(2)?.map(from_unix),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Items first stored at or after `since`, counted per source and
    /// hour (hours start on the hour, UTC), in order of hour then source.
    pub fn arrivals_per_hour(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HourlyArrivals>, StoreError> {
        let conn = self.reader()?;
        // `items_by_arrival` (first_seen DESC) bounds the scan to the window.
        let mut stmt = conn.prepare_cached(
            "SELECT first_seen / 3600 AS hour, source_id, count(*) FROM items
             WHERE first_seen >= ?1
             GROUP BY hour, source_id ORDER BY hour, source_id",
        )?;
        let rows = stmt.query_map([since.timestamp()], |r| {
            Ok(HourlyArrivals {
                hour: from_unix(r.get::<_, i64>(0)? * 3600),
                source: SourceId::new(r.get::<_, String>(1)?),
                items: r.get::<_, i64>(2)?.max(0).unsigned_abs(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// What is running everywhere: the `limit` stories that arrived at or
    /// after `since` with the most copies (at least two), most first, then
    /// newest-arrived first; each with all its copies.
    pub fn most_copied(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Story>, StoreError> {
        let conn = self.reader()?;
        let mut stmt = conn.prepare_cached(&format!(
            "WITH top AS (
                SELECT st.id, st.uid, st.arrived_at, count(*) AS n
                FROM stories st JOIN items c ON c.story_id = st.id
                WHERE st.arrived_at >= ?1
                GROUP BY st.id HAVING n > 1
                ORDER BY n DESC, st.arrived_at DESC, st.id DESC LIMIT ?2
             )
             SELECT top.id, top.uid, {ITEM_COLUMNS}, top.arrived_at
             FROM top
             JOIN items i ON i.story_id = top.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY top.n DESC, top.arrived_at DESC, top.id DESC, i.id"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query(rusqlite::params![since.timestamp(), limit])?;
        collect_stories(rows)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::model::{Item, StoryId};

    fn item(n: u32) -> Item {
        Item {
            identity: format!("id-{n}"),
            title: format!("Story {n}"),
            link: Some(format!("https://x.example/{n}")),
            published: None,
            updated: None,
            author: None,
            summary: None,
            content: Some(format!("<p>body {n}</p>")),
            categories: vec![],
            enclosures: vec![],
        }
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, m, 0).unwrap()
    }

    /// Stores item `n` of `source` at `now`, as a copy of `story` or as a
    /// new story; returns its story.
    fn put(
        store: &Store,
        source: &str,
        n: u32,
        now: DateTime<Utc>,
        story: Option<StoryId>,
    ) -> StoryId {
        let source = SourceId::new(source);
        let it = item(n);
        let mut id = 0;
        store
            .write_poll(|tx| {
                id = match story {
                    Some(s) => s,
                    None => tx.insert_story(&source, &it.identity, now)?,
                };
                tx.insert_item(&source, id, &it, &[], 0, &[], now)?;
                Ok(())
            })
            .unwrap();
        id
    }

    #[test]
    fn each_source_tells_how_many_items_it_has_stored_and_when_the_newest_came() {
        let (_dir, store) = crate::store::testing::sources(&["a", "b", "quiet"]);
        // Arrivals are stored in time order (the writer never lets them go back).
        put(&store, "b", 3, at(7, 0), None);
        put(&store, "a", 1, at(8, 0), None);
        put(&store, "a", 2, at(9, 30), None);
        let activity = store.source_activity().unwrap();
        assert_eq!(
            activity,
            vec![
                SourceActivity {
                    source: SourceId::new("a"),
                    items: 2,
                    last_new_at: Some(at(9, 30)),
                },
                SourceActivity {
                    source: SourceId::new("b"),
                    items: 1,
                    last_new_at: Some(at(7, 0)),
                },
            ]
        );
    }

    #[test]
    fn arrivals_are_counted_per_hour_and_source_within_the_window() {
        let (_dir, store) = crate::store::testing::sources(&["a", "b"]);
        put(&store, "a", 1, at(6, 59), None); // before the window
        put(&store, "a", 2, at(8, 5), None);
        put(&store, "a", 3, at(8, 55), None);
        put(&store, "b", 4, at(8, 10), None);
        put(&store, "b", 5, at(10, 0), None);
        let hours = store.arrivals_per_hour(at(7, 0)).unwrap();
        let got: Vec<(u32, &str, u64)> = hours
            .iter()
            .map(|h| (chrono::Timelike::hour(&h.hour), h.source.as_str(), h.items))
            .collect();
        assert_eq!(got, vec![(8, "a", 2), (8, "b", 1), (10, "b", 1)]);
        assert_eq!(hours[0].hour, at(8, 0));
    }

    #[test]
    fn the_most_copied_stories_of_the_window_come_first_and_single_copies_not_at_all() {
        let (_dir, store) = crate::store::testing::sources(&["a", "b", "c"]);
        let old = put(&store, "a", 1, at(1, 0), None);
        put(&store, "b", 2, at(1, 5), Some(old));
        put(&store, "c", 3, at(1, 6), Some(old));
        let two = put(&store, "a", 4, at(9, 0), None);
        put(&store, "b", 5, at(9, 1), Some(two));
        let three = put(&store, "b", 6, at(10, 0), None);
        put(&store, "a", 7, at(10, 1), Some(three));
        put(&store, "c", 8, at(10, 2), Some(three));
        let _single = put(&store, "c", 9, at(11, 0), None);
        let top = store.most_copied(at(8, 0), 10).unwrap();
        let ids: Vec<StoryId> = top.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![three, two], "the old one is out of the window");
        assert_eq!(top[0].others.len(), 2, "every copy comes with it");
        assert_eq!(store.most_copied(at(8, 0), 1).unwrap().len(), 1);
    }
}
