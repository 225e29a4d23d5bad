//! One writing wiredesk per database: the daemon and `wiredesk poll` hold an
//! exclusive lock on a file beside the database (`wiredesk.db.lock`) for as
//! long as they run. Two daemons on one database both polled, and their
//! writes collided as "database is locked", recorded as source errors
//! (#20). The lock is the operating system's (`flock`): it goes with the
//! process, however the process ends, so a killed daemon never leaves a
//! stale lock behind. The file holds the holder's process id, to name it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Held while this process may write the database; released on drop.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

/// The lock file of the database at `db`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl WriterLock {
    /// Takes the database's writer lock, or says which process holds it.
    pub fn acquire(db: &Path) -> Result<WriterLock, StoreError> {
        let path = lock_path(db);
        let failed = |reason: String| StoreError::Open {
            path: path.display().to_string(),
            reason,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| failed(e.to_string()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(StoreError::InUse {
                    path: db.display().to_string(),
                    holder: match holder.trim() {
                        "" => "another process".to_owned(),
                        pid => format!("process {pid}"),
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(failed(e.to_string())),
        }
        // Ours now: say who holds it.
        file.set_len(0).map_err(|e| failed(e.to_string()))?;
        file.rewind().map_err(|e| failed(e.to_string()))?;
        writeln!(file, "{}", std::process::id()).map_err(|e| failed(e.to_string()))?;
        Ok(WriterLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_first_and_let_in_once_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("desk.db");
        let first = WriterLock::acquire(&db).unwrap();
        let e = WriterLock::acquire(&db).unwrap_err();
        assert!(matches!(e, StoreError::InUse { .. }), "{e}");
        let message = e.to_string();
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("desk.db"), "{message}");
        drop(first);
        WriterLock::acquire(&db).unwrap();
    }
}
