//! A little disk space held back, so that a full disk can still be said on
//! the source it stopped (#20).
//!
//! When the disk fills, SQLite cannot append even the one page a source's
//! "cannot store the poll" needs to its write-ahead log. The store keeps
//! [`RESERVE_BYTES`] in `<database>.reserve`, written after the first write
//! that goes through; when a write fails for want of space the file is
//! deleted and the record written in the room it leaves. It is written
//! again after the next write that goes through.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Room for a few pages of the write-ahead log and its index.
pub const RESERVE_BYTES: usize = 256 * 1024;

pub(super) struct Reserve {
    path: PathBuf,
    held: AtomicBool,
}

impl Reserve {
    pub(super) fn new(database: &Path) -> Reserve {
        let mut path = database.as_os_str().to_owned();
        path.push(".reserve");
        Reserve {
            path: PathBuf::from(path),
            held: AtomicBool::new(false),
        }
    }

    /// Holds the reserve, if it is not held: called after a write went
    /// through, so there was room. Real bytes, not a sparse file, so the
    /// space is the file system's no more.
    pub(super) fn hold(&self) {
        if self.held.load(Ordering::Acquire) {
            return;
        }
        match std::fs::write(&self.path, vec![0u8; RESERVE_BYTES]) {
            Ok(()) => self.held.store(true, Ordering::Release),
            Err(e) => {
                tracing::debug!(path = %self.path.display(), error = %e, "cannot hold disk space in reserve");
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }

    /// Gives the reserve's space back; whether there was any to give.
    pub(super) fn release(&self) -> bool {
        self.held.swap(false, Ordering::AcqRel) && std::fs::remove_file(&self.path).is_ok()
    }
}
