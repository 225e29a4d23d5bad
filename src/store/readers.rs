//! The store's reader connections: a small pool (r2d2), so that one slow
//! read — a search over a large store, the poll's look-up of unchanged
//! items during a cold poll — no longer queues every other read behind it.
//! Under WAL each reader sees the last committed state and never waits for
//! the writer, nor the writer for it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::{StoreError, configure};

/// Readers open at once. Requests are served on one thread per core (two
/// here) and the poll's reads run beside them; four lets a slow search hold
/// one while `/healthz`, a plain page and a poll each have their own.
pub const READERS: u32 = 4;

/// Searches (`q=`) read at once ([`Store::run_search`](super::Store::run_search)):
/// half the readers. A reader chooses a search's cost, up to a query's
/// budget; a flood of them holds at most these readers and blocking
/// threads, and leaves the rest to `/healthz`, plain pages and the poll
/// (#20: with every reader held by a search, `/healthz` waited 4.4 s).
pub const SEARCHES: usize = READERS as usize / 2;

/// How long a read waits for a free connection before it fails (every
/// reader held by a slow search, four times over).
const CHECKOUT: Duration = Duration::from_secs(30);

/// Opens reader connections to one database file, set up as every
/// connection of the store is.
#[derive(Debug)]
pub(super) struct Opener {
    path: PathBuf,
}

impl r2d2::ManageConnection for Opener {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        Ok(conn)
    }

    /// Not asked on checkout (`test_on_check_out(false)`): a local file
    /// connection does not go stale, and a query per read would be waste.
    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        conn.execute_batch("")
    }

    fn has_broken(&self, _: &mut Connection) -> bool {
        false
    }
}

pub(super) type Readers = r2d2::Pool<Opener>;
pub(super) type Reader = r2d2::PooledConnection<Opener>;

/// The pool of readers of the database at `path`, opened now, so that a
/// file that cannot be read is reported at start.
pub(super) fn open(path: &Path) -> Result<Readers, StoreError> {
    let opener = Opener {
        path: path.to_owned(),
    };
    let failed = |reason: String| StoreError::Open {
        path: path.display().to_string(),
        reason,
    };
    // One connection first: the pool would retry a failing open until
    // its checkout timeout before it said why.
    r2d2::ManageConnection::connect(&opener).map_err(|e| failed(e.to_string()))?;
    r2d2::Pool::builder()
        .max_size(READERS)
        .min_idle(Some(READERS))
        .connection_timeout(CHECKOUT)
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(opener)
        .map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_held_long_does_not_hold_up_the_others() {
        let (_dir, store) = crate::store::testing::agency_and_outlet();
        // A slow search holds its reader for as long as it runs: here, all
        // readers but one are held, and every kind of read still answers.
        let held: Vec<Reader> = (1..READERS).map(|_| store.reader().unwrap()).collect();
        assert_eq!(store.counts().unwrap().sources, 2);
        assert!(store.latest_stories(5).unwrap().is_empty());
        let page = store
            .feed_page(&crate::store::FeedQuery::default())
            .unwrap();
        assert!(page.stories.is_empty());
        drop(held);
    }
}
