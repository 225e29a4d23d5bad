//! Schema migrations: the numbered files of `migrations/`, compiled in.
//!
//! `PRAGMA user_version` records how many have been applied. At open, the
//! missing ones run in order inside one transaction, so a database is never
//! left half-migrated; a version above the newest known is refused.

use rusqlite::Connection;

use super::StoreError;

/// Every migration, in order; the schema version is the position + 1.
/// Append only: a shipped file never changes.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_poll_state.sql"),
    include_str!("../../migrations/0003_serve.sql"),
    include_str!("../../migrations/0004_dedup.sql"),
    include_str!("../../migrations/0005_retention.sql"),
    include_str!("../../migrations/0006_fts_per_transaction.sql"),
    include_str!("../../migrations/0007_drop_content_hash_index.sql"),
    include_str!("../../migrations/0008_item_tags.sql"),
    include_str!("../../migrations/0009_arrival_order.sql"),
    include_str!("../../migrations/0010_rhythm.sql"),
    include_str!("../../migrations/0011_boilerplate_rests_and_repeats.sql"),
    include_str!("../../migrations/0012_boilerplate_seen_at.sql"),
    include_str!("../../migrations/0013_blocked_items.sql"),
    include_str!("../../migrations/0014_websub_subscriptions.sql"),
    include_str!("../../migrations/0015_hub_subscriptions.sql"),
];

/// The schema version this build writes.
pub const LATEST: i64 = MIGRATIONS.len() as i64;

pub(super) fn apply(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: LATEST,
        });
    }
    if found == LATEST {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        tx.execute_batch(sql).map_err(|e| StoreError::Migration {
            version,
            reason: e.to_string(),
        })?;
        tracing::debug!(version, "applied database migration");
    }
    tx.pragma_update(None, "user_version", LATEST)?;
    tx.commit()?;
    // One line, not one per migration (#18: a first start logged twelve).
    if found <= 0 {
        tracing::info!(schema = LATEST, "created the database");
    } else {
        tracing::info!(from = found, to = LATEST, "upgraded the database schema");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_database_is_brought_to_the_latest_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, ":memory:").unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, LATEST);
        // Applying again is a no-op.
        apply(&mut conn, ":memory:").unwrap();
    }

    #[test]
    fn stories_stored_before_arrival_order_arrived_with_their_first_copy() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        for sql in &MIGRATIONS[..8] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 8).unwrap();
        // Story 1 has two copies, first seen at 500 and 300; story 2 has
        // none left (its row's creation time stands in).
        tx.execute_batch(
            "INSERT INTO sources (id, name, url) VALUES ('a', 'A', 'https://a.example/');
             INSERT INTO stories (id, uid, sort_date, created_at, updated_at)
                 VALUES (1, 'u1', 100, 300, 500), (2, 'u2', 900, 700, 700);
             INSERT INTO items (source_id, identity, story_id, title, content_hash,
                                first_seen, changed_at)
                 VALUES ('a', 'x', 1, 'X', x'00', 500, 500),
                        ('a', 'y', 1, 'Y', x'01', 300, 300);",
        )
        .unwrap();
        tx.commit().unwrap();
        apply(&mut conn, ":memory:").unwrap();
        let arrived: Vec<(i64, i64)> = conn
            .prepare("SELECT id, arrived_at FROM stories ORDER BY arrived_at DESC, id DESC")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(arrived, [(2, 700), (1, 300)]);
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", LATEST + 1)
            .unwrap();
        let e = apply(&mut conn, "x.db").unwrap_err();
        assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains("newer"), "{e}");
    }
}
