//! WAL checkpoints off the writer. SQLite's automatic checkpoint runs in
//! the connection that commits, so the one writer of a busy poll round
//! stopped for it (~7 % of a cold poll's CPU, all of it on the writer,
//! issue #8). Here a commit that leaves [`SOON`] pages in the WAL asks a
//! thread with its own connection for a passive checkpoint, which copies
//! pages to the database while the writer goes on. Should the WAL still
//! reach [`AT_ONCE`] pages (the thread cannot catch up), the writer
//! checkpoints itself, as SQLite would.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use rusqlite::Connection;

/// Pages in the WAL at which a checkpoint is asked for (SQLite's default
/// for its automatic one).
pub const SOON: i64 = 1000;

/// Pages in the WAL at which the writer checkpoints itself (64 MB).
pub const AT_ONCE: i64 = 16_000;

/// The checkpoint thread and what the writer's last commit left in the WAL.
pub struct Checkpoints {
    pages: Arc<AtomicI64>,
    ask: SyncSender<()>,
    soon: i64,
    at_once: i64,
}

impl Checkpoints {
    /// Starts the thread on `own`, and has `writer` report its commits.
    pub fn start(writer: &mut Connection, own: Connection) -> rusqlite::Result<Checkpoints> {
        Checkpoints::with_limits(writer, own, SOON, AT_ONCE)
    }

    /// [`Checkpoints::start`] with other page counts than [`SOON`] and
    /// [`AT_ONCE`].
    pub fn with_limits(
        writer: &mut Connection,
        own: Connection,
        soon: i64,
        at_once: i64,
    ) -> rusqlite::Result<Checkpoints> {
        let pages = Arc::new(AtomicI64::new(0));
        let seen = pages.clone();
        // Replaces SQLite's automatic checkpoint (it is a WAL hook too).
        writer.wal_hook(Some(
            move |_: &mut rusqlite::hooks::Wal, n: std::ffi::c_int| {
                seen.store(i64::from(n), Ordering::Relaxed);
                Ok(())
            },
        ))?;
        let (ask, asked) = sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("wiredesk-checkpoint".into())
            .spawn(move || {
                // Ends when the store is dropped (the sender with it).
                while asked.recv().is_ok() {
                    if let Err(e) = own.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "a WAL checkpoint failed; the next commit asks again");
                    }
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Checkpoints {
            pages,
            ask,
            soon,
            at_once,
        })
    }

    /// After a commit of the writer: asks for a checkpoint, or runs one on
    /// `writer` when the thread is far behind.
    pub fn after_commit(&self, writer: &Connection) {
        let pages = self.pages.load(Ordering::Relaxed);
        if pages >= self.at_once {
            if let Err(e) = writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "a WAL checkpoint failed");
            }
        } else if pages >= self.soon {
            // Full: a checkpoint is already asked for. Gone: the store is
            // closing. Either way there is nothing more to do.
            let _ = self.ask.try_send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A WAL database in `dir` with a table, its writer reporting commits
    /// to checkpoints with the given limits.
    fn open(dir: &std::path::Path, soon: i64, at_once: i64) -> (Connection, Checkpoints) {
        let path = dir.join("t.db");
        let mut writer = Connection::open(&path).unwrap();
        writer
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let own = Connection::open(&path).unwrap();
        let checkpoints = Checkpoints::with_limits(&mut writer, own, soon, at_once).unwrap();
        (writer, checkpoints)
    }

    /// Commits 100 pages or so, then tells the checkpoints; returns the size of
    /// the database file (not the WAL) before.
    fn commit_pages(dir: &std::path::Path, writer: &Connection, checkpoints: &Checkpoints) -> u64 {
        let before = std::fs::metadata(dir.join("t.db")).unwrap().len();
        for _ in 0..100 {
            writer
                .execute("INSERT INTO t VALUES (randomblob(4000))", [])
                .unwrap();
        }
        checkpoints.after_commit(writer);
        before
    }

    fn db_size(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join("t.db")).unwrap().len()
    }

    #[test]
    fn a_wal_far_behind_is_checkpointed_by_the_writer_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, checkpoints) = open(dir.path(), i64::MAX, 50);
        let before = commit_pages(dir.path(), &writer, &checkpoints);
        // The pages reached the database file before after_commit returned.
        assert!(db_size(dir.path()) > before + 50 * 4096);
    }

    #[test]
    fn a_wal_past_the_first_limit_is_checkpointed_by_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, checkpoints) = open(dir.path(), 50, i64::MAX);
        let before = commit_pages(dir.path(), &writer, &checkpoints);
        // Not by the writer: the thread copies the pages a moment later.
        let deadline = Instant::now() + Duration::from_secs(30);
        while db_size(dir.path()) <= before + 50 * 4096 {
            assert!(Instant::now() < deadline, "no checkpoint within 30 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_small_wal_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, checkpoints) = open(dir.path(), 1_000_000, i64::MAX);
        let before = commit_pages(dir.path(), &writer, &checkpoints);
        assert_eq!(db_size(dir.path()), before);
    }
}
